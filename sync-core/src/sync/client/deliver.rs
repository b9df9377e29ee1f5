//! What of a record's unacknowledged changes a client may send.
//!
//! A relay accepts a change only with its author's signature. A phone signs
//! every change it makes (and, the first time it sends them, its own
//! changes from before signatures), and keeps the signatures of every
//! change it receives; a change it holds without one (another device's,
//! from before signatures) cannot be delivered by it, and neither can what
//! builds on that change. Between phones, everything goes.

use automerge::{ActorId, ChangeHash};

use super::super::hashes_to_wire;
use super::super::messages::Payload;
use crate::doc::{RecordDoc, heads_from_bytes};
use crate::error::Result;
use crate::keys::{ChangeSig, DeviceKey, SigSet};

/// The part of a record's unacknowledged changes that may be sent.
pub(super) enum Deliverable {
    /// All of them.
    All(Payload, Vec<ChangeSig>),
    /// Only some; the rest wait for a device that can deliver them.
    Some(Payload, Vec<ChangeSig>),
    /// None yet.
    None,
}

/// A record as the client holds it.
pub(super) struct Held<'a> {
    /// Its saved document.
    pub(super) doc: &'a [u8],
    /// The heads the peer is known to share, if any.
    pub(super) shared: Option<&'a [u8]>,
    /// The signatures this store has for its changes.
    pub(super) sigs: &'a mut SigSet,
}

/// Chooses what of `held` to send. `own` signs this device's changes that
/// have no signature yet (they are added to `held.sigs`); `unsigned_too`
/// sends changes without a signature as well (to another phone).
pub(super) fn deliverable(
    held: Held<'_>,
    own: &DeviceKey,
    own_actor: &ActorId,
    unsigned_too: bool,
) -> Result<Deliverable> {
    let loaded = RecordDoc::load(held.doc)?;
    let base = held
        .shared
        .map(heads_from_bytes)
        .transpose()?
        .unwrap_or_default();
    let missing = loaded.changes_since(&base);
    for change in &missing {
        if change.actor_id() == own_actor && held.sigs.get(&change.hash()).is_none() {
            held.sigs.extend([own.sign_change(&change.hash())]);
        }
    }
    let sigs = &*held.sigs;
    let signed = |hash: &ChangeHash| sigs.get(hash).copied();
    if unsigned_too || missing.iter().all(|c| signed(&c.hash()).is_some()) {
        let carried: Vec<ChangeSig> = missing.iter().filter_map(|c| signed(&c.hash())).collect();
        return Ok(Deliverable::All(
            match held.shared {
                None => Payload::Full(held.doc.to_vec()),
                Some(_) => Payload::Changes {
                    base: hashes_to_wire(&base),
                    changes: missing.iter().map(|c| c.raw_bytes().to_vec()).collect(),
                },
            },
            carried,
        ));
    }
    // Changes come in causal order: keep a signed change when every change
    // it depends on is already shared or kept.
    let unshared: std::collections::HashSet<ChangeHash> =
        missing.iter().map(|c| c.hash()).collect();
    let mut kept = std::collections::HashSet::new();
    let mut changes = Vec::new();
    let mut carried = Vec::new();
    for change in &missing {
        let ready = change
            .deps()
            .iter()
            .all(|d| !unshared.contains(d) || kept.contains(d));
        if let (true, Some(sig)) = (ready, signed(&change.hash())) {
            kept.insert(change.hash());
            changes.push(change.raw_bytes().to_vec());
            carried.push(sig);
        }
    }
    if changes.is_empty() {
        return Ok(Deliverable::None);
    }
    Ok(Deliverable::Some(
        Payload::Changes {
            base: hashes_to_wire(&base),
            changes,
        },
        carried,
    ))
}
