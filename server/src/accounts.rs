//! Users, their scopes, devices and refresh tokens, in the relay's database.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sync_core::{DeviceId, Role, ScopePath, UserId};

use crate::error::{AppError, AppResult};

/// A user as the relay knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    /// Login name.
    pub username: UserId,
    /// Role.
    pub role: Role,
    /// Scopes they may read and write.
    pub scopes: Vec<ScopePath>,
    /// Disabled users cannot log in or use their tokens.
    pub disabled: bool,
}

/// A registered device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Device id (the phone's store id; also its Automerge actor).
    pub id: DeviceId,
    /// Its user.
    pub username: String,
    /// A name the user gave it.
    pub name: String,
    /// `phone`, or `web` for the relay acting for a dashboard user.
    pub kind: String,
    /// When it last synced or refreshed (ms).
    pub last_seen: Option<i64>,
    /// When it was revoked (ms), if it was.
    pub revoked_at: Option<i64>,
}

fn random_token() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// An argon2 hash of `password` with a random salt, in PHC string form.
pub(crate) fn hash_password(password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AppError::Internal(e.to_string()))?
        .to_string())
}

/// The device the relay writes as when a dashboard user acts: one per user,
/// created on first use with a random id, so nobody can predict it and
/// register it first as a phone. A revoked one is replaced by a new one at
/// the next use (a new login), as a reinstalled phone would be.
pub fn web_device(conn: &Connection, user: &UserId, now: i64) -> AppResult<DeviceId> {
    let existing: Option<String> = conn
        .prepare_cached(
            "SELECT id FROM devices WHERE username = ?1 AND kind = 'web' AND revoked_at IS NULL
             ORDER BY created_at DESC LIMIT 1",
        )?
        .query_row([user.as_str()], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return id
            .parse()
            .map_err(|e: sync_core::InvalidInput| AppError::Internal(e.to_string()));
    }
    let device = DeviceId::random();
    conn.execute(
        "INSERT INTO devices (id, username, name, kind, created_at) VALUES (?1, ?2, 'dashboard', 'web', ?3)",
        params![device.to_string(), user.as_str(), now],
    )?;
    Ok(device)
}

/// Adds a user. Fails with a conflict if the name is taken.
pub fn add_user(
    conn: &Connection,
    username: &UserId,
    role: Role,
    scopes: &[ScopePath],
    password: &str,
    now: i64,
) -> AppResult<()> {
    if password.chars().count() < 8 {
        return Err(AppError::BadRequest(
            "a password has at least 8 characters".into(),
        ));
    }
    if scopes.is_empty() {
        return Err(AppError::BadRequest(
            "a user needs at least one scope".into(),
        ));
    }
    let hash = hash_password(password)?;
    let tx = conn.unchecked_transaction()?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO users (username, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![username.as_str(), role.as_str(), hash, now],
    )?;
    if inserted == 0 {
        return Err(AppError::Conflict(format!(
            "user {username} already exists"
        )));
    }
    for scope in scopes {
        tx.execute(
            "INSERT OR IGNORE INTO user_scopes (username, scope) VALUES (?1, ?2)",
            params![username.as_str(), scope.as_str()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Looks a user up.
pub fn user(conn: &Connection, username: &str) -> AppResult<Option<User>> {
    let row: Option<(String, String, bool)> = conn
        .query_row(
            "SELECT username, role, disabled FROM users WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((name, role, disabled)) = row else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare_cached("SELECT scope FROM user_scopes WHERE username = ?1 ORDER BY scope")?;
    let scopes = stmt
        .query_map([&name], |r| r.get::<_, String>(0))?
        .filter_map(|s| s.ok().and_then(|s| ScopePath::new(s).ok()))
        .collect();
    Ok(Some(User {
        username: UserId::new(name).map_err(|e| AppError::Internal(e.to_string()))?,
        role: role
            .parse()
            .map_err(|_| AppError::Internal(format!("bad role {role}")))?,
        scopes,
        disabled,
    }))
}

/// Every user, by name.
pub fn list_users(conn: &Connection) -> AppResult<Vec<User>> {
    let names: Vec<String> = conn
        .prepare("SELECT username FROM users ORDER BY username")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut users = Vec::new();
    for name in names {
        users.extend(user(conn, &name)?);
    }
    Ok(users)
}

/// Disables a user and revokes their refresh tokens.
pub fn disable_user(conn: &Connection, username: &str, now: i64) -> AppResult<()> {
    let n = conn.execute(
        "UPDATE users SET disabled = 1 WHERE username = ?1",
        [username],
    )?;
    if n == 0 {
        return Err(AppError::NotFound(format!("no user {username}")));
    }
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at IS NULL
           AND device_id IN (SELECT id FROM devices WHERE username = ?1)",
        params![username, now],
    )?;
    Ok(())
}

/// What a login is checked against.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The argon2 hash of the user's password (PHC string).
    pub password_hash: String,
    /// The user.
    pub user: User,
}

/// A user's password hash and record, if the user exists. The check itself
/// is [`crate::login::authenticate`]'s, off the store thread.
pub fn credentials(conn: &Connection, username: &str) -> AppResult<Option<Credentials>> {
    let hash: Option<String> = conn
        .query_row(
            "SELECT password_hash FROM users WHERE username = ?1",
            [username],
            |r| r.get(0),
        )
        .optional()?;
    let Some(password_hash) = hash else {
        return Ok(None);
    };
    Ok(user(conn, username)?.map(|user| Credentials {
        password_hash,
        user,
    }))
}

/// Registers (or refreshes) a device for a user. A device belongs to one
/// user; a revoked device stays revoked.
pub fn register_device(
    conn: &Connection,
    user: &UserId,
    device: DeviceId,
    name: &str,
    kind: &str,
    now: i64,
) -> AppResult<()> {
    let existing: Option<(String, Option<i64>)> = conn
        .query_row(
            "SELECT username, revoked_at FROM devices WHERE id = ?1",
            [device.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match existing {
        Some((_, Some(_))) => Err(AppError::DeviceRevoked),
        Some((owner, None)) if owner != user.as_str() => Err(AppError::Conflict(format!(
            "device {device} is registered to another user"
        ))),
        Some(_) => {
            conn.execute(
                "UPDATE devices SET name = ?2, last_seen = ?3 WHERE id = ?1",
                params![device.to_string(), name, now],
            )?;
            Ok(())
        }
        None => {
            conn.execute(
                "INSERT INTO devices (id, username, name, kind, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![device.to_string(), user.as_str(), name, kind, now],
            )?;
            Ok(())
        }
    }
}

/// One device.
pub fn device(conn: &Connection, id: DeviceId) -> AppResult<Option<Device>> {
    Ok(list_devices_where(conn, "WHERE id = ?1", &id.to_string())?.pop())
}

/// Every device, newest first.
pub fn list_devices(conn: &Connection) -> AppResult<Vec<Device>> {
    list_devices_where(conn, "WHERE ?1 = ?1", "")
}

fn list_devices_where(conn: &Connection, clause: &str, arg: &str) -> AppResult<Vec<Device>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, username, name, kind, last_seen, revoked_at FROM devices {clause} ORDER BY created_at DESC, id"
    ))?;
    let rows = stmt
        .query_map([arg], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .map(|row| {
            let (id, username, name, kind, last_seen, revoked_at) = row?;
            Ok(Device {
                id: id
                    .parse()
                    .map_err(|e: sync_core::InvalidInput| AppError::Internal(e.to_string()))?,
                username,
                name,
                kind,
                last_seen,
                revoked_at,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(rows)
}

/// Revokes a device: its tokens stop working at its next request.
pub fn revoke_device(conn: &Connection, id: DeviceId, now: i64) -> AppResult<()> {
    let n = conn.execute(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
        params![id.to_string(), now],
    )?;
    if n == 0 {
        return Err(AppError::NotFound(format!("no device {id}")));
    }
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
        params![id.to_string(), now],
    )?;
    Ok(())
}

/// Issues a refresh token for a device, in a new family or an existing one.
pub fn issue_refresh(
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
pub fn rotate_refresh(
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
    if owner.revoked_at.is_some() {
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
            "refresh token was already used; the session is closed".into(),
        ));
    }
    if revoked_at.is_some() || expires_at <= now {
        return Err(invalid());
    }
    let user = user(&tx, &owner.username)?.ok_or_else(invalid)?;
    if user.disabled {
        return Err(AppError::Forbidden("this user is disabled".into()));
    }
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

/// Refresh-token families that are dashboard sessions start with this; such
/// tokens are never traded at `/v1/auth/refresh`.
const SESSION_FAMILY: &str = "web:";

/// A dashboard session as stored: whose, on which device, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSession {
    /// The user.
    pub username: String,
    /// The user's web device (see [`web_device`]).
    pub device: DeviceId,
    /// When the session ends (ms).
    pub expires_at: i64,
}

/// Starts a dashboard session for `user` on their web device and returns its
/// secret. It is stored hashed beside the refresh tokens, so disabling the
/// user or revoking the web device ends it too.
pub fn start_web_session(
    conn: &Connection,
    user: &UserId,
    ttl_ms: i64,
    now: i64,
) -> AppResult<String> {
    let device = web_device(conn, user, now)?;
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
pub fn web_session(conn: &Connection, secret: &str, now: i64) -> AppResult<Option<WebSession>> {
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
pub fn end_web_session(conn: &Connection, secret: &str, now: i64) -> AppResult<()> {
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL
           AND family LIKE 'web:%'",
        params![token_hash(secret), now],
    )?;
    Ok(())
}
