//! The accounts the sync engine's directory reads on PostgreSQL: users
//! with their role, unit and scopes, and their devices with key and
//! standing. The standing rule is sync-core's ([`standing_of`]).

use sync_core::Role;
use sync_core::ids::{DeviceId, ScopePath, UnitId, UserId};
use sync_core::keys::PublicKey;
use sync_core::store::{
    DeviceEntry, Directory, RegisterError, Registration, UserEntry, device_name, standing_of,
};

use deadpool_postgres::Transaction;

use super::PgStore;
use super::engine::{PgEngine, key};
use super::error::{Error, Result};

impl Directory for PgEngine {
    fn device(&self, id: DeviceId) -> sync_core::Result<Option<DeviceEntry>> {
        let row = self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT username, public_key, created_at, revoked_at, revoke_kind
                       FROM devices WHERE id = $1",
                )
                .await?;
            Ok::<_, Error>(client.query_opt(&stmt, &[&key(id.as_bytes())]).await?)
        })?;
        let Some(row) = row else { return Ok(None) };
        let username: String = row.try_get(0).map_err(Error::from)?;
        let public_key: Option<Vec<u8>> = row.try_get(1).map_err(Error::from)?;
        let registered_at: i64 = row.try_get(2).map_err(Error::from)?;
        let revoked_at: Option<i64> = row.try_get(3).map_err(Error::from)?;
        let revoke_kind: Option<String> = row.try_get(4).map_err(Error::from)?;
        let Some(owner) = self.user(&UserId::new(username)?)? else {
            return Ok(None);
        };
        let key = public_key.map(|k| PublicKey::from_bytes(&k)).transpose()?;
        Ok(Some(DeviceEntry {
            device: id,
            standing: standing_of(revoked_at, revoke_kind.as_deref(), owner.disabled_at),
            owner,
            key,
            registered_at,
        }))
    }

    fn user(&self, name: &UserId) -> sync_core::Result<Option<UserEntry>> {
        let found = self.block_on(async {
            let client = self.store().client().await?;
            let Some(row) = client
                .query_opt(
                    "SELECT role, disabled_at, unit FROM users WHERE username = $1",
                    &[&name.as_str()],
                )
                .await?
            else {
                return Ok::<_, Error>(None);
            };
            let scopes = client
                .query(
                    "SELECT scope FROM user_scopes WHERE username = $1 ORDER BY scope",
                    &[&name.as_str()],
                )
                .await?
                .iter()
                .map(|r| r.try_get::<_, String>(0))
                .collect::<Result<Vec<_>, _>>()?;
            let role: String = row.try_get(0)?;
            let disabled_at: Option<i64> = row.try_get(1)?;
            let unit: Option<String> = row.try_get(2)?;
            Ok(Some((role, disabled_at, unit, scopes)))
        })?;
        let Some((role, disabled_at, unit, scopes)) = found else {
            return Ok(None);
        };
        Ok(Some(UserEntry {
            user: name.clone(),
            role: role.parse()?,
            scopes: scopes
                .into_iter()
                .map(ScopePath::new)
                .collect::<Result<Vec<_>, _>>()?,
            disabled_at,
            unit: unit.map(UnitId::new).transpose()?,
        }))
    }
}

impl PgEngine {
    /// Adds a user (if new) with `role` and `scopes`, and registers a device
    /// for them, by the rules of sync-core's `Store::enroll`: for tests and
    /// embedders that keep no accounts of their own (the user has no
    /// password).
    pub fn enroll(
        &mut self,
        user: &UserId,
        role: Role,
        scopes: &[ScopePath],
        reg: &Registration<'_>,
        now: i64,
    ) -> sync_core::Result<()> {
        let name = device_name(reg.name)?;
        let refused = self.block_on(enroll(self.store(), user, role, scopes, reg, &name, now))?;
        match refused {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

/// Enrolls in one transaction; the refusal, if the device cannot be registered.
async fn enroll(
    store: &PgStore,
    user: &UserId,
    role: Role,
    scopes: &[ScopePath],
    reg: &Registration<'_>,
    name: &str,
    now: i64,
) -> Result<Option<RegisterError>> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO users (username, role, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (username) DO NOTHING",
        &[&user.as_str(), &role.as_str(), &now],
    )
    .await?;
    for scope in scopes {
        tx.execute(
            "INSERT INTO user_scopes (username, scope) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&user.as_str(), &scope.as_str()],
        )
        .await?;
    }
    let refused = register(&tx, reg, name, now).await?;
    if refused.is_none() {
        tx.commit().await?;
    }
    Ok(refused)
}

/// Registers `reg.device` (named `name`, as [`device_name`] makes it) in
/// `tx` by the directory's rules, as sync-core's `Store::register` does: a
/// device belongs to one user, takes the first key it presents and keeps
/// it, and stays revoked. The refusal, if any (then nothing was written;
/// the caller commits otherwise).
pub(super) async fn register(
    tx: &Transaction<'_>,
    reg: &Registration<'_>,
    name: &str,
    now: i64,
) -> Result<Option<RegisterError>> {
    // The user's row locked: one registration of their devices at a time,
    // so that two relays registering the same new device cannot both
    // insert it.
    let exists = tx
        .query_opt(
            "SELECT 1 FROM users WHERE username = $1 FOR UPDATE",
            &[&reg.user.as_str()],
        )
        .await?
        .is_some();
    if !exists {
        return Ok(Some(RegisterError::NoUser(reg.user.clone())));
    }
    let device = key(reg.device.as_bytes());
    let existing = tx
        .query_opt(
            "SELECT username, revoked_at, public_key FROM devices WHERE id = $1 FOR UPDATE",
            &[&device],
        )
        .await?;
    let new_key = reg.key.map(|k| k.to_bytes().to_vec());
    match existing {
        Some(row) => {
            let owner: String = row.try_get(0)?;
            let revoked_at: Option<i64> = row.try_get(1)?;
            let stored: Option<Vec<u8>> = row.try_get(2)?;
            if revoked_at.is_some() {
                return Ok(Some(RegisterError::Revoked));
            }
            if owner != reg.user.as_str() {
                return Ok(Some(RegisterError::OtherUser(reg.device)));
            }
            if let (Some(stored), Some(new)) = (&stored, &new_key)
                && stored != new
            {
                return Ok(Some(RegisterError::OtherKey(reg.device)));
            }
            tx.execute(
                "UPDATE devices SET name = $2, last_seen = $3,
                     public_key = coalesce(public_key, $4) WHERE id = $1",
                &[&device, &name, &now, &new_key],
            )
            .await?;
        }
        None => {
            tx.execute(
                "INSERT INTO devices (id, username, name, kind, created_at, last_seen, public_key)
                 VALUES ($1, $2, $3, $4, $5, $5, $6)",
                &[
                    &device,
                    &reg.user.as_str(),
                    &name,
                    &reg.kind,
                    &now,
                    &new_key,
                ],
            )
            .await?;
        }
    }
    Ok(None)
}
