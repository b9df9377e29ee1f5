//! Devices on PostgreSQL: registering them by sync-core's directory rules
//! (through the engine's [`register`]), reading them with their standing
//! ([`standing_of`]), revoking them, and the relay's own web devices.

use deadpool_postgres::{GenericClient, Transaction};
use sync_core::keys::{DeviceKey, PublicKey};
use sync_core::store::{RegisterError, Registration, RevokeKind, device_name, standing_of};
use sync_core::{DeviceId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::accounts::Device;
use crate::error::{AppError, AppResult};
use crate::store::postgres::PgEngine;
use crate::store::postgres::accounts::register;
use crate::store::postgres::engine::key;
use crate::store::postgres::error::Error;

/// A refusal of the directory as the relay reports it (as SQLite's store's
/// `Store::register` does, through sync-core's error).
fn refused(e: RegisterError) -> AppError {
    sync_core::Error::Register(e).into()
}

/// A device's name as stored, or the relay's error for a name it refuses.
fn stored_name(name: &str) -> AppResult<String> {
    device_name(name).map_err(|e| sync_core::Error::InvalidInput(e).into())
}

pub(in crate::store::postgres::relay) fn register_device(
    pg: &mut PgEngine,
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
    let name = stored_name(name)?;
    let refusal = pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = client.transaction().await?;
        let refusal = register(&tx, &registration, &name, now).await?;
        if refusal.is_none() {
            tx.commit().await?;
        }
        Ok::<_, Error>(refusal)
    })?;
    refusal.map_or(Ok(()), |e| Err(refused(e)))
}

/// What a device is read with, its user's disabling for its standing.
const DEVICES: &str = "SELECT d.id, d.username, d.name, d.kind, d.last_seen, d.revoked_at,
        d.revoke_kind, u.disabled_at, d.public_key IS NOT NULL, d.pending,
        d.oldest_pending_at, d.reported_at, d.clock_offset_ms
   FROM devices d JOIN users u ON u.username = d.username";

fn device_of(row: &Row) -> Result<Device, Error> {
    let revoked_at: Option<i64> = row.try_get(5)?;
    let revoke_kind: Option<String> = row.try_get(6)?;
    let disabled_at: Option<i64> = row.try_get(7)?;
    let pending: Option<i64> = row.try_get(9)?;
    Ok(Device {
        id: DeviceId::from_bytes(*row.try_get::<_, Uuid>(0)?.as_bytes()),
        username: row.try_get(1)?,
        name: row.try_get(2)?,
        kind: row.try_get(3)?,
        last_seen: Some(row.try_get(4)?),
        revoked_at,
        standing: standing_of(revoked_at, revoke_kind.as_deref(), disabled_at)
            .as_str()
            .to_owned(),
        has_key: row.try_get(8)?,
        pending: pending.map(|n| n.max(0) as u64),
        oldest_pending_at: row.try_get(10)?,
        reported_at: row.try_get(11)?,
        clock_offset_ms: row.try_get(12)?,
    })
}

/// One device, through `client` (a transaction's, when inside one).
pub(super) async fn load_device(
    client: &impl GenericClient,
    id: DeviceId,
) -> Result<Option<Device>, Error> {
    let stmt = client
        .prepare_cached(&format!("{DEVICES} WHERE d.id = $1"))
        .await?;
    client
        .query_opt(&stmt, &[&key(id.as_bytes())])
        .await?
        .as_ref()
        .map(device_of)
        .transpose()
}

pub(in crate::store::postgres::relay) fn device(
    pg: &PgEngine,
    id: DeviceId,
) -> AppResult<Option<Device>> {
    Ok(pg.block_on(async { load_device(&pg.store().client().await?, id).await })?)
}

pub(in crate::store::postgres::relay) fn list_devices(pg: &PgEngine) -> AppResult<Vec<Device>> {
    Ok(pg.block_on(async {
        let client = pg.store().client().await?;
        // Newest first, then by id (a uuid's bytes sort as its text does
        // in SQLite's store).
        let stmt = client
            .prepare_cached(&format!("{DEVICES} ORDER BY d.created_at DESC, d.id"))
            .await?;
        let devices = client
            .query(&stmt, &[])
            .await?
            .iter()
            .map(device_of)
            .collect::<Result<Vec<_>, Error>>()?;
        Ok::<_, Error>(devices)
    })?)
}

pub(in crate::store::postgres::relay) fn revoke_device(
    pg: &mut PgEngine,
    id: DeviceId,
    kind: RevokeKind,
    now: i64,
) -> AppResult<()> {
    let found = pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = client.transaction().await?;
        let device = key(id.as_bytes());
        // As sync-core's `Store::revoke`: revoking again keeps the first
        // time, and can make a retired device lost, never the reverse.
        let n = tx
            .execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, $2),
                        revoke_kind = CASE WHEN revoke_kind = 'lost' THEN 'lost' ELSE $3 END
                  WHERE id = $1",
                &[&device, &now, &kind.as_str()],
            )
            .await?;
        if n == 0 {
            return Ok::<_, Error>(false);
        }
        if kind == RevokeKind::Lost {
            tx.execute(
                "UPDATE refresh_tokens SET revoked_at = $2
                  WHERE device_id = $1 AND revoked_at IS NULL",
                &[&device, &now],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    })?;
    if found {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no device {id}")))
    }
}

pub(in crate::store::postgres::relay) fn device_seen(
    pg: &mut PgEngine,
    id: DeviceId,
    now: i64,
) -> AppResult<()> {
    pg.block_on(async {
        let client = pg.store().client().await?;
        client
            .execute(
                "UPDATE devices SET last_seen = $2 WHERE id = $1",
                &[&key(id.as_bytes()), &now],
            )
            .await?;
        Ok::<_, Error>(())
    })?;
    Ok(())
}

pub(in crate::store::postgres::relay) fn web_device(
    pg: &mut PgEngine,
    user: &UserId,
    secret: &[u8],
    now: i64,
) -> AppResult<DeviceId> {
    let found = pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = client.transaction().await?;
        let found = web_device_in(&tx, user, secret, now).await?;
        if found.is_ok() {
            tx.commit().await?;
        }
        Ok::<_, Error>(found)
    })?;
    found.map_err(refused)
}

/// The web device of `user` in `tx` (see [`crate::store::RelayStore::web_device`]):
/// their newest unrevoked one if its key derives from `secret`, or else a
/// new one, registered with a random id. The user's row is locked first,
/// so that two relays starting a user's first session make one device.
///
/// Of web devices registered in the same millisecond (SQLite's store takes
/// the last inserted), one whose key derives from `secret` is taken.
pub(super) async fn web_device_in(
    tx: &Transaction<'_>,
    user: &UserId,
    secret: &[u8],
    now: i64,
) -> Result<Result<DeviceId, RegisterError>, Error> {
    tx.execute(
        "SELECT 1 FROM users WHERE username = $1 FOR UPDATE",
        &[&user.as_str()],
    )
    .await?;
    let stmt = tx
        .prepare_cached(
            "SELECT id, public_key FROM devices
              WHERE username = $1 AND kind = 'web' AND revoked_at IS NULL
                AND created_at = (SELECT max(created_at) FROM devices
                                   WHERE username = $1 AND kind = 'web' AND revoked_at IS NULL)",
        )
        .await?;
    for row in tx.query(&stmt, &[&user.as_str()]).await? {
        let id = DeviceId::from_bytes(*row.try_get::<_, Uuid>(0)?.as_bytes());
        let stored: Option<Vec<u8>> = row.try_get(1)?;
        let derived = DeviceKey::derive(secret, id).public().to_bytes();
        if stored.as_deref() == Some(derived.as_slice()) {
            return Ok(Ok(id));
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
    Ok(
        match register(tx, &registration, registration.name, now).await? {
            Some(refusal) => Err(refusal),
            None => Ok(device),
        },
    )
}
