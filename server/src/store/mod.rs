//! What the relay keeps, behind one trait.
//!
//! Every handler, the CLI and the store thread ([`crate::db::Db`]) talk to a
//! [`RelayStore`], never to SQL. The relay ships with one implementation:
//! [`sync_core::Store`], a single SQLite file holding the records and the
//! accounts (module `sqlite`). A district that outgrows one machine can move the
//! relay onto a distributed SQL engine by implementing this trait; the HTTP
//! API, the dashboard and the rules in [`crate::accounts`] and
//! [`crate::auth`] stay as they are.
//!
//! The trait is storage, not policy. Who may see or change what is decided
//! by the callers (scopes, roles, the workflow rules of sync-core); password
//! rules and hashing live in [`crate::accounts`]. Each method is one atomic
//! step: an implementation must not leave half of one stored.

mod audit;
#[cfg(test)]
mod contract;
mod location;
mod login_failures;
mod people;
mod photos;
pub mod postgres;
mod sqlite;
mod users;

pub use location::{StoreLocation, open_postgres, redact};
pub use people::People;
pub use photos::PhotoIndex;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use sync_core::doc::{EventInput, HistoryEntry};
use sync_core::keys::{DeviceKey, PublicKey};
use sync_core::model::WishPatch;
use sync_core::store::RevokeKind;
use sync_core::store::{
    ConflictRow, CorrectedTimes, HouseholdRow, Page, StatsReport, VisitRow, WishExtras, WishFilter,
    WishRow,
};
use sync_core::sync::{Decision, Held, Policy, Refusal, SyncRequest, SyncResponse};
use sync_core::{
    Author, DeviceId, HouseholdId, Record, RecordId, Role, ScopePath, Status, UserId, WishId,
};

use crate::accounts::{Credentials, Device, User, WebSession};
use crate::error::AppResult;

/// Where the change feed is, and how many records in some scopes changed
/// after a given position (what a waiting dashboard asks).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Changes {
    /// The feed's newest position.
    pub seq: i64,
    /// Records in the asked scopes changed after the asked position.
    pub changed: u64,
}

/// How much more a store can take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Headroom {
    /// Bytes left under the size limit, if there is one.
    pub under_limit: Option<u64>,
    /// Bytes free on the disk, if known.
    pub on_disk: Option<u64>,
}

impl Headroom {
    /// The smaller of the two.
    pub fn least(&self) -> Option<u64> {
        match (self.under_limit, self.on_disk) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// How much the store holds, for `/healthz` and `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Records (households, visits, wish cards).
    pub records: i64,
    /// Bytes the store takes.
    pub bytes: i64,
}

/// A subject's run of failed logins (see [`RelayStore::login_failures`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginFailures {
    /// How many.
    pub count: u32,
    /// When the latest was (ms), if there was one.
    pub last: Option<i64>,
}

/// The relay's storage: records with their sync state, and accounts
/// (users, devices, refresh tokens, dashboard sessions, failed logins).
///
/// Methods take `&self` to read and `&mut self` to write. Times are
/// milliseconds since the epoch, given by the caller.
pub trait RelayStore: PhotoIndex + People + Send + 'static {
    // ---- records and sync -------------------------------------------------

    /// Answers one sync request from a phone: stores each pushed change
    /// that `policy` lets through (refusing the others one record at a
    /// time) and returns what the phone has not seen yet.
    fn serve_sync(&mut self, policy: &dyn Policy, request: &SyncRequest)
    -> AppResult<SyncResponse>;

    /// A record as its document reads now, if the store has it.
    fn record(&self, id: RecordId) -> AppResult<Option<Record>>;

    /// A record's change history, oldest first.
    fn history(&self, id: RecordId) -> AppResult<Vec<HistoryEntry>>;

    /// The times the relay corrected for a record, for work from devices
    /// whose clocks were wrong (see sync-core's `store::clock`).
    fn corrected_times(&self, id: RecordId) -> AppResult<CorrectedTimes>;

    /// Whether [`RelayStore::append_event`] would take `input` from `user`
    /// (of `role`), checked without writing anything.
    fn check_event(
        &self,
        user: &UserId,
        role: Role,
        id: WishId,
        input: &EventInput,
    ) -> AppResult<()>;

    /// Appends a workflow event to a wish card as `author` (a dashboard
    /// user acting through the relay's web device, whose signing key is
    /// `key`), checked by the same rules as a phone's. Returns the card's
    /// new status.
    fn append_event(
        &mut self,
        author: &Author,
        key: &DeviceKey,
        id: WishId,
        input: &EventInput,
    ) -> AppResult<Status>;

    /// Edits a wish card's content as `author` (a dashboard user through
    /// the relay's web device, signing with `key`), checked by the same
    /// rules as a phone's edit.
    fn edit_wish(
        &mut self,
        author: &Author,
        key: &DeviceKey,
        id: WishId,
        patch: &WishPatch,
    ) -> AppResult<()>;

    /// One page of wish cards.
    fn list_wishes(&self, filter: &WishFilter) -> AppResult<Page<WishRow>>;

    /// The household addresses and workflow notes (reasons, the resident's
    /// comment) of the cards `ids`, by card id, for an export.
    fn wish_extras(&self, ids: &[String]) -> AppResult<HashMap<String, WishExtras>>;

    /// One page of households in `scopes`, optionally matching `q`.
    fn households(
        &self,
        scopes: &[ScopePath],
        q: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> AppResult<Page<HouseholdRow>>;

    /// A household's visits, newest first.
    fn visits(&self, household: HouseholdId) -> AppResult<Vec<VisitRow>>;

    /// Workflow conflicts of cards in `scopes`.
    fn conflicts(
        &self,
        scopes: &[ScopePath],
        include_resolved: bool,
    ) -> AppResult<Vec<ConflictRow>>;

    /// The published counts for `scopes`.
    fn stats(&self, scopes: &[ScopePath]) -> AppResult<StatsReport>;

    /// The feed's position and how many records in `scopes` changed after
    /// `since` (none when `scopes` is empty).
    fn changes(&self, scopes: &[ScopePath], since: i64) -> AppResult<Changes>;

    /// How much the store holds.
    fn usage(&self) -> AppResult<Usage>;

    /// The feed's epoch and its last position.
    fn feed_position(&mut self) -> AppResult<(u64, i64)>;

    /// Writes (and removes) a few kilobytes, to learn whether the store can
    /// take writes now: a full disk, a size limit reached, a read-only file.
    fn probe_write(&mut self) -> AppResult<()>;

    /// Limits how large the store may grow (bytes), or lifts the limit.
    fn set_size_limit(&mut self, bytes: Option<u64>) -> AppResult<()>;

    /// How many more bytes the store can take: under its size limit, and on
    /// its disk (each when known).
    fn headroom(&self) -> AppResult<Headroom>;

    /// Work held for a supervisor (changes by lost devices) in records of
    /// `scopes`; decided ones too when `decided`.
    fn held(&self, scopes: &[ScopePath], decided: bool) -> AppResult<Vec<Held>>;

    /// A supervisor's decision about held work (see sync-core's
    /// `Store::decide_held`). The inner error says why accepted work could
    /// not be applied.
    fn decide_held(
        &mut self,
        id: i64,
        decision: Decision,
        by: &UserId,
        relay_secret: Arc<[u8]>,
        now: i64,
    ) -> AppResult<Result<(), Refusal>>;

    // ---- users --------------------------------------------------------------

    /// Adds a user with an already hashed password (see
    /// [`crate::accounts::add_user`], which checks and hashes it). Fails
    /// with a conflict if the name is taken.
    fn insert_user(
        &mut self,
        username: &UserId,
        role: Role,
        scopes: &[ScopePath],
        password_hash: &str,
        now: i64,
    ) -> AppResult<()>;

    /// A user, if there is one by that name.
    fn user(&self, username: &str) -> AppResult<Option<User>>;

    /// Every user, by name.
    fn list_users(&self) -> AppResult<Vec<User>>;

    /// Disables a user: no more logins, their dashboard sessions end, and
    /// their devices count as retired from `now` (they may still deliver
    /// what they made before).
    fn disable_user(&mut self, username: &str, now: i64) -> AppResult<()>;

    /// Undoes [`RelayStore::disable_user`].
    fn enable_user(&mut self, username: &str) -> AppResult<()>;

    /// Replaces a user's password with an already hashed one (see
    /// [`crate::accounts::set_password`]). Every session of theirs ends. With
    /// `one_time_until` (when it expires, ms) the password is a one-time
    /// code, good only for choosing a new one.
    fn set_password(
        &mut self,
        username: &UserId,
        password_hash: &str,
        one_time_until: Option<i64>,
        now: i64,
    ) -> AppResult<()>;

    // ---- the audit log ------------------------------------------------------

    /// Adds an entry to the audit log.
    fn append_audit(&mut self, entry: &crate::audit::Entry) -> AppResult<()>;

    /// Audit entries matching `filter`, newest first.
    fn audit_log(&self, filter: &crate::audit::Filter) -> AppResult<Vec<crate::audit::Stored>>;

    /// Changes a user's role, and replaces their scopes unless `scopes` is
    /// empty.
    fn set_role(
        &mut self,
        username: &UserId,
        role: Option<Role>,
        scopes: &[ScopePath],
    ) -> AppResult<()>;

    /// A user's password hash and record, if the user exists.
    fn credentials(&self, username: &str) -> AppResult<Option<Credentials>>;

    // ---- devices ------------------------------------------------------------

    /// Registers (or renames) a device of `user`, with its public key. A
    /// device belongs to one user, its key never changes once registered,
    /// and a revoked device stays revoked (sync-core's directory rules).
    fn register_device(
        &mut self,
        user: &UserId,
        device: DeviceId,
        name: &str,
        kind: &str,
        key: Option<PublicKey>,
        now: i64,
    ) -> AppResult<()>;

    /// One device.
    fn device(&self, id: DeviceId) -> AppResult<Option<Device>>;

    /// Every device, newest first.
    fn list_devices(&self) -> AppResult<Vec<Device>>;

    /// Revokes a device as retired or lost. A lost device's tokens stop
    /// working at its next request.
    fn revoke_device(&mut self, id: DeviceId, kind: RevokeKind, now: i64) -> AppResult<()>;

    /// Notes that a device was just heard from.
    fn device_seen(&mut self, id: DeviceId, now: i64) -> AppResult<()>;

    /// The device the relay writes as when a dashboard user acts: one per
    /// user, created on first use with a random id and the key derived for
    /// it from `secret`, replaced after it was revoked or when the secret
    /// changed.
    fn web_device(&mut self, user: &UserId, secret: &[u8], now: i64) -> AppResult<DeviceId>;

    // ---- refresh tokens and dashboard sessions ------------------------------

    /// Issues a refresh token for a device, starting a new chain.
    fn issue_refresh(&mut self, device: DeviceId, ttl_ms: i64, now: i64) -> AppResult<String>;

    /// Uses a refresh token: it stops working, and the next one of its
    /// chain is returned with its user and device. A token used twice ends
    /// every session of its device.
    fn rotate_refresh(
        &mut self,
        token: &str,
        ttl_ms: i64,
        now: i64,
    ) -> AppResult<(User, DeviceId, String)>;

    /// Starts a dashboard session for `user` on their web device (see
    /// [`RelayStore::web_device`]) and returns its secret. Disabling the
    /// user or revoking the device ends it.
    fn start_web_session(
        &mut self,
        user: &UserId,
        secret: &[u8],
        ttl_ms: i64,
        now: i64,
    ) -> AppResult<String>;

    /// The live session behind a secret, if there is one.
    fn web_session(&self, secret: &str, now: i64) -> AppResult<Option<WebSession>>;

    /// Ends a dashboard session. Unknown secrets are ignored.
    fn end_web_session(&mut self, secret: &str, now: i64) -> AppResult<()>;

    // ---- failed logins, for the throttle (see `crate::login`) -------------

    /// Records a failed login of `subject` at `at`. When the subject's last
    /// failure came at or before `quiet_since`, its earlier failures are
    /// forgotten first: a quiet spell ends a run of failures.
    fn record_login_failure(&mut self, subject: &str, at: i64, quiet_since: i64) -> AppResult<()>;

    /// The run of failed logins of `subject` (exactly that text): how many,
    /// and when the latest was.
    fn login_failures(&self, subject: &str) -> AppResult<LoginFailures>;

    /// Forgets every failed login of `subject` (after a right password).
    fn forget_login_failures(&mut self, subject: &str) -> AppResult<()>;

    /// Forgets the failed logins of every subject whose latest failure came
    /// at or before `quiet_since`, and returns how many subjects that was.
    fn forget_stale_login_failures(&mut self, quiet_since: i64) -> AppResult<u64>;

    // ---- operations -----------------------------------------------------------

    /// The figures of the store's connection pool, if it has one (a
    /// database server's store; a SQLite file has none).
    fn pool(&self) -> Option<PoolFigures> {
        None
    }
}

/// A connection pool's figures, for `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolFigures {
    /// Connections open.
    pub open: usize,
    /// Of those, idle.
    pub idle: usize,
    /// Requests waiting for one.
    pub waiting: usize,
    /// The most it opens.
    pub max: usize,
}
