//! Two relays over one PostgreSQL database merging pushes into the same
//! record at the same moment lose nothing: a write made from a version
//! another relay has replaced meanwhile is refused by the store, and the
//! engine merges again from what is stored now.
//!
//! Each round, phones on both relays edit their own field of one household
//! and push at once, and every relay's write is slowed between the engine's
//! read and its write (where a race loses work). Afterwards the stored
//! household has every phone's latest value, and each phone's changes.
//! The negative control runs the same rounds over a store that writes
//! whatever it is given: a phone's acknowledged edit goes missing.
//!
//! Needs `DOORSTEP_TEST_PG` (run under `scripts/with-postgres`); without it
//! the tests skip, or fail under `CI=true`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use doorstep_tests::{Phone, household, relay_peer, test_clock};
use server::store::postgres::testing::TestDatabase;
use server::store::postgres::{PgEngine, PgOptions};
use sync_core::doc::RecordDoc;
use sync_core::error::Result;
use sync_core::model::{HouseholdPatch, Record};
use sync_core::store::{DeviceEntry, Directory, Registration, StoredRecord, UserEntry};
use sync_core::sync::storage::{HeldRow, HeldWrite, PullView, RecordWrite, SyncStorage};
use sync_core::sync::{self, ClockReading, Decision, PendingReport};
use sync_core::{DeviceId, HouseholdId, RecordId, Role, UserId};

const COMMUNITY: &str = "longgang/yuanshan/xikeng";
const ROUNDS: usize = 6;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn open(db: &TestDatabase) -> PgEngine {
    let mut options = PgOptions::new(db.config().clone());
    options.pool_size = 4;
    PgEngine::open(options).unwrap()
}

/// A relay's store, slowed between the engine's read of a record and its
/// write; with `blind`, it also writes over whatever is stored (the
/// negative control: a store that ignores [`RecordWrite::base`]).
struct Slowed {
    inner: PgEngine,
    blind: bool,
}

impl SyncStorage for Slowed {
    fn store_id(&self) -> DeviceId {
        self.inner.store_id()
    }
    fn now(&self) -> i64 {
        self.inner.now()
    }
    fn feed(&mut self) -> Result<sync_core::sync::storage::Feed> {
        self.inner.feed()
    }
    fn feed_seq(&self) -> Result<i64> {
        self.inner.feed_seq()
    }
    fn new_feed_epoch(&mut self) -> Result<()> {
        self.inner.new_feed_epoch()
    }
    fn record_clock(&mut self, device: DeviceId, clock: ClockReading, now: i64) -> Result<()> {
        self.inner.record_clock(device, clock, now)
    }
    fn clock_offset(&self, device: DeviceId) -> Result<Option<i64>> {
        self.inner.clock_offset(device)
    }
    fn record_pending(
        &mut self,
        device: DeviceId,
        pending: Option<PendingReport>,
        now: i64,
    ) -> Result<()> {
        self.inner.record_pending(device, pending, now)
    }
    fn stored(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        self.inner.stored(id)
    }
    fn put_record(&mut self, write: &RecordWrite<'_>) -> Result<()> {
        // Long enough for the other relay to read the same version.
        thread::sleep(Duration::from_millis(200));
        if self.blind {
            // Whatever is stored now is written over.
            loop {
                let current = self.inner.stored(write.record.meta().id)?.map(|s| s.heads);
                match self.inner.put_record(&RecordWrite {
                    base: current.as_deref(),
                    ..*write
                }) {
                    Err(sync_core::Error::Contended(_)) => continue,
                    done => return done,
                }
            }
        }
        self.inner.put_record(write)
    }
    fn hold(&mut self, held: &HeldWrite<'_>) -> Result<()> {
        self.inner.hold(held)
    }
    fn pull_view(&mut self) -> Result<Box<dyn PullView + '_>> {
        self.inner.pull_view()
    }
    fn held_rows(&self, decided: bool) -> Result<Vec<HeldRow>> {
        self.inner.held_rows(decided)
    }
    fn held_row(&self, id: i64) -> Result<Option<HeldRow>> {
        self.inner.held_row(id)
    }
    fn decide(&mut self, id: i64, decision: Decision, by: &UserId, now: i64) -> Result<()> {
        self.inner.decide(id, decision, by, now)
    }
}

impl Directory for Slowed {
    fn device(&self, id: DeviceId) -> Result<Option<DeviceEntry>> {
        self.inner.device(id)
    }
    fn user(&self, name: &UserId) -> Result<Option<UserEntry>> {
        self.inner.user(name)
    }
}

fn enroll(engine: &mut PgEngine, phone: &Phone) {
    let now = engine.now();
    let registration = Registration {
        device: phone.device(),
        user: &phone.author.user,
        name: "contention phone",
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
        .unwrap();
}

/// Syncs `phone` through `relay`; returns how many records were refused.
fn sync_through(phone: &mut Phone, relay: &mut dyn SyncStorage) -> usize {
    let policy = phone.policy();
    let scopes = phone.scopes.clone();
    let report = sync::drive(&mut phone.store, &relay_peer(), &scopes, |request| {
        sync::serve(&mut *relay, &policy, &request)
    })
    .expect("a sync through a slowed relay");
    report.rejected.len()
}

/// What the race ends with.
struct Outcome {
    /// The fields the phones edit, as stored.
    fields: Vec<String>,
    /// Whether the stored record holds every change of every phone.
    holds_all: bool,
    /// Records refused along the way.
    refused: usize,
    /// Rounds after which a phone's acknowledged changes were not all
    /// stored (a phone sends them again later, so only a look after each
    /// round sees every loss).
    lost: usize,
}

/// The field phone `n` edits, set to `value`.
fn patch(n: usize, value: &str) -> HouseholdPatch {
    match n {
        0 => HouseholdPatch {
            head_name: Some(value.into()),
            ..HouseholdPatch::default()
        },
        _ => HouseholdPatch {
            phone: Some(value.into()),
            ..HouseholdPatch::default()
        },
    }
}

/// Runs the rounds through two relays (store `blind` or not) and returns
/// what the stored household says at the end, and whether it holds every
/// change each phone made.
fn race(label: &str, blind: bool) -> Option<Outcome> {
    let db = runtime().block_on(TestDatabase::create(label))?;
    let mut a = open(&db);
    let clock = test_clock(3_000_000);
    let mut phones: Vec<Phone> = ["wang", "li"]
        .iter()
        .map(|name| Phone::new(name, Role::Worker, &[COMMUNITY], clock.clone()))
        .collect();
    for phone in &phones {
        enroll(&mut a, phone);
    }
    let home: HouseholdId = household(&mut phones[0], "西坑村三巷5号");
    let mut a = Slowed { inner: a, blind };
    let mut b = Slowed {
        inner: open(&db),
        blind,
    };
    sync_through(&mut phones[0], &mut a);
    sync_through(&mut phones[1], &mut b);

    let start = Arc::new(Barrier::new(2));
    let workers: Vec<_> = phones
        .into_iter()
        .zip([a, b])
        .enumerate()
        .map(|(n, (mut phone, mut relay))| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let mut refused = 0;
                let mut lost = 0;
                for round in 0..ROUNDS {
                    let author = phone.author.clone();
                    let value = format!("{}-{round}", phone.author.user);
                    phone
                        .store
                        .update_household(&author, home, &patch(n, &value))
                        .unwrap();
                    // Both push at once: each relay reads the same version.
                    start.wait();
                    refused += sync_through(&mut phone, &mut relay);
                    start.wait();
                    if !holds(&relay, &phone, home.record()) {
                        lost += 1;
                    }
                    start.wait();
                }
                (phone, relay, refused, lost)
            })
        })
        .collect();
    let done: Vec<(Phone, Slowed, usize, usize)> =
        workers.into_iter().map(|w| w.join().unwrap()).collect();
    let stored = done[0].1.stored(home.record()).unwrap().unwrap();
    let doc = RecordDoc::load(&stored.doc).unwrap();
    let Record::Household(h) = doc.read().unwrap() else {
        panic!("a household");
    };
    let holds_all = done
        .iter()
        .all(|(phone, relay, _, _)| holds(relay, phone, home.record()));
    Some(Outcome {
        fields: vec![h.head_name, h.phone],
        holds_all,
        refused: done.iter().map(|(_, _, r, _)| r).sum(),
        lost: done.iter().map(|(_, _, _, l)| l).sum(),
    })
}

/// Whether `relay` stores every change `phone` holds of record `id`.
fn holds(relay: &Slowed, phone: &Phone, id: RecordId) -> bool {
    let stored = relay.stored(id).unwrap().unwrap();
    let mut merged = RecordDoc::load(&stored.doc).unwrap();
    let before = merged.heads();
    let mut theirs = phone.store.doc(id).unwrap();
    merged.merge(&mut theirs).unwrap();
    merged.heads() == before
}

/// Each phone's last edit, as the stored household should read.
fn expected() -> Vec<String> {
    let last = ROUNDS - 1;
    vec![format!("wang-{last}"), format!("li-{last}")]
}

#[test]
fn concurrent_pushes_through_two_relays_lose_nothing() {
    let Some(outcome) = race("contention", false) else {
        return;
    };
    assert_eq!(outcome.refused, 0, "nothing is refused");
    assert_eq!(outcome.lost, 0, "no round loses a phone's changes");
    assert_eq!(
        outcome.fields,
        expected(),
        "every phone's last edit is stored"
    );
    assert!(
        outcome.holds_all,
        "the stored record holds every phone's changes"
    );
}

#[test]
fn a_store_that_ignores_the_base_loses_acknowledged_work() {
    let Some(outcome) = race("contention_blind", true) else {
        return;
    };
    assert!(
        outcome.lost > 0 || outcome.fields != expected() || !outcome.holds_all,
        "the checker must catch a store that writes over another relay's write"
    );
}
