//! A relay that goes back in time, in one process: a phone that holds a
//! position the relay's feed does not reach proves it (its cursor carries
//! the relay's own tag), the relay starts a new epoch, and every phone
//! reconciles; a made-up position resets only the phone that sent it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use doorstep_tests::{Phone, Relay, card, heads, household, relay_peer, test_clock, wish};
use sync_core::model::WishPatch;
use sync_core::sync::{self, Message, SyncRequest};
use sync_core::{Role, Store};

const XIKENG: &str = "longgang/yuanshan/xikeng";

#[test]
fn a_phone_proves_the_relay_went_back_and_every_phone_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let (live, copy) = (
        dir.path().join("relay.sqlite"),
        dir.path().join("copy.sqlite"),
    );
    let clock = test_clock(1_767_225_600_000);
    let mut relay = Relay {
        store: Store::open(&live).unwrap().with_clock(clock.clone()),
    };
    let mut wang = Phone::new("wang", Role::Worker, &[XIKENG], clock.clone());
    let mut li = Phone::new("li", Role::Worker, &[XIKENG], clock.clone());
    let home = household(&mut wang, "西坑村三巷5号");
    let first = wish(&mut wang, home, "给李大爷一台轮椅");
    wang.sync(&mut relay);
    li.sync(&mut relay);
    // A copy of the relay, taken by other means than `doorstep backup`.
    relay
        .store
        .connection()
        .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    let epoch = relay.store.feed_epoch().unwrap();

    // Work after the copy: only wang has it; li has not synced since.
    let later = wish(&mut wang, home, "修好三巷的路灯");
    let author = wang.author.clone();
    wang.store
        .update_wish(
            &author,
            first,
            &WishPatch {
                text: Some("给李大爷一台轻便轮椅".into()),
                ..WishPatch::default()
            },
        )
        .unwrap();
    wang.sync(&mut relay);
    let before = heads(&relay.store);

    // The relay comes back from the copy, and nobody told it.
    drop(relay);
    let mut relay = Relay {
        store: Store::open(&copy).unwrap().with_clock(clock.clone()),
    };
    assert_eq!(relay.store.feed_epoch().unwrap(), epoch);
    // li, with nothing new, syncs first: her cursor is inside the old feed,
    // so nothing shows yet. Then wang's cursor is past the end.
    li.sync(&mut relay);
    let report = wang.sync(&mut relay);
    assert!(report.reconciled, "{report:?}");
    assert_ne!(relay.store.feed_epoch().unwrap(), epoch, "a new epoch");
    let li_report = li.sync(&mut relay);
    assert!(li_report.reconciled, "the new epoch reaches every phone");

    let after = heads(&relay.store);
    for id in before.keys() {
        assert!(after.contains_key(id), "{id} is back on the relay");
    }
    assert_eq!(heads(&wang.store), after);
    assert_eq!(heads(&li.store), after);
    assert_eq!(card(&relay.store, first).text, "给李大爷一台轻便轮椅");
    assert_eq!(card(&li.store, later).text, "修好三巷的路灯");
    assert_eq!(wang.store.pending_changes(&relay_peer()).unwrap(), 0);
}

#[test]
fn a_made_up_position_resets_only_the_phone_that_sent_it() {
    let clock = test_clock(1_767_225_600_000);
    let mut relay = Relay::new(clock.clone());
    let mut wang = Phone::new("wang", Role::Worker, &[XIKENG], clock.clone());
    let home = household(&mut wang, "西坑村三巷5号");
    wish(&mut wang, home, "给李大爷一台轮椅");
    wang.sync(&mut relay);
    let epoch = relay.store.feed_epoch().unwrap();
    let request = SyncRequest {
        from: wang.device(),
        epoch: Some(epoch),
        cursor: 1_000_000,
        cursor_tag: 12_345,
        ..SyncRequest::default()
    };
    let answer = sync::serve(
        &mut relay.store,
        &wang.policy(),
        &Message::Request(request).encode().unwrap(),
    )
    .unwrap();
    let Message::Response(response) = Message::decode(&answer).unwrap() else {
        panic!("a response")
    };
    assert!(response.reset, "that phone starts over");
    assert_eq!(response.epoch, epoch);
    assert_eq!(relay.store.feed_epoch().unwrap(), epoch, "nobody else does");
    // A real sync from the same phone still works, and reconciles nothing away.
    let report = wang.sync(&mut relay);
    assert!(report.rejected.is_empty());
    assert_eq!(heads(&wang.store), heads(&relay.store));
}
