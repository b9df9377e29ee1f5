//! A sync's pushed records commit together on the relay's SQLite store,
//! and each is still accepted or refused alone: a store that fails midway
//! keeps nothing of the request (nothing of it was acknowledged), the
//! phone keeps its work, and the same sync goes through once the store
//! recovers.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use doorstep_tests::{Phone, Relay, household, relay_peer, test_clock, wish};
use sync_core::sync::{self, RejectCode};
use sync_core::{CommunityPath, NewHousehold, Role, Store};

const XIKENG: &str = "longgang/yuanshan/xikeng";
const HEHUA: &str = "longgang/yuanshan/hehua";

fn stored(store: &Store) -> (i64, i64) {
    let count = store
        .connection()
        .query_row(
            "SELECT count(*) FROM records WHERE seq IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (count, store.feed_seq().unwrap())
}

#[test]
fn a_store_failing_midway_keeps_nothing_of_the_sync_and_the_phone_syncs_again() {
    let clock = test_clock(1_700_000_000_000);
    let mut relay = Relay::new(clock.clone());
    let mut phone = Phone::new("wang", Role::Worker, &[XIKENG], clock);
    let home = household(&mut phone, "西坑村 3 号");
    wish(&mut phone, home, "需要一台轮椅");
    wish(&mut phone, home, "门口的路灯坏了");
    wish(&mut phone, home, "想要一个助听器");
    relay.enroll(&phone);
    // The disk "fails" at the second card: SQLite aborts that write.
    relay
        .store
        .connection()
        .execute_batch(
            "CREATE TRIGGER failing BEFORE INSERT ON wishes WHEN NEW.text LIKE '%路灯%'
             BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;",
        )
        .unwrap();
    let before = stored(&relay.store);
    let policy = phone.policy();
    let scopes = phone.scopes.clone();
    let failed = sync::drive(&mut phone.store, &relay_peer(), &scopes, |request| {
        sync::serve(&mut relay.store, &policy, &request)
    });
    assert!(failed.is_err(), "the sync failed");
    assert_eq!(
        stored(&relay.store),
        before,
        "nothing of the failed sync is stored, not even the household and the card before the failure"
    );
    assert!(
        relay.store.connection().is_autocommit(),
        "no transaction is left open"
    );

    relay
        .store
        .connection()
        .execute_batch("DROP TRIGGER failing")
        .unwrap();
    let report = phone.sync(&mut relay);
    assert_eq!(report.accepted, 4, "{report:?}");
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(stored(&relay.store), (4, 4));
}

#[test]
fn records_refused_in_a_sync_leave_the_rest_of_it_committed() {
    let clock = test_clock(1_700_000_000_000);
    let mut relay = Relay::new(clock.clone());
    let mut phone = Phone::new("wang", Role::Worker, &[XIKENG], clock);
    let home = household(&mut phone, "西坑村 3 号");
    wish(&mut phone, home, "需要一台轮椅");
    // A household filed under a community the worker may not write, in
    // the middle of the push.
    let author = phone.author.clone();
    let stray = phone
        .store
        .create_household(
            &author,
            &CommunityPath::new(HEHUA).unwrap(),
            &NewHousehold::default(),
        )
        .unwrap();
    let after = household(&mut phone, "西坑村 4 号");
    let report = phone.sync(&mut relay);
    assert_eq!(report.accepted, 3, "{report:?}");
    let refused: Vec<_> = report.rejected.iter().map(|r| (r.id, r.code)).collect();
    assert_eq!(refused, [(stray.record(), RejectCode::Scope)]);
    assert_eq!(stored(&relay.store), (3, 3), "what was accepted is stored");
    assert!(relay.store.record(after.record()).is_ok());
    assert!(relay.store.record(stray.record()).is_err());
}
