//! The relay's store as shipped: one SQLite file, through sync-core's
//! [`Store`]. Records and their sync state are sync-core's tables; accounts
//! are the relay's own (`users`, `user_scopes`, `devices`, `refresh_tokens`,
//! created by sync-core's migrations so that one file holds everything and
//! one backup copies it).

use rusqlite::{Connection, OptionalExtension, params, params_from_iter, types::Value as Sql};
use std::collections::HashMap;
use std::sync::Arc;
use sync_core::doc::{EventInput, HistoryEntry};
use sync_core::keys::{DeviceKey, PublicKey};
use sync_core::model::WishPatch;
use sync_core::store::{
    ConflictRow, CorrectedTimes, HouseholdRow, Page, StatsReport, VisitRow, WishExtras, WishFilter,
    WishRow,
};
use sync_core::store::{Registration, RevokeKind};

use sync_core::sync::{Decision, Held, Policy, Refusal, SyncRequest, SyncResponse};
use sync_core::{
    Author, DeviceId, HouseholdId, Record, RecordId, Role, ScopePath, Status, Store, UserId, WishId,
};

use super::audit;
use super::login_failures;
use super::users::{self, credentials, disable_user, enable_user, insert_user, list_users, user};
use super::{Changes, Headroom, LoginFailures, RelayStore, Usage};
use crate::accounts::{Credentials, Device, User, WebSession, random_token, token_hash};
use crate::error::{AppError, AppResult};

impl RelayStore for Store {
    fn serve_sync(
        &mut self,
        policy: &dyn Policy,
        request: &SyncRequest,
    ) -> AppResult<SyncResponse> {
        Ok(Store::serve_sync(self, policy, request)?)
    }

    fn record(&self, id: RecordId) -> AppResult<Option<Record>> {
        match Store::record(self, id) {
            Ok(record) => Ok(Some(record)),
            Err(sync_core::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn history(&self, id: RecordId) -> AppResult<Vec<HistoryEntry>> {
        Ok(Store::history(self, id)?)
    }

    fn corrected_times(&self, id: RecordId) -> AppResult<CorrectedTimes> {
        Ok(Store::corrected_times(self, id)?)
    }

    fn check_event(
        &self,
        user: &UserId,
        role: Role,
        id: WishId,
        input: &EventInput,
    ) -> AppResult<()> {
        Ok(Store::check_event(self, user, role, id, input)?)
    }

    fn append_event(
        &mut self,
        author: &Author,
        key: &DeviceKey,
        id: WishId,
        input: &EventInput,
    ) -> AppResult<Status> {
        self.add_signing_key(key.clone());
        Ok(Store::append_event(self, author, id, input)?)
    }

    fn edit_wish(
        &mut self,
        author: &Author,
        key: &DeviceKey,
        id: WishId,
        patch: &WishPatch,
    ) -> AppResult<()> {
        self.add_signing_key(key.clone());
        Ok(Store::update_wish(self, author, id, patch)?)
    }

    fn list_wishes(&self, filter: &WishFilter) -> AppResult<Page<WishRow>> {
        Ok(Store::list_wishes(self, filter)?)
    }

    fn wish_extras(&self, ids: &[String]) -> AppResult<HashMap<String, WishExtras>> {
        Ok(Store::wish_extras(self, ids)?)
    }

    fn households(
        &self,
        scopes: &[ScopePath],
        q: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> AppResult<Page<HouseholdRow>> {
        Ok(Store::households(self, scopes, q, limit, offset)?)
    }

    fn visits(&self, household: HouseholdId) -> AppResult<Vec<VisitRow>> {
        Ok(Store::visits(self, household)?)
    }

    fn conflicts(
        &self,
        scopes: &[ScopePath],
        include_resolved: bool,
    ) -> AppResult<Vec<ConflictRow>> {
        Ok(Store::conflicts(self, scopes, include_resolved)?)
    }

    fn stats(&self, scopes: &[ScopePath]) -> AppResult<StatsReport> {
        Ok(Store::stats(self, scopes)?)
    }

    fn changes(&self, scopes: &[ScopePath], since: i64) -> AppResult<Changes> {
        changes(self.connection(), scopes, since)
    }

    fn usage(&self) -> AppResult<Usage> {
        let conn = self.connection();
        let bytes = conn.query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )?;
        let records = conn.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
        Ok(Usage { records, bytes })
    }

    fn feed_position(&mut self) -> AppResult<(u64, i64)> {
        Ok((self.feed_epoch()?, self.feed_seq()?))
    }

    fn probe_write(&mut self) -> AppResult<()> {
        // Larger than a page, so that it needs pages the file may not have.
        let probe = "x".repeat(8192);
        self.set_meta("health_probe", Some(&probe))?;
        self.set_meta("health_probe", None)?;
        Ok(())
    }

    fn set_size_limit(&mut self, bytes: Option<u64>) -> AppResult<()> {
        let conn = self.connection();
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        // SQLite's own ceiling when unlimited; a limit below the file's size
        // holds it where it is.
        // (SQLite takes 0 as a question, not a limit.)
        let pages = bytes.map_or(UNLIMITED_PAGES as i64, |b| {
            (i64::try_from(b).unwrap_or(i64::MAX) / page.max(1)).max(1)
        });
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    fn headroom(&self) -> AppResult<Headroom> {
        let conn = self.connection();
        let pragma = |name: &str| -> AppResult<u64> {
            let n: i64 = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let (page, pages, free, max) = (
            pragma("page_size")?,
            pragma("page_count")?,
            pragma("freelist_count")?,
            pragma("max_page_count")?,
        );
        let under_limit = (max < UNLIMITED_PAGES).then(|| {
            max.saturating_sub(pages)
                .saturating_add(free)
                .saturating_mul(page)
        });
        // The disk the database is on (an in-memory store has none).
        let on_disk = conn
            .path()
            .filter(|p| !p.is_empty())
            .and_then(|p| {
                std::path::Path::new(p)
                    .parent()
                    .map(std::path::Path::to_path_buf)
            })
            .and_then(|dir| rustix::fs::statvfs(&dir).ok())
            .map(|fs| fs.f_bavail.saturating_mul(fs.f_frsize));
        Ok(Headroom {
            under_limit,
            on_disk,
        })
    }

    fn held(&self, scopes: &[ScopePath], decided: bool) -> AppResult<Vec<Held>> {
        Ok(Store::held(self, scopes, decided)?)
    }

    fn decide_held(
        &mut self,
        id: i64,
        decision: Decision,
        by: &UserId,
        relay_secret: Arc<[u8]>,
        now: i64,
    ) -> AppResult<Result<(), Refusal>> {
        Ok(Store::decide_held(
            self,
            id,
            decision,
            by,
            Some(relay_secret),
            now,
        )?)
    }

    fn insert_user(
        &mut self,
        username: &UserId,
        role: Role,
        scopes: &[ScopePath],
        password_hash: &str,
        now: i64,
    ) -> AppResult<()> {
        insert_user(
            self.connection(),
            username,
            role,
            scopes,
            password_hash,
            now,
        )
    }

    fn user(&self, username: &str) -> AppResult<Option<User>> {
        user(self.connection(), username)
    }

    fn list_users(&self) -> AppResult<Vec<User>> {
        list_users(self.connection())
    }

    fn disable_user(&mut self, username: &str, now: i64) -> AppResult<()> {
        disable_user(self.connection(), username, now)
    }

    fn enable_user(&mut self, username: &str) -> AppResult<()> {
        enable_user(self.connection(), username)
    }

    fn set_password(
        &mut self,
        username: &UserId,
        password_hash: &str,
        one_time_until: Option<i64>,
        now: i64,
    ) -> AppResult<()> {
        users::set_password(
            self.connection(),
            username,
            password_hash,
            one_time_until,
            now,
        )
    }

    fn append_audit(&mut self, entry: &crate::audit::Entry) -> AppResult<()> {
        audit::append(self.connection(), entry)
    }

    fn audit_log(&self, filter: &crate::audit::Filter) -> AppResult<Vec<crate::audit::Stored>> {
        audit::query(self.connection(), filter)
    }

    fn set_role(
        &mut self,
        username: &UserId,
        role: Option<Role>,
        scopes: &[ScopePath],
    ) -> AppResult<()> {
        users::set_role(self.connection(), username, role, scopes)
    }

    fn credentials(&self, username: &str) -> AppResult<Option<Credentials>> {
        credentials(self.connection(), username)
    }

    fn register_device(
        &mut self,
        user: &UserId,
        device: DeviceId,
        name: &str,
        kind: &str,
        key: Option<PublicKey>,
        now: i64,
    ) -> AppResult<()> {
        let registration = Registration {
            device,
            user,
            name,
            kind,
            key,
        };
        Ok(Store::register(self, &registration, now)?)
    }

    fn device(&self, id: DeviceId) -> AppResult<Option<Device>> {
        device(self.connection(), id)
    }

    fn list_devices(&self) -> AppResult<Vec<Device>> {
        list_devices(self.connection())
    }

    fn revoke_device(&mut self, id: DeviceId, kind: RevokeKind, now: i64) -> AppResult<()> {
        if !Store::revoke(self, id, kind, now)? {
            return Err(AppError::NotFound(format!("no device {id}")));
        }
        if kind == RevokeKind::Lost {
            self.connection().execute(
                "UPDATE refresh_tokens SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
                params![id.to_string(), now],
            )?;
        }
        Ok(())
    }

    fn device_seen(&mut self, id: DeviceId, now: i64) -> AppResult<()> {
        self.connection().execute(
            "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
            params![id.to_string(), now],
        )?;
        Ok(())
    }

    fn web_device(&mut self, user: &UserId, secret: &[u8], now: i64) -> AppResult<DeviceId> {
        web_device(self, user, secret, now)
    }

    fn issue_refresh(&mut self, device: DeviceId, ttl_ms: i64, now: i64) -> AppResult<String> {
        issue_refresh(self.connection(), device, None, ttl_ms, now)
    }

    fn rotate_refresh(
        &mut self,
        token: &str,
        ttl_ms: i64,
        now: i64,
    ) -> AppResult<(User, DeviceId, String)> {
        rotate_refresh(self.connection(), token, ttl_ms, now)
    }

    fn start_web_session(
        &mut self,
        user: &UserId,
        secret: &[u8],
        ttl_ms: i64,
        now: i64,
    ) -> AppResult<String> {
        let device = web_device(self, user, secret, now)?;
        start_web_session(self.connection(), user, device, ttl_ms, now)
    }

    fn web_session(&self, secret: &str, now: i64) -> AppResult<Option<WebSession>> {
        web_session(self.connection(), secret, now)
    }

    fn end_web_session(&mut self, secret: &str, now: i64) -> AppResult<()> {
        end_web_session(self.connection(), secret, now)
    }

    fn record_login_failure(&mut self, subject: &str, at: i64, quiet_since: i64) -> AppResult<()> {
        login_failures::record(self.connection(), subject, at, quiet_since)
    }

    fn login_failures(&self, subject: &str) -> AppResult<LoginFailures> {
        login_failures::of(self.connection(), subject)
    }

    fn forget_login_failures(&mut self, subject: &str) -> AppResult<()> {
        login_failures::forget(self.connection(), subject)
    }

    fn forget_stale_login_failures(&mut self, quiet_since: i64) -> AppResult<u64> {
        login_failures::forget_stale(self.connection(), quiet_since)
    }
}

/// The device the relay writes as when a dashboard user acts: one per user,
/// created on first use with a random id, so nobody can predict it and
/// register it first as a phone, and with the key the relay derives for it
/// from `secret`. A revoked one, or one whose key no longer derives from the
/// secret (the secret was changed), is replaced by a new one at the next use
/// (a new login), as a reinstalled phone would be.
fn web_device(store: &mut Store, user: &UserId, secret: &[u8], now: i64) -> AppResult<DeviceId> {
    let existing: Option<(String, Option<Vec<u8>>)> = store
        .connection()
        .prepare_cached(
            "SELECT id, public_key FROM devices WHERE username = ?1 AND kind = 'web' AND revoked_at IS NULL
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )?
        .query_row([user.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, key)) = existing {
        let id: DeviceId = id
            .parse()
            .map_err(|e: sync_core::InvalidInput| AppError::Internal(e.to_string()))?;
        let derived = DeviceKey::derive(secret, id).public().to_bytes();
        if key.as_deref() == Some(derived.as_slice()) {
            return Ok(id);
        }
    }
    let device = DeviceId::random();
    let registration = Registration {
        device,
        user,
        name: "dashboard",
        kind: "web",
        key: Some(DeviceKey::derive(secret, device).public()),
    };
    Store::register(store, &registration, now)?;
    Ok(device)
}

/// One device.
fn device(conn: &Connection, id: DeviceId) -> AppResult<Option<Device>> {
    Ok(list_devices_where(conn, "WHERE d.id = ?1", &id.to_string())?.pop())
}

/// Every device, newest first.
fn list_devices(conn: &Connection) -> AppResult<Vec<Device>> {
    list_devices_where(conn, "WHERE ?1 = ?1", "")
}

fn list_devices_where(conn: &Connection, clause: &str, arg: &str) -> AppResult<Vec<Device>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT d.id, d.username, d.name, d.kind, d.last_seen, d.revoked_at, d.revoke_kind,
                u.disabled, d.public_key IS NOT NULL, d.pending, d.oldest_pending_at,
                d.reported_at, d.clock_offset_ms
           FROM devices d JOIN users u ON u.username = d.username
           {clause} ORDER BY d.created_at DESC, d.id"
    ))?;
    let rows = stmt
        .query_map([arg], |r| {
            let revoked_at: Option<i64> = r.get(5)?;
            let kind: Option<String> = r.get(6)?;
            let disabled: bool = r.get(7)?;
            let standing = match (revoked_at, kind.as_deref()) {
                (Some(_), Some("retired")) => "retired",
                (Some(_), _) => "lost",
                (None, _) if disabled => "retired",
                (None, _) => "active",
            };
            Ok((
                r.get::<_, String>(0)?,
                Device {
                    id: DeviceId::default(),
                    username: r.get(1)?,
                    name: r.get(2)?,
                    kind: r.get(3)?,
                    last_seen: r.get(4)?,
                    revoked_at,
                    standing: standing.to_owned(),
                    has_key: r.get(8)?,
                    pending: r.get::<_, Option<i64>>(9)?.map(|n| n.max(0) as u64),
                    oldest_pending_at: r.get(10)?,
                    reported_at: r.get(11)?,
                    clock_offset_ms: r.get(12)?,
                },
            ))
        })?
        .map(|row| {
            let (id, device) = row?;
            Ok(Device {
                id: id
                    .parse()
                    .map_err(|e: sync_core::InvalidInput| AppError::Internal(e.to_string()))?,
                ..device
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(rows)
}

/// Issues a refresh token for a device, in a new family or an existing one.
fn issue_refresh(
    conn: &Connection,
    device: DeviceId,
    family: Option<&str>,
    ttl_ms: i64,
    now: i64,
) -> AppResult<String> {
    let token = random_token()?;
    let family = match family {
        Some(f) => f.to_owned(),
        None => random_token()?,
    };
    conn.execute(
        "INSERT INTO refresh_tokens (hash, family, device_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash(&token), family, device.to_string(), now, now + ttl_ms],
    )?;
    Ok(token)
}

/// A stored refresh token: family, device, expiry, used and revoked times.
type TokenRow = (String, String, i64, Option<i64>, Option<i64>);

/// Uses a refresh token: it stops working, and the next one in its family is
/// returned. A token used twice revokes every token of the device.
fn rotate_refresh(
    conn: &Connection,
    token: &str,
    ttl_ms: i64,
    now: i64,
) -> AppResult<(User, DeviceId, String)> {
    let invalid = || AppError::InvalidToken("refresh token is not valid".into());
    let tx = conn.unchecked_transaction()?;
    let row: Option<TokenRow> = tx
        .query_row(
            "SELECT family, device_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE hash = ?1",
            [token_hash(token)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((family, device_id, expires_at, used_at, revoked_at)) = row else {
        return Err(invalid());
    };
    if family.starts_with(SESSION_FAMILY) {
        // A dashboard session cookie is not a phone's refresh token.
        return Err(invalid());
    }
    let device_id: DeviceId = device_id.parse().map_err(|_| invalid())?;
    let owner = device(&tx, device_id)?.ok_or_else(invalid)?;
    // A retired device (or a disabled user's) keeps its session: it may
    // still deliver what it made before (see `auth::authorize_in`).
    if owner.standing == "lost" {
        return Err(AppError::DeviceRevoked);
    }
    if used_at.is_some() {
        // Replayed: someone else may hold the chain. End the device's session.
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
            params![device_id.to_string(), now],
        )?;
        tx.commit()?;
        return Err(AppError::InvalidToken(
            crate::accounts::REFRESH_REPLAYED.into(),
        ));
    }
    if revoked_at.is_some() || expires_at <= now {
        return Err(invalid());
    }
    let user = user(&tx, &owner.username)?.ok_or_else(invalid)?;
    tx.execute(
        "UPDATE refresh_tokens SET used_at = ?2 WHERE hash = ?1",
        params![token_hash(token), now],
    )?;
    tx.execute(
        "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
        params![device_id.to_string(), now],
    )?;
    let next = issue_refresh(&tx, device_id, Some(&family), ttl_ms, now)?;
    tx.commit()?;
    Ok((user, device_id, next))
}

/// Starts a dashboard session for `user` on their web device and returns its
/// secret. It is stored hashed beside the refresh tokens, so disabling the
/// user or revoking the web device ends it too.
fn start_web_session(
    conn: &Connection,
    user: &UserId,
    device: DeviceId,
    ttl_ms: i64,
    now: i64,
) -> AppResult<String> {
    match self::device(conn, device)? {
        Some(d) if d.username == user.as_str() && d.kind == "web" && d.revoked_at.is_none() => {}
        Some(d) if d.revoked_at.is_some() => return Err(AppError::DeviceRevoked),
        _ => {
            return Err(AppError::Conflict(format!(
                "the dashboard device of {user} is registered to someone else"
            )));
        }
    }
    let family = format!("{SESSION_FAMILY}{}", random_token()?);
    issue_refresh(conn, device, Some(&family), ttl_ms, now)
}

/// The live session behind a secret, if there is one.
fn web_session(conn: &Connection, secret: &str, now: i64) -> AppResult<Option<WebSession>> {
    let row: Option<(String, String, i64, String)> = conn
        .query_row(
            "SELECT t.family, t.device_id, t.expires_at, d.username
               FROM refresh_tokens t JOIN devices d ON d.id = t.device_id
              WHERE t.hash = ?1 AND t.used_at IS NULL AND t.revoked_at IS NULL
                AND d.kind = 'web' AND d.revoked_at IS NULL",
            [token_hash(secret)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((family, device, expires_at, username)) = row else {
        return Ok(None);
    };
    if !family.starts_with(SESSION_FAMILY) || expires_at <= now {
        return Ok(None);
    }
    let Ok(device) = device.parse() else {
        return Ok(None);
    };
    Ok(Some(WebSession {
        username,
        device,
        expires_at,
    }))
}

/// Ends a dashboard session (logging out). Unknown secrets are ignored.
fn end_web_session(conn: &Connection, secret: &str, now: i64) -> AppResult<()> {
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL
           AND family LIKE 'web:%'",
        params![token_hash(secret), now],
    )?;
    Ok(())
}

/// SQLite's largest page count: no limit.
const UNLIMITED_PAGES: u64 = 4_294_967_294;

/// Refresh-token families that are dashboard sessions start with this; such
/// tokens are never traded at `/v1/auth/refresh`.
pub(super) const SESSION_FAMILY: &str = "web:";

fn changes(conn: &rusqlite::Connection, scopes: &[ScopePath], since: i64) -> AppResult<Changes> {
    let seq: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM records", [], |r| {
        r.get(0)
    })?;
    if seq <= since || scopes.is_empty() {
        return Ok(Changes { seq, changed: 0 });
    }
    let mut args = vec![Sql::Integer(since)];
    let mut clauses = Vec::new();
    for scope in scopes {
        args.push(Sql::Text(scope.as_str().to_owned()));
        let n = args.len();
        clauses.push(format!(
            "community = ?{n} OR substr(community, 1, length(?{n}) + 1) = ?{n} || '/'"
        ));
    }
    let changed: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM records WHERE seq > ?1 AND ({})",
            clauses.join(" OR ")
        ),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    Ok(Changes {
        seq,
        changed: u64::try_from(changed).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_count_only_records_in_scope() {
        let store = Store::open_in_memory().unwrap();
        let conn = store.connection();
        for (id, community, seq) in [
            ("a", "longgang/yuanshan/xikeng", 1),
            ("b", "longgang/yuanshan/hehua", 2),
            ("c", "longgang/buji/sanlian", 3),
            ("d", "longgang/yuanshanx/x", 4),
        ] {
            conn.execute(
                "INSERT INTO records (id, kind, community, doc, heads, seq, updated_at) VALUES (?1, 'wish', ?2, x'', x'', ?3, 0)",
                rusqlite::params![id, community, seq],
            )
            .unwrap();
        }
        let yuanshan = [ScopePath::new("longgang/yuanshan").unwrap()];
        let at = |since| RelayStore::changes(&store, &yuanshan, since).unwrap();
        assert_eq!(at(0), Changes { seq: 4, changed: 2 });
        assert_eq!(at(1), Changes { seq: 4, changed: 1 });
        assert_eq!(at(2), Changes { seq: 4, changed: 0 });
        assert_eq!(at(4), Changes { seq: 4, changed: 0 });
    }
}
