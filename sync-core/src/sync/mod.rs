//! The sync engine, sans I/O: messages in, messages out.
//!
//! A client ([`Store::begin_sync`] / [`Store::finish_sync`]) sends the
//! records it changed since the server last acknowledged them and asks what
//! changed in its scopes since its cursor in the server's change feed. The
//! server ([`Store::serve_sync`]) checks each pushed record with a
//! [`Policy`], stores or refuses it alone, and answers with the changes. A
//! sync where nothing changed is one small round trip; a first sync comes in
//! compressed pages. Two phones use the same messages through a
//! [`PeerSession`].

mod client;
mod messages;
mod peer;
mod policy;
mod quarantine;
mod server;
pub mod storage;
mod structure;
mod wire;

use automerge::ChangeHash;

pub use client::{PUSH_PAGE_BYTES, PendingSync, SyncOptions, SyncReport};
pub use messages::{
    ClockReading, Message, Payload, PeerHello, PendingReport, ReconcilePage, RecordHeads,
    RecordUpdate, RejectCode, Rejected, SyncRequest, SyncResponse,
};
pub use peer::PeerSession;
pub use policy::{Incoming, PeerPolicy, Policy, RETIREMENT_GRACE_MS, Refusal, RelayPolicy};
pub use quarantine::{Decision, Held, HeldAuthor, decide_held, held};
pub use server::{PULL_PAGE_BYTES, serve_sync};
pub use wire::{
    MAGIC, MAX_BODY_BYTES, MAX_CHANGES, MAX_MESSAGE_BYTES, MAX_RECONCILE, MAX_RECORD_BYTES,
    MAX_RECORDS, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, WireError,
};

use crate::error::Result;
use crate::ids::ScopePath;
use crate::store::{PeerId, Store};

/// The most request/response rounds one [`drive`] call makes.
pub const MAX_ROUNDS: usize = 1000;

pub(crate) fn hashes_to_wire(heads: &[ChangeHash]) -> Vec<[u8; 32]> {
    heads.iter().map(|h| h.0).collect()
}

pub(crate) fn hashes_from_wire(heads: &[[u8; 32]]) -> Vec<ChangeHash> {
    heads.iter().copied().map(ChangeHash).collect()
}

/// Runs a whole client sync with `peer`: rounds of request and response until
/// nothing is left. `exchange` moves one encoded request to the server and
/// returns its encoded response; it is where the caller's I/O happens.
pub fn drive<E>(
    store: &mut Store,
    peer: &PeerId,
    scopes: &[ScopePath],
    mut exchange: impl FnMut(Vec<u8>) -> std::result::Result<Vec<u8>, E>,
) -> std::result::Result<SyncReport, DriveError<E>> {
    let mut report = SyncReport::default();
    for _ in 0..MAX_ROUNDS {
        let (request, pending) = store.begin_sync(peer, scopes)?;
        let bytes = Message::Request(request)
            .encode()
            .map_err(crate::Error::from)?;
        let answer = exchange(bytes).map_err(DriveError::Transport)?;
        let response = match Message::decode(&answer).map_err(crate::Error::from)? {
            Message::Response(response) => response,
            _ => {
                return Err(DriveError::Core(crate::Error::Wire(WireError::Malformed(
                    "expected a response".into(),
                ))));
            }
        };
        let round = store.finish_sync(pending, &response)?;
        let more = round.more;
        report.absorb(round);
        if !more {
            return Ok(report);
        }
    }
    report.more = true;
    Ok(report)
}

/// Why [`drive`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum DriveError<E> {
    /// The caller's transport failed; nothing was lost, sync again later.
    #[error("transport: {0}")]
    Transport(E),
    /// The store or the messages failed.
    #[error(transparent)]
    Core(#[from] crate::Error),
}

/// Serves one encoded request under `policy` and returns the encoded
/// response, over any [`storage::SyncStorage`].
pub fn serve(
    store: &mut dyn storage::SyncStorage,
    policy: &dyn Policy,
    request: &[u8],
) -> Result<Vec<u8>> {
    match Message::decode(request)? {
        Message::Request(request) => {
            Ok(Message::Response(serve_sync(store, policy, &request)?).encode()?)
        }
        _ => Err(WireError::Malformed("expected a request".into()).into()),
    }
}

/// Result alias re-exported for drivers.
pub type DriveResult<T, E> = std::result::Result<T, DriveError<E>>;
