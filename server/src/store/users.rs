//! Users in the SQLite store: adding, reading, disabling and enabling them,
//! their passwords, roles and scopes. Each is a function on a connection,
//! so that `RelayStore`'s methods wrap them (see `sqlite.rs`).

use rusqlite::{Connection, OptionalExtension, params};
use sync_core::{Role, ScopePath, UnitId, UserId};

use crate::accounts::{Credentials, User};
use crate::error::{AppError, AppResult};

pub(super) fn insert_user(
    conn: &Connection,
    username: &UserId,
    role: Role,
    scopes: &[ScopePath],
    password_hash: &str,
    now: i64,
) -> AppResult<()> {
    let tx = conn.unchecked_transaction()?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO users (username, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![username.as_str(), role.as_str(), password_hash, now],
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
pub(super) fn user(conn: &Connection, username: &str) -> AppResult<Option<User>> {
    type Row = (
        String,
        String,
        bool,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    );
    let row: Option<Row> = conn
        .query_row(
            "SELECT username, role, disabled, display_name, phone, unit, must_change_password
               FROM users WHERE username = ?1",
            [username],
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
    let Some((name, role, disabled, display_name, phone, unit, must_change_password)) = row else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare_cached("SELECT scope FROM user_scopes WHERE username = ?1 ORDER BY scope")?;
    let scopes = stmt
        .query_map([&name], |r| r.get::<_, String>(0))?
        .filter_map(|s| s.ok().and_then(|s| ScopePath::new(s).ok()))
        .collect();
    let internal = |e: sync_core::InvalidInput| AppError::Internal(e.to_string());
    Ok(Some(User {
        username: UserId::new(name).map_err(internal)?,
        role: role
            .parse()
            .map_err(|_| AppError::Internal(format!("bad role {role}")))?,
        scopes,
        disabled,
        display_name,
        phone,
        unit: unit.map(UnitId::new).transpose().map_err(internal)?,
        must_change_password,
    }))
}

/// Every user, by name.
pub(super) fn list_users(conn: &Connection) -> AppResult<Vec<User>> {
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

/// Disables a user: no more logins, their dashboard sessions end, and
/// their devices count as retired from now on (they may still deliver what
/// they made before).
pub(super) fn disable_user(conn: &Connection, username: &str, now: i64) -> AppResult<()> {
    let n = conn.execute(
        "UPDATE users SET disabled = 1, disabled_at = coalesce(disabled_at, ?2) WHERE username = ?1",
        params![username, now],
    )?;
    if n == 0 {
        return Err(AppError::NotFound(format!("no user {username}")));
    }
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND family LIKE 'web:%'
           AND device_id IN (SELECT id FROM devices WHERE username = ?1)",
        params![username, now],
    )?;
    Ok(())
}

/// Undoes [`disable_user`].
pub(super) fn enable_user(conn: &Connection, username: &str) -> AppResult<()> {
    let n = conn.execute(
        "UPDATE users SET disabled = 0, disabled_at = NULL WHERE username = ?1",
        [username],
    )?;
    if n == 0 {
        return Err(AppError::NotFound(format!("no user {username}")));
    }
    Ok(())
}

/// A user's password hash and record, if the user exists. The check itself
/// is [`crate::login::authenticate`]'s, off the store thread.
pub(super) fn credentials(conn: &Connection, username: &str) -> AppResult<Option<Credentials>> {
    let hash: Option<(String, Option<i64>)> = conn
        .query_row(
            "SELECT password_hash, password_expires_at FROM users WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((password_hash, password_expires_at)) = hash else {
        return Ok(None);
    };
    Ok(user(conn, username)?.map(|user| Credentials {
        password_hash,
        password_expires_at,
        user,
    }))
}

/// Replaces a user's password hash. Every session of theirs ends, on phones
/// and in the dashboard: whoever knew the old password is logged out. A
/// one-time code (`one_time_until`: when it expires) only lets its user
/// choose a new password.
pub(super) fn set_password(
    conn: &Connection,
    username: &UserId,
    password_hash: &str,
    one_time_until: Option<i64>,
    now: i64,
) -> AppResult<()> {
    let tx = conn.unchecked_transaction()?;
    let n = tx.execute(
        "UPDATE users SET password_hash = ?2, must_change_password = ?3, password_expires_at = ?4
          WHERE username = ?1",
        params![
            username.as_str(),
            password_hash,
            one_time_until.is_some(),
            one_time_until
        ],
    )?;
    if n == 0 {
        return Err(AppError::NotFound(format!("no user {username}")));
    }
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at IS NULL
           AND device_id IN (SELECT id FROM devices WHERE username = ?1)",
        params![username.as_str(), now],
    )?;
    tx.commit()?;
    Ok(())
}

/// Changes a user's role and, if `scopes` is not empty, replaces their scopes.
pub(super) fn set_role(
    conn: &Connection,
    username: &UserId,
    role: Option<Role>,
    scopes: &[ScopePath],
) -> AppResult<()> {
    let tx = conn.unchecked_transaction()?;
    let exists: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM users WHERE username = ?1",
            [username.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Err(AppError::NotFound(format!("no user {username}")));
    }
    if let Some(role) = role {
        tx.execute(
            "UPDATE users SET role = ?2 WHERE username = ?1",
            params![username.as_str(), role.as_str()],
        )?;
    }
    if !scopes.is_empty() {
        tx.execute(
            "DELETE FROM user_scopes WHERE username = ?1",
            [username.as_str()],
        )?;
        for scope in scopes {
            tx.execute(
                "INSERT OR IGNORE INTO user_scopes (username, scope) VALUES (?1, ?2)",
                params![username.as_str(), scope.as_str()],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}
