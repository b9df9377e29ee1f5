//! Refresh tokens and dashboard sessions on PostgreSQL: tokens stored by
//! hash in chains (`family`); a dashboard session is a token of the user's
//! web device whose family starts with [`SESSION_FAMILY`].

use deadpool_postgres::{GenericClient, Transaction};
use sync_core::{DeviceId, UserId};
use uuid::Uuid;

use super::devices::{load_device, web_device_in};
use super::{SESSION_FAMILY, load_user, session_families};
use crate::accounts::{REFRESH_REPLAYED, User, WebSession, random_token, token_hash};
use crate::error::{AppError, AppResult};
use crate::store::postgres::PgEngine;
use crate::store::postgres::engine::key;
use crate::store::postgres::error::Error;

/// Stores a new refresh token for `device` in `family` and returns it.
async fn insert_token(
    client: &impl GenericClient,
    device: DeviceId,
    family: &str,
    ttl_ms: i64,
    now: i64,
) -> AppResult<String> {
    let token = random_token()?;
    async {
        let stmt = client
            .prepare_cached(
                "INSERT INTO refresh_tokens (hash, family, device_id, issued_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .await?;
        client
            .execute(
                &stmt,
                &[
                    &token_hash(&token),
                    &family,
                    &key(device.as_bytes()),
                    &now,
                    &(now + ttl_ms),
                ],
            )
            .await?;
        Ok::<_, Error>(())
    }
    .await?;
    Ok(token)
}

pub(in crate::store::postgres::relay) fn issue_refresh(
    pg: &mut PgEngine,
    device: DeviceId,
    ttl_ms: i64,
    now: i64,
) -> AppResult<String> {
    let family = random_token()?;
    pg.block_on(async {
        let client = pg.store().client().await.map_err(AppError::from)?;
        insert_token(&client, device, &family, ttl_ms, now).await
    })
}

/// Ends every session of `device` that has not ended yet.
async fn revoke_all(tx: &Transaction<'_>, device: DeviceId, now: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE device_id = $1 AND revoked_at IS NULL",
        &[&key(device.as_bytes()), &now],
    )
    .await?;
    Ok(())
}

pub(in crate::store::postgres::relay) fn rotate_refresh(
    pg: &mut PgEngine,
    token: &str,
    ttl_ms: i64,
    now: i64,
) -> AppResult<(User, DeviceId, String)> {
    pg.block_on(async {
        let mut client = pg.store().client().await.map_err(AppError::from)?;
        let tx = client.transaction().await.map_err(Error::from)?;
        // A replayed token's revocations are kept although the answer is
        // an error; any other refusal wrote nothing.
        let rotated = rotate_in(&tx, token, ttl_ms, now).await?;
        tx.commit().await.map_err(Error::from)?;
        match rotated {
            Rotation::Next(user, device, next) => Ok((user, device, next)),
            Rotation::Replayed => Err(AppError::InvalidToken(REFRESH_REPLAYED.into())),
        }
    })
}

/// What a usable or replayed refresh token led to.
enum Rotation {
    /// The token's user and device, and the next token of its chain.
    Next(User, DeviceId, String),
    /// The token had been used: every session of its device was ended.
    Replayed,
}

/// [`rotate_refresh`] in `tx`, which the caller commits unless it fails.
/// The token's row is locked, so that two
/// relays given the same token at once use it once (the second sees it
/// replayed).
async fn rotate_in(
    tx: &Transaction<'_>,
    token: &str,
    ttl_ms: i64,
    now: i64,
) -> AppResult<Rotation> {
    let invalid = || AppError::InvalidToken("refresh token is not valid".into());
    let hash = token_hash(token);
    let row = tx
        .query_opt(
            "SELECT family, device_id, expires_at, used_at, revoked_at
               FROM refresh_tokens WHERE hash = $1 FOR UPDATE",
            &[&hash],
        )
        .await
        .map_err(Error::from)?;
    let Some(row) = row else {
        return Err(invalid());
    };
    let get = |e: tokio_postgres::Error| AppError::from(Error::from(e));
    let family: String = row.try_get(0).map_err(get)?;
    let device: Uuid = row.try_get(1).map_err(get)?;
    let expires_at: i64 = row.try_get(2).map_err(get)?;
    let used_at: Option<i64> = row.try_get(3).map_err(get)?;
    let revoked_at: Option<i64> = row.try_get(4).map_err(get)?;
    if family.starts_with(SESSION_FAMILY) {
        // A dashboard session cookie is not a phone's refresh token.
        return Err(invalid());
    }
    let device = DeviceId::from_bytes(*device.as_bytes());
    let owner = load_device(tx, device).await?.ok_or_else(invalid)?;
    // A retired device (or a disabled user's) keeps its session: it may
    // still deliver what it made before (see `auth::authorize_in`).
    if owner.standing == "lost" {
        return Err(AppError::DeviceRevoked);
    }
    if used_at.is_some() {
        // Replayed: someone else may hold the chain. End the device's session.
        revoke_all(tx, device, now).await?;
        return Ok(Rotation::Replayed);
    }
    if revoked_at.is_some() || expires_at <= now {
        return Err(invalid());
    }
    let user = load_user(tx, &owner.username)
        .await?
        .ok_or_else(invalid)?
        .user;
    async {
        tx.execute(
            "UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1",
            &[&hash, &now],
        )
        .await?;
        tx.execute(
            "UPDATE devices SET last_seen = $2 WHERE id = $1",
            &[&key(device.as_bytes()), &now],
        )
        .await?;
        Ok::<_, Error>(())
    }
    .await?;
    let next = insert_token(tx, device, &family, ttl_ms, now).await?;
    Ok(Rotation::Next(user, device, next))
}

pub(in crate::store::postgres::relay) fn start_web_session(
    pg: &mut PgEngine,
    user: &UserId,
    secret: &[u8],
    ttl_ms: i64,
    now: i64,
) -> AppResult<String> {
    let family = format!("{SESSION_FAMILY}{}", random_token()?);
    pg.block_on(async {
        let mut client = pg.store().client().await.map_err(AppError::from)?;
        let tx = client.transaction().await.map_err(Error::from)?;
        let device = web_device_in(&tx, user, secret, now)
            .await?
            .map_err(|e| AppError::from(sync_core::Error::Register(e)))?;
        match load_device(&tx, device).await? {
            Some(d) if d.username == user.as_str() && d.kind == "web" && d.revoked_at.is_none() => {
            }
            Some(d) if d.revoked_at.is_some() => return Err(AppError::DeviceRevoked),
            _ => {
                return Err(AppError::Conflict(format!(
                    "the dashboard device of {user} is registered to someone else"
                )));
            }
        }
        let secret = insert_token(&tx, device, &family, ttl_ms, now).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(secret)
    })
}

pub(in crate::store::postgres::relay) fn web_session(
    pg: &PgEngine,
    secret: &str,
    now: i64,
) -> AppResult<Option<WebSession>> {
    let row = pg.block_on(async {
        let client = pg.store().client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT t.family, t.device_id, t.expires_at, d.username
                   FROM refresh_tokens t JOIN devices d ON d.id = t.device_id
                  WHERE t.hash = $1 AND t.used_at IS NULL AND t.revoked_at IS NULL
                    AND d.kind = 'web' AND d.revoked_at IS NULL",
            )
            .await?;
        Ok::<_, Error>(client.query_opt(&stmt, &[&token_hash(secret)]).await?)
    })?;
    let Some(row) = row else { return Ok(None) };
    let get = |e: tokio_postgres::Error| AppError::from(Error::from(e));
    let family: String = row.try_get(0).map_err(get)?;
    let device: Uuid = row.try_get(1).map_err(get)?;
    let expires_at: i64 = row.try_get(2).map_err(get)?;
    if !family.starts_with(SESSION_FAMILY) || expires_at <= now {
        return Ok(None);
    }
    Ok(Some(WebSession {
        username: row.try_get(3).map_err(get)?,
        device: DeviceId::from_bytes(*device.as_bytes()),
        expires_at,
    }))
}

pub(in crate::store::postgres::relay) fn end_web_session(
    pg: &mut PgEngine,
    secret: &str,
    now: i64,
) -> AppResult<()> {
    pg.block_on(async {
        let client = pg.store().client().await?;
        client
            .execute(
                "UPDATE refresh_tokens SET revoked_at = $2
                  WHERE hash = $1 AND revoked_at IS NULL AND family LIKE $3",
                &[&token_hash(secret), &now, &session_families()],
            )
            .await?;
        Ok::<_, Error>(())
    })?;
    Ok(())
}
