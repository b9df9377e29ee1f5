//! The one error type every call can fail with.

use rusqlite::ErrorCode;

/// Everything a call into Doorstep can fail with. Each variant carries a
/// message a person can read; apps switch on the variant to decide what to
/// show (a "you are offline" banner, a login screen, a form error).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum DoorstepError {
    /// The relay could not be reached (no network, relay down, timed out).
    /// Nothing was lost: every change stays on the phone for the next sync.
    #[error("{0}")]
    Offline(String),
    /// No one is logged in, the password was wrong, or the session ended and
    /// the user must log in again.
    #[error("{0}")]
    Unauthorized(String),
    /// An administrator cut this phone off. Its data stays on the phone, but
    /// it cannot sync any more.
    #[error("{0}")]
    DeviceRevoked(String),
    /// No record with this id is on the phone.
    #[error("{0}")]
    NotFound(String),
    /// The input was refused (a bad id, an empty reason, a rating out of
    /// range); nothing changed.
    #[error("{0}")]
    InvalidInput(String),
    /// The workflow or the user's role does not allow this now (claiming a
    /// card that is not approved, a worker approving a card).
    #[error("{0}")]
    NotAllowed(String),
    /// The encryption key does not open the database (or the database is
    /// encrypted and no key was given).
    #[error("{0}")]
    WrongKey(String),
    /// The phone's database failed.
    #[error("{0}")]
    Storage(String),
    /// The relay answered with something this app cannot use (an error on
    /// its side, or a protocol this version does not speak).
    #[error("{0}")]
    Server(String),
    /// The relay needs a newer version of the app. Nothing on the phone is
    /// lost: it syncs once the app is updated.
    #[error("{0}")]
    UpdateRequired(String),
    /// The relay cannot store anything right now (its disk is full, or its
    /// database cannot be written). Nothing on the phone was lost and
    /// nothing of this sync was acknowledged: sync again later.
    #[error("{0}")]
    RelayUnavailable(String),
}

/// `Result` with [`DoorstepError`].
pub type Result<T, E = DoorstepError> = std::result::Result<T, E>;

impl From<sync_core::Error> for DoorstepError {
    fn from(e: sync_core::Error) -> Self {
        use sync_core::Error as E;
        match e {
            E::InvalidInput(e) => Self::InvalidInput(format!("invalid input: {e}")),
            E::NotAllowed(m) => Self::NotAllowed(format!("not allowed: {m}")),
            E::NotFound(m) => Self::NotFound(format!("not found: {m}")),
            E::Wire(e) => Self::InvalidInput(format!("not a usable sync message: {e}")),
            E::Storage(e) => e.into(),
            E::Photo(e) => Self::InvalidInput(format!("the photo cannot be taken: {e}")),
            other => Self::Storage(format!("the phone's database failed: {other}")),
        }
    }
}

impl From<sync_core::InvalidInput> for DoorstepError {
    fn from(e: sync_core::InvalidInput) -> Self {
        Self::InvalidInput(format!("invalid input: {e}"))
    }
}

impl From<rusqlite::Error> for DoorstepError {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
            Self::WrongKey(
                "the database cannot be read: it is encrypted with another key, or is not a Doorstep database"
                    .into(),
            )
        } else {
            Self::Storage(format!("the phone's database failed: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_keep_their_meaning_and_message() {
        let e: DoorstepError =
            sync_core::Error::NotAllowed("cannot claim a wish that is draft".into()).into();
        assert!(
            matches!(&e, DoorstepError::NotAllowed(m) if m.contains("cannot claim a wish that is draft"))
        );
        let e: DoorstepError = "nope".parse::<sync_core::WishId>().unwrap_err().into();
        assert!(matches!(&e, DoorstepError::InvalidInput(m) if m.contains("nope")));
        let e: DoorstepError = sync_core::Error::NotFound("wish 1".into()).into();
        assert!(matches!(e, DoorstepError::NotFound(_)));
    }
}
