//! Accounts, for administrators: `GET/POST /v1/users`, `PATCH
//! /v1/users/{name}`, `POST /v1/users/{name}/{disable,enable,reset-password}`;
//! and anyone's own password: `POST /v1/account/password`. Who may manage
//! whom is sync-core's rule (`may_manage_account`); every change goes to the
//! audit log with the change itself.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use sync_core::{Role, ScopePath, UserId};

use super::openapi::{Authed, JsonBody};
use crate::accounts::{self, OneTimeCode, User};
use crate::audit::{self, Action, Entry, Peer};
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::login;
use crate::state::{AppState, now_ms};

/// The accounts the caller may manage, by name.
#[utoipa::path(
    get,
    path = "/v1/users",
    operation_id = "users_list",
    tag = "accounts",
    responses(
        (status = 200, description = "The accounts the caller manages (administrators: those within their scopes)", body = Vec<User>),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
) -> AppResult<Json<Vec<User>>> {
    accounts::require_manager(&auth.user, &[])?;
    let users = state.db.run(|store| store.list_users()).await?;
    Ok(Json(
        users
            .into_iter()
            .filter(|u| accounts::require_manager(&auth.user, &u.scopes).is_ok())
            .collect(),
    ))
}

fn user_name(text: &str) -> AppResult<UserId> {
    UserId::new(text.trim()).map_err(|e| AppError::BadRequest(format!("username: {e}")))
}

fn scopes(texts: &[String]) -> AppResult<Vec<ScopePath>> {
    texts
        .iter()
        .map(|s| {
            ScopePath::new(s.trim()).map_err(|e| AppError::BadRequest(format!("scope {s:?}: {e}")))
        })
        .collect()
}

fn role(text: &str) -> AppResult<Role> {
    text.parse().map_err(|_| {
        AppError::BadRequest(format!(
            "no role {text:?}: a role is worker, volunteer, supervisor or admin"
        ))
    })
}

/// A new account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct NewUser {
    username: String,
    role: String,
    scopes: Vec<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// `POST /v1/users`: adds an account whose first password is a one-time
/// code, answered once (201).
#[utoipa::path(
    post,
    path = "/v1/users",
    operation_id = "users_create",
    tag = "accounts",
    request_body = NewUser,
    responses(
        (status = 201, description = "The account is added; its first password is this one-time code, shown once", body = OneTimeCode),
        (status = 409, description = "The name is taken (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Peer(peer): Peer,
    Json(form): Json<NewUser>,
) -> AppResult<(StatusCode, Json<OneTimeCode>)> {
    let username = user_name(&form.username)?;
    let role = role(&form.role)?;
    let scopes = scopes(&form.scopes)?;
    accounts::check_scopes(&scopes)?;
    accounts::require_manager(&auth.user, &scopes)?;
    let now = now_ms();
    let (code, hash) = off_thread(username.clone(), now).await?;
    let admin = auth.user.username.clone();
    let code = state
        .db
        .run(move |store| {
            store.insert_user(&username, role, &scopes, &hash, now)?;
            store.set_password(&username, &hash, Some(code.expires_at), now)?;
            if form.display_name.is_some() || form.phone.is_some() {
                store.set_profile(
                    &username,
                    form.display_name.as_deref(),
                    form.phone.as_deref(),
                    None,
                )?;
            }
            let scopes: Vec<&str> = scopes.iter().map(ScopePath::as_str).collect();
            audit::record(
                store,
                &Entry::new(now, Some(admin.as_str()), Action::UserAdded)
                    .on(username.as_str())
                    .detail(format!(
                        "{role} in {}; one-time code issued",
                        scopes.join(", ")
                    ))
                    .from_peer(peer),
            )?;
            Ok(code)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(code)))
}

/// A one-time code and its hash, made on a blocking thread (argon2 is slow
/// by design).
async fn off_thread(username: UserId, now: i64) -> AppResult<(OneTimeCode, String)> {
    tokio::task::spawn_blocking(move || accounts::one_time_code_for(&username, now))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

/// An account as it stands after a change.
fn read_back(store: &dyn crate::store::RelayStore, username: &UserId) -> AppResult<User> {
    store
        .user(username.as_str())?
        .ok_or_else(|| AppError::NotFound("no such user".into()))
}

/// The account `name`, if the caller may manage it.
async fn managed(state: &AppState, auth: &AuthUser, name: &str) -> AppResult<User> {
    let name = user_name(name)?;
    let found = state
        .db
        .run(move |store| store.user(name.as_str()))
        .await?
        .ok_or_else(|| AppError::NotFound("no such user".into()))?;
    accounts::require_manager(&auth.user, &found.scopes)?;
    Ok(found)
}

/// Changes to an account; fields left out stay as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = UserChanges)]
pub(super) struct Changes {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// `PATCH /v1/users/{name}`
#[utoipa::path(
    patch,
    path = "/v1/users/{name}",
    operation_id = "users_change",
    tag = "accounts",
    params(("name" = String, Path, description = "The login name")),
    request_body = Changes,
    responses(
        (status = 200, description = "The account as changed", body = User),
        (status = 404, description = "No such account (`not_found`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn change(
    State(state): State<AppState>,
    auth: AuthUser,
    Peer(peer): Peer,
    Path(name): Path<String>,
    Json(form): Json<Changes>,
) -> AppResult<Json<User>> {
    let found = managed(&state, &auth, &name).await?;
    let role = form.role.as_deref().map(role).transpose()?;
    let scopes = form.scopes.as_deref().map(scopes).transpose()?;
    if let Some(scopes) = &scopes {
        accounts::check_scopes(scopes)?;
        accounts::require_manager(&auth.user, scopes)?;
    }
    if found.username == auth.user.username && role.is_some_and(|r| r != Role::Admin) {
        return Err(AppError::BadRequest(
            "you cannot take away your own administrator role: another administrator can".into(),
        ));
    }
    let mut what = Vec::new();
    if let Some(role) = role {
        what.push(format!("role {role}"));
    }
    if let Some(scopes) = &scopes {
        let names: Vec<&str> = scopes.iter().map(ScopePath::as_str).collect();
        what.push(format!("scopes {}", names.join(", ")));
    }
    if form.display_name.is_some() {
        what.push("name".to_owned());
    }
    if form.phone.is_some() {
        what.push("phone".to_owned());
    }
    let admin = auth.user.username.clone();
    let username = found.username.clone();
    let user = state
        .db
        .run(move |store| {
            let scopes = scopes.unwrap_or_default();
            if role.is_some() || !scopes.is_empty() {
                store.set_role(&username, role, &scopes)?;
            }
            if form.display_name.is_some() || form.phone.is_some() {
                store.set_profile(
                    &username,
                    form.display_name.as_deref(),
                    form.phone.as_deref(),
                    None,
                )?;
            }
            audit::record(
                store,
                &Entry::new(now_ms(), Some(admin.as_str()), Action::UserChanged)
                    .on(username.as_str())
                    .detail(what.join("; "))
                    .from_peer(peer),
            )?;
            read_back(store, &username)
        })
        .await?;
    Ok(Json(user))
}

/// `POST /v1/users/{name}/disable`: no more logins; their phones count as
/// retired (they may still deliver what they made before).
#[utoipa::path(
    post,
    path = "/v1/users/{name}/disable",
    operation_id = "users_disable",
    tag = "accounts",
    params(("name" = String, Path, description = "The login name")),
    responses(
        (status = 200, description = "The account, disabled", body = User),
        (status = 400, description = "Not a user name, or one's own account (`bad_request`)", body = ErrorBody),
        (status = 404, description = "No such account (`not_found`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn disable(
    state: State<AppState>,
    auth: AuthUser,
    peer: Peer,
    name: Path<String>,
) -> AppResult<Json<User>> {
    standing(state, auth, peer, name, false).await
}

/// `POST /v1/users/{name}/enable`: undoes a disable.
#[utoipa::path(
    post,
    path = "/v1/users/{name}/enable",
    operation_id = "users_enable",
    tag = "accounts",
    params(("name" = String, Path, description = "The login name")),
    responses(
        (status = 200, description = "The account, enabled", body = User),
        (status = 400, description = "Not a user name (`bad_request`)", body = ErrorBody),
        (status = 404, description = "No such account (`not_found`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn enable(
    state: State<AppState>,
    auth: AuthUser,
    peer: Peer,
    name: Path<String>,
) -> AppResult<Json<User>> {
    standing(state, auth, peer, name, true).await
}

async fn standing(
    State(state): State<AppState>,
    auth: AuthUser,
    Peer(peer): Peer,
    Path(name): Path<String>,
    enabled: bool,
) -> AppResult<Json<User>> {
    let found = managed(&state, &auth, &name).await?;
    if !enabled && found.username == auth.user.username {
        return Err(AppError::BadRequest(
            "you cannot disable your own account: another administrator can".into(),
        ));
    }
    let admin = auth.user.username.clone();
    let username = found.username;
    let user = state
        .db
        .run(move |store| {
            let now = now_ms();
            let action = if enabled {
                store.enable_user(username.as_str())?;
                Action::UserEnabled
            } else {
                store.disable_user(username.as_str(), now)?;
                Action::UserDisabled
            };
            audit::record(
                store,
                &Entry::new(now, Some(admin.as_str()), action)
                    .on(username.as_str())
                    .from_peer(peer),
            )?;
            read_back(store, &username)
        })
        .await?;
    Ok(Json(user))
}

/// `POST /v1/users/{name}/reset-password`: a fresh one-time code, answered
/// once. Every session of the user ends; at their next login they choose a
/// new password.
#[utoipa::path(
    post,
    path = "/v1/users/{name}/reset-password",
    operation_id = "users_reset_password",
    tag = "accounts",
    params(("name" = String, Path, description = "The login name")),
    responses(
        (status = 200, description = "A one-time code, shown once; every session of the account ended", body = OneTimeCode),
        (status = 400, description = "Not a user name (`bad_request`)", body = ErrorBody),
        (status = 404, description = "No such account (`not_found`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn reset_password(
    State(state): State<AppState>,
    auth: AuthUser,
    Peer(peer): Peer,
    Path(name): Path<String>,
) -> AppResult<Json<OneTimeCode>> {
    let found = managed(&state, &auth, &name).await?;
    let now = now_ms();
    let (code, hash) = off_thread(found.username.clone(), now).await?;
    let admin = auth.user.username.clone();
    let code = state
        .db
        .run(move |store| {
            store.set_password(&code.username, &hash, Some(code.expires_at), now)?;
            audit::record(
                store,
                &Entry::new(now, Some(admin.as_str()), Action::PasswordReset)
                    .on(code.username.as_str())
                    .detail("one-time code issued; every session ended")
                    .from_peer(peer),
            )?;
            Ok(code)
        })
        .await?;
    Ok(Json(code))
}

/// A change of one's own password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct OwnPassword {
    current_password: String,
    new_password: String,
}

/// `POST /v1/account/password`: the caller's own password, given the
/// current one (throttled like a login). Every session of theirs ends, this
/// one too: log in again with the new password. 204.
#[utoipa::path(
    post,
    path = "/v1/account/password",
    operation_id = "account_password",
    tag = "accounts",
    request_body = OwnPassword,
    responses(
        (status = 204, description = "Changed; every session of the caller ended, this one too"),
        (status = 429, description = "Too many wrong passwords for this name (`too_many_attempts`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn own_password(
    State(state): State<AppState>,
    auth: AuthUser,
    Peer(peer): Peer,
    Json(form): Json<OwnPassword>,
) -> AppResult<StatusCode> {
    // A wrong current password is a refusal of this change, not of the
    // caller's session (401 would send the dashboard to its login page).
    let user = login::authenticate(
        &state,
        auth.user.username.as_str(),
        form.current_password,
        peer,
    )
    .await
    .map_err(|e| match e {
        AppError::Unauthorized(_) => AppError::Forbidden("the current password is wrong".into()),
        e => e,
    })?;
    login::change_password(&state, &user, &form.new_password, peer).await?;
    Ok(StatusCode::NO_CONTENT)
}
