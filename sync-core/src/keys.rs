//! Device keys and change signatures.
//!
//! Every device holds an Ed25519 key pair. Each Automerge change a device
//! makes is signed over its change hash, and the signature travels with the
//! change wherever it goes: to the relay, to another phone, back to a relay
//! restored from a backup. A relay accepts a change when its signature
//! verifies against the key registered for the change's author device,
//! whoever delivers it; so a phone can carry a colleague's work, and the
//! history still names the true author.
//!
//! ```
//! use sync_core::keys::DeviceKey;
//! use sync_core::DeviceId;
//!
//! let key = DeviceKey::generate(DeviceId::random())?;
//! let hash = automerge::ChangeHash([7; 32]);
//! let sig = key.sign_change(&hash);
//! assert!(key.public().verifies(&hash, &sig));
//! assert!(!key.public().verifies(&automerge::ChangeHash([8; 32]), &sig));
//! # Ok::<(), sync_core::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use automerge::ChangeHash;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;

use crate::error::{Error, InvalidInput, Result};
use crate::ids::DeviceId;

/// What a change signature signs: this context, then the change's hash.
const CHANGE_CONTEXT: &[u8] = b"doorstep change v1\0";
/// The HKDF label of keys a relay derives for the devices it writes as.
const DERIVED_CONTEXT: &[u8] = b"doorstep derived device key v1";

/// A device's signing key: its secret half and the device it belongs to.
#[derive(Clone)]
pub struct DeviceKey {
    device: DeviceId,
    secret: SigningKey,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("device", &self.device)
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// A new random key for `device`.
    pub fn generate(device: DeviceId) -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| {
            Error::NotAllowed(format!("no randomness for a device key: {e}").into())
        })?;
        Ok(Self::from_seed(device, seed))
    }

    /// The key with this 32-byte secret seed.
    pub fn from_seed(device: DeviceId, seed: [u8; 32]) -> Self {
        Self {
            device,
            secret: SigningKey::from_bytes(&seed),
        }
    }

    /// The key a relay holding `secret` has for `device`: the same secret
    /// and device always give the same key, so a relay restored from a
    /// backup still recognises the changes it made as a supervisor's web
    /// device, even when that device was created after the backup.
    pub fn derive(secret: &[u8], device: DeviceId) -> Self {
        let kdf = hkdf::Hkdf::<Sha256>::new(Some(DERIVED_CONTEXT), secret);
        let mut seed = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's output limit, so this cannot fail.
        let _ = kdf.expand(device.as_bytes(), &mut seed);
        Self::from_seed(device, seed)
    }

    /// The device this key belongs to.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The public half, to register with the relay.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.secret.verifying_key())
    }

    /// The secret seed, for storing the key (in the phone's encrypted store).
    pub(crate) fn seed(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// Signs a change by its hash.
    pub fn sign_change(&self, hash: &ChangeHash) -> ChangeSig {
        ChangeSig {
            hash8: hash8(hash),
            sig: self.secret.sign(&change_message(hash)).to_bytes(),
        }
    }
}

/// A device's public key, as registered with the relay.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads a key from its 32 bytes, refusing ones that are not a point on
    /// the curve or are weak.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InvalidInput> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| InvalidInput::new("a public key is 32 bytes", ""))?;
        let key = VerifyingKey::from_bytes(&array)
            .map_err(|_| InvalidInput::new("not an Ed25519 public key", &hex(&array)))?;
        if key.is_weak() {
            return Err(InvalidInput::new("a weak public key", &hex(&array)));
        }
        Ok(Self(key))
    }

    /// The key's 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// True when `sig` is this key's signature of the change `hash`.
    pub fn verifies(&self, hash: &ChangeHash, sig: &ChangeSig) -> bool {
        sig.hash8 == hash8(hash) && self.verifies_message(CHANGE_CONTEXT, &hash.0, &sig.sig)
    }

    /// True when `sig` is this key's signature of `message` under `context`.
    pub fn verifies_message(&self, context: &[u8], message: &[u8], sig: &[u8; 64]) -> bool {
        let mut bytes = context.to_vec();
        bytes.extend_from_slice(message);
        self.0
            .verify_strict(&bytes, &Signature::from_bytes(sig))
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// Lowercase hex, as keys are written in JSON and on the command line.
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.to_bytes()))
    }
}

impl FromStr for PublicKey {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes =
            unhex(s.trim()).ok_or_else(|| InvalidInput::new("a public key is 64 hex digits", s))?;
        Self::from_bytes(&bytes)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// One change's signature, named by the first 8 bytes of the change's hash
/// (72 bytes in all). Eight bytes tell apart the changes of one record with
/// certainty for any practical purpose, and the relay checks the signature
/// over the whole hash anyway.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangeSig {
    /// The first 8 bytes of the signed change's hash.
    pub hash8: [u8; 8],
    /// The Ed25519 signature.
    pub sig: [u8; 64],
}

/// Bytes of one packed [`ChangeSig`].
pub const CHANGE_SIG_BYTES: usize = 72;

impl fmt::Debug for ChangeSig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChangeSig({}…)", hex(&self.hash8))
    }
}

impl ChangeSig {
    /// The 72 packed bytes: hash prefix, then signature.
    pub fn to_bytes(&self) -> [u8; CHANGE_SIG_BYTES] {
        let mut out = [0u8; CHANGE_SIG_BYTES];
        out[..8].copy_from_slice(&self.hash8);
        out[8..].copy_from_slice(&self.sig);
        out
    }

    /// Reads 72 packed bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != CHANGE_SIG_BYTES {
            return None;
        }
        let mut hash8 = [0u8; 8];
        let mut sig = [0u8; 64];
        hash8.copy_from_slice(&bytes[..8]);
        sig.copy_from_slice(&bytes[8..]);
        Some(Self { hash8, sig })
    }

    /// True when this signs the change with `hash` (by its prefix).
    pub fn names(&self, hash: &ChangeHash) -> bool {
        self.hash8 == hash8(hash)
    }
}

// Serde has no impls for arrays past 32 elements: a fixed 72-byte tuple,
// which postcard writes as exactly 72 bytes.
impl Serialize for ChangeSig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(CHANGE_SIG_BYTES)?;
        for byte in self.to_bytes() {
            tuple.serialize_element(&byte)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for ChangeSig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = ChangeSig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{CHANGE_SIG_BYTES} bytes of a change signature")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ChangeSig, A::Error> {
                let mut out = [0u8; CHANGE_SIG_BYTES];
                for (i, byte) in out.iter_mut().enumerate() {
                    *byte = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                ChangeSig::from_bytes(&out).ok_or_else(|| de::Error::custom("bad signature"))
            }
        }
        deserializer.deserialize_tuple(CHANGE_SIG_BYTES, Bytes)
    }
}

/// The signatures of one record's changes, sorted by hash prefix: how a
/// record keeps them (one blob beside its document) and finds them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigSet(Vec<ChangeSig>);

impl SigSet {
    /// Reads a stored blob (a run of packed signatures). Damaged tails are
    /// ignored: a missing signature only holds a change back, never loses it.
    pub fn from_blob(blob: &[u8]) -> Self {
        let mut sigs: Vec<ChangeSig> = blob
            .chunks_exact(CHANGE_SIG_BYTES)
            .filter_map(ChangeSig::from_bytes)
            .collect();
        sigs.sort_by_key(|s| s.hash8);
        sigs.dedup_by_key(|s| s.hash8);
        Self(sigs)
    }

    /// The blob to store.
    pub fn to_blob(&self) -> Vec<u8> {
        self.0.iter().flat_map(|s| s.to_bytes()).collect()
    }

    /// The signature of the change `hash`, if known.
    pub fn get(&self, hash: &ChangeHash) -> Option<&ChangeSig> {
        let key = hash8(hash);
        self.0
            .binary_search_by_key(&key, |s| s.hash8)
            .ok()
            .map(|i| &self.0[i])
    }

    /// Adds signatures (a known one is kept as it is). Returns whether
    /// anything was added.
    pub fn extend(&mut self, sigs: impl IntoIterator<Item = ChangeSig>) -> bool {
        let before = self.0.len();
        for sig in sigs {
            if let Err(at) = self.0.binary_search_by_key(&sig.hash8, |s| s.hash8) {
                self.0.insert(at, sig);
            }
        }
        self.0.len() != before
    }

    /// Every signature.
    pub fn all(&self) -> &[ChangeSig] {
        &self.0
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn change_message(hash: &ChangeHash) -> Vec<u8> {
    let mut bytes = CHANGE_CONTEXT.to_vec();
    bytes.extend_from_slice(&hash.0);
    bytes
}

fn hash8(hash: &ChangeHash) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&hash.0[..8]);
    out
}

/// Lowercase hex of some bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from hex, or `None` if it is not hex.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_change_and_its_key() {
        let key = DeviceKey::generate(DeviceId::random()).unwrap();
        let other = DeviceKey::generate(DeviceId::random()).unwrap();
        let hash = ChangeHash([1; 32]);
        let sig = key.sign_change(&hash);
        assert!(key.public().verifies(&hash, &sig));
        assert!(
            !other.public().verifies(&hash, &sig),
            "another device's key"
        );
        let mut near = hash;
        near.0[31] ^= 1;
        assert!(
            !key.public().verifies(&near, &sig),
            "same prefix, other change"
        );
        let mut forged = sig;
        forged.sig[0] ^= 1;
        assert!(!key.public().verifies(&hash, &forged), "a flipped bit");
    }

    #[test]
    fn derived_keys_depend_on_the_secret_and_the_device() {
        let device = DeviceId::random();
        let a = DeviceKey::derive(b"secret one, at least 32 bytes long", device);
        let b = DeviceKey::derive(b"secret one, at least 32 bytes long", device);
        let c = DeviceKey::derive(b"secret two, at least 32 bytes long", device);
        let d = DeviceKey::derive(b"secret one, at least 32 bytes long", DeviceId::random());
        assert_eq!(a.public(), b.public());
        assert_ne!(a.public(), c.public());
        assert_ne!(a.public(), d.public());
    }

    #[test]
    fn public_keys_read_back_from_hex_and_refuse_junk() {
        let key = DeviceKey::generate(DeviceId::random()).unwrap().public();
        assert_eq!(key.to_string().parse::<PublicKey>().unwrap(), key);
        assert!("zz".parse::<PublicKey>().is_err());
        assert!("00".repeat(31).parse::<PublicKey>().is_err());
        // The identity point is a valid encoding but a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey::from_bytes(&identity).is_err());
    }

    #[test]
    fn signatures_are_72_bytes_on_the_wire() {
        let key = DeviceKey::generate(DeviceId::random()).unwrap();
        let sig = key.sign_change(&ChangeHash([3; 32]));
        let bytes = postcard::to_stdvec(&sig).unwrap();
        assert_eq!(bytes.len(), CHANGE_SIG_BYTES);
        assert_eq!(postcard::from_bytes::<ChangeSig>(&bytes).unwrap(), sig);
        assert!(postcard::from_bytes::<ChangeSig>(&bytes[..71]).is_err());
    }

    #[test]
    fn a_sig_set_keeps_one_signature_per_change_sorted() {
        let key = DeviceKey::generate(DeviceId::random()).unwrap();
        let sigs: Vec<ChangeSig> = (0..5u8)
            .rev()
            .map(|i| key.sign_change(&ChangeHash([i; 32])))
            .collect();
        let mut set = SigSet::default();
        assert!(set.extend(sigs.clone()));
        assert!(!set.extend(sigs), "nothing new the second time");
        assert_eq!(set.len(), 5);
        let back = SigSet::from_blob(&set.to_blob());
        assert_eq!(back, set);
        assert!(back.get(&ChangeHash([2; 32])).is_some());
        assert!(back.get(&ChangeHash([9; 32])).is_none());
        let mut damaged = set.to_blob();
        damaged.truncate(damaged.len() - 1);
        assert_eq!(SigSet::from_blob(&damaged).len(), 4);
    }
}
