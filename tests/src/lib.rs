//! Shared helpers for Doorstep's integration tests: simulated phones and an
//! in-process relay that talk through sync-core's engine, byte for byte as
//! they would over HTTP.

pub mod http;
pub mod process;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sync_core::doc::Author;
use sync_core::store::{Clock, PeerId};
use sync_core::sync::{self, RelayPolicy, SyncReport};
use sync_core::{CommunityPath, DeviceId, Role, ScopePath, Store, UserId};

/// A clock shared by every store in a test, stepping one millisecond per read
/// so that event order is deterministic.
pub fn test_clock(start: i64) -> Clock {
    let now = Arc::new(AtomicI64::new(start));
    Arc::new(move || now.fetch_add(1, Ordering::SeqCst))
}

/// A relay: a store plus the users it knows.
pub struct Relay {
    /// The relay's store.
    pub store: Store,
}

/// A simulated phone: a store, the user logged in on it, and their scopes.
pub struct Phone {
    /// The phone's store.
    pub store: Store,
    /// The user and device making changes on it.
    pub author: Author,
    /// The scopes the user works in.
    pub scopes: Vec<ScopePath>,
}

/// The peer name phones use for the relay.
pub fn relay_peer() -> PeerId {
    PeerId::new("relay").expect("valid peer name")
}

impl Relay {
    /// A relay with an in-memory store.
    pub fn new(clock: Clock) -> Self {
        Self {
            store: Store::open_in_memory()
                .expect("open relay store")
                .with_clock(clock),
        }
    }

    /// Serves one encoded request from `phone`, as the HTTP endpoint does.
    pub fn serve(&mut self, phone: &Phone, request: Vec<u8>) -> Vec<u8> {
        sync::serve(&mut self.store, &phone.policy(), &request).expect("relay serves request")
    }
}

impl Phone {
    /// A phone for `user` in `role`, working in `scopes`.
    pub fn new(user: &str, role: Role, scopes: &[&str], clock: Clock) -> Self {
        let store = Store::open_in_memory()
            .expect("open phone store")
            .with_clock(clock);
        let author = Author {
            user: UserId::new(user).expect("valid user"),
            role,
            device: store.id(),
        };
        Self {
            store,
            author,
            scopes: scopes
                .iter()
                .map(|s| ScopePath::new(*s).expect("valid scope"))
                .collect(),
        }
    }

    /// The relay's policy for this phone's user and device.
    pub fn policy(&self) -> RelayPolicy {
        RelayPolicy {
            user: self.author.user.clone(),
            role: self.author.role,
            device: self.author.device,
            scopes: self.scopes.clone(),
        }
    }

    /// The phone's device id.
    pub fn device(&self) -> DeviceId {
        self.author.device
    }

    /// The community of the user's first scope, when it is a community.
    pub fn community(&self) -> CommunityPath {
        CommunityPath::new(self.scopes[0].as_str()).expect("first scope is a community")
    }

    /// Syncs with the relay until nothing is left.
    pub fn sync(&mut self, relay: &mut Relay) -> SyncReport {
        let scopes = self.scopes.clone();
        let policy = self.policy();
        sync::drive(&mut self.store, &relay_peer(), &scopes, |request| {
            sync::serve(&mut relay.store, &policy, &request)
        })
        .expect("sync completes")
    }
}
