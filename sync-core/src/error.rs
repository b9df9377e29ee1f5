//! The crate's error type.

use std::fmt;

/// Why the workflow refuses an action, as a stable code that a client
/// words in its own language (the message stays English, for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalCode {
    /// The action needs a reason (a rejection, a send-back), and got none.
    ReasonRequired,
    /// The card's current status does not allow the action.
    NotAllowedNow,
    /// The user's role may not take the action.
    RoleNotAllowed,
    /// Only whoever holds the wish may take the action.
    HolderOnly,
}

impl RefusalCode {
    /// The stable text form: `reason_required`, `not_allowed_now`,
    /// `role_not_allowed`, `holder_only`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::ReasonRequired => "reason_required",
            RefusalCode::NotAllowedNow => "not_allowed_now",
            RefusalCode::RoleNotAllowed => "role_not_allowed",
            RefusalCode::HolderOnly => "holder_only",
        }
    }
}

/// Input that does not make sense: a bad id, an unknown category, an event the
/// workflow does not allow. Nothing is stored when this is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput {
    /// What was expected.
    pub message: String,
    /// The offending value, shortened for display.
    pub value: String,
    /// Why, as a stable code, where the workflow says.
    pub code: Option<RefusalCode>,
}

impl InvalidInput {
    /// An input error about `value`.
    pub fn new(message: impl Into<String>, value: &str) -> Self {
        let value: String = value.chars().take(80).collect();
        Self {
            message: message.into(),
            value,
            code: None,
        }
    }

    /// The same error, with its stable code.
    pub fn because(mut self, code: RefusalCode) -> Self {
        self.code = Some(code);
        self
    }
}

/// An action the workflow or the user's role does not allow now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// What is not allowed, in English.
    pub message: String,
    /// Why, as a stable code, where the workflow says.
    pub code: Option<RefusalCode>,
}

impl Denied {
    /// A denial with its stable code.
    pub fn because(code: RefusalCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: Some(code),
        }
    }
}

impl From<String> for Denied {
    fn from(message: String) -> Self {
        Self {
            message,
            code: None,
        }
    }
}

impl From<&str> for Denied {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {:?}", self.message, self.value)
        }
    }
}

impl std::error::Error for InvalidInput {}

/// Everything that can go wrong in sync-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller's input was rejected; nothing changed.
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InvalidInput),
    /// The workflow does not allow this event now, or this role may not append it.
    #[error("not allowed: {0}")]
    NotAllowed(Denied),
    /// No record with this id is stored.
    #[error("not found: {0}")]
    NotFound(String),
    /// A record document could not be read as a Doorstep record.
    #[error("corrupt record {id}: {reason}")]
    CorruptRecord {
        /// The record.
        id: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A sync message could not be decoded or broke a limit.
    #[error("bad sync message: {0}")]
    Wire(#[from] crate::sync::WireError),
    /// Automerge refused a document or change.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// The SQLite store failed.
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    /// A store other than SQLite (the relay's PostgreSQL) failed.
    #[error("storage: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// Another writer stored the record after it was read here, so a
    /// write made from what was read would drop that writer's changes
    /// (see [`crate::sync::storage::RecordWrite::base`]). Reading the
    /// record again and redoing the write is safe.
    #[error("record {0} was stored by another writer meanwhile")]
    Contended(crate::ids::RecordId),
    /// The device directory refused a registration.
    #[error(transparent)]
    Register(#[from] crate::store::RegisterError),
    /// A picture could not be made into a photo, or bytes are not one.
    #[error(transparent)]
    Photo(#[from] crate::photo::PhotoError),
    /// The store's schema could not be migrated.
    #[error("schema migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
