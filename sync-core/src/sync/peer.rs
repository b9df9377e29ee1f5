//! Phone to phone: the same messages, over whatever transport the app has
//! (Bluetooth, Wi-Fi Direct, a QR code).
//!
//! The phone that starts sends a hello. The other answers with a request:
//! its own changes and its cursor into the starter's feed. The starter serves
//! it, so one exchange carries changes both ways. More rounds follow only
//! while pages remain.

use super::client::{PendingSync, SyncOptions, SyncReport};
use super::messages::{Message, PeerHello};
use super::policy::PeerPolicy;
use super::wire::WireError;
use crate::error::{Error, Result};
use crate::ids::ScopePath;
use crate::store::{PeerId, Store};

/// One phone's side of a phone-to-phone sync.
#[derive(Debug)]
pub struct PeerSession {
    scopes: Vec<ScopePath>,
    peer_scopes: Vec<ScopePath>,
    waiting: Option<PendingSync>,
    report: SyncReport,
}

impl PeerSession {
    /// A session for a phone whose user works in `scopes`.
    pub fn new(scopes: Vec<ScopePath>) -> Self {
        Self {
            scopes,
            peer_scopes: Vec::new(),
            waiting: None,
            report: SyncReport::default(),
        }
    }

    /// The first message, to send to the other phone.
    pub fn start(&mut self, store: &Store) -> Result<Vec<u8>> {
        Ok(Message::PeerHello(PeerHello {
            from: store.id(),
            scopes: self.scopes.clone(),
        })
        .encode()?)
    }

    /// Handles a message from the other phone and returns the answer to send
    /// back, or `None` when this side is done.
    pub fn receive(&mut self, store: &mut Store, bytes: &[u8]) -> Result<Option<Vec<u8>>> {
        match Message::decode(bytes)? {
            Message::PeerHello(hello) => {
                let peer = PeerId::new(hello.from.to_string())?;
                self.peer_scopes = hello.scopes;
                self.request(store, &peer).map(Some)
            }
            Message::Request(request) => {
                let policy = PeerPolicy::new(self.scopes.clone(), &request.scopes);
                let response = store.serve_sync(&policy, &request)?;
                Ok(Some(Message::Response(response).encode()?))
            }
            Message::Response(response) => {
                let pending = self.waiting.take().ok_or_else(|| {
                    Error::Wire(WireError::Malformed("a response nobody asked for".into()))
                })?;
                let peer = PeerId::new(response.from.to_string())?;
                let round = store.finish_sync(pending, &response)?;
                let more = round.more;
                self.report.absorb(round);
                if more {
                    self.request(store, &peer).map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }

    fn request(&mut self, store: &mut Store, peer: &PeerId) -> Result<Vec<u8>> {
        let options = SyncOptions {
            scopes: self.scopes.clone(),
            peer_scopes: Some(self.peer_scopes.clone()),
            unsigned_too: true,
            learn_clock: false,
        };
        let (request, pending) = store.begin_sync_with(peer, &options)?;
        self.waiting = Some(pending);
        Ok(Message::Request(request).encode()?)
    }

    /// What this side received and sent so far.
    pub fn report(&self) -> &SyncReport {
        &self.report
    }
}
