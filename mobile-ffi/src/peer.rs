//! Phone to phone, with no relay: sync-core's `PeerSession` over whatever
//! transport the app has (Bluetooth, Wi-Fi Direct, QR codes). The app moves
//! the bytes; the engine makes them.
//!
//! One phone calls `peer_sync_start()` and sends the bytes to the other;
//! each side passes what it receives to `peer_sync_receive()` and sends back
//! what that returns, until it returns nothing.

use sync_core::sync::{Message, PeerSession};

use crate::error::Result;
use crate::store::{FieldStore, lock};
use crate::types::{ChangeOrigin, SyncReport};

#[uniffi::export]
impl FieldStore {
    /// Starts a phone-to-phone sync: the first message to send to the other
    /// phone. A sync started before is dropped.
    pub fn peer_sync_start(&self) -> Result<Vec<u8>> {
        let mut peer = lock(&self.shared.peer);
        let inner = self.shared.inner();
        let mut session = PeerSession::new(inner.session()?.scopes.clone());
        let hello = session.start(&inner.store)?;
        *peer = Some(session);
        Ok(hello)
    }

    /// Handles a message from the other phone. Returns the answer to send
    /// back, or nothing when this side is done.
    pub fn peer_sync_receive(&self, message: Vec<u8>) -> Result<Option<Vec<u8>>> {
        // The records the message brings, for the listener.
        let brought: Vec<String> =
            match Message::decode(&message).map_err(sync_core::Error::from)? {
                Message::Request(r) => r.push.iter().map(|u| u.id.to_string()).collect(),
                Message::Response(r) => r.pull.iter().map(|u| u.id.to_string()).collect(),
                Message::PeerHello(_) => Vec::new(),
            };
        let answer = {
            let mut peer = lock(&self.shared.peer);
            let mut inner = self.shared.inner();
            let scopes = inner.session()?.scopes.clone();
            let session = peer.get_or_insert_with(|| PeerSession::new(scopes));
            session.receive(&mut inner.store, &message)?
        };
        self.shared.notify(brought, ChangeOrigin::Peer);
        Ok(answer)
    }

    /// What the phone-to-phone sync under way has sent and received so far.
    pub fn peer_sync_report(&self) -> SyncReport {
        lock(&self.shared.peer)
            .as_ref()
            .map(|s| SyncReport::from_core(s.report().clone(), 0))
            .unwrap_or_default()
    }
}
