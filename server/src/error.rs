//! Errors at the HTTP edge: one enum, mapped to a status and a stable JSON
//! body `{"error": "code", "message": "…"}`. Internal details go to the log.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No or malformed credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// A token that is expired, forged or otherwise invalid.
    #[error("{0}")]
    InvalidToken(String),
    /// The device was revoked; the phone must log in again on a new install.
    #[error("this device has been revoked")]
    DeviceRevoked,
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (or not in the caller's scopes).
    #[error("{0}")]
    NotFound(String),
    /// The request does not make sense.
    #[error("{0}")]
    BadRequest(String),
    /// A sync message that does not decode.
    #[error("{0}")]
    BadMessage(String),
    /// Conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// Too many wrong passwords for this user name: try again later.
    #[error("too many failed logins for this user name; try again in {retry_after_secs} s")]
    TooManyAttempts {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// The client speaks an older protocol than the relay accepts.
    #[error("{0}")]
    UpdateRequired(String),
    /// Something broke on our side.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            AppError::DeviceRevoked => (StatusCode::FORBIDDEN, "device_revoked"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::BadMessage(_) => (StatusCode::BAD_REQUEST, "bad_message"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::TooManyAttempts { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            }
            AppError::UpdateRequired(_) => (StatusCode::UPGRADE_REQUIRED, "update_required"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        if let AppError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        let mut response = (
            status,
            Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response();
        if let AppError::TooManyAttempts { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<sync_core::Error> for AppError {
    fn from(e: sync_core::Error) -> Self {
        use sync_core::Error as E;
        match e {
            E::InvalidInput(e) => AppError::BadRequest(e.to_string()),
            E::NotAllowed(m) => AppError::Forbidden(m),
            E::NotFound(m) => AppError::NotFound(format!("not found: {m}")),
            E::Wire(e) => AppError::BadMessage(e.to_string()),
            E::Register(sync_core::store::RegisterError::Revoked) => AppError::DeviceRevoked,
            E::Register(e) => AppError::Conflict(e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

/// `Result` with [`AppError`].
pub type AppResult<T> = Result<T, AppError>;
