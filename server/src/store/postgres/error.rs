//! What the PostgreSQL store can fail with, and how the relay's edge sees it.

use crate::error::{AppError, StorageFault};

/// An error of the PostgreSQL store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection settings do not parse, or the pool cannot be built.
    #[error("PostgreSQL settings: {0}")]
    Config(String),
    /// No connection from the pool (the server is down, unreachable, or
    /// every connection is busy for longer than the pool waits).
    #[error("no PostgreSQL connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The database refused or failed a statement.
    #[error("PostgreSQL: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// A schema migration failed; nothing of it was applied.
    #[error("PostgreSQL schema migration {version} ({name}) failed: {source}")]
    Migration {
        /// The migration's version.
        version: i32,
        /// The migration's file name.
        name: &'static str,
        /// What the database said.
        source: tokio_postgres::Error,
    },
    /// The database has a schema newer than this relay knows: a newer
    /// relay migrated it. Run that version (or newer) instead.
    #[error(
        "the PostgreSQL schema is at version {found}, newer than this relay's {known}: run a relay at least as new as the one that migrated it"
    )]
    SchemaTooNew {
        /// The version in the database.
        found: i32,
        /// The newest version this relay knows.
        known: i32,
    },
    /// A stored value this relay cannot read (a kind or community it does
    /// not know, a negative position).
    #[error("unreadable row in PostgreSQL: {0}")]
    Corrupt(String),
}

/// `Result` with the PostgreSQL store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the error says the server (or the connection to it) is gone
    /// or overloaded, rather than a statement being wrong: worth a retry.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Pool(_) => true,
            Error::Db(e) => {
                e.is_closed()
                    || e.code().is_some_and(is_unavailable_state)
                    || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
            _ => false,
        }
    }
}

/// SQLSTATE classes 08 (connection exception), 53 (insufficient resources),
/// 57 (operator intervention: shutdown, cancel) and 40 (serialization
/// failure, deadlock: retry the transaction).
fn is_unavailable_state(state: &tokio_postgres::error::SqlState) -> bool {
    let code = state.code();
    ["08", "53", "57", "40"].iter().any(|c| code.starts_with(c))
}

/// The fault the relay reports for an error of storage, if it is one.
fn fault(e: &Error) -> Option<StorageFault> {
    if let Error::Db(db) = e
        && let Some(state) = db.code()
    {
        match state.code() {
            // disk_full
            "53100" => return Some(StorageFault::Full),
            // read_only_sql_transaction: a standby, or a read-only database
            "25006" => return Some(StorageFault::ReadOnly),
            _ => {}
        }
    }
    e.is_unavailable().then_some(StorageFault::Unavailable)
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        match fault(&e) {
            Some(fault) => AppError::Storage {
                fault,
                detail: e.to_string(),
            },
            None => AppError::Internal(e.to_string()),
        }
    }
}
