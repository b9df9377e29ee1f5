//! A store that breaks the engine's storage contract on purpose, to show
//! that the contract's checks can fail: its feed ignores the reader's scopes.

use sync_core::error::Result;
use sync_core::store::{DeviceEntry, Directory, StoredRecord, UserEntry};
use sync_core::sync::storage::{
    Feed, FeedHeads, HeldRow, HeldWrite, PullView, ReadFacts, RecordWrite, SyncStorage,
};
use sync_core::sync::{ClockReading, Decision, PendingReport};
use sync_core::{DeviceId, RecordId, ScopePath, Store, UnitId, UserId};

use doorstep_tests::Phone;
use doorstep_tests::storage::Subject;

/// SQLite, but every page of the feed holds every community.
pub(crate) struct IgnoresScopes(pub(crate) Store);

struct View<'a>(Box<dyn PullView + 'a>);

impl PullView for View<'_> {
    fn feed_seq(&self) -> Result<i64> {
        self.0.feed_seq()
    }
    fn stored(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        self.0.stored(id)
    }
    fn feed_after(
        &self,
        after: i64,
        _readable: Option<&[ScopePath]>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>> {
        self.0.feed_after(after, None, limit)
    }
    fn heads_at(&self, id: RecordId, seq: i64) -> Result<Option<Vec<u8>>> {
        self.0.heads_at(id, seq)
    }
    fn read_facts(
        &self,
        id: RecordId,
        user: &UserId,
        unit: Option<&UnitId>,
    ) -> Result<Option<ReadFacts>> {
        self.0.read_facts(id, user, unit)
    }
    fn feed_heads(
        &self,
        after: i64,
        readable: Option<&[ScopePath]>,
        limit: usize,
    ) -> Result<Vec<FeedHeads>> {
        self.0.feed_heads(after, readable, limit)
    }
    fn finish(self: Box<Self>) -> Result<()> {
        self.0.finish()
    }
}

impl Directory for IgnoresScopes {
    fn device(&self, id: DeviceId) -> Result<Option<DeviceEntry>> {
        self.0.device(id)
    }
    fn user(&self, name: &UserId) -> Result<Option<UserEntry>> {
        Directory::user(&self.0, name)
    }
}

impl SyncStorage for IgnoresScopes {
    fn store_id(&self) -> DeviceId {
        self.0.store_id()
    }
    fn now(&self) -> i64 {
        SyncStorage::now(&self.0)
    }
    fn feed(&mut self) -> Result<Feed> {
        SyncStorage::feed(&mut self.0)
    }
    fn feed_seq(&self) -> Result<i64> {
        SyncStorage::feed_seq(&self.0)
    }
    fn new_feed_epoch(&mut self) -> Result<()> {
        SyncStorage::new_feed_epoch(&mut self.0)
    }
    fn record_clock(&mut self, device: DeviceId, clock: ClockReading, now: i64) -> Result<()> {
        SyncStorage::record_clock(&mut self.0, device, clock, now)
    }
    fn clock_offset(&self, device: DeviceId) -> Result<Option<i64>> {
        SyncStorage::clock_offset(&self.0, device)
    }
    fn record_pending(
        &mut self,
        device: DeviceId,
        pending: Option<PendingReport>,
        now: i64,
    ) -> Result<()> {
        SyncStorage::record_pending(&mut self.0, device, pending, now)
    }
    fn stored(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        SyncStorage::stored(&self.0, id)
    }
    fn put_record(&mut self, write: &RecordWrite<'_>) -> Result<()> {
        self.0.put_record(write)
    }
    fn hold(&mut self, held: &HeldWrite<'_>) -> Result<()> {
        SyncStorage::hold(&mut self.0, held)
    }
    fn pull_view(&mut self) -> Result<Box<dyn PullView + '_>> {
        Ok(Box::new(View(self.0.pull_view()?)))
    }
    fn held_rows(&self, decided: bool) -> Result<Vec<HeldRow>> {
        self.0.held_rows(decided)
    }
    fn held_row(&self, id: i64) -> Result<Option<HeldRow>> {
        self.0.held_row(id)
    }
    fn decide(&mut self, id: i64, decision: Decision, by: &UserId, now: i64) -> Result<()> {
        self.0.decide(id, decision, by, now)
    }
}

impl Subject for IgnoresScopes {
    fn storage(&mut self) -> &mut dyn SyncStorage {
        self
    }
    fn enroll(&mut self, phone: &Phone) {
        Subject::enroll(&mut self.0, phone);
    }
}
