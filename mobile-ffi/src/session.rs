//! The phone's session with its relay, kept in the phone's database so that
//! it survives restarts: who is logged in, with which role and scopes, and
//! the tokens. The access token is refreshed by itself before it expires.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use sync_core::doc::Author;
use sync_core::store::PeerId;
use sync_core::{DeviceId, Role, ScopePath, UserId};

use crate::error::{DoorstepError, Result};
use crate::types::Account;

/// Refresh the access token when it has less than this left (ms).
const REFRESH_MARGIN_MS: i64 = 60_000;

/// A relay's answer to a login or a refresh.
#[derive(Debug, Deserialize)]
pub(crate) struct Tokens {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    /// Seconds.
    pub(crate) expires_in: i64,
    pub(crate) user: UserInfo,
    /// The relay's clock (ms), to correct the phone's by.
    #[serde(default)]
    pub(crate) server_time_ms: i64,
}

/// The user a relay's tokens are for.
#[derive(Debug, Deserialize)]
pub(crate) struct UserInfo {
    pub(crate) id: UserId,
    pub(crate) role: Role,
    pub(crate) scopes: Vec<ScopePath>,
}

/// A logged-in user on this phone.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) relay_url: String,
    pub(crate) user: UserId,
    pub(crate) role: Role,
    pub(crate) scopes: Vec<ScopePath>,
    pub(crate) access_token: String,
    pub(crate) access_expires_at: i64,
    pub(crate) refresh_token: String,
}

impl Session {
    pub(crate) fn new(relay_url: &str, tokens: Tokens, now: i64) -> Self {
        Self {
            relay_url: relay_url.to_owned(),
            user: tokens.user.id,
            role: tokens.user.role,
            scopes: tokens.user.scopes,
            access_token: tokens.access_token,
            access_expires_at: now.saturating_add(tokens.expires_in.saturating_mul(1000)),
            refresh_token: tokens.refresh_token,
        }
    }

    /// The author of this user's edits on this phone.
    pub(crate) fn author(&self, device: DeviceId) -> Author {
        Author {
            user: self.user.clone(),
            role: self.role,
            device,
        }
    }

    pub(crate) fn account(&self) -> Account {
        Account {
            username: self.user.to_string(),
            role: self.role,
            scopes: self.scopes.iter().map(ToString::to_string).collect(),
            relay_url: self.relay_url.clone(),
        }
    }

    pub(crate) fn needs_refresh(&self, now: i64) -> bool {
        self.access_expires_at - REFRESH_MARGIN_MS <= now
    }
}

/// The sync-core peer name of a relay: its URL.
pub(crate) fn relay_peer(relay_url: &str) -> Result<PeerId> {
    Ok(PeerId::new(relay_url)?)
}

/// Checks and normalizes a relay URL: `http(s)://host[:port][/path]`, no
/// trailing slash.
pub(crate) fn relay_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty() && url.len() <= 200 && !url.contains(char::is_whitespace) =>
        {
            Ok(url.to_owned())
        }
        _ => Err(DoorstepError::InvalidInput(format!(
            "a relay URL looks like https://relay.example.org (got {url:?})"
        ))),
    }
}

/// Creates the session table if needed.
pub(crate) fn init(conn: &Connection) -> Result<()> {
    conn.execute_batch(include_str!("../sql/001_session.sql"))?;
    Ok(())
}

type Row = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

/// The relay last used, and the session if someone is logged in.
pub(crate) fn load(conn: &Connection) -> Result<(Option<String>, Option<Session>)> {
    let row: Option<Row> = conn
        .query_row(
            "SELECT relay_url, username, role, scopes, access_token, access_expires_at, refresh_token
             FROM ffi_session WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    let Some((relay, user, role, scopes, access, expires, refresh)) = row else {
        return Ok((None, None));
    };
    let session = match (user, role, scopes, access, expires, refresh) {
        (Some(user), Some(role), Some(scopes), Some(access), Some(expires), Some(refresh)) => {
            let scopes: Vec<ScopePath> = serde_json::from_str(&scopes).map_err(|e| {
                DoorstepError::Storage(format!("the stored session is unreadable: {e}"))
            })?;
            Some(Session {
                relay_url: relay.clone(),
                user: UserId::new(user)?,
                role: role.parse()?,
                scopes,
                access_token: access,
                access_expires_at: expires,
                refresh_token: refresh,
            })
        }
        _ => None,
    };
    Ok((Some(relay), session))
}

/// Stores a session (after a login or a refresh).
pub(crate) fn save(conn: &Connection, s: &Session) -> Result<()> {
    let scopes = serde_json::to_string(&s.scopes)
        .map_err(|e| DoorstepError::Storage(format!("cannot store the session: {e}")))?;
    conn.execute(
        "INSERT INTO ffi_session (id, relay_url, username, role, scopes, access_token, access_expires_at, refresh_token)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET relay_url = excluded.relay_url, username = excluded.username,
             role = excluded.role, scopes = excluded.scopes, access_token = excluded.access_token,
             access_expires_at = excluded.access_expires_at, refresh_token = excluded.refresh_token",
        params![
            s.relay_url,
            s.user.as_str(),
            s.role.as_str(),
            scopes,
            s.access_token,
            s.access_expires_at,
            s.refresh_token
        ],
    )?;
    Ok(())
}

/// Forgets the user and the tokens; keeps the relay's URL.
pub(crate) fn clear(conn: &Connection) -> Result<()> {
    conn.execute(
        "UPDATE ffi_session SET username = NULL, role = NULL, scopes = NULL, access_token = NULL,
             access_expires_at = NULL, refresh_token = NULL WHERE id = 1",
        [],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_are_checked_and_normalized() {
        assert_eq!(
            relay_url(" http://127.0.0.1:8080/ ").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            relay_url("https://relay.example.org/doorstep").unwrap(),
            "https://relay.example.org/doorstep"
        );
        assert!(matches!(
            relay_url("relay.example.org"),
            Err(DoorstepError::InvalidInput(_))
        ));
        assert!(matches!(
            relay_url("http://"),
            Err(DoorstepError::InvalidInput(_))
        ));
        assert!(matches!(
            relay_url("ftp://x"),
            Err(DoorstepError::InvalidInput(_))
        ));
    }

    #[test]
    fn a_session_survives_a_reopen_and_logout_keeps_the_relay() {
        let conn = Connection::open_in_memory().unwrap();
        init(&conn).unwrap();
        assert!(load(&conn).unwrap().0.is_none());
        let session = Session {
            relay_url: "http://relay".into(),
            user: UserId::new("wang").unwrap(),
            role: Role::Worker,
            scopes: vec![ScopePath::new("longgang/yuanshan/xikeng").unwrap()],
            access_token: "a".into(),
            access_expires_at: 1_000,
            refresh_token: "r".into(),
        };
        save(&conn, &session).unwrap();
        let (relay, loaded) = load(&conn).unwrap();
        assert_eq!(relay.as_deref(), Some("http://relay"));
        let loaded = loaded.unwrap();
        assert_eq!(loaded.user, session.user);
        assert_eq!(loaded.scopes, session.scopes);
        assert!(loaded.needs_refresh(1_000 - REFRESH_MARGIN_MS));
        assert!(!loaded.needs_refresh(1_000 - REFRESH_MARGIN_MS - 1));
        clear(&conn).unwrap();
        let (relay, loaded) = load(&conn).unwrap();
        assert_eq!(relay.as_deref(), Some("http://relay"));
        assert!(loaded.is_none());
    }
}
