//! What the server side of the engine needs from a store, as a trait: the
//! engine ([`super::serve_sync`]) keeps every decision — merging pushed changes,
//! checking them under a [`super::Policy`], signatures, clock corrections,
//! who reads what, filling pull pages — and reads and writes only through
//! these transaction-shaped operations. [`crate::Store`] (SQLite) implements
//! them; a relay's other store (PostgreSQL) implements them too, without
//! copying the engine.
//!
//! An implementation must make [`SyncStorage::put_record`] atomic (the
//! document, its materialized rows, its search entry, its corrected times
//! and its feed position together, or none of them), give feed positions
//! that only grow and that a reader past a position never sees filled in
//! later, and answer a [`PullView`] from one consistent snapshot.

use crate::doc::heads_to_bytes;
use crate::error::Result;
use crate::ids::{DeviceId, RecordId, ScopePath, UnitId, UserId};
use crate::keys::SigSet;
use crate::model::{Record, RecordKind};
use crate::store::{Directory, StoredRecord};
use crate::workflow::Status;

use super::messages::{ClockReading, PendingReport};
use super::quarantine::Decision;

pub use crate::store::{Correction, Feed};

/// A record to store, as the engine accepted it.
#[derive(Debug)]
pub struct RecordWrite<'a> {
    /// The record as its document reads.
    pub record: &'a Record,
    /// The document's bytes.
    pub doc: &'a [u8],
    /// Its heads.
    pub heads: &'a [automerge::ChangeHash],
    /// The signatures of its changes.
    pub sigs: &'a SigSet,
    /// The heads (as stored, 32 bytes each) of the stored version this
    /// write was made from, or `None` if the store had no such record.
    /// A store whose writers can race (several relays over one database)
    /// must check, under the record's lock, that it still holds exactly
    /// this version, and refuse the write with [`crate::Error::Contended`]
    /// if not: storing it would drop what the other writer stored.
    pub base: Option<&'a [u8]>,
    /// Times corrected for devices with wrong clocks.
    pub corrections: &'a [Correction],
    /// When it arrived (ms).
    pub now: i64,
}

impl RecordWrite<'_> {
    /// Whether the store had no such record before.
    pub fn is_new(&self) -> bool {
        self.base.is_none()
    }

    /// The heads as stored: 32 bytes each.
    pub fn heads_bytes(&self) -> Vec<u8> {
        heads_to_bytes(self.heads)
    }
}

/// A pushed update held for a supervisor, unapplied, because it carries
/// changes of lost devices.
#[derive(Debug)]
pub struct HeldWrite<'a> {
    /// The record.
    pub record: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// Its community.
    pub community: &'a ScopePath,
    /// The SHA-256 of `payload`: the same update held twice is held once.
    pub digest: &'a [u8],
    /// The update, encoded.
    pub payload: &'a [u8],
    /// The lost devices whose changes it carries.
    pub lost: &'a [DeviceId],
    /// The device that brought it.
    pub carrier: DeviceId,
    /// When (ms).
    pub now: i64,
}

/// A held update as the store keeps it (see [`super::held`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRow {
    /// Names it.
    pub id: i64,
    /// The record.
    pub record: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// Its community.
    pub community: String,
    /// The update as it was pushed (postcard).
    pub payload: Vec<u8>,
    /// The lost devices whose changes it carries.
    pub lost: Vec<DeviceId>,
    /// The device that delivered it.
    pub carrier: DeviceId,
    /// When it arrived (ms).
    pub received_at: i64,
    /// The decision, once made.
    pub decision: Option<Decision>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When (ms).
    pub decided_at: Option<i64>,
}

/// What the read rule needs to know of a record, from its materialized rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadFacts {
    /// Its kind.
    pub kind: RecordKind,
    /// For a wish card, its status.
    pub status: Option<Status>,
    /// For a wish card, who holds it.
    pub holder_user: Option<UserId>,
    /// For a wish card, the unit holding it.
    pub holder_unit: Option<UnitId>,
    /// Whether the reader (or their unit) took the wish on at some point.
    pub took_part: bool,
}

/// One entry of the feed with its heads, for a reconciliation page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedHeads {
    /// The record.
    pub id: RecordId,
    /// Its heads, 32 bytes each.
    pub heads: Vec<u8>,
    /// Its position.
    pub seq: i64,
}

/// The records a pull reads, from one snapshot of the store.
pub trait PullView {
    /// The feed's last position in this snapshot.
    fn feed_seq(&self) -> Result<i64>;

    /// A record as stored.
    fn stored(&self, id: RecordId) -> Result<Option<StoredRecord>>;

    /// Up to `limit` records after position `after`, in feed order, of the
    /// communities within `readable` (all when `None`).
    fn feed_after(
        &self,
        after: i64,
        readable: Option<&[ScopePath]>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>>;

    /// The heads record `id` had at feed position `seq` (its latest version
    /// at or before it), if the store still keeps that version.
    fn heads_at(&self, id: RecordId, seq: i64) -> Result<Option<Vec<u8>>>;

    /// What the read rule needs of record `id` for a reader named `user`
    /// (of `unit`), if the record exists.
    fn read_facts(
        &self,
        id: RecordId,
        user: &UserId,
        unit: Option<&UnitId>,
    ) -> Result<Option<ReadFacts>>;

    /// Up to `limit` records after position `after` with their heads, in
    /// feed order, of the communities within `readable` (all when `None`).
    fn feed_heads(
        &self,
        after: i64,
        readable: Option<&[ScopePath]>,
        limit: usize,
    ) -> Result<Vec<FeedHeads>>;

    /// Ends the snapshot.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// What the server side of the engine reads and writes. Also the
/// [`Directory`] its policies check devices and users in.
pub trait SyncStorage: Directory {
    /// This store's id, which answers carry.
    fn store_id(&self) -> DeviceId;

    /// Now (ms), by the store's clock.
    fn now(&self) -> i64;

    /// The feed's epoch and tag secret, created on first use.
    fn feed(&mut self) -> Result<Feed>;

    /// The feed's last position.
    fn feed_seq(&self) -> Result<i64>;

    /// Starts a new epoch of the feed.
    fn new_feed_epoch(&mut self) -> Result<()>;

    /// Keeps a registered device's clock reading, as a request arriving at
    /// `now` shows it (an unregistered device is ignored).
    fn record_clock(&mut self, device: DeviceId, clock: ClockReading, now: i64) -> Result<()>;

    /// A device's clock offset at its last sync (ms; positive: ahead).
    fn clock_offset(&self, device: DeviceId) -> Result<Option<i64>>;

    /// Keeps a registered device's report of its unsynced work.
    fn record_pending(
        &mut self,
        device: DeviceId,
        pending: Option<PendingReport>,
        now: i64,
    ) -> Result<()>;

    /// A record as stored.
    fn stored(&self, id: RecordId) -> Result<Option<StoredRecord>>;

    /// Stores a record, atomically (see the module's documentation), at
    /// the feed's next position.
    fn put_record(&mut self, write: &RecordWrite<'_>) -> Result<()>;

    /// Starts a group of writes (a sync's pushed records, each accepted
    /// or refused on its own) that [`finish_group`](Self::finish_group)
    /// commits at once where the store can: one commit for many records
    /// instead of one each. A record's [`put_record`](Self::put_record)
    /// stays atomic on its own inside the group, so a refused or contended
    /// record leaves the others' writes be. By default there is no group,
    /// and each record commits alone. Use [`in_one_commit`], which always
    /// finishes what it starts.
    fn begin_group(&mut self) -> Result<()> {
        Ok(())
    }

    /// Ends the group [`begin_group`](Self::begin_group) started: commits
    /// what it stored when `keep`, drops all of it otherwise (nothing of it
    /// was acknowledged).
    fn finish_group(&mut self, keep: bool) -> Result<()> {
        let _ = keep;
        Ok(())
    }

    /// Keeps a held update (once, if it is held again).
    fn hold(&mut self, held: &HeldWrite<'_>) -> Result<()>;

    /// A snapshot to fill a pull from.
    fn pull_view(&mut self) -> Result<Box<dyn PullView + '_>>;

    /// Held updates, newest first (by arrival, then by id); decided ones
    /// too when `decided`.
    fn held_rows(&self, decided: bool) -> Result<Vec<HeldRow>>;

    /// One held update.
    fn held_row(&self, id: i64) -> Result<Option<HeldRow>>;

    /// Keeps a supervisor's decision about held update `id`.
    fn decide(&mut self, id: i64, decision: Decision, by: &UserId, now: i64) -> Result<()>;
}

/// Runs `work` as one group of writes (see [`SyncStorage::begin_group`]):
/// committed together if it succeeds; dropped if it fails or panics.
pub fn in_one_commit<T>(
    storage: &mut dyn SyncStorage,
    work: impl FnOnce(&mut dyn SyncStorage) -> Result<T>,
) -> Result<T> {
    storage.begin_group()?;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut *storage))) {
        Ok(Ok(done)) => {
            storage.finish_group(true)?;
            Ok(done)
        }
        Ok(Err(e)) => {
            // The work's error is the one to report, not a failed rollback.
            let _ = storage.finish_group(false);
            Err(e)
        }
        Err(panic) => {
            let _ = storage.finish_group(false);
            std::panic::resume_unwind(panic)
        }
    }
}
