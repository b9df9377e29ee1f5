//! Accounts on PostgreSQL: users (here), devices ([`devices`]), refresh
//! tokens and dashboard sessions ([`sessions`]), the audit log
//! ([`audit`]), and failed logins ([`failures`]). Each function is one step of [`crate::store::RelayStore`],
//! answering as the SQLite store does (`store/users.rs`, `store/sqlite.rs`,
//! `store/audit.rs`); a write of several statements is one transaction.
//!
//! Lists are sorted in Rust, by bytes, as SQLite's `BINARY` collation
//! sorts them: a PostgreSQL database's collation may sort text otherwise.

mod audit;
mod devices;
mod failures;
mod sessions;

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use sync_core::{Role, ScopePath, UnitId, UserId};
use tokio_postgres::Row;

use crate::accounts::{Credentials, User};
use crate::error::{AppError, AppResult};
use crate::store::postgres::PgEngine;
use crate::store::postgres::error::Error;
use crate::store::sqlite::SESSION_FAMILY;

pub(super) use audit::{append_audit, audit_log};
pub(super) use devices::{
    device, device_seen, list_devices, register_device, revoke_device, web_device,
};
pub(super) use failures::{
    forget_login_failures, forget_stale_login_failures, login_failures, record_login_failure,
};
pub(super) use sessions::{
    end_web_session, issue_refresh, rotate_refresh, start_web_session, web_session,
};

/// `LIKE` pattern of the refresh-token families that are dashboard sessions.
fn session_families() -> String {
    format!("{SESSION_FAMILY}%")
}

pub(super) fn insert_user(
    pg: &mut PgEngine,
    username: &UserId,
    role: Role,
    scopes: &[ScopePath],
    password_hash: &str,
    now: i64,
) -> AppResult<()> {
    let inserted = pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO users (username, role, password_hash, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING",
                &[&username.as_str(), &role.as_str(), &password_hash, &now],
            )
            .await?;
        if inserted == 0 {
            return Ok::<_, Error>(false);
        }
        add_scopes(&tx, username, scopes).await?;
        tx.commit().await?;
        Ok(true)
    })?;
    if !inserted {
        return Err(AppError::Conflict(format!(
            "user {username} already exists"
        )));
    }
    Ok(())
}

async fn add_scopes(
    client: &impl GenericClient,
    username: &UserId,
    scopes: &[ScopePath],
) -> Result<(), Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO user_scopes (username, scope) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .await?;
    for scope in scopes {
        client
            .execute(&stmt, &[&username.as_str(), &scope.as_str()])
            .await?;
    }
    Ok(())
}

/// A user with their password: what one query over `users` and
/// `user_scopes` reads (see [`USERS`]).
struct UserRow {
    user: User,
    password_hash: String,
    password_expires_at: Option<i64>,
}

/// Every user's row joined with each of their scopes (one row per scope,
/// one with a NULL scope for a user without any), in one statement so that
/// a user and their scopes are read from one snapshot.
const USERS: &str = "SELECT u.username, u.role, u.disabled_at, u.display_name, u.phone, u.unit,
        u.must_change_password, u.password_hash, u.password_expires_at, s.scope
   FROM users u LEFT JOIN user_scopes s ON s.username = u.username";

/// Users read with [`USERS`] and `clause`, by name.
async fn load_users(
    client: &impl GenericClient,
    clause: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> AppResult<Vec<UserRow>> {
    let rows = async {
        let stmt = client.prepare_cached(&format!("{USERS} {clause}")).await?;
        Ok::<_, Error>(client.query(&stmt, args).await?)
    }
    .await?;
    let mut users: BTreeMap<String, (Row, Vec<String>)> = BTreeMap::new();
    for row in rows {
        let name: String = row.try_get(0).map_err(Error::from)?;
        let scope: Option<String> = row.try_get(9).map_err(Error::from)?;
        let entry = users.entry(name).or_insert_with(|| (row, Vec::new()));
        entry.1.extend(scope);
    }
    users
        .into_iter()
        .map(|(name, (row, scopes))| user_row(name, &row, scopes))
        .collect()
}

fn user_row(name: String, row: &Row, mut scopes: Vec<String>) -> AppResult<UserRow> {
    let get = |e: tokio_postgres::Error| AppError::from(Error::from(e));
    let role: String = row.try_get(1).map_err(get)?;
    let disabled_at: Option<i64> = row.try_get(2).map_err(get)?;
    let unit: Option<String> = row.try_get(5).map_err(get)?;
    scopes.sort();
    let internal = |e: sync_core::InvalidInput| AppError::Internal(e.to_string());
    let user = User {
        username: UserId::new(name).map_err(internal)?,
        role: role
            .parse()
            .map_err(|_| AppError::Internal(format!("bad role {role}")))?,
        // Scopes that no longer parse are left out, as SQLite's store does.
        scopes: scopes
            .into_iter()
            .filter_map(|s| ScopePath::new(s).ok())
            .collect(),
        disabled: disabled_at.is_some(),
        display_name: row.try_get(3).map_err(get)?,
        phone: row.try_get(4).map_err(get)?,
        unit: unit.map(UnitId::new).transpose().map_err(internal)?,
        must_change_password: row.try_get(6).map_err(get)?,
    };
    Ok(UserRow {
        user,
        password_hash: row.try_get(7).map_err(get)?,
        password_expires_at: row.try_get(8).map_err(get)?,
    })
}

/// One user with their password, through `client`.
async fn load_user(client: &impl GenericClient, username: &str) -> AppResult<Option<UserRow>> {
    Ok(load_users(client, "WHERE u.username = $1", &[&username])
        .await?
        .pop())
}

/// One user with their password.
fn user_row_of(pg: &PgEngine, username: &str) -> AppResult<Option<UserRow>> {
    pg.block_on(async {
        let client = pg.store().client().await?;
        load_user(&client, username).await
    })
}

pub(super) fn user(pg: &PgEngine, username: &str) -> AppResult<Option<User>> {
    Ok(user_row_of(pg, username)?.map(|row| row.user))
}

pub(super) fn list_users(pg: &PgEngine) -> AppResult<Vec<User>> {
    let rows = pg.block_on(async {
        let client = pg.store().client().await?;
        load_users(&client, "", &[]).await
    })?;
    Ok(rows.into_iter().map(|row| row.user).collect())
}

pub(super) fn credentials(pg: &PgEngine, username: &str) -> AppResult<Option<Credentials>> {
    Ok(user_row_of(pg, username)?.map(|row| Credentials {
        password_hash: row.password_hash,
        password_expires_at: row.password_expires_at,
        user: row.user,
    }))
}

fn no_user(username: &str) -> AppError {
    AppError::NotFound(format!("no user {username}"))
}

pub(super) fn disable_user(pg: &mut PgEngine, username: &str, now: i64) -> AppResult<()> {
    let found = pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = client.transaction().await?;
        // Disabling again keeps the first time.
        let n = tx
            .execute(
                "UPDATE users SET disabled_at = coalesce(disabled_at, $2) WHERE username = $1",
                &[&username, &now],
            )
            .await?;
        if n == 0 {
            return Ok::<_, Error>(false);
        }
        // Dashboard sessions end; phones keep their chains (a retired
        // device may still deliver what it made before).
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = $2
              WHERE revoked_at IS NULL AND family LIKE $3
                AND device_id IN (SELECT id FROM devices WHERE username = $1)",
            &[&username, &now, &session_families()],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    })?;
    if found {
        Ok(())
    } else {
        Err(no_user(username))
    }
}

pub(super) fn enable_user(pg: &mut PgEngine, username: &str) -> AppResult<()> {
    let n = pg.block_on(async {
        let client = pg.store().client().await?;
        Ok::<_, Error>(
            client
                .execute(
                    "UPDATE users SET disabled_at = NULL WHERE username = $1",
                    &[&username],
                )
                .await?,
        )
    })?;
    if n == 0 {
        return Err(no_user(username));
    }
    Ok(())
}

pub(super) fn set_password(
    pg: &mut PgEngine,
    username: &UserId,
    password_hash: &str,
    one_time_until: Option<i64>,
    now: i64,
) -> AppResult<()> {
    let found = pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE users SET password_hash = $2, must_change_password = $3,
                        password_expires_at = $4
                  WHERE username = $1",
                &[
                    &username.as_str(),
                    &password_hash,
                    &one_time_until.is_some(),
                    &one_time_until,
                ],
            )
            .await?;
        if n == 0 {
            return Ok::<_, Error>(false);
        }
        // Every session ends, on phones and in the dashboard.
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL
                AND device_id IN (SELECT id FROM devices WHERE username = $1)",
            &[&username.as_str(), &now],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    })?;
    if found {
        Ok(())
    } else {
        Err(no_user(username.as_str()))
    }
}

pub(super) fn set_role(
    pg: &mut PgEngine,
    username: &UserId,
    role: Option<Role>,
    scopes: &[ScopePath],
) -> AppResult<()> {
    let found = pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = client.transaction().await?;
        let exists = tx
            .query_opt(
                "SELECT 1 FROM users WHERE username = $1 FOR UPDATE",
                &[&username.as_str()],
            )
            .await?
            .is_some();
        if !exists {
            return Ok::<_, Error>(false);
        }
        if let Some(role) = role {
            tx.execute(
                "UPDATE users SET role = $2 WHERE username = $1",
                &[&username.as_str(), &role.as_str()],
            )
            .await?;
        }
        if !scopes.is_empty() {
            tx.execute(
                "DELETE FROM user_scopes WHERE username = $1",
                &[&username.as_str()],
            )
            .await?;
            add_scopes(&tx, username, scopes).await?;
        }
        tx.commit().await?;
        Ok(true)
    })?;
    if found {
        Ok(())
    } else {
        Err(no_user(username.as_str()))
    }
}
