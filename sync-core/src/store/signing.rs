//! The store's signing keys, and the one path every local write takes:
//! sign the new changes, then store document, signatures and rows together.

use automerge::ChangeHash;
use rusqlite::OptionalExtension;

use super::{Store, write_record};
use crate::doc::{RecordDoc, device_of};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, RecordId};
use crate::keys::{DeviceKey, PublicKey, SigSet, hex, unhex};

/// Where the phone's own key is kept (in `meta`; encrypted with the rest of
/// the store under SQLCipher).
const KEY_META: &str = "device_key";

impl Store {
    /// This store's own signing key (its device's), created on first use.
    pub fn device_key(&mut self) -> Result<DeviceKey> {
        let own = self.id();
        if let Some(key) = self.keys.get(&own) {
            return Ok(key.clone());
        }
        let stored: Option<String> = self
            .connection()
            .query_row("SELECT value FROM meta WHERE key = ?1", [KEY_META], |r| {
                r.get(0)
            })
            .optional()?;
        let key = match stored {
            Some(text) => {
                let seed: [u8; 32] =
                    unhex(&text)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| Error::CorruptRecord {
                            id: KEY_META.into(),
                            reason: "the stored device key is damaged".into(),
                        })?;
                DeviceKey::from_seed(own, seed)
            }
            None => {
                let key = DeviceKey::generate(own)?;
                self.connection().execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    [KEY_META, &hex(&key.seed())],
                )?;
                key
            }
        };
        self.keys.insert(own, key.clone());
        Ok(key)
    }

    /// This device's public key, to register with a relay at login.
    pub fn public_key(&mut self) -> Result<PublicKey> {
        Ok(self.device_key()?.public())
    }

    /// Lets this store sign as another device too: a relay writing as a
    /// supervisor's web device, a tool importing records.
    pub fn add_signing_key(&mut self, key: DeviceKey) {
        self.keys.insert(key.device(), key);
    }

    fn signer(&mut self, device: DeviceId) -> Result<Option<DeviceKey>> {
        if device == self.id() {
            return self.device_key().map(Some);
        }
        Ok(self.keys.get(&device).cloned())
    }

    /// Signatures for the changes of `doc` beyond `before` that this store
    /// can sign (its own, and those of the devices it holds keys for).
    pub(crate) fn sign_new(&mut self, doc: &RecordDoc, before: &[ChangeHash]) -> Result<SigSet> {
        let mut sigs = SigSet::default();
        for change in doc.changes_since(before) {
            let Some(device) = device_of(change.actor_id()) else {
                continue;
            };
            if let Some(key) = self.signer(device)? {
                sigs.extend([key.sign_change(&change.hash())]);
            }
        }
        Ok(sigs)
    }

    /// Stores a document written here: the changes it adds to what is
    /// stored are signed, and everything goes in one transaction.
    pub(crate) fn commit(&mut self, id: RecordId, doc: &RecordDoc) -> Result<i64> {
        let record = doc.read()?;
        super::check_id(id, &record)?;
        let stored = self.stored(id)?;
        let (before, mut sigs) = match &stored {
            Some(s) => (
                crate::doc::heads_from_bytes(&s.heads)?,
                SigSet::from_blob(&s.sigs),
            ),
            None => (Vec::new(), SigSet::default()),
        };
        sigs.extend(self.sign_new(doc, &before)?.all().iter().copied());
        let bytes = doc.save();
        let now = self.now();
        let tx = self.conn_mut().transaction()?;
        let seq = write_record(
            &tx,
            &record,
            &bytes,
            &doc.heads(),
            &sigs,
            stored.is_none(),
            now,
        )?;
        tx.commit()?;
        Ok(seq)
    }
}
