//! The PostgreSQL store keeps the sync engine's storage contract
//! (`doorstep_tests::storage`) exactly as SQLite does, and two relays over
//! one database bring two phones to the same records.
//!
//! Needs `DOORSTEP_TEST_PG` (run under `scripts/with-postgres`); without it
//! the tests skip, or fail under `CI=true`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use doorstep_tests::storage::{Subject, check};
use doorstep_tests::{Phone, household, relay_peer, test_clock, wish};
use server::store::postgres::testing::TestDatabase;
use server::store::postgres::{PgEngine, PgOptions};
use sync_core::doc::EventInput;
use sync_core::keys::SigSet;
use sync_core::store::Registration;
use sync_core::sync::storage::{HeldWrite, RecordWrite, SyncStorage};
use sync_core::sync::{self, SyncReport};
use sync_core::{DeviceId, EventKind, RecordId, RecordKind, Role, ScopePath, Status};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A fresh database, made on a runtime of the test's own.
fn database(label: &str) -> Option<TestDatabase> {
    runtime().block_on(TestDatabase::create(label))
}

fn open(db: &TestDatabase) -> PgEngine {
    let mut options = PgOptions::new(db.config().clone());
    options.pool_size = 4;
    PgEngine::open(options).unwrap()
}

/// A store over its own database; the store goes before the database.
struct Pg {
    engine: PgEngine,
    _db: TestDatabase,
}

fn enroll(engine: &mut PgEngine, phone: &Phone) {
    let now = engine.now();
    let registration = Registration {
        device: phone.device(),
        user: &phone.author.user,
        name: "contract phone",
        kind: "phone",
        key: Some(phone.key),
    };
    engine
        .enroll(
            &phone.author.user,
            phone.author.role,
            &phone.scopes,
            &registration,
            now,
        )
        .expect("enroll the phone");
}

impl Subject for Pg {
    fn storage(&mut self) -> &mut dyn SyncStorage {
        &mut self.engine
    }

    fn enroll(&mut self, phone: &Phone) {
        enroll(&mut self.engine, phone);
    }
}

#[test]
fn the_postgres_store_keeps_the_contract() {
    if database("contract_probe").is_none() {
        return;
    }
    check(&mut || {
        let db = database("contract").unwrap();
        Box::new(Pg {
            engine: open(&db),
            _db: db,
        })
    });
}

fn sync_through(phone: &mut Phone, relay: &mut PgEngine) -> SyncReport {
    let policy = phone.policy();
    let scopes = phone.scopes.clone();
    sync::drive(&mut phone.store, &relay_peer(), &scopes, |request| {
        sync::serve(&mut *relay, &policy, &request)
    })
    .expect("a sync through the engine over PostgreSQL")
}

#[test]
fn two_phones_converge_through_two_relays_on_one_database() {
    let Some(db) = database("two_relays") else {
        return;
    };
    let mut a = open(&db);
    let mut b = open(&db);
    assert_eq!(
        a.store_id(),
        b.store_id(),
        "both relays answer as one store"
    );
    let clock = test_clock(2_000_000);
    let community = "longgang/yuanshan/xikeng";
    let mut wang = Phone::new("wang", Role::Worker, &[community], clock.clone());
    let mut li = Phone::new("li", Role::Worker, &[community], clock);
    // Enrolled through A only: B reads the same accounts.
    enroll(&mut a, &wang);
    enroll(&mut a, &li);

    let home = household(&mut wang, "西坑村三巷5号");
    let card = wish(&mut wang, home, "一台轮椅");
    let pushed = sync_through(&mut wang, &mut a);
    assert_eq!(pushed.accepted, 2, "{pushed:?}");
    let pulled = sync_through(&mut li, &mut b);
    assert_eq!(pulled.received, 2, "B serves what A took: {pulled:?}");

    let author = li.author.clone();
    li.store
        .update_household(
            &author,
            home,
            &sync_core::model::HouseholdPatch {
                head_name: Some("李秀英".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let author = wang.author.clone();
    wang.store
        .update_household(
            &author,
            home,
            &sync_core::model::HouseholdPatch {
                phone: Some("13800000000".into()),
                ..Default::default()
            },
        )
        .unwrap();
    // Concurrent edits of one household, pushed through different relays.
    sync_through(&mut li, &mut b);
    sync_through(&mut wang, &mut a);
    sync_through(&mut li, &mut b);
    for id in [home.record(), card.record()] {
        assert_eq!(
            li.store.doc(id).unwrap().heads(),
            wang.store.doc(id).unwrap().heads(),
            "both phones hold the same record"
        );
        let on_a = a.stored(id).unwrap().unwrap();
        let on_b = b.stored(id).unwrap().unwrap();
        assert_eq!(
            (on_a.heads.clone(), on_a.seq),
            (on_b.heads, on_b.seq),
            "both relays read one store"
        );
        assert_eq!(
            on_a.heads,
            sync_core::doc::heads_to_bytes(&wang.store.doc(id).unwrap().heads()),
            "the relay holds the merge"
        );
    }
    let merged = wang.store.record(home.record()).unwrap();
    let sync_core::Record::Household(merged) = merged else {
        panic!("a household");
    };
    assert_eq!(
        (merged.head_name.as_str(), merged.phone.as_str()),
        ("李秀英", "13800000000"),
        "neither relay lost the other's edit"
    );
    let again = sync_through(&mut wang, &mut b);
    assert_eq!((again.sent, again.received), (0, 0), "{again:?}");
}

#[test]
fn an_update_held_twice_is_held_once() {
    let Some(db) = database("held_once") else {
        return;
    };
    let mut engine = open(&db);
    let community = ScopePath::new("longgang/yuanshan/xikeng").unwrap();
    let lost = [DeviceId::random()];
    let record = RecordId::random();
    let held = |record, digest: &'static [u8], now| HeldWrite {
        record,
        kind: RecordKind::Household,
        community: &community,
        digest,
        payload: b"an update",
        lost: &lost,
        carrier: DeviceId::random(),
        now,
    };
    engine.hold(&held(record, b"one digest", 1)).unwrap();
    engine.hold(&held(record, b"one digest", 2)).unwrap();
    engine.hold(&held(record, b"another digest", 3)).unwrap();
    engine
        .hold(&held(RecordId::random(), b"one digest", 4))
        .unwrap();
    let pool = db.pool(1);
    let times: Vec<i64> = runtime().block_on(async {
        let client = pool.get().await.unwrap();
        client
            .query(
                "SELECT received_at FROM quarantine ORDER BY received_at",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    assert_eq!(times, [1, 3, 4], "the same update of a record is held once");
}

#[test]
fn a_pull_dropped_unfinished_leaves_its_connection_fit_for_writes() {
    let Some(db) = database("dropped_pull") else {
        return;
    };
    let mut options = PgOptions::new(db.config().clone());
    options.pool_size = 1;
    let mut engine = PgEngine::open(options).unwrap();
    let mut phone = Phone::new(
        "wang",
        Role::Worker,
        &["longgang/yuanshan/xikeng"],
        test_clock(1_000_000),
    );
    let home = household(&mut phone, "西坑村三巷5号");
    {
        let view = engine.pull_view().unwrap();
        assert_eq!(view.feed_seq().unwrap(), 0);
        // Dropped without finish(): its read-only snapshot must end here.
    }
    let doc = phone.store.doc(home.record()).unwrap();
    let now = engine.now();
    engine
        .put_record(&RecordWrite {
            record: &doc.read().unwrap(),
            doc: &doc.save(),
            heads: &doc.heads(),
            sigs: &SigSet::default(),
            base: None,
            corrections: &[],
            now,
        })
        .expect("a write on the one pooled connection after the dropped pull");
    assert_eq!(engine.feed_seq().unwrap(), 1);
}

/// Stores the phone's copy of `id` in `engine`, as the engine would.
fn put_from(engine: &mut PgEngine, phone: &Phone, id: RecordId) {
    let doc = phone.store.doc(id).unwrap();
    let now = engine.now();
    let base = engine.stored(id).unwrap().map(|s| s.heads);
    engine
        .put_record(&RecordWrite {
            record: &doc.read().unwrap(),
            doc: &doc.save(),
            heads: &doc.heads(),
            sigs: &SigSet::default(),
            base: base.as_deref(),
            corrections: &[],
            now,
        })
        .unwrap();
}

#[test]
fn a_claimed_wish_reads_with_its_holder_and_taker() {
    let Some(db) = database("claimed_facts") else {
        return;
    };
    let mut engine = open(&db);
    let clock = test_clock(3_000_000);
    let community = "longgang/yuanshan/xikeng";
    let mut wang = Phone::new("wang", Role::Worker, &[community], clock.clone());
    let mut zhou = Phone::new(
        "zhou",
        Role::Supervisor,
        &["longgang/yuanshan"],
        clock.clone(),
    );
    let mut hu = Phone::new("hu", Role::Volunteer, &[community], clock);
    let home = household(&mut wang, "西坑村三巷5号");
    let card = wish(&mut wang, home, "一台轮椅");
    wang.meet(&mut zhou);
    let author = zhou.author.clone();
    zhou.store
        .append_event(&author, card, &EventInput::new(EventKind::Approve))
        .unwrap();
    zhou.meet(&mut hu);
    let author = hu.author.clone();
    hu.store
        .append_event(&author, card, &EventInput::new(EventKind::Claim))
        .unwrap();
    put_from(&mut engine, &hu, card.record());

    let view = engine.pull_view().unwrap();
    let facts = view
        .read_facts(card.record(), &hu.author.user, None)
        .unwrap()
        .unwrap();
    assert_eq!(facts.status, Some(Status::Claimed));
    assert_eq!(facts.holder_user.as_ref(), Some(&hu.author.user));
    assert!(facts.took_part, "the claimant took it on");
    let other = view
        .read_facts(card.record(), &wang.author.user, None)
        .unwrap()
        .unwrap();
    assert!(!other.took_part, "the worker did not");
    view.finish().unwrap();
}
