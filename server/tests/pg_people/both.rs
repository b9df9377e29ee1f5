//! Two relays' stores, SQLite and PostgreSQL, taking the same steps
//! through the relay's traits, on a clock the test moves by hand.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use doorstep_tests::Phone;
use server::error::AppResult;
use server::store::RelayStore;
use server::store::postgres::testing::TestDatabase;
use server::store::postgres::{PgEngine, PgOptions};
use sync_core::doc::{Author, EventInput};
use sync_core::keys::DeviceKey;
use sync_core::store::{Clock, PeerId};
use sync_core::sync::{self, Message, SyncReport};
use sync_core::workflow::Reader;
use sync_core::{DeviceId, Record, Role, ScopePath, Status, Store, UnitId, UserId, WishId};

pub(crate) const XIKENG: &str = "longgang/yuanshan/xikeng";
pub(crate) const SHUIJING: &str = "longgang/buji/shuijing";

pub(crate) fn scope(s: &str) -> ScopePath {
    ScopePath::new(s).unwrap()
}

pub(crate) fn scopes(list: &[&str]) -> Vec<ScopePath> {
    list.iter().map(|s| scope(s)).collect()
}

pub(crate) fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

pub(crate) fn unit(s: &str) -> UnitId {
    UnitId::new(s).unwrap()
}

/// A clock the test moves by hand, read alike by both stores and the
/// phones: the same step gets the same times on both.
#[derive(Clone)]
pub(crate) struct Time(Arc<AtomicI64>);

impl Time {
    pub(crate) fn new() -> Time {
        Time(Arc::new(AtomicI64::new(1_800_000_000_000)))
    }

    pub(crate) fn clock(&self) -> Clock {
        let now = self.0.clone();
        Arc::new(move || now.load(Ordering::SeqCst))
    }

    /// Moves a second on and says when that is.
    pub(crate) fn tick(&self) -> i64 {
        self.0.fetch_add(1000, Ordering::SeqCst) + 1000
    }

    pub(crate) fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A SQLite store and a PostgreSQL store that take the same steps.
pub(crate) struct Both {
    pub(crate) sqlite: Store,
    pub(crate) pg: PgEngine,
    pub(crate) time: Time,
    pub(crate) db: TestDatabase,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) fn both(label: &str) -> Option<Both> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDatabase::create(label))?;
    let time = Time::new();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(dir.path().join("relay.sqlite"))
        .unwrap()
        .with_clock(time.clock());
    let mut options = PgOptions::new(db.config().clone());
    options.pool_size = 4;
    let pg = PgEngine::open(options).unwrap().with_clock(time.clock());
    Some(Both {
        sqlite,
        pg,
        time,
        db,
        _dir: dir,
    })
}

/// An answer as the two stores can be compared on: errors by their Debug.
pub(crate) fn outcome<T>(answer: AppResult<T>) -> Result<T, String> {
    answer.map_err(|e| format!("{e:?}"))
}

impl Both {
    /// Runs `step` on both stores and asserts they answer alike; the answer.
    pub(crate) fn same<T: PartialEq + Debug>(
        &mut self,
        what: &str,
        mut step: impl FnMut(&mut dyn RelayStore) -> T,
    ) -> T {
        let on_sqlite = step(&mut self.sqlite);
        let on_pg = step(&mut self.pg);
        assert_eq!(
            on_sqlite, on_pg,
            "{what}: SQLite (left) and PostgreSQL (right) differ"
        );
        on_sqlite
    }

    /// Runs `step` on both stores and asserts it succeeds on both.
    pub(crate) fn run(
        &mut self,
        what: &str,
        mut step: impl FnMut(&mut dyn RelayStore) -> AppResult<()>,
    ) {
        self.same(what, |s| outcome(step(s)))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    }

    /// Pushes the phone's records to both stores.
    pub(crate) fn push(&mut self, phone: &mut Phone) {
        let reports = [
            push(phone, &mut self.sqlite, "relay-sqlite"),
            push(phone, &mut self.pg, "relay-pg"),
        ];
        assert_eq!(reports[0].accepted, reports[1].accepted, "{reports:?}");
        assert!(reports[0].rejected.is_empty(), "{reports:?}");
    }

    /// An event on wish `id` by `who`, appended on both stores; the
    /// status after it (the same on both).
    pub(crate) fn event(&mut self, who: &Actor, id: WishId, input: EventInput) -> Status {
        self.time.tick();
        self.same(&format!("{:?} by {}", input.kind, who.author.user), |s| {
            outcome(s.append_event(&who.author, &who.key, id, &input))
        })
        .unwrap()
    }

    /// Like [`Both::event`], seen from an older copy of the card: the
    /// event `back` events before the last one on each store.
    pub(crate) fn event_seen(
        &mut self,
        who: &Actor,
        id: WishId,
        back: usize,
        input: EventInput,
    ) -> Status {
        self.time.tick();
        self.same("an event from an older copy", |s| {
            let events = wish_events(s, id);
            let input = EventInput {
                seen: Some(events[events.len() - 1 - back]),
                ..input.clone()
            };
            outcome(s.append_event(&who.author, &who.key, id, &input))
        })
        .unwrap()
    }
}

pub(crate) fn push(phone: &mut Phone, relay: &mut dyn RelayStore, peer: &str) -> SyncReport {
    let policy = phone.policy();
    let scopes = phone.scopes.clone();
    sync::drive(
        &mut phone.store,
        &PeerId::new(peer).unwrap(),
        &scopes,
        |bytes| {
            let Message::Request(request) = Message::decode(&bytes).map_err(|e| e.to_string())?
            else {
                return Err("not a request".to_owned());
            };
            let response = relay
                .serve_sync(&policy, &request)
                .map_err(|e| e.to_string())?;
            Message::Response(response)
                .encode()
                .map_err(|e| e.to_string())
        },
    )
    .unwrap()
}

/// The ids of wish `id`'s events on `store`, oldest first.
pub(crate) fn wish_events(store: &dyn RelayStore, id: WishId) -> Vec<sync_core::ids::EventId> {
    match store.record(id.record()).unwrap() {
        Some(Record::Wish(card)) => card.events.iter().map(|e| e.id).collect(),
        other => panic!("not a wish: {other:?}"),
    }
}

/// Someone acting through the relay (the dashboard, the wall), with the
/// key of their web device.
pub(crate) struct Actor {
    pub(crate) author: Author,
    pub(crate) key: DeviceKey,
}

pub(crate) fn actor(name: &str, role: Role) -> Actor {
    let device = DeviceId::random();
    Actor {
        author: Author {
            user: user(name),
            role,
            device,
        },
        key: DeviceKey::generate(device).unwrap(),
    }
}

pub(crate) fn reader(name: &str, role: Role, unit_of: Option<&str>) -> Reader {
    Reader {
        user: user(name),
        role,
        unit: unit_of.map(unit),
    }
}
