//! `POST /v1/auth/login` and `POST /v1/auth/refresh`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use sync_core::keys::PublicKey;
use sync_core::{DeviceId, Role, ScopePath, UserId};

use super::openapi::{JsonBody, Storage};
use crate::accounts::User;
use crate::audit::{self, Action, Entry, Peer};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::login;
use crate::state::{AppState, now_ms};

/// Login form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct Login {
    username: String,
    password: String,
    device_id: String,
    #[serde(default)]
    device_name: String,
    /// The device's Ed25519 public key (64 hex digits): a phone that syncs
    /// registers it, and every change it makes is checked against it.
    #[serde(default)]
    public_key: Option<String>,
    /// A new password, for a user whose password is a one-time code: the
    /// login sets it and goes through. Without it such a login is refused
    /// with `password_change_required`.
    #[serde(default)]
    new_password: Option<String>,
}

/// Refresh form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct Refresh {
    refresh_token: String,
    /// The device's public key: a phone registered before signatures
    /// registers it here (a registered key never changes).
    #[serde(default)]
    public_key: Option<String>,
}

/// A new pair of tokens.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Tokens {
    access_token: String,
    refresh_token: String,
    expires_in: i64,
    user: UserInfo,
    /// The relay's clock (ms), for the phone to correct its own.
    server_time_ms: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct UserInfo {
    id: UserId,
    role: Role,
    scopes: Vec<ScopePath>,
}

fn tokens(
    state: &AppState,
    user: User,
    device: DeviceId,
    refresh_token: String,
) -> AppResult<Tokens> {
    let ttl = state.settings.access_ttl_secs;
    let access_token = state.keys.issue(&user, device, ttl, now_ms() / 1000)?;
    Ok(Tokens {
        access_token,
        refresh_token,
        expires_in: ttl,
        server_time_ms: now_ms(),
        user: UserInfo {
            id: user.username,
            role: user.role,
            scopes: user.scopes,
        },
    })
}

/// Checks the password, registers the device and starts a session.
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    operation_id = "auth_login",
    tag = "auth",
    request_body = Login,
    responses(
        (status = 200, description = "Tokens for this device", body = Tokens),
        (status = 401, description = "Wrong user name or password (`unauthorized`)", body = ErrorBody),
        (status = 403, description = "The user is disabled, the device revoked, or the password is a one-time code and no `new_password` came with it (`password_change_required`)", body = ErrorBody),
        (status = 409, description = "The device is registered to another user, or with another key", body = ErrorBody),
        (status = 429, description = "Too many failed logins for this user name (`too_many_attempts`); see `Retry-After`", body = ErrorBody),
        JsonBody,
        Storage,
    ),
)]
pub(super) async fn login(
    State(state): State<AppState>,
    Peer(peer): Peer,
    Json(form): Json<Login>,
) -> AppResult<Json<Tokens>> {
    let device: DeviceId = form
        .device_id
        .parse()
        .map_err(|_| AppError::BadRequest("device_id must be a UUID".into()))?;
    let name = sync_core::store::device_name(&form.device_name)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let key = parse_key(form.public_key.as_deref())?;
    let ttl = state.settings.refresh_ttl_ms();
    let mut user = login::authenticate(&state, &form.username, form.password, peer).await?;
    if user.must_change_password {
        let Some(new_password) = form.new_password.as_deref() else {
            return Err(AppError::PasswordChangeRequired);
        };
        login::change_password(&state, &user, new_password, peer).await?;
        user.must_change_password = false;
    }
    let username = user.username.clone();
    let refresh = state
        .db
        .run(move |store| {
            let now = now_ms();
            store.register_device(&username, device, &name, "phone", key, now)?;
            let refresh = store.issue_refresh(device, ttl, now)?;
            audit::record(
                store,
                &Entry::new(now, Some(username.as_str()), Action::Login)
                    .on(device.to_string())
                    .detail(if name.is_empty() {
                        "phone or web app".to_owned()
                    } else {
                        format!("phone or web app: {name}")
                    })
                    .from_peer(peer),
            )?;
            Ok(refresh)
        })
        .await?;
    tracing::info!(user = %user.username, %device, "login");
    Ok(Json(tokens(&state, user, device, refresh)?))
}

/// A refused refresh that says something about a device: a token used
/// twice, or a lost phone trying to come back.
fn is_alarming(error: &AppError) -> bool {
    match error {
        AppError::DeviceRevoked => true,
        AppError::InvalidToken(why) => why == crate::accounts::REFRESH_REPLAYED,
        _ => false,
    }
}

/// A public key from a form, if one was given.
fn parse_key(text: Option<&str>) -> AppResult<Option<PublicKey>> {
    text.filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.parse().map_err(|e: sync_core::InvalidInput| {
                AppError::BadRequest(format!("public_key: {e}"))
            })
        })
        .transpose()
}

/// Trades a refresh token for a new pair; the old one stops working.
#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    operation_id = "auth_refresh",
    tag = "auth",
    request_body = Refresh,
    responses(
        (status = 200, description = "A new pair of tokens; the old refresh token stops working", body = Tokens),
        (status = 401, description = "The refresh token is unknown, used or expired (`invalid_token`)", body = ErrorBody),
        (status = 403, description = "The device was revoked or the user disabled", body = ErrorBody),
        (status = 409, description = "The device is registered with another key", body = ErrorBody),
        JsonBody,
        Storage,
    ),
)]
pub(super) async fn refresh(
    State(state): State<AppState>,
    Peer(peer): Peer,
    Json(form): Json<Refresh>,
) -> AppResult<Json<Tokens>> {
    let ttl = state.settings.refresh_ttl_ms();
    let key = parse_key(form.public_key.as_deref())?;
    let (user, device, next) = state
        .db
        .run(move |store| {
            let now = now_ms();
            let (user, device, next) = match store.rotate_refresh(&form.refresh_token, ttl, now) {
                Ok(rotated) => rotated,
                // A replayed token, or a lost phone's: worth an administrator's
                // look. Unknown tokens are only counted, so that a flood of
                // them cannot fill the log.
                Err(e) if is_alarming(&e) => {
                    audit::record(
                        store,
                        &Entry::new(now, None, Action::RefreshFailed)
                            .detail(e.to_string())
                            .from_peer(peer),
                    )?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            if let (Some(key), Some(known)) = (key, store.device(device)?) {
                store.register_device(
                    &user.username,
                    device,
                    &known.name,
                    &known.kind,
                    Some(key),
                    now,
                )?;
            }
            Ok((user, device, next))
        })
        .await?;
    Ok(Json(tokens(&state, user, device, next)?))
}
