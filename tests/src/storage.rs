//! The sync engine's storage contract: what any [`SyncStorage`] must do for
//! the engine over it to behave as it does over SQLite. The SQLite store
//! runs it (`tests/tests/storage_contract.rs`); so must every other store
//! the relay can use, PostgreSQL among them, with the same checks.
//!
//! Each check takes a fresh, empty store from the caller and panics, naming
//! what broke, when the store does not keep the contract.

#![allow(clippy::unwrap_used)] // a check that cannot unwrap has failed

use sync_core::keys::SigSet;
use sync_core::model::{HouseholdPatch, RecordKind};
use sync_core::sync::storage::{Correction, RecordWrite, SyncStorage};
use sync_core::sync::{self, ClockReading};
use sync_core::workflow::Status;
use sync_core::{RecordId, Role, ScopePath, Store, UserId};

use super::{Phone, household, relay_peer, test_clock, wish};

/// A store under test: the engine's storage, and a way to register a phone
/// the way a login does (which is the relay's business, not the engine's).
pub trait Subject {
    /// The store as the engine uses it.
    fn storage(&mut self) -> &mut dyn SyncStorage;

    /// Registers the phone's user (role, scopes) and device with its key.
    fn enroll(&mut self, phone: &Phone);
}

impl Subject for Store {
    fn storage(&mut self) -> &mut dyn SyncStorage {
        self
    }

    fn enroll(&mut self, phone: &Phone) {
        let now = self.now();
        let registration = sync_core::store::Registration {
            device: phone.device(),
            user: &phone.author.user,
            name: "contract phone",
            kind: "phone",
            key: Some(phone.key),
        };
        Store::enroll(
            self,
            &phone.author.user,
            phone.author.role,
            &phone.scopes,
            &registration,
            now,
        )
        .expect("enroll the phone");
    }
}

/// Runs every check, each on a store from `fresh`.
pub fn check(fresh: &mut dyn FnMut() -> Box<dyn Subject>) {
    written_records_read_back_and_move_along_the_feed(&mut *fresh());
    the_feed_is_filtered_by_scope(&mut *fresh());
    read_facts_give_kind_status_and_holder(&mut *fresh());
    clock_readings_are_kept_for_registered_devices(&mut *fresh());
    a_new_epoch_keeps_the_records(&mut *fresh());
    the_engine_over_it_brings_two_phones_to_the_same_records(&mut *fresh());
    a_write_from_a_stale_version_is_refused(&mut *fresh());
}

const XIKENG: &str = "longgang/yuanshan/xikeng";
const DONGKENG: &str = "longgang/yuanshan/dongkeng";

fn worker(name: &str, scope: &str) -> Phone {
    Phone::new(name, Role::Worker, &[scope], test_clock(1_000_000))
}

/// Stores `id` as the phone's copy of it reads, as the engine would: made
/// from the version stored now.
fn put_from(storage: &mut dyn SyncStorage, phone: &Phone, id: RecordId) {
    let base = storage.stored(id).unwrap().map(|s| s.heads);
    try_put_from(storage, phone, id, base.as_deref()).expect("put_record");
}

/// Stores `id` as the phone's copy of it reads, saying it was made from
/// the stored version with heads `base`.
fn try_put_from(
    storage: &mut dyn SyncStorage,
    phone: &Phone,
    id: RecordId,
    base: Option<&[u8]>,
) -> sync_core::Result<()> {
    let doc = phone.store.doc(id).expect("the phone's document");
    let record = doc.read().expect("a readable record");
    let corrections: Vec<Correction> = Vec::new();
    let now = storage.now();
    storage.put_record(&RecordWrite {
        record: &record,
        doc: &doc.save(),
        heads: &doc.heads(),
        sigs: &SigSet::default(),
        base,
        corrections: &corrections,
        now,
    })
}

/// A write made from a version that is no longer the stored one (another
/// relay stored the record in between) is refused, and changes nothing:
/// storing it would drop the other writer's changes.
fn a_write_from_a_stale_version_is_refused(subject: &mut dyn Subject) {
    let mut phone = worker("wang", XIKENG);
    let home = household(&mut phone, "西坑村三巷5号");
    let storage = subject.storage();
    put_from(storage, &phone, home.record());
    let first = storage.stored(home.record()).unwrap().unwrap().heads;
    let author = phone.author.clone();
    let move_to = |phone: &mut Phone, address: &str| {
        phone
            .store
            .update_household(
                &author,
                home,
                &HouseholdPatch {
                    address: Some(address.into()),
                    ..HouseholdPatch::default()
                },
            )
            .unwrap();
    };
    move_to(&mut phone, "西坑村三巷7号");
    put_from(storage, &phone, home.record());
    let second = storage.stored(home.record()).unwrap().unwrap();
    let seq = storage.feed_seq().unwrap();

    move_to(&mut phone, "西坑村三巷9号");
    for stale in [Some(first.as_slice()), None] {
        let refused = try_put_from(storage, &phone, home.record(), stale);
        assert!(
            matches!(refused, Err(sync_core::Error::Contended(id)) if id == home.record()),
            "a write from {stale:?} over a newer version: {refused:?}"
        );
        let now = storage.stored(home.record()).unwrap().unwrap();
        assert_eq!(now.heads, second.heads, "a refused write changes nothing");
        assert_eq!(storage.feed_seq().unwrap(), seq, "nor moves the feed");
    }
    try_put_from(storage, &phone, home.record(), Some(&second.heads))
        .expect("a write from the stored version");
}

fn heads_of(phone: &Phone, id: RecordId) -> Vec<u8> {
    sync_core::doc::heads_to_bytes(&phone.store.doc(id).expect("document").heads())
}

fn written_records_read_back_and_move_along_the_feed(subject: &mut dyn Subject) {
    let mut phone = worker("wang", XIKENG);
    let home = household(&mut phone, "西坑村三巷5号");
    let card = wish(&mut phone, home, "一台轮椅");
    let storage = subject.storage();
    assert_eq!(
        storage.feed_seq().unwrap(),
        0,
        "an empty store's feed is at 0"
    );
    put_from(storage, &phone, home.record());
    put_from(storage, &phone, card.record());
    assert_eq!(storage.feed_seq().unwrap(), 2, "one position per write");
    let stored = storage.stored(home.record()).unwrap().expect("stored");
    assert_eq!(
        stored.heads,
        heads_of(&phone, home.record()),
        "heads read back"
    );
    assert_eq!(stored.kind, RecordKind::Household);
    assert_eq!(stored.community, XIKENG);
    assert!(storage.stored(RecordId::random()).unwrap().is_none());
    let first_heads = stored.heads.clone();

    let author = phone.author.clone();
    phone
        .store
        .update_household(
            &author,
            home,
            &HouseholdPatch {
                address: Some("西坑村三巷7号".into()),
                ..HouseholdPatch::default()
            },
        )
        .unwrap();
    put_from(storage, &phone, home.record());
    assert_eq!(storage.feed_seq().unwrap(), 3);

    let view = storage.pull_view().unwrap();
    assert_eq!(view.feed_seq().unwrap(), 3);
    let feed: Vec<(RecordId, i64)> = view
        .feed_after(0, None, 100)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.seq))
        .collect();
    assert_eq!(
        feed,
        [(card.record(), 2), (home.record(), 3)],
        "a rewritten record moves to the feed's end, and is there once"
    );
    assert_eq!(
        view.feed_after(2, None, 100).unwrap().len(),
        1,
        "after a cursor"
    );
    assert_eq!(
        view.feed_after(0, None, 1).unwrap().len(),
        1,
        "a page's limit"
    );
    assert_eq!(
        view.heads_at(home.record(), 1).unwrap(),
        Some(first_heads),
        "the version at an older position"
    );
    assert_eq!(
        view.heads_at(home.record(), 3).unwrap(),
        Some(heads_of(&phone, home.record()))
    );
    assert_eq!(
        view.heads_at(card.record(), 1).unwrap(),
        None,
        "not yet written then"
    );
    let heads: Vec<i64> = view
        .feed_heads(0, None, 100)
        .unwrap()
        .iter()
        .map(|h| h.seq)
        .collect();
    assert_eq!(heads, [2, 3], "feed_heads in feed order");
    view.finish().unwrap();
}

fn the_feed_is_filtered_by_scope(subject: &mut dyn Subject) {
    let mut west = worker("wang", XIKENG);
    let mut east = worker("li", DONGKENG);
    let here = household(&mut west, "西坑村一巷1号");
    let there = household(&mut east, "东坑村二巷2号");
    let storage = subject.storage();
    put_from(storage, &west, here.record());
    put_from(storage, &east, there.record());
    let xikeng = [ScopePath::new(XIKENG).unwrap()];
    let street = [ScopePath::new("longgang/yuanshan").unwrap()];
    let view = storage.pull_view().unwrap();
    let ids = |scopes: Option<&[ScopePath]>| -> Vec<RecordId> {
        view.feed_after(0, scopes, 100)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(
        ids(Some(&xikeng)),
        [here.record()],
        "only the reader's community"
    );
    assert_eq!(
        ids(Some(&street)).len(),
        2,
        "a street holds its communities"
    );
    assert_eq!(ids(Some(&[])), Vec::<RecordId>::new(), "no scope, nothing");
    assert_eq!(ids(None).len(), 2, "no filter, everything");
    assert_eq!(view.feed_heads(0, Some(&xikeng), 100).unwrap().len(), 1);
    view.finish().unwrap();
}

fn read_facts_give_kind_status_and_holder(subject: &mut dyn Subject) {
    let mut phone = worker("wang", XIKENG);
    let home = household(&mut phone, "西坑村三巷5号");
    // The helper's card is submitted.
    let card = wish(&mut phone, home, "一台轮椅");
    let storage = subject.storage();
    put_from(storage, &phone, home.record());
    put_from(storage, &phone, card.record());
    let view = storage.pull_view().unwrap();
    let someone = UserId::new("hu").unwrap();
    let facts = view
        .read_facts(card.record(), &someone, None)
        .unwrap()
        .expect("the card's facts");
    assert_eq!(facts.kind, RecordKind::Wish);
    assert_eq!(facts.status, Some(Status::Submitted));
    assert_eq!((facts.holder_user, facts.holder_unit), (None, None));
    assert!(!facts.took_part);
    let facts = view
        .read_facts(home.record(), &someone, None)
        .unwrap()
        .expect("the household's facts");
    assert_eq!((facts.kind, facts.status), (RecordKind::Household, None));
    assert!(
        view.read_facts(RecordId::random(), &someone, None)
            .unwrap()
            .is_none()
    );
    view.finish().unwrap();
}

fn clock_readings_are_kept_for_registered_devices(subject: &mut dyn Subject) {
    let phone = worker("wang", XIKENG);
    subject.enroll(&phone);
    let storage = subject.storage();
    let now = storage.now();
    let reading = ClockReading {
        now_ms: now + 3_600_000,
        skew_ms: 0,
    };
    storage.record_clock(phone.device(), reading, now).unwrap();
    assert_eq!(
        storage.clock_offset(phone.device()).unwrap(),
        Some(3_600_000)
    );
    let stranger = worker("li", XIKENG);
    storage
        .record_clock(stranger.device(), reading, now)
        .unwrap();
    assert_eq!(
        storage.clock_offset(stranger.device()).unwrap(),
        None,
        "an unregistered device is ignored"
    );
}

fn a_new_epoch_keeps_the_records(subject: &mut dyn Subject) {
    let mut phone = worker("wang", XIKENG);
    let home = household(&mut phone, "西坑村三巷5号");
    let storage = subject.storage();
    put_from(storage, &phone, home.record());
    let before = storage.feed().unwrap();
    assert_eq!(
        storage.feed().unwrap().epoch(),
        before.epoch(),
        "the epoch stays"
    );
    assert_eq!(
        storage.feed().unwrap().tag(7),
        before.tag(7),
        "and so do its tags"
    );
    storage.new_feed_epoch().unwrap();
    let after = storage.feed().unwrap();
    assert_ne!(after.epoch(), before.epoch(), "a new epoch");
    assert!(
        storage.stored(home.record()).unwrap().is_some(),
        "records stay"
    );
    assert_eq!(storage.feed_seq().unwrap(), 1);
}

fn the_engine_over_it_brings_two_phones_to_the_same_records(subject: &mut dyn Subject) {
    let clock = test_clock(2_000_000);
    let mut wang = Phone::new("wang", Role::Worker, &[XIKENG], clock.clone());
    let mut li = Phone::new("li", Role::Worker, &[XIKENG], clock);
    subject.enroll(&wang);
    subject.enroll(&li);
    let home = household(&mut wang, "西坑村三巷5号");
    let card = wish(&mut wang, home, "一台轮椅");
    let sync_phone = |phone: &mut Phone, subject: &mut dyn Subject| {
        let policy = phone.policy();
        let scopes = phone.scopes.clone();
        sync::drive(&mut phone.store, &relay_peer(), &scopes, |request| {
            sync::serve(subject.storage(), &policy, &request)
        })
        .expect("a sync through the engine over the store")
    };
    let pushed = sync_phone(&mut wang, subject);
    assert_eq!(pushed.accepted, 2, "{pushed:?}");
    let pulled = sync_phone(&mut li, subject);
    assert_eq!(pulled.received, 2, "{pulled:?}");
    for id in [home.record(), card.record()] {
        assert_eq!(
            heads_of(&li, id),
            heads_of(&wang, id),
            "the same record on both"
        );
    }
    let author = li.author.clone();
    li.store
        .update_household(
            &author,
            home,
            &HouseholdPatch {
                head_name: Some("李秀英".into()),
                ..HouseholdPatch::default()
            },
        )
        .unwrap();
    sync_phone(&mut li, subject);
    let back = sync_phone(&mut wang, subject);
    assert_eq!(back.received, 1, "{back:?}");
    assert_eq!(heads_of(&wang, home.record()), heads_of(&li, home.record()));
    let again = sync_phone(&mut wang, subject);
    assert_eq!(
        (again.sent, again.received),
        (0, 0),
        "nothing changed: {again:?}"
    );

    let storage = subject.storage();
    let view = storage.pull_view().unwrap();
    let seqs: Vec<i64> = view
        .feed_after(0, None, 100)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "feed order: {seqs:?}");
    assert_eq!(seqs.last().copied(), Some(view.feed_seq().unwrap()));
    view.finish().unwrap();
}
