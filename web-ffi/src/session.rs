//! The worker's session with the relay, kept in the browser's database so
//! that the app opens logged in, offline, after the browser restarts.

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sync_core::doc::Author;
use sync_core::{DeviceId, Role, ScopePath, UserId};

use crate::error::{FieldError, Result};

/// Refresh the access token when it has less than this left (ms).
const REFRESH_MARGIN_MS: i64 = 60_000;

/// The relay's answer to a login or a refresh.
#[derive(Debug, Deserialize)]
pub(crate) struct Tokens {
    access_token: String,
    refresh_token: String,
    /// Seconds.
    expires_in: i64,
    user: UserInfo,
    /// The relay's clock (ms), to correct the browser's by.
    #[serde(default)]
    pub(crate) server_time_ms: i64,
}

/// The user the tokens are for.
#[derive(Debug, Deserialize)]
struct UserInfo {
    id: UserId,
    role: Role,
    scopes: Vec<ScopePath>,
}

/// A logged-in worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) user: UserId,
    pub(crate) role: Role,
    pub(crate) scopes: Vec<ScopePath>,
    pub(crate) access_token: String,
    pub(crate) access_expires_at: i64,
    pub(crate) refresh_token: String,
}

/// What the page shows of the session.
#[derive(Debug, Serialize)]
pub(crate) struct Account<'a> {
    user: &'a UserId,
    role: Role,
    scopes: &'a [ScopePath],
}

impl Session {
    /// The session the relay's `tokens` open, received at `now`.
    pub(crate) fn new(tokens: Tokens, now: i64) -> Self {
        Self {
            user: tokens.user.id,
            role: tokens.user.role,
            scopes: tokens.user.scopes,
            access_token: tokens.access_token,
            access_expires_at: now.saturating_add(tokens.expires_in.saturating_mul(1000)),
            refresh_token: tokens.refresh_token,
        }
    }

    /// The author of this worker's edits in this browser.
    pub(crate) fn author(&self, device: DeviceId) -> Author {
        Author {
            user: self.user.clone(),
            role: self.role,
            device,
        }
    }

    pub(crate) fn account(&self) -> Account<'_> {
        Account {
            user: &self.user,
            role: self.role,
            scopes: &self.scopes,
        }
    }

    /// Whether the access token is about to expire at `now`.
    pub(crate) fn needs_refresh(&self, now: i64) -> bool {
        self.access_expires_at - REFRESH_MARGIN_MS <= now
    }
}

/// Creates the session table if needed.
pub(crate) fn init(conn: &Connection) -> Result<()> {
    conn.execute_batch(include_str!("../sql/001_session.sql"))?;
    Ok(())
}

/// The stored session, if someone is logged in.
pub(crate) fn load(conn: &Connection) -> Result<Option<Session>> {
    let text: Option<String> = conn
        .query_row("SELECT session FROM field_session WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            FieldError::new("storage", format!("the stored session is unreadable: {e}"))
        })
    })
    .transpose()
}

/// Stores a session (after a login or a refresh).
pub(crate) fn save(conn: &Connection, session: &Session) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO field_session (id, session) VALUES (1, ?1)",
        [serde_json::to_string(session)?],
    )?;
    Ok(())
}

/// Forgets the worker and the tokens.
pub(crate) fn clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM field_session", [])?;
    Ok(())
}

/// Reads the relay's answer to a login or refresh.
pub(crate) fn parse_tokens(answer: &str) -> Result<Tokens> {
    serde_json::from_str(answer).map_err(|e| {
        FieldError::new(
            "relay",
            format!("the relay's login answer cannot be read: {e}"),
        )
    })
}
