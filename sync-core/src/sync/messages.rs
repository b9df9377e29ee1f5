//! The messages of the sync protocol (version 2). [`super::wire`] frames
//! them: magic, version, flags, a postcard body.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, RecordId, ScopePath};
use crate::keys::ChangeSig;

/// Everything the engine sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Opens a phone-to-phone exchange: who I am and what I want.
    PeerHello(PeerHello),
    /// A client's push and pull request.
    Request(SyncRequest),
    /// The answer to a request.
    Response(SyncResponse),
}

/// Opens a phone-to-phone exchange.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerHello {
    /// The opening store's id.
    pub from: DeviceId,
    /// The scopes the opening phone keeps: the other phone sends it nothing else.
    pub scopes: Vec<ScopePath>,
}

/// A client's request: what it changed, and where it is in the server's feed.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The client's store id.
    pub from: DeviceId,
    /// The epoch of the server's feed that `cursor` belongs to; `None`
    /// before the client's first sync with this server.
    pub epoch: Option<u64>,
    /// The server feed position the client has applied up to.
    pub cursor: u64,
    /// The server's tag of `cursor` (see [`SyncResponse::cursor_tag`]).
    pub cursor_tag: u64,
    /// The feed position up to which the client holds everything: the cursor
    /// of its last pull that finished (not one in the middle of paging). The
    /// server only assumes the client has a record as it was at or before
    /// this position.
    pub since: u64,
    /// Records the client changed since the server last acknowledged them.
    pub push: Vec<RecordUpdate>,
    /// Records the client could not apply incrementally and wants whole.
    pub need_full: Vec<RecordId>,
    /// The scopes the client wants to receive (phone to phone; a relay uses
    /// the scopes of the authenticated user instead).
    pub scopes: Vec<ScopePath>,
    /// The client's clock when it sent this.
    pub clock: Option<ClockReading>,
    /// The client's unsynced work, for the people who look after devices.
    pub pending: Option<PendingReport>,
    /// While the client reconciles with a server that went back in time:
    /// the feed position to list records after (see [`ReconcilePage`]).
    pub reconcile: Option<u64>,
}

/// A device's clock, as it sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClockReading {
    /// The time the device stamps its work with (ms since the epoch): its
    /// own clock plus `skew_ms`.
    pub now_ms: i64,
    /// The correction the device applies to its own clock, learned from the
    /// relay at its last sync.
    pub skew_ms: i64,
}

/// What a device has not synced yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PendingReport {
    /// Records with changes the server has not acknowledged.
    pub records: u64,
    /// When the oldest of them was last written (ms), if there are any.
    pub oldest_ms: Option<i64>,
}

/// One record's update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordUpdate {
    /// The record.
    pub id: RecordId,
    /// The sender's heads for the record after this update.
    pub heads: Vec<[u8; 32]>,
    /// The data.
    pub payload: Payload,
    /// Signatures of the changes carried (of every change, for a whole
    /// document), as far as the sender has them.
    pub sigs: Vec<ChangeSig>,
}

/// A record's data: a whole document or the changes on top of shared heads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    /// A saved Automerge document.
    Full(Vec<u8>),
    /// Automerge changes on top of heads both sides have.
    Changes {
        /// The heads the changes build on.
        base: Vec<[u8; 32]>,
        /// Each change's bytes.
        changes: Vec<Vec<u8>>,
    },
}

impl Payload {
    /// Bytes of record data carried.
    pub fn size(&self) -> usize {
        match self {
            Payload::Full(bytes) => bytes.len(),
            Payload::Changes { changes, base } => {
                changes.iter().map(Vec::len).sum::<usize>() + base.len() * 32
            }
        }
    }
}

macro_rules! reject_codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal),+ $(,)?) => {
        /// Why the server refused one record. Refusals are per record: the
        /// rest of the sync goes through.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum RejectCode {
            $($(#[$doc])* $variant),+
        }

        impl RejectCode {
            /// The stable text form.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(RejectCode::$variant => $text),+
                }
            }
        }
    };
}

reject_codes! {
    /// The record lies outside the scopes its author may write.
    Scope => "scope",
    /// The author's role may not append one of the workflow events.
    Role => "role",
    /// A workflow event that the card's state does not allow.
    Workflow => "workflow",
    /// An event names another author than the device that made it.
    Actor => "actor",
    /// An existing workflow event was altered or removed.
    History => "history",
    /// The data is not a valid Doorstep record.
    Invalid => "invalid",
    /// Over a size limit.
    TooLarge => "too_large",
    /// The server lacks what the changes build on; send the whole document.
    NeedFull => "need_full",
    /// A change carries no valid signature of its author's registered key.
    Signature => "signature",
    /// A change's author device is not registered here (yet): a relay
    /// restored from a backup learns it when that device logs in again.
    UnknownAuthor => "unknown_author",
    /// A change alters what is fixed at a record's creation: its id, kind,
    /// community, author or creation time.
    Identity => "identity",
    /// A change was made after its device was retired (or its user disabled).
    Retired => "retired",
    /// Changes by a lost device: held for a supervisor to accept or discard.
    Quarantine => "quarantine",
}

impl RejectCode {
    /// True when the same data may succeed later without the user acting.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RejectCode::NeedFull | RejectCode::UnknownAuthor)
    }
}

/// One refused record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The record.
    pub id: RecordId,
    /// Why, as a code.
    pub code: RejectCode,
    /// Why, for a person.
    pub reason: String,
}

/// The server's answer.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncResponse {
    /// The server's store id.
    pub from: DeviceId,
    /// The epoch of the server's feed. It changes when the server goes back
    /// in time (restored from a backup): positions of another epoch mean
    /// nothing, and the client reconciles.
    pub epoch: u64,
    /// The server's clock (ms), for the client to correct its own.
    pub now_ms: i64,
    /// Pushed records the server now holds (accepted, or already had).
    pub accepted: Vec<RecordId>,
    /// Pushed records the server refused.
    pub rejected: Vec<Rejected>,
    /// Records that changed in the client's scopes since its cursor.
    pub pull: Vec<RecordUpdate>,
    /// The feed position the client reaches by applying `pull`.
    pub cursor: u64,
    /// A tag only the server can make for (`epoch`, `cursor`): a client that
    /// shows a valid tag for a position the feed no longer reaches proves
    /// that the server went back in time.
    pub cursor_tag: u64,
    /// True when more changes wait: send another request from `cursor`.
    pub more: bool,
    /// The client's epoch or cursor does not fit this server's feed: nothing
    /// it pushed was looked at, and it must reconcile before syncing again.
    pub reset: bool,
    /// One page of the records the server holds, while the client reconciles.
    pub reconcile: Option<ReconcilePage>,
}

/// A page of the records a server holds in the client's scopes, with their
/// heads, in feed order: a client reconciling after the server went back in
/// time compares them with its own to learn what each side lacks.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct ReconcilePage {
    /// Records and their heads.
    pub records: Vec<RecordHeads>,
    /// The feed position to ask from next, or `None` after the last page.
    pub next: Option<u64>,
    /// The feed's position when the page was read: after the last page,
    /// pulling from here brings everything written since.
    pub upto: u64,
}

/// A record's heads on the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordHeads {
    /// The record.
    pub id: RecordId,
    /// Its heads.
    pub heads: Vec<[u8; 32]>,
}
