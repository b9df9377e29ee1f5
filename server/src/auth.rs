//! Access tokens (short-lived JWTs) and the extractor that checks them.
//!
//! Every authenticated request also checks, in the database, that the
//! device is not revoked and the user not disabled, so revoking a lost phone
//! takes effect at its next request rather than when its token expires.
//!
//! The dashboard authenticates with a session cookie instead (see
//! [`crate::session`]); the extractor accepts either.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sync_core::keys::DeviceKey;
use sync_core::{DeviceId, ScopePath};

use crate::accounts::User;
use crate::error::{AppError, AppResult};
use crate::session;
use crate::state::{AppState, now_ms};
use crate::store::RelayStore;

/// The smallest signing secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The relay's keys, all from one secret: the HMAC-SHA256 key of its access
/// tokens, and the Ed25519 keys of the web devices it writes as for
/// dashboard users (derived per device, so a relay restored from a backup
/// still recognises the changes it made; see [`DeviceKey::derive`]).
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    secret: Arc<[u8]>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Keys from a secret of at least [`MIN_SECRET_BYTES`] bytes.
    pub fn from_secret(secret: &[u8]) -> AppResult<Self> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AppError::BadRequest(format!(
                "the signing secret must be at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            secret: Arc::from(secret),
        })
    }

    /// The signing key of one of the relay's web devices.
    pub fn web_device_key(&self, device: DeviceId) -> DeviceKey {
        DeviceKey::derive(&self.secret, device)
    }

    /// The secret web device keys derive from, for the sync policy.
    pub fn device_secret(&self) -> Arc<[u8]> {
        self.secret.clone()
    }

    /// Reads the key file, or creates it (64 random bytes, base64, mode 0600).
    pub fn load_or_create(path: &Path) -> AppResult<Self> {
        if path.exists() {
            let text = fs::read_to_string(path).map_err(|e| {
                AppError::BadRequest(format!(
                    "cannot read the signing key file {} ({e}): it must be readable by the relay's user; or give another with --key-file",
                    path.display()
                ))
            })?;
            let not_ours = |why: String| {
                AppError::BadRequest(format!(
                    "the signing key file {} is not one the relay wrote ({why}): put back the right one (from the backup taken with the database), or move it away to start afresh, after which every phone and dashboard logs in again",
                    path.display()
                ))
            };
            let secret = STANDARD
                .decode(text.trim())
                .map_err(|e| not_ours(format!("not base64: {e}")))?;
            return Self::from_secret(&secret).map_err(|e| not_ours(e.to_string()));
        }
        crate::config::folder_exists(path, "the signing key file")?;
        let mut secret = [0u8; 64];
        getrandom::fill(&mut secret)
            .map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .map_err(|e| {
                AppError::BadRequest(format!(
                    "cannot create the signing key file {} ({e}): the relay's user must be able to write in its folder; or give another path with --key-file",
                    path.display()
                ))
            })?;
        file.write_all(STANDARD.encode(secret).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| AppError::Internal(format!("cannot write {}: {e}", path.display())))?;
        tracing::info!(path = %path.display(), "created a new signing key");
        Self::from_secret(&secret)
    }

    /// Signs an access token for a user on a device.
    pub fn issue(
        &self,
        user: &User,
        device: DeviceId,
        ttl_secs: i64,
        now_secs: i64,
    ) -> AppResult<String> {
        let claims = Claims {
            sub: user.username.to_string(),
            role: user.role.as_str().to_owned(),
            dev: device.to_string(),
            iat: now_secs,
            exp: now_secs + ttl_secs,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Checks a token's signature, algorithm and times: it has expired
    /// neither already nor in the future (`nbf`, `iat`), and it lasts no
    /// longer than `ttl_secs`, the lifetime the relay gives its tokens. A
    /// token that breaks these was not made by this relay as configured,
    /// whoever holds the key.
    pub fn verify(&self, token: &str, ttl_secs: i64, now_secs: i64) -> AppResult<Claims> {
        const LEEWAY_SECS: i64 = 5;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS as u64;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        let invalid = || AppError::InvalidToken("the access token is not valid".into());
        let claims = decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    AppError::InvalidToken("the access token has expired".into())
                }
                _ => invalid(),
            })?;
        let issued_in_future = claims.iat > now_secs.saturating_add(LEEWAY_SECS);
        let too_long = claims.exp.saturating_sub(claims.iat) > ttl_secs.saturating_add(LEEWAY_SECS);
        if issued_in_future || too_long {
            return Err(invalid());
        }
        Ok(claims)
    }
}

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user name.
    pub sub: String,
    /// The role when the token was issued (the database is checked again).
    pub role: String,
    /// The device the token was issued to.
    pub dev: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expires at (seconds).
    pub exp: i64,
}

/// An authenticated request: the user (as the database has them now) and
/// the device the token was issued to.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user.
    pub user: User,
    /// The device.
    pub device: DeviceId,
    /// The device is retired, or its user disabled: it may only deliver the
    /// work it made before (see [`Delivery`]); every other call refuses it.
    pub retired: bool,
}

/// A sync's caller: like [`AuthUser`], but a retired device (or a disabled
/// user's) is let in too, to deliver what it made before it was retired.
/// It receives nothing.
#[derive(Debug, Clone)]
pub struct Delivery(pub AuthUser);

impl FromRequestParts<AppState> for Delivery {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok_or_else(|| AppError::Unauthorized("an access token is required".into()))?;
        let claims = state
            .keys
            .verify(token, state.settings.access_ttl_secs, now_ms() / 1000)?;
        let device: DeviceId = claims
            .dev
            .parse()
            .map_err(|_| AppError::InvalidToken("the access token is not valid".into()))?;
        let username = claims.sub;
        state
            .db
            .run(move |store| authorize_in(store, &username, device, true))
            .await
            .map(Delivery)
    }
}

impl AuthUser {
    /// True when `scope` lies within one of the user's scopes.
    pub fn may_see(&self, scope: &ScopePath) -> bool {
        self.user.scopes.iter().any(|s| s.contains(scope))
    }

    /// Refuses users whose role does not read whole records of this kind
    /// (a volunteer reads the wall and their own wishes instead; see
    /// sync-core's `Reader`).
    pub fn require_records(&self, kind: sync_core::RecordKind) -> AppResult<()> {
        if self.user.reader().reads(kind, None) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "a {} may not read {kind} records; the wish wall shows what they need",
                self.user.role
            )))
        }
    }

    /// Refuses users who are not supervisors or admins.
    pub fn require_supervisor(&self) -> AppResult<()> {
        match self.user.role {
            sync_core::Role::Supervisor | sync_core::Role::Admin => Ok(()),
            role => Err(AppError::Forbidden(format!("a {role} may not do this"))),
        }
    }
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    /// A bearer token (phones, scripts), or else the dashboard's session
    /// cookie; with the cookie, a request that changes state must also carry
    /// the session's CSRF token and come from the relay's own origin.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(parts) {
            let claims =
                state
                    .keys
                    .verify(token, state.settings.access_ttl_secs, now_ms() / 1000)?;
            let device: DeviceId = claims
                .dev
                .parse()
                .map_err(|_| AppError::InvalidToken("the access token is not valid".into()))?;
            return authorize(state, claims.sub, device).await;
        }
        if session::cookie(&parts.headers, session::SESSION_COOKIE).is_none() {
            return Err(AppError::Unauthorized("an access token is required".into()));
        }
        let found = session::from_headers(state, &parts.headers)
            .await?
            .ok_or_else(|| AppError::InvalidToken("the session has ended; log in again".into()))?;
        if !session::is_safe(&parts.method) {
            session::check_csrf(&parts.headers, &found.csrf, None)?;
        }
        Ok(found.auth)
    }
}

/// Loads the user and device behind a valid token and checks both are still in good standing.
pub async fn authorize(
    state: &AppState,
    username: String,
    device: DeviceId,
) -> AppResult<AuthUser> {
    state
        .db
        .run(move |store| authorize_in(store, &username, device, false))
        .await
}

/// [`authorize`] on the store's thread. A lost device is refused; a retired
/// one (or a disabled user's) only when `deliver` is false.
pub fn authorize_in(
    store: &dyn RelayStore,
    username: &str,
    device: DeviceId,
    deliver: bool,
) -> AppResult<AuthUser> {
    let registered = store
        .device(device)?
        .ok_or_else(|| AppError::InvalidToken("the access token is not valid".into()))?;
    if registered.standing == "lost" {
        return Err(AppError::DeviceRevoked);
    }
    if registered.username != username {
        return Err(AppError::InvalidToken(
            "the access token is not valid".into(),
        ));
    }
    let user = store
        .user(username)?
        .ok_or_else(|| AppError::InvalidToken("the access token is not valid".into()))?;
    let retired = registered.standing == "retired";
    if retired && !deliver {
        return Err(AppError::Forbidden(if user.disabled {
            "this user is disabled".into()
        } else {
            "this device was retired: it may only deliver the work it made before".into()
        }));
    }
    Ok(AuthUser {
        user,
        device,
        retired,
    })
}
