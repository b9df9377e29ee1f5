//! Users, their scopes, devices and sessions: the types, and the rules that
//! are not storage (password length and hashing, token secrets). Storing
//! them is [`RelayStore`]'s.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sync_core::workflow::Reader;
use sync_core::{DeviceId, Role, ScopePath, UnitId, UserId};

use crate::error::{AppError, AppResult};
use crate::store::RelayStore;

/// A user as the relay knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Login name.
    pub username: UserId,
    /// Role.
    pub role: Role,
    /// Scopes they may read and write.
    pub scopes: Vec<ScopePath>,
    /// Disabled users cannot log in or use their tokens.
    pub disabled: bool,
    /// How they are shown (胡志强), if set.
    pub display_name: Option<String>,
    /// Their phone number, if given.
    pub phone: Option<String>,
    /// The partner unit they are a member of.
    pub unit: Option<UnitId>,
    /// Their password is a one-time code an administrator gave them: it
    /// serves only to choose a new password.
    pub must_change_password: bool,
}

impl User {
    /// What they may read, by sync-core's read rules.
    pub fn reader(&self) -> Reader {
        Reader {
            user: self.username.clone(),
            role: self.role,
            unit: self.unit.clone(),
        }
    }
}

/// A registered device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    /// `active`, `retired` (it may still deliver work made before it was
    /// retired, or before its user was disabled) or `lost`.
    pub standing: String,
    /// Whether it registered a signing key.
    pub has_key: bool,
    /// Records with changes it had not synced, at its last report.
    pub pending: Option<u64>,
    /// When the oldest of those was last written (ms).
    pub oldest_pending_at: Option<i64>,
    /// When it last reported (ms).
    pub reported_at: Option<i64>,
    /// Its clock's offset from the relay's at its last sync (ms, after the
    /// correction it applies itself; positive: ahead).
    pub clock_offset_ms: Option<i64>,
}

/// After how long without news a device's unsynced work is worth a warning.
pub const UNSYNCED_WARNING_MS: i64 = 3 * 86_400_000;

impl Device {
    /// True when the device has unsynced work and has not been heard from
    /// for [`UNSYNCED_WARNING_MS`]: a supervisor should find the phone.
    pub fn stranded(&self, now: i64) -> bool {
        self.pending.unwrap_or(0) > 0
            && self
                .reported_at
                .is_none_or(|at| now - at >= UNSYNCED_WARNING_MS)
    }
}

/// Why a refresh token used a second time is refused: someone else may hold
/// the chain, so the device's session is closed.
pub(crate) const REFRESH_REPLAYED: &str = "refresh token was already used; the session is closed";

/// A fresh secret: 32 random bytes, base64url.
pub(crate) fn random_token() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// How a secret is stored: its SHA-256, in hex. A leaked database holds no
/// usable token.
pub(crate) fn token_hash(token: &str) -> String {
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

pub(crate) fn check_password(password: &str) -> AppResult<()> {
    if password.chars().count() < 8 {
        return Err(AppError::BadRequest(
            "a password has at least 8 characters".into(),
        ));
    }
    Ok(())
}

/// Sets a user's password, checked as [`add_user`] checks it; every
/// session of theirs ends.
pub fn set_password(
    store: &mut dyn RelayStore,
    username: &UserId,
    password: &str,
    now: i64,
) -> AppResult<()> {
    check_password(password)?;
    store.set_password(username, &hash_password(password)?, None, now)
}

/// How long a one-time code works: a week, time to reach a worker in a
/// village.
pub const ONE_TIME_CODE_MS: i64 = 7 * 86_400_000;

/// The letters of a one-time code: no 0/O, 1/I/L, easy to read out on the
/// phone and to type.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A fresh one-time code, `K7QM-9XPD-3RWA`: 12 letters (about 59 bits).
fn one_time_code() -> AppResult<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let letters: Vec<char> = bytes
        .iter()
        // 256 = 8 × 31 + 8: the first eight letters come up one time in 248
        // more often; at 12 letters that costs a fraction of a bit.
        .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
        .collect();
    Ok(letters
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// A one-time code an administrator hands to a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OneTimeCode {
    /// The user.
    pub username: UserId,
    /// The code, shown once.
    pub code: String,
    /// When it stops working (ms).
    pub expires_at: i64,
}

/// A fresh one-time code for `username`, and the hash to store for it
/// (with [`RelayStore::set_password`]'s `one_time_until` at its
/// `expires_at`). Hashing is slow by design: call this off the store's
/// thread.
pub fn one_time_code_for(username: &UserId, now: i64) -> AppResult<(OneTimeCode, String)> {
    let code = one_time_code()?;
    let hash = hash_password(&code)?;
    Ok((
        OneTimeCode {
            username: username.clone(),
            code,
            expires_at: now + ONE_TIME_CODE_MS,
        },
        hash,
    ))
}

/// Checks what an account is to be given: at least one scope.
pub(crate) fn check_scopes(scopes: &[ScopePath]) -> AppResult<()> {
    if scopes.is_empty() {
        return Err(AppError::BadRequest(
            "a user needs at least one scope".into(),
        ));
    }
    Ok(())
}

/// Whether `actor` may manage `account` (sync-core's rule: an administrator,
/// for accounts within their scopes), as an error that says why not.
pub fn require_manager(actor: &User, account: &[ScopePath]) -> AppResult<()> {
    if actor.role != Role::Admin {
        return Err(AppError::Forbidden(
            "only an administrator manages accounts".into(),
        ));
    }
    if !sync_core::workflow::may_manage_account(actor.role, &actor.scopes, account) {
        return Err(AppError::Forbidden(
            "this account reaches beyond your scopes: an administrator of a wider scope manages it"
                .into(),
        ));
    }
    Ok(())
}

/// Adds a user, checking the password (at least 8 characters) and the
/// scopes (at least one) and storing only the password's argon2 hash. Fails
/// with a conflict if the name is taken.
pub fn add_user(
    store: &mut dyn RelayStore,
    username: &UserId,
    role: Role,
    scopes: &[ScopePath],
    password: &str,
    now: i64,
) -> AppResult<()> {
    check_password(password)?;
    check_scopes(scopes)?;
    let hash = hash_password(password)?;
    store.insert_user(username, role, scopes, &hash, now)
}

/// What a login is checked against.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The argon2 hash of the user's password (PHC string).
    pub password_hash: String,
    /// When a one-time code stops working (ms), if the password is one.
    pub password_expires_at: Option<i64>,
    /// The user.
    pub user: User,
}

/// A dashboard session as stored: whose, on which device, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSession {
    /// The user.
    pub username: String,
    /// The user's web device (see [`RelayStore::web_device`]).
    pub device: DeviceId,
    /// When the session ends (ms).
    pub expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_codes_are_readable_and_differ() {
        let name = UserId::new("li").unwrap();
        let (a, hash) = one_time_code_for(&name, 1_000).unwrap();
        let (b, _) = one_time_code_for(&name, 1_000).unwrap();
        assert_ne!(a.code, b.code);
        assert_eq!(a.expires_at, 1_000 + ONE_TIME_CODE_MS);
        assert_eq!(a.code.len(), 14, "{}", a.code);
        for group in a.code.split('-') {
            assert_eq!(group.len(), 4);
            assert!(
                group.bytes().all(|c| CODE_ALPHABET.contains(&c)),
                "{}",
                a.code
            );
        }
        assert!(check_password(&a.code).is_ok());
        assert!(hash.starts_with("$argon2"));
    }
}
