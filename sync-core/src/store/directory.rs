//! The device directory: whose each device is, the key it registered, and
//! whether it is still in good standing.
//!
//! The relay's [`RelayPolicy`](crate::sync::RelayPolicy) reads the directory
//! to decide whose changes it accepts, so the rules about it live here with
//! the policy: a device belongs to one user; its key, once registered, never
//! changes; a revoked device stays revoked. Passwords, tokens and sessions
//! are the relay's own business and are not here.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::{InvalidInput, Result};
use crate::ids::{DeviceId, ScopePath, UnitId, UserId};
use crate::keys::PublicKey;
use crate::model::{MAX_NAME_CHARS, check_name};
use crate::workflow::Role;

/// Whether a device's changes are still accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "standing", rename_all = "snake_case")]
pub enum Standing {
    /// In use.
    Active,
    /// The worker left or changed phones, or their user was disabled, at
    /// `at`: changes made before then are still accepted, newer ones are not.
    Retired {
        /// When (ms).
        at: i64,
    },
    /// Lost or stolen at `at`: nothing is accepted from the device itself,
    /// and its changes carried by other phones wait for a supervisor.
    Lost {
        /// When (ms).
        at: i64,
    },
}

impl Standing {
    /// The stable text form: `active`, `retired` or `lost`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Standing::Active => "active",
            Standing::Retired { .. } => "retired",
            Standing::Lost { .. } => "lost",
        }
    }
}

/// How a device is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeKind {
    /// See [`Standing::Retired`].
    Retired,
    /// See [`Standing::Lost`].
    Lost,
}

impl RevokeKind {
    /// The stable text form stored with a revoked device: `retired` or
    /// `lost`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeKind::Retired => "retired",
            RevokeKind::Lost => "lost",
        }
    }
}

/// A user as the directory has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEntry {
    /// The user.
    pub user: UserId,
    /// Their role now.
    pub role: Role,
    /// The scopes they may read and write now.
    pub scopes: Vec<ScopePath>,
    /// When they were disabled, if they were.
    pub disabled_at: Option<i64>,
    /// The partner unit they are a member of, if any.
    pub unit: Option<UnitId>,
}

/// A registered device and its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceEntry {
    /// The device.
    pub device: DeviceId,
    /// Its user, with their role and scopes now.
    pub owner: UserEntry,
    /// The key it registered, if it has (devices from before signatures
    /// register theirs at their next login).
    pub key: Option<PublicKey>,
    /// Its standing, its user's taken into account.
    pub standing: Standing,
    /// When it was registered (ms).
    pub registered_at: i64,
}

/// Looks devices and users up. The relay's store implements it over its
/// tables; a test can implement it over a map.
pub trait Directory {
    /// A device and its user, if the device is registered.
    fn device(&self, id: DeviceId) -> Result<Option<DeviceEntry>>;

    /// A user, if there is one by that name.
    fn user(&self, name: &UserId) -> Result<Option<UserEntry>>;
}

/// Why a device cannot be registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The device was revoked; it stays so.
    #[error("this device has been revoked")]
    Revoked,
    /// The device belongs to another user.
    #[error("device {0} is registered to another user")]
    OtherUser(DeviceId),
    /// The device registered another key; a new key needs a new device.
    #[error("device {0} is registered with another key; a new key needs a new device")]
    OtherKey(DeviceId),
    /// No such user.
    #[error("no user {0}")]
    NoUser(UserId),
}

/// A device asking to be registered.
#[derive(Clone, Debug)]
pub struct Registration<'a> {
    /// The device.
    pub device: DeviceId,
    /// Its user.
    pub user: &'a UserId,
    /// A name for people.
    pub name: &'a str,
    /// `phone`, or `web` for a device the relay writes as.
    pub kind: &'a str,
    /// Its public key, if it sent one.
    pub key: Option<PublicKey>,
}

/// A device's standing from its revocation (time and kind, `retired` or
/// `lost`) and its user's disabling: the rule every store's directory reads
/// its rows with.
pub fn standing_of(
    revoked_at: Option<i64>,
    revoke_kind: Option<&str>,
    disabled_at: Option<i64>,
) -> Standing {
    match (revoked_at, revoke_kind) {
        (Some(at), Some("retired")) => Standing::Retired {
            at: disabled_at.map_or(at, |d| d.min(at)),
        },
        // Anything else revoked (including rows from before revocation had
        // kinds) is cut off.
        (Some(at), _) => Standing::Lost { at },
        (None, _) => match disabled_at {
            Some(at) => Standing::Retired { at },
            None => Standing::Active,
        },
    }
}

impl Directory for Store {
    fn device(&self, id: DeviceId) -> Result<Option<DeviceEntry>> {
        type Row = (String, Option<Vec<u8>>, i64, Option<i64>, Option<String>);
        let row: Option<Row> = self
            .connection()
            .prepare_cached(
                "SELECT username, public_key, created_at, revoked_at, revoke_kind
                   FROM devices WHERE id = ?1",
            )?
            .query_row([id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((username, key, registered_at, revoked_at, revoke_kind)) = row else {
            return Ok(None);
        };
        let Some(owner) = self.user(&UserId::new(username)?)? else {
            return Ok(None);
        };
        let key = key.map(|k| PublicKey::from_bytes(&k)).transpose()?;
        Ok(Some(DeviceEntry {
            device: id,
            standing: standing_of(revoked_at, revoke_kind.as_deref(), owner.disabled_at),
            owner,
            key,
            registered_at,
        }))
    }

    fn user(&self, name: &UserId) -> Result<Option<UserEntry>> {
        let conn = self.connection();
        let row: Option<(String, bool, Option<i64>, Option<String>)> = conn
            .prepare_cached(
                "SELECT role, disabled, disabled_at, unit FROM users WHERE username = ?1",
            )?
            .query_row([name.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((role, disabled, disabled_at, unit)) = row else {
            return Ok(None);
        };
        let scopes = conn
            .prepare_cached("SELECT scope FROM user_scopes WHERE username = ?1 ORDER BY scope")?
            .query_map([name.as_str()], |r| r.get::<_, String>(0))?
            .map(|s| Ok(ScopePath::new(s?)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(UserEntry {
            user: name.clone(),
            role: role.parse()?,
            scopes,
            // A user disabled before the time was recorded: from the start.
            disabled_at: if disabled {
                Some(disabled_at.unwrap_or(0))
            } else {
                None
            },
            unit: unit.map(UnitId::new).transpose()?,
        }))
    }
}

/// A device's name as it is stored: trimmed and cut to
/// [`MAX_NAME_CHARS`] (phones name themselves, and a long name is no reason
/// to refuse one), possibly empty, and refused if it holds control
/// characters (see [`check_name`]).
pub fn device_name(name: &str) -> std::result::Result<String, InvalidInput> {
    let cut: String = name.trim().chars().take(MAX_NAME_CHARS).collect();
    if cut.is_empty() {
        return Ok(cut);
    }
    check_name("the device's name", &cut).map(str::to_owned)
}

impl Store {
    /// Registers `reg.device` for its user, or renames it if it is theirs
    /// already. A device registered without a key (before signatures) takes
    /// the first key it presents; after that its key never changes.
    pub fn register(&mut self, reg: &Registration<'_>, now: i64) -> Result<()> {
        let name = device_name(reg.name)?;
        let tx = self.conn_mut().transaction()?;
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)")?
            .query_row([reg.user.as_str()], |r| r.get(0))?;
        if !exists {
            return Err(RegisterError::NoUser(reg.user.clone()).into());
        }
        let existing: Option<(String, Option<i64>, Option<Vec<u8>>)> = tx
            .prepare_cached("SELECT username, revoked_at, public_key FROM devices WHERE id = ?1")?
            .query_row([reg.device.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let key = reg.key.map(|k| k.to_bytes().to_vec());
        match existing {
            Some((_, Some(_), _)) => return Err(RegisterError::Revoked.into()),
            Some((owner, None, _)) if owner != reg.user.as_str() => {
                return Err(RegisterError::OtherUser(reg.device).into());
            }
            Some((_, None, Some(stored))) if key.as_ref().is_some_and(|k| *k != stored) => {
                return Err(RegisterError::OtherKey(reg.device).into());
            }
            Some(_) => {
                tx.prepare_cached(
                    "UPDATE devices SET name = ?2, last_seen = ?3,
                         public_key = coalesce(public_key, ?4) WHERE id = ?1",
                )?
                .execute(params![reg.device.to_string(), name, now, key])?;
            }
            None => {
                tx.prepare_cached(
                    "INSERT INTO devices (id, username, name, kind, created_at, last_seen, public_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                )?
                .execute(params![
                    reg.device.to_string(),
                    reg.user.as_str(),
                    name,
                    reg.kind,
                    now,
                    key
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Revokes a device as retired or lost. Revoking again keeps the first
    /// time, and can only make a retired device lost, never the reverse.
    /// Returns false when there is no such device.
    pub fn revoke(&mut self, id: DeviceId, kind: RevokeKind, now: i64) -> Result<bool> {
        let n = self.connection().execute(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2),
                 revoke_kind = CASE WHEN revoke_kind = 'lost' THEN 'lost' ELSE ?3 END
             WHERE id = ?1",
            params![id.to_string(), now, kind.as_str()],
        )?;
        Ok(n > 0)
    }

    /// Adds a user (if new) and registers a device for them in one step: for
    /// embedders and tests that keep no accounts of their own. The user gets
    /// no password, so they cannot log in to a relay with one.
    pub fn enroll(
        &mut self,
        user: &UserId,
        role: Role,
        scopes: &[ScopePath],
        reg: &Registration<'_>,
        now: i64,
    ) -> Result<()> {
        {
            let tx = self.conn_mut().transaction()?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO users (username, role, password_hash, created_at)
                 VALUES (?1, ?2, '!', ?3)",
            )?
            .execute(params![user.as_str(), role.as_str(), now])?;
            for scope in scopes {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO user_scopes (username, scope) VALUES (?1, ?2)",
                )?
                .execute(params![user.as_str(), scope.as_str()])?;
            }
            tx.commit()?;
        }
        self.register(reg, now)
    }
}

/// Devices looked up during one sync, kept by the caller across records:
/// the same few authors are asked about for record after record.
pub(crate) type DeviceCache = std::cell::RefCell<HashMap<DeviceId, Option<DeviceEntry>>>;

/// A directory that answers from a [`DeviceCache`] first.
pub(crate) struct CachedDirectory<'a> {
    pub(crate) inner: &'a dyn Directory,
    pub(crate) cache: &'a DeviceCache,
}

impl Directory for CachedDirectory<'_> {
    fn device(&self, id: DeviceId) -> Result<Option<DeviceEntry>> {
        if let Some(found) = self.cache.borrow().get(&id) {
            return Ok(found.clone());
        }
        let found = self.inner.device(id)?;
        self.cache.borrow_mut().insert(id, found.clone());
        Ok(found)
    }

    fn user(&self, name: &UserId) -> Result<Option<UserEntry>> {
        self.inner.user(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DeviceKey;

    fn setup() -> (Store, UserId, ScopePath) {
        (
            Store::open_in_memory().unwrap(),
            UserId::new("wang").unwrap(),
            ScopePath::new("longgang/yuanshan").unwrap(),
        )
    }

    #[test]
    fn a_registered_key_never_changes_and_a_revoked_device_stays_revoked() {
        let (mut store, wang, scope) = setup();
        let device = DeviceId::random();
        let key = DeviceKey::generate(device).unwrap().public();
        let reg = |key| Registration {
            device,
            user: &wang,
            name: "phone",
            kind: "phone",
            key,
        };
        store
            .enroll(&wang, Role::Worker, &[scope], &reg(Some(key)), 1)
            .unwrap();
        // The same key again is a rename; no key keeps the one registered.
        store.register(&reg(Some(key)), 2).unwrap();
        store.register(&reg(None), 3).unwrap();
        let other = DeviceKey::generate(device).unwrap().public();
        assert!(matches!(
            store.register(&reg(Some(other)), 4),
            Err(crate::Error::Register(RegisterError::OtherKey(_)))
        ));
        let entry = store.device(device).unwrap().unwrap();
        assert_eq!(entry.key, Some(key));
        assert_eq!(entry.owner.role, Role::Worker);
        assert_eq!(entry.standing, Standing::Active);

        assert!(store.revoke(device, RevokeKind::Retired, 10).unwrap());
        assert_eq!(
            store.device(device).unwrap().unwrap().standing,
            Standing::Retired { at: 10 }
        );
        // Lost wins over retired and keeps the first time; retired cannot undo lost.
        store.revoke(device, RevokeKind::Lost, 20).unwrap();
        store.revoke(device, RevokeKind::Retired, 30).unwrap();
        assert_eq!(
            store.device(device).unwrap().unwrap().standing,
            Standing::Lost { at: 10 }
        );
        assert!(matches!(
            store.register(&reg(Some(key)), 40),
            Err(crate::Error::Register(RegisterError::Revoked))
        ));
        assert!(
            !store
                .revoke(DeviceId::random(), RevokeKind::Lost, 1)
                .unwrap()
        );
    }

    #[test]
    fn a_device_without_a_key_takes_its_first_one_and_belongs_to_one_user() {
        let (mut store, wang, scope) = setup();
        let li = UserId::new("li").unwrap();
        let device = DeviceId::random();
        let reg = |user, key| Registration {
            device,
            user,
            name: "phone",
            kind: "phone",
            key,
        };
        store
            .enroll(
                &wang,
                Role::Worker,
                std::slice::from_ref(&scope),
                &reg(&wang, None),
                1,
            )
            .unwrap();
        assert_eq!(store.device(device).unwrap().unwrap().key, None);
        let key = DeviceKey::generate(device).unwrap().public();
        store.register(&reg(&wang, Some(key)), 2).unwrap();
        assert_eq!(store.device(device).unwrap().unwrap().key, Some(key));
        assert!(matches!(
            store.enroll(&li, Role::Worker, &[scope], &reg(&li, Some(key)), 3),
            Err(crate::Error::Register(RegisterError::OtherUser(_)))
        ));
        assert!(matches!(
            store.register(&reg(&UserId::new("nobody").unwrap(), None), 4),
            Err(crate::Error::Register(RegisterError::NoUser(_)))
        ));
    }

    #[test]
    fn a_disabled_user_makes_their_devices_retired() {
        let (mut store, wang, scope) = setup();
        let device = DeviceId::random();
        let reg = Registration {
            device,
            user: &wang,
            name: "phone",
            kind: "phone",
            key: None,
        };
        store
            .enroll(&wang, Role::Worker, &[scope], &reg, 1)
            .unwrap();
        store
            .connection()
            .execute(
                "UPDATE users SET disabled = 1, disabled_at = 50 WHERE username = 'wang'",
                [],
            )
            .unwrap();
        assert_eq!(
            store.device(device).unwrap().unwrap().standing,
            Standing::Retired { at: 50 }
        );
    }
}
