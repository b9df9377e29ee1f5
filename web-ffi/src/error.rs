//! The errors the field app shows: a stable code the page words in the
//! worker's language, and the detail in English for the log.

use serde::Serialize;

/// A failed call, as the page receives it (JSON in the thrown error's
/// message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct FieldError {
    /// What went wrong, for the page to word: `invalid_input`,
    /// `not_allowed`, `not_found`, `not_logged_in`, `storage`, `relay`.
    pub code: &'static str,
    /// The detail.
    pub message: String,
}

impl FieldError {
    /// An error with `code`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Input the app cannot use; nothing changed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("invalid_input", message)
    }

    /// The error as JSON, for the page.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| format!("{{\"code\":\"{}\"}}", self.code))
    }
}

impl From<sync_core::Error> for FieldError {
    fn from(e: sync_core::Error) -> Self {
        use sync_core::Error as E;
        let code = match &e {
            E::InvalidInput(_) | E::Photo(_) => "invalid_input",
            E::NotAllowed(_) => "not_allowed",
            E::NotFound(_) => "not_found",
            E::Wire(_) => "relay",
            _ => "storage",
        };
        Self::new(code, e.to_string())
    }
}

impl From<sync_core::InvalidInput> for FieldError {
    fn from(e: sync_core::InvalidInput) -> Self {
        Self::invalid(e.to_string())
    }
}

impl From<rusqlite::Error> for FieldError {
    fn from(e: rusqlite::Error) -> Self {
        Self::new("storage", e.to_string())
    }
}

impl From<serde_json::Error> for FieldError {
    fn from(e: serde_json::Error) -> Self {
        Self::invalid(format!("the app sent something the store cannot read: {e}"))
    }
}

/// `Result` with [`FieldError`].
pub type Result<T, E = FieldError> = std::result::Result<T, E>;
