//! Errors at the HTTP edge: one enum, mapped to a status and a stable JSON
//! body `{"error": "code", "message": "…"}`. Internal details go to the log.
//!
//! Refusals a user meets in the dashboard also carry a `reason`, a more
//! specific stable code (`reason_required`, `not_allowed_now`, …) that the
//! dashboard words in its own language; `error` stays the general code the
//! phones know (`bad_request`, `forbidden`).

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
    /// A refusal with a specific reason (see [`Reason`]), sent as
    /// `bad_request` or `forbidden` with the reason beside it.
    #[error("{message}")]
    Refused {
        /// Why, as a stable code.
        reason: Reason,
        /// The refusal in English.
        message: String,
    },
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
    /// A claim that lost a race: someone claimed the wish just before. The
    /// claim is kept, as a conflict a supervisor sees.
    #[error(
        "someone else claimed this wish just before you; it stays with them, and a supervisor sees both claims"
    )]
    ClaimLost,
    /// Too many wrong passwords for this user name: try again later.
    #[error("too many failed logins for this user name; try again in {retry_after_secs} s")]
    TooManyAttempts {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// The password is a one-time code from an administrator: the user must
    /// choose a new password first (the login's `new_password`, or the
    /// relay's `/password` page).
    #[error(
        "an administrator reset this password: choose a new one (send new_password with the login, or open /password on the relay)"
    )]
    PasswordChangeRequired,
    /// The client speaks an older protocol than the relay accepts.
    #[error("{0}")]
    UpdateRequired(String),
    /// The relay's storage cannot take writes now (full, read-only, or
    /// failing). Nothing of the request was acknowledged; try again later.
    #[error("{}", .fault.message())]
    Storage {
        /// What is wrong.
        fault: StorageFault,
        /// The database's own words, for the log.
        detail: String,
    },
    /// A photo upload or fetch that cannot be served as asked.
    #[error("{}", photo_message(.0))]
    Photo(crate::photos::PhotoProblem),
    /// Something broke on our side.
    #[error("internal error")]
    Internal(String),
}

fn photo_message(problem: &crate::photos::PhotoProblem) -> String {
    use crate::photos::PhotoProblem as P;
    match problem {
        P::TooLarge { bytes, limit } => format!(
            "a photo may be at most {limit} bytes ({} MiB); this one is {bytes}",
            limit >> 20
        ),
        P::Mismatch { actual } => format!(
            "the bytes received hash to {actual}, not to the name they were sent under; nothing was kept"
        ),
        P::Refused(why) => format!("{why}; nothing was kept"),
        P::Offset { current } => {
            format!("the upload stands at byte {current}; send from there")
        }
        P::Pending { from: Some(device) } => {
            format!("photo not yet received from {device}")
        }
        P::Pending { from: None } => "photo not yet received".to_owned(),
        P::Purged => "a supervisor removed this photo".to_owned(),
    }
}

/// Why a request was refused, more specifically than its status says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The action needs a reason (rejecting, sending back, cancelling,
    /// withdrawing, deleting a photo), and got none.
    ReasonRequired,
    /// The card's current status does not allow the action (someone else
    /// acted on it first, or the page is stale).
    NotAllowedNow,
    /// The user's role may not take the action.
    RoleNotAllowed,
    /// Only whoever holds the wish may take the action.
    HolderOnly,
    /// The scope asked for is outside the user's scopes.
    OutOfScope,
    /// A dispatch names nobody to give the wish to.
    ClaimantRequired,
    /// The page's session was replaced (a login elsewhere in the browser):
    /// reload the page.
    SessionChanged,
}

impl Reason {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::ReasonRequired => "reason_required",
            Reason::NotAllowedNow => "not_allowed_now",
            Reason::RoleNotAllowed => "role_not_allowed",
            Reason::HolderOnly => "holder_only",
            Reason::OutOfScope => "out_of_scope",
            Reason::ClaimantRequired => "claimant_required",
            Reason::SessionChanged => "session_changed",
        }
    }

    /// Bad input is `bad_request` (400); the rest is `forbidden` (403), as
    /// they were before they had reasons.
    fn is_bad_request(self) -> bool {
        matches!(self, Reason::ReasonRequired | Reason::ClaimantRequired)
    }
}

impl From<sync_core::RefusalCode> for Reason {
    fn from(code: sync_core::RefusalCode) -> Self {
        use sync_core::RefusalCode as C;
        match code {
            C::ReasonRequired => Reason::ReasonRequired,
            C::NotAllowedNow => Reason::NotAllowedNow,
            C::RoleNotAllowed => Reason::RoleNotAllowed,
            C::HolderOnly => Reason::HolderOnly,
        }
    }
}

impl AppError {
    /// A refusal for `reason`.
    pub fn refused(reason: Reason, message: impl Into<String>) -> Self {
        AppError::Refused {
            reason,
            message: message.into(),
        }
    }

    /// True for a 403 refusal, with a reason or without.
    pub fn is_forbidden(&self) -> bool {
        self.parts().0 == StatusCode::FORBIDDEN
    }
}

/// What is wrong with the relay's storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageFault {
    /// The disk (or the database's size limit) is full.
    Full,
    /// The database cannot be written (a read-only file or file system).
    ReadOnly,
    /// The database failed otherwise (an I/O error, locked for too long).
    Unavailable,
}

impl StorageFault {
    /// The stable code: `storage_full`, `storage_read_only`, `storage_unavailable`.
    pub fn code(self) -> &'static str {
        match self {
            StorageFault::Full => "storage_full",
            StorageFault::ReadOnly => "storage_read_only",
            StorageFault::Unavailable => "storage_unavailable",
        }
    }

    fn message(self) -> &'static str {
        match self {
            StorageFault::Full => {
                "the relay's storage is full: nothing of this request was stored; try again later"
            }
            StorageFault::ReadOnly => {
                "the relay's database cannot be written: nothing of this request was stored; try again later"
            }
            StorageFault::Unavailable => {
                "the relay's database is failing: nothing of this request was stored; try again later"
            }
        }
    }

    /// The fault behind a SQLite error, if it is one of storage.
    pub fn of(e: &rusqlite::Error) -> Option<StorageFault> {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code()? {
            C::DiskFull => Some(StorageFault::Full),
            C::ReadOnly => Some(StorageFault::ReadOnly),
            C::SystemIoFailure | C::CannotOpen | C::DatabaseBusy | C::DatabaseLocked => {
                Some(StorageFault::Unavailable)
            }
            _ => None,
        }
    }
}

/// How long a client should wait before asking again for a pending photo.
const PENDING_RETRY_SECS: u64 = 300;

/// How long a client should wait before trying again after a storage fault.
const STORAGE_RETRY_SECS: u64 = 60;

impl AppError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            AppError::DeviceRevoked => (StatusCode::FORBIDDEN, "device_revoked"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::Refused { reason, .. } if reason.is_bad_request() => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            AppError::Refused { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::BadMessage(_) => (StatusCode::BAD_REQUEST, "bad_message"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::ClaimLost => (StatusCode::CONFLICT, "claim_lost"),
            AppError::TooManyAttempts { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            }
            AppError::PasswordChangeRequired => (StatusCode::FORBIDDEN, "password_change_required"),
            AppError::UpdateRequired(_) => (StatusCode::UPGRADE_REQUIRED, "update_required"),
            AppError::Storage { fault, .. } => (
                match fault {
                    StorageFault::Full => StatusCode::INSUFFICIENT_STORAGE,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                },
                fault.code(),
            ),
            AppError::Photo(problem) => {
                use crate::photos::PhotoProblem as P;
                match problem {
                    P::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large"),
                    P::Mismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "photo_mismatch"),
                    P::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "photo_refused"),
                    P::Offset { .. } => (StatusCode::CONFLICT, "upload_offset"),
                    P::Pending { .. } => (StatusCode::CONFLICT, "photo_pending"),
                    P::Purged => (StatusCode::GONE, "photo_purged"),
                }
            }
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
        if let AppError::Storage { fault, detail } = &self {
            tracing::error!(code = fault.code(), %detail, "storage fault");
        }
        let mut body = json!({ "error": code, "message": self.to_string() });
        if let AppError::Refused { reason, .. } = &self {
            body["reason"] = json!(reason.code());
        }
        if let AppError::Photo(problem) = &self {
            use crate::photos::PhotoProblem as P;
            match problem {
                P::TooLarge { limit, .. } => body["limit"] = json!(limit),
                P::Offset { current } => body["offset"] = json!(current),
                P::Pending { from } => body["device"] = json!(from),
                _ => {}
            }
        }
        let mut response = (status, Json(body)).into_response();
        if let AppError::Photo(crate::photos::PhotoProblem::Offset { current }) = &self {
            response
                .headers_mut()
                .insert("upload-offset", HeaderValue::from(*current));
        }
        if let AppError::Photo(crate::photos::PhotoProblem::Pending { .. }) = &self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(PENDING_RETRY_SECS));
        }
        if let AppError::TooManyAttempts { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if let AppError::Storage { fault, .. } = self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(STORAGE_RETRY_SECS));
            // For the observer layer (metrics, health); not sent.
            response.extensions_mut().insert(fault);
        }
        response
    }
}

impl From<sync_core::Error> for AppError {
    fn from(e: sync_core::Error) -> Self {
        use sync_core::Error as E;
        match e {
            E::InvalidInput(e) => match e.code {
                Some(code) => AppError::refused(code.into(), e.to_string()),
                None => AppError::BadRequest(e.to_string()),
            },
            E::NotAllowed(denied) => match denied.code {
                Some(code) => AppError::refused(code.into(), denied.message),
                None => AppError::Forbidden(denied.message),
            },
            E::NotFound(m) => AppError::NotFound(format!("not found: {m}")),
            E::Wire(e) => AppError::BadMessage(e.to_string()),
            E::Register(sync_core::store::RegisterError::Revoked) => AppError::DeviceRevoked,
            E::Register(e) => AppError::Conflict(e.to_string()),
            E::Storage(e) => e.into(),
            E::Backend(e) => match e.downcast::<crate::store::postgres::Error>() {
                Ok(pg) => (*pg).into(),
                Err(e) => AppError::Internal(e.to_string()),
            },
            // Other relays kept writing the record: the phone tries again.
            E::Contended(id) => AppError::Storage {
                fault: StorageFault::Unavailable,
                detail: format!("record {id} is being written by other relays"),
            },
            E::Photo(e) => crate::photos::refusal(e),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        match StorageFault::of(&e) {
            Some(fault) => AppError::Storage {
                fault,
                detail: e.to_string(),
            },
            None => AppError::Internal(e.to_string()),
        }
    }
}

/// The body of every error answer, as the API documents it: a stable code
/// and a message for people. A few photo errors add a field.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: `unauthorized`, `invalid_token`, `device_revoked`,
    /// `forbidden`, `not_found`, `bad_request`, `bad_message`, `conflict`,
    /// `claim_lost`, `too_many_attempts`, `password_change_required`,
    /// `update_required`, a storage fault
    /// (`storage_full`, `storage_read_only`, `storage_unavailable`), a photo
    /// problem (`photo_too_large`, `photo_mismatch`, `photo_refused`,
    /// `upload_offset`, `photo_pending`, `photo_purged`), `internal`, or one
    /// of a request the relay could not read (`bad_request`,
    /// `unsupported_media_type`, `invalid_body`, `too_large`,
    /// `method_not_allowed`, `timeout`).
    #[schema(example = "not_found")]
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// `photo_too_large`: the largest photo accepted, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// `upload_offset`: the byte the upload stands at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// `photo_pending`: the device whose phone has the photo, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// For a refusal a person meets, a more specific stable code beside
    /// `error`: `reason_required`, `not_allowed_now`, `role_not_allowed`,
    /// `holder_only`, `out_of_scope`, `claimant_required`, `session_changed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `Result` with [`AppError`].
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_database_is_a_storage_fault_with_retry_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.sqlite");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let ro = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let e: AppError = ro
            .execute("INSERT INTO t VALUES (1)", [])
            .unwrap_err()
            .into();
        assert!(
            matches!(
                e,
                AppError::Storage {
                    fault: StorageFault::ReadOnly,
                    ..
                }
            ),
            "{e:?}"
        );
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), "60");
        assert_eq!(
            response.extensions().get::<StorageFault>(),
            Some(&StorageFault::ReadOnly)
        );
        // Errors that are not the storage's stay internal.
        let e: AppError = ro.execute("NOT SQL", []).unwrap_err().into();
        assert!(matches!(e, AppError::Internal(_)));
    }
}
