//! The change feed's epoch and the tags of its positions.
//!
//! A feed position means something only in the history it was handed out
//! in. A relay restored from a backup goes back in time: positions it gave
//! out after the backup point past its feed, or at other writes. So the
//! feed has an epoch, a random number that a restore replaces, and every
//! position it hands out comes with a tag (an HMAC under a secret kept in
//! the store) that only this store's lineage can make. A phone showing a
//! valid tag for a position the feed does not reach proves the store went
//! back in time without being told, and the store starts a new epoch.

use hmac::{Hmac, Mac};
use rusqlite::OptionalExtension;
use sha2::Sha256;

use super::Store;
use crate::error::{Error, Result};
use crate::keys::{hex, unhex};

const EPOCH_META: &str = "feed_epoch";
const SECRET_META: &str = "feed_secret";

/// A store's feed: its epoch and the secret its position tags use.
#[derive(Clone)]
pub struct Feed {
    pub(crate) epoch: u64,
    secret: [u8; 32],
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// A feed of `epoch`, whose cursors are tagged with `secret` (32 random
    /// bytes the store keeps).
    pub fn new(epoch: u64, secret: [u8; 32]) -> Self {
        Self { epoch, secret }
    }

    /// Its epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The tag of `cursor` in this epoch.
    pub fn tag(&self, cursor: u64) -> u64 {
        tag(&self.secret, self.epoch, cursor)
    }
}

fn tag(secret: &[u8; 32], epoch: u64, cursor: u64) -> u64 {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(b"doorstep feed position v1\0");
    mac.update(&epoch.to_le_bytes());
    mac.update(&cursor.to_le_bytes());
    let out = mac.finalize().into_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    u64::from_le_bytes(first)
}

fn random_u64() -> Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::NotAllowed(format!("no randomness: {e}").into()))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The `meta` keys sync-core keeps for itself.
const RESERVED: [&str; 5] = [
    "store_id",
    "device_key",
    "clock_skew",
    EPOCH_META,
    SECRET_META,
];

impl Store {
    fn meta_value(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .connection()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// A small named value an embedder keeps in the store (the relay's
    /// backup marks), if set.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.meta_value(key)
    }

    /// Sets (or, with `None`, removes) a named value of the embedder's. The
    /// keys sync-core keeps for itself are refused.
    pub fn set_meta(&self, key: &str, value: Option<&str>) -> Result<()> {
        if RESERVED.contains(&key) {
            return Err(crate::error::InvalidInput::new("a key sync-core keeps", key).into());
        }
        match value {
            Some(value) => self.connection().execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                [key, value],
            )?,
            None => self
                .connection()
                .execute("DELETE FROM meta WHERE key = ?1", [key])?,
        };
        Ok(())
    }

    /// The feed's epoch and tag secret, created on first use.
    pub(crate) fn feed(&mut self) -> Result<Feed> {
        let secret = match self.meta_value(SECRET_META)?.and_then(|t| unhex(&t)) {
            Some(bytes) if bytes.len() == 32 => {
                let mut secret = [0u8; 32];
                secret.copy_from_slice(&bytes);
                secret
            }
            _ => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret)
                    .map_err(|e| Error::NotAllowed(format!("no randomness: {e}").into()))?;
                self.connection().execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                    [SECRET_META, &hex(&secret)],
                )?;
                secret
            }
        };
        let epoch = match self.meta_value(EPOCH_META)?.and_then(|t| t.parse().ok()) {
            Some(epoch) => epoch,
            None => self.new_feed_epoch()?,
        };
        Ok(Feed { epoch, secret })
    }

    /// The feed's epoch now.
    pub fn feed_epoch(&mut self) -> Result<u64> {
        Ok(self.feed()?.epoch)
    }

    /// Starts a new epoch of the feed: every phone reconciles at its next
    /// sync. For a store that went back in time (restored from a backup);
    /// harmless otherwise, but costs each phone a listing of its records.
    pub fn new_feed_epoch(&mut self) -> Result<u64> {
        let epoch = random_u64()?;
        self.connection().execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            [EPOCH_META, &epoch.to_string()],
        )?;
        Ok(epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_depend_on_the_secret_the_epoch_and_the_position() {
        let mut store = Store::open_in_memory().unwrap();
        let feed = store.feed().unwrap();
        assert_eq!(store.feed().unwrap().epoch, feed.epoch, "kept");
        assert_eq!(feed.tag(7), store.feed().unwrap().tag(7));
        assert_ne!(feed.tag(7), feed.tag(8));
        let other = Store::open_in_memory().unwrap().feed().unwrap();
        assert_ne!(feed.tag(7), other.tag(7), "another store's secret");
        let next = store.new_feed_epoch().unwrap();
        assert_ne!(next, feed.epoch);
        assert_ne!(store.feed().unwrap().tag(7), feed.tag(7), "another epoch");
    }
}
