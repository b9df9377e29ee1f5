//! The audit log: security and administrative events (logins and failed
//! logins, refused token refreshes, exports, revocations, changes to users,
//! restores, changed settings). Each is stored by the [`RelayStore`] and
//! written to the log as a structured event (target `doorstep::audit`), so
//! that a district can keep it in its own log system too.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::state::now_ms;
use crate::store::RelayStore;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AuditAction)]
pub enum Action {
    /// A user logged in (a phone, the dashboard, the web app).
    Login,
    /// A login was refused: a wrong name or password, a disabled user, an
    /// expired one-time code, too many attempts.
    LoginFailed,
    /// A refresh token was refused (expired, revoked, or used twice).
    RefreshFailed,
    /// A user changed their own password.
    PasswordChanged,
    /// An administrator set a user's password or gave them a one-time code.
    PasswordReset,
    /// A user was added.
    UserAdded,
    /// A user's role, scopes or name changed.
    UserChanged,
    /// A user was disabled.
    UserDisabled,
    /// A disabled user was enabled again.
    UserEnabled,
    /// A device was revoked (lost) or retired.
    DeviceRevoked,
    /// Data left the relay as a file (CSV).
    Export,
    /// The database was restored from a backup.
    Restore,
    /// The relay started with settings that differ from its last start.
    SettingsChanged,
}

impl Action {
    /// Every action, in the order the dashboard lists them.
    pub const ALL: [Action; 13] = [
        Action::Login,
        Action::LoginFailed,
        Action::RefreshFailed,
        Action::PasswordChanged,
        Action::PasswordReset,
        Action::UserAdded,
        Action::UserChanged,
        Action::UserDisabled,
        Action::UserEnabled,
        Action::DeviceRevoked,
        Action::Export,
        Action::Restore,
        Action::SettingsChanged,
    ];

    /// The stable name stored and shown: `login_failed`, `user_added`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::LoginFailed => "login_failed",
            Action::RefreshFailed => "refresh_failed",
            Action::PasswordChanged => "password_changed",
            Action::PasswordReset => "password_reset",
            Action::UserAdded => "user_added",
            Action::UserChanged => "user_changed",
            Action::UserDisabled => "user_disabled",
            Action::UserEnabled => "user_enabled",
            Action::DeviceRevoked => "device_revoked",
            Action::Export => "export",
            Action::Restore => "restore",
            Action::SettingsChanged => "settings_changed",
        }
    }
}

impl std::str::FromStr for Action {
    type Err = AppError;

    fn from_str(s: &str) -> AppResult<Self> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                AppError::BadRequest(format!(
                    "no audit action {s:?}; the actions are {}",
                    known.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that columns of `{:<16}` line up.
        f.pad(self.as_str())
    }
}

/// Who acts from the relay's command line.
pub const CLI: &str = "cli";

/// An event to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When (ms).
    pub at: i64,
    /// Who: a user name, [`CLI`], or nobody identified.
    pub actor: Option<String>,
    /// What.
    pub action: Action,
    /// To whom or what: a user name, a device id, a file.
    pub target: Option<String>,
    /// Anything more, in plain words.
    pub detail: String,
    /// The client's address.
    pub peer: Option<String>,
}

impl Entry {
    /// An entry of `action` at `at` by `actor`, with nothing more yet.
    pub fn new(at: i64, actor: Option<&str>, action: Action) -> Self {
        Self {
            at,
            actor: actor.map(str::to_owned),
            action,
            target: None,
            detail: String::new(),
            peer: None,
        }
    }

    /// The same, done to `target`.
    pub fn on(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// The same, with `detail`.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The same, from `peer`.
    pub fn from_peer(mut self, peer: Option<std::net::SocketAddr>) -> Self {
        self.peer = peer.map(|p| p.ip().to_string());
        self
    }
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AuditEntry)]
pub struct Stored {
    /// Its number, rising.
    pub id: i64,
    /// When (ms).
    pub at: i64,
    /// Who.
    pub actor: Option<String>,
    /// What.
    pub action: Action,
    /// To whom or what.
    pub target: Option<String>,
    /// Anything more.
    pub detail: String,
    /// The client's address.
    pub peer: Option<String>,
}

/// Which entries to read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Filter {
    /// Only this action.
    #[serde(default)]
    pub action: Option<Action>,
    /// Only entries by, or done to, this user name (or device id).
    #[serde(default)]
    pub who: Option<String>,
    /// From this time (ms), inclusive.
    #[serde(default)]
    pub from: Option<i64>,
    /// Before this time (ms).
    #[serde(default)]
    pub to: Option<i64>,
    /// Entries older than this id (the next page).
    #[serde(default)]
    pub before: Option<i64>,
    /// At most this many (default and cap [`Filter::MAX`]).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl Filter {
    /// The most entries one read returns.
    pub const MAX: u32 = 1000;

    /// The limit in force.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(Self::MAX).clamp(1, Self::MAX)
    }
}

/// The client's address, as the listener saw it (none in tests that call
/// the router directly). A connection from this machine that names a client
/// in `X-Forwarded-For` is a reverse proxy's: the address it appended last
/// (the one that reached the proxy) is the client's. From anywhere else the
/// header is not believed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let socket = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr);
        let forwarded = || {
            let header = parts.headers.get("x-forwarded-for")?.to_str().ok()?;
            let last = header.rsplit(',').next()?.trim();
            last.parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 0))
        };
        Ok(Peer(match socket {
            Some(addr) if addr.ip().is_loopback() => forwarded().or(socket),
            _ => socket,
        }))
    }
}

/// Records `entry` in `store` and in the log.
pub fn record(store: &mut dyn RelayStore, entry: &Entry) -> AppResult<()> {
    tracing::info!(
        target: "doorstep::audit",
        action = entry.action.as_str(),
        actor = entry.actor.as_deref().unwrap_or("-"),
        subject = entry.target.as_deref().unwrap_or("-"),
        detail = %entry.detail,
        peer = entry.peer.as_deref().unwrap_or("-"),
        "audit"
    );
    store.append_audit(entry)
}

/// Records that `user` exported `file` (`rows` of it, from `scopes`).
pub fn exported(
    store: &mut dyn RelayStore,
    user: &str,
    file: &str,
    rows: usize,
    scopes: &[sync_core::ScopePath],
    peer: Option<SocketAddr>,
) -> AppResult<()> {
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    record(
        store,
        &Entry::new(now_ms(), Some(user), Action::Export)
            .on(file)
            .detail(format!("{rows} rows of {}", scopes.join(", ")))
            .from_peer(peer),
    )
}

/// Records the relay's settings at start when they differ from those of
/// its last start (or it never started before): `detail` names what
/// changed, then lists them all.
pub fn settings_at_start(store: &mut dyn RelayStore, summary: &str, now: i64) -> AppResult<()> {
    let last = store.audit_log(&Filter {
        action: Some(Action::SettingsChanged),
        limit: Some(1),
        ..Filter::default()
    })?;
    let before = last.first().map(|e| e.detail.as_str());
    let listed = |detail: &str| -> Vec<String> {
        detail
            .split_once("\n\n")
            .map_or(detail, |(_, all)| all)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let now_lines: Vec<String> = summary.lines().map(str::to_owned).collect();
    let changed: Vec<&str> = match before {
        Some(before) => {
            let old = listed(before);
            now_lines
                .iter()
                .filter(|line| !old.contains(line))
                .filter_map(|line| line.split(" = ").next())
                .collect()
        }
        None => vec!["first start"],
    };
    if changed.is_empty() {
        return Ok(());
    }
    record(
        store,
        &Entry::new(now, Some(CLI), Action::SettingsChanged)
            .detail(format!("changed: {}\n\n{summary}", changed.join(", "))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_from_their_names() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>().unwrap(), action);
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
        }
        assert!("logins".parse::<Action>().is_err());
    }

    #[test]
    fn settings_are_recorded_at_the_first_start_and_when_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = sync_core::Store::open(dir.path().join("relay.sqlite")).unwrap();
        let changes = |store: &sync_core::Store| {
            let filter = Filter {
                action: Some(Action::SettingsChanged),
                ..Filter::default()
            };
            RelayStore::audit_log(store, &filter).unwrap()
        };
        let first = "listen = 127.0.0.1:8080\npublic_page = false";
        settings_at_start(&mut store, first, 1).unwrap();
        settings_at_start(&mut store, first, 2).unwrap();
        let log = changes(&store);
        assert_eq!(log.len(), 1, "the same settings again are not news");
        assert!(
            log[0].detail.starts_with("changed: first start"),
            "{}",
            log[0].detail
        );

        let second = "listen = 127.0.0.1:8080\npublic_page = true";
        settings_at_start(&mut store, second, 3).unwrap();
        let log = changes(&store);
        assert_eq!(log.len(), 2);
        assert!(
            log[0].detail.starts_with("changed: public_page\n\n"),
            "{}",
            log[0].detail
        );
        assert!(log[0].detail.ends_with(second));
        settings_at_start(&mut store, second, 4).unwrap();
        assert_eq!(changes(&store).len(), 2);
    }
}
