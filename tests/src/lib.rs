//! Shared helpers for Doorstep's integration tests: simulated phones and an
//! in-process relay that talk through sync-core's engine, byte for byte as
//! they would over HTTP.

pub mod http;
pub mod pictures;
pub mod process;
pub mod storage;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sync_core::doc::{Author, EventInput};
use sync_core::keys::PublicKey;
use sync_core::model::{Category, Urgency, VulnerabilityTag, WishCard};
use sync_core::store::{Clock, Directory, PeerId, Registration};
use sync_core::sync::{self, RelayPolicy, SyncReport};
use sync_core::{
    CommunityPath, DeviceId, EventKind, HouseholdId, NewHousehold, NewWish, Record, RecordId, Role,
    ScopePath, Store, UserId, WishId,
};

/// A clock shared by every store in a test, stepping one millisecond per read
/// so that event order is deterministic.
pub fn test_clock(start: i64) -> Clock {
    let now = Arc::new(AtomicI64::new(start));
    Arc::new(move || now.fetch_add(1, Ordering::SeqCst))
}

/// A relay: a store whose directory knows the phones that sync with it
/// (each is registered, with its key, at its first sync).
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
    /// The phone's public key, registered with relays it syncs with.
    pub key: PublicKey,
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
        self.enroll(phone);
        sync::serve(&mut self.store, &phone.policy(), &request).expect("relay serves request")
    }

    /// Registers the phone's user and device (with its key), as its first
    /// login would.
    pub fn enroll(&mut self, phone: &Phone) {
        if self
            .store
            .device(phone.device())
            .expect("directory")
            .is_some()
        {
            return;
        }
        let now = self.store.now();
        let registration = Registration {
            device: phone.device(),
            user: &phone.author.user,
            name: "test phone",
            kind: "phone",
            key: Some(phone.key),
        };
        self.store
            .enroll(
                &phone.author.user,
                phone.author.role,
                &phone.scopes,
                &registration,
                now,
            )
            .expect("enroll the phone");
    }
}

impl Phone {
    /// A phone for `user` in `role`, working in `scopes`.
    pub fn new(user: &str, role: Role, scopes: &[&str], clock: Clock) -> Self {
        let store = Store::open_in_memory()
            .expect("open phone store")
            .with_clock(clock);
        let scopes = scopes
            .iter()
            .map(|s| ScopePath::new(*s).expect("valid scope"))
            .collect();
        Self::over(store, UserId::new(user).expect("valid user"), role, scopes)
    }

    /// A phone over an open store.
    pub fn over(mut store: Store, user: UserId, role: Role, scopes: Vec<ScopePath>) -> Self {
        let key = store.public_key().expect("device key");
        let author = Author {
            user,
            role,
            device: store.id(),
        };
        Self {
            store,
            author,
            scopes,
            key,
        }
    }

    /// The relay's policy for this phone's device.
    pub fn policy(&self) -> RelayPolicy {
        RelayPolicy::new(self.author.device, self.scopes.clone())
    }

    /// The phone's device id.
    pub fn device(&self) -> DeviceId {
        self.author.device
    }

    /// The community of the user's first scope, when it is a community.
    pub fn community(&self) -> CommunityPath {
        CommunityPath::new(self.scopes[0].as_str()).expect("first scope is a community")
    }

    /// Syncs directly with another phone (no relay), the way two workers'
    /// phones do in a village without signal: this phone starts.
    pub fn meet(&mut self, other: &mut Phone) {
        let mut mine = sync::PeerSession::new(self.scopes.clone());
        let mut theirs = sync::PeerSession::new(other.scopes.clone());
        let mut message = mine.start(&self.store).expect("hello");
        let mut their_turn = true;
        for _ in 0..sync::MAX_ROUNDS {
            let next = if their_turn {
                theirs.receive(&mut other.store, &message)
            } else {
                mine.receive(&mut self.store, &message)
            }
            .expect("phone to phone");
            match next {
                Some(m) => message = m,
                None => return,
            }
            their_turn = !their_turn;
        }
        panic!("phone to phone did not finish");
    }

    /// Syncs with the relay until nothing is left.
    pub fn sync(&mut self, relay: &mut Relay) -> SyncReport {
        relay.enroll(self);
        let scopes = self.scopes.clone();
        let policy = self.policy();
        sync::drive(&mut self.store, &relay_peer(), &scopes, |request| {
            sync::serve(&mut relay.store, &policy, &request)
        })
        .expect("sync completes")
    }
}

/// Creates a household (a lone elderly resident) in the phone's community.
pub fn household(phone: &mut Phone, address: &str) -> HouseholdId {
    let community = phone.community();
    phone
        .store
        .create_household(
            &phone.author,
            &community,
            &NewHousehold {
                address: address.into(),
                head_name: "李建国".into(),
                members: 1,
                tags: [VulnerabilityTag::LivingAlone].into(),
                ..Default::default()
            },
        )
        .expect("create household")
}

/// Creates a wish card for `home` and submits it.
pub fn wish(phone: &mut Phone, home: HouseholdId, text: &str) -> WishId {
    let author = phone.author.clone();
    let id = phone
        .store
        .create_wish(
            &author,
            &NewWish {
                household: home,
                text: text.into(),
                category: Category::MobilityAid,
                urgency: Urgency::High,
                photos: vec![],
            },
        )
        .expect("create wish");
    phone
        .store
        .append_event(&author, id, &EventInput::new(EventKind::Submit))
        .expect("submit");
    id
}

/// The wish card `id` as `store` reads it.
pub fn card(store: &Store, id: WishId) -> WishCard {
    match store.record(id.record()).expect("record exists") {
        Record::Wish(card) => card,
        other => panic!("expected a wish, got {other:?}"),
    }
}

/// A modified app: writes straight into a record's document as `phone`'s
/// device, in its user's name, signed with its own (valid) key.
pub fn tamper(
    phone: &mut Phone,
    id: RecordId,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) {
    use automerge::transaction::CommitOptions;
    let saved = phone.store.doc(id).expect("the record").save();
    let mut doc = automerge::Automerge::load(&saved).expect("its document");
    doc.set_actor(sync_core::doc::actor_of(phone.device()));
    let note = serde_json::json!({"user": phone.author.user, "role": phone.author.role});
    let now = phone.store.now();
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| {
            CommitOptions::default()
                .with_message(note.to_string())
                .with_time(now)
        },
        |tx| {
            edit(tx);
            Ok(())
        },
    )
    .expect("a change");
    let doc = sync_core::doc::RecordDoc::load(&doc.save()).expect("a document");
    phone.store.put_doc(id, &doc).expect("stored");
}

/// Every record a store holds, with its heads: two stores that agree on
/// this hold the same records, change for change.
pub fn heads(store: &Store) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut stmt = store
        .connection()
        .prepare("SELECT id, heads FROM records")
        .expect("records");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("records")
        .collect::<Result<_, _>>()
        .expect("records")
}
