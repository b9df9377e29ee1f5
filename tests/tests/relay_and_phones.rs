//! A relay and several phones in one process, talking through the engine's
//! encoded messages: offline edits, a lost response, a duplicated request, a
//! relay restart, and records refused for scope and for role.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use doorstep_tests::{Phone, Relay, card, household, relay_peer, test_clock, wish};
use sync_core::doc::EventInput;
use sync_core::model::{HouseholdPatch, VulnerabilityTag};
use sync_core::store::{Clock, WishFilter};
use sync_core::sync::{Message, RejectCode};
use sync_core::{CommunityPath, EventKind, NewHousehold, Record, Role, Status, Store};

const XIKENG: &str = "longgang/yuanshan/xikeng";
const HEHUA: &str = "longgang/yuanshan/hehua";

fn texts(store: &Store) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = store
        .list_wishes(&WishFilter {
            limit: Some(500),
            ..WishFilter::default()
        })
        .expect("list")
        .items
        .into_iter()
        .map(|w| (w.id, w.status, w.text))
        .collect();
    rows.sort();
    rows
}

struct World {
    clock: Clock,
    relay: Relay,
    a: Phone,
    b: Phone,
    c: Phone,
    sup: Phone,
}

fn world() -> World {
    let clock = test_clock(1_760_000_000_000);
    World {
        relay: Relay::new(clock.clone()),
        a: Phone::new("wang", Role::Worker, &[XIKENG], clock.clone()),
        b: Phone::new("zhao", Role::Worker, &[XIKENG], clock.clone()),
        c: Phone::new("sun", Role::Worker, &[HEHUA], clock.clone()),
        sup: Phone::new(
            "chen",
            Role::Supervisor,
            &["longgang/yuanshan"],
            clock.clone(),
        ),
        clock,
    }
}

#[test]
fn offline_work_converges_and_stays_in_its_community() {
    let World {
        mut relay,
        mut a,
        mut b,
        mut c,
        mut sup,
        ..
    } = world();

    // Both workers of xikeng and the one of hehua work offline.
    let home = household(&mut a, "西坑村三巷5号");
    let w1 = wish(&mut a, home, "给李大爷一台轮椅");
    let home_b = household(&mut b, "西坑村一巷2号");
    let w2 = wish(&mut b, home_b, "修好三巷的路灯");
    let home_c = household(&mut c, "荷花社区8栋");
    let w3 = wish(&mut c, home_c, "孩子需要书桌");

    for phone in [&mut a, &mut b, &mut c] {
        let report = phone.sync(&mut relay);
        assert_eq!(report.rejected, vec![], "nothing is refused");
        assert_eq!(phone.store.pending_changes(&relay_peer()).unwrap(), 0);
    }
    sup.sync(&mut relay);
    let sup_author = sup.author.clone();
    sup.store
        .append_event(&sup_author, w1, &EventInput::new(EventKind::Approve))
        .unwrap();
    sup.sync(&mut relay);
    a.sync(&mut relay);
    b.sync(&mut relay);
    c.sync(&mut relay);

    assert_eq!(
        card(&b.store, w1).state.status,
        Status::Approved,
        "b sees a's card and the approval"
    );
    assert_eq!(card(&a.store, w2).text, "修好三巷的路灯", "a sees b's card");
    assert_eq!(
        texts(&a.store),
        texts(&b.store),
        "the two xikeng phones agree"
    );
    assert!(
        c.store.record(w1.record()).is_err(),
        "hehua never sees xikeng's cards"
    );
    assert_eq!(texts(&c.store).len(), 1);
    assert_eq!(card(&c.store, w3).state.status, Status::Submitted);
    assert_eq!(
        texts(&sup.store).len(),
        3,
        "the street supervisor sees all three"
    );
}

#[test]
fn concurrent_household_edits_both_survive() {
    let World {
        mut relay,
        mut a,
        mut b,
        ..
    } = world();
    let home = household(&mut a, "西坑村三巷5号");
    a.sync(&mut relay);
    b.sync(&mut relay);

    let (author_a, author_b) = (a.author.clone(), b.author.clone());
    a.store
        .update_household(
            &author_a,
            home,
            &HouseholdPatch {
                phone: Some("13800000000".into()),
                add_tags: vec![VulnerabilityTag::Disability],
                ..Default::default()
            },
        )
        .unwrap();
    b.store
        .update_household(
            &author_b,
            home,
            &HouseholdPatch {
                notes: Some("女儿在深圳工作，每月回来一次".into()),
                remove_tags: vec![VulnerabilityTag::LivingAlone],
                ..Default::default()
            },
        )
        .unwrap();
    a.sync(&mut relay);
    b.sync(&mut relay);
    a.sync(&mut relay);

    for phone in [&a, &b] {
        let Record::Household(h) = phone.store.record(home.record()).unwrap() else {
            panic!("household expected")
        };
        assert_eq!(h.phone, "13800000000");
        assert_eq!(h.notes, "女儿在深圳工作，每月回来一次");
        assert_eq!(h.tags, [VulnerabilityTag::Disability].into());
    }
    let history = a.store.history(home.record()).unwrap();
    let by_b = history
        .iter()
        .find(|e| {
            e.fields.iter().any(|f| {
                f.field == "notes" && f.to.as_deref() == Some("女儿在深圳工作，每月回来一次")
            })
        })
        .expect("history records b's edit");
    assert_eq!(by_b.user.as_ref().map(|u| u.as_str()), Some("zhao"));
    assert_eq!(by_b.device, Some(b.device()));
}

#[test]
fn a_lost_response_and_a_duplicated_request_lose_nothing_and_apply_nothing_twice() {
    let World {
        mut relay,
        mut a,
        mut b,
        ..
    } = world();
    let home = household(&mut a, "西坑村三巷5号");
    let w1 = wish(&mut a, home, "给李大爷一台轮椅");

    // The relay applies the push, but the response never reaches the phone.
    let (request, _lost) = a.store.begin_sync(&relay_peer(), &a.scopes).unwrap();
    let bytes = Message::Request(request).encode().unwrap();
    relay.serve(&a, bytes.clone());
    let seq_after_first = relay.store.feed_seq().unwrap();
    assert_eq!(seq_after_first, 2, "household and wish stored once each");

    // The same request arrives again (a retry by the HTTP client).
    let duplicate = relay.serve(&a, bytes);
    assert_eq!(
        relay.store.feed_seq().unwrap(),
        seq_after_first,
        "a duplicate writes nothing"
    );
    let Message::Response(duplicate) = Message::decode(&duplicate).unwrap() else {
        panic!("response expected")
    };
    assert_eq!(duplicate.accepted.len(), 2, "the duplicate is acknowledged");

    // Meanwhile the worker keeps typing; the next sync finishes the job.
    let author = a.author.clone();
    a.store
        .update_wish(
            &author,
            w1,
            &sync_core::model::WishPatch {
                text: Some("给李大爷一台轻便轮椅".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let report = a.sync(&mut relay);
    assert!(report.rejected.is_empty());
    assert_eq!(a.store.pending_changes(&relay_peer()).unwrap(), 0);
    assert_eq!(relay.store.feed_seq().unwrap(), 3, "only the edit is new");

    b.sync(&mut relay);
    assert_eq!(card(&b.store, w1).text, "给李大爷一台轻便轮椅");
    assert_eq!(texts(&a.store), texts(&b.store));
    assert_eq!(texts(&relay.store).len(), 1, "no duplicate card");
}

#[test]
fn a_relay_restarted_mid_sync_keeps_what_it_acknowledged() {
    let clock = test_clock(1_760_000_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.sqlite");
    let mut relay = Relay {
        store: Store::open(&path).unwrap().with_clock(clock.clone()),
    };
    let mut a = Phone::new("wang", Role::Worker, &[XIKENG], clock.clone());
    let mut b = Phone::new("zhao", Role::Worker, &[XIKENG], clock.clone());
    let home = household(&mut a, "西坑村三巷5号");
    let w1 = wish(&mut a, home, "给李大爷一台轮椅");
    let (request, _lost) = a.store.begin_sync(&relay_peer(), &a.scopes).unwrap();
    relay.serve(&a, Message::Request(request).encode().unwrap());

    // The relay process dies before answering, and starts again.
    drop(relay);
    let mut relay = Relay {
        store: Store::open(&path).unwrap().with_clock(clock.clone()),
    };
    assert_eq!(texts(&relay.store).len(), 1, "what was committed survived");
    a.sync(&mut relay);
    b.sync(&mut relay);
    assert_eq!(card(&b.store, w1).text, "给李大爷一台轮椅");
    assert_eq!(relay.store.feed_seq().unwrap(), 2, "nothing applied twice");
}

#[test]
fn records_refused_for_scope_and_role_stay_on_the_phone_and_go_nowhere_else() {
    let World {
        clock,
        mut relay,
        mut a,
        mut b,
        ..
    } = world();
    let home = household(&mut a, "西坑村三巷5号");
    let w1 = wish(&mut a, home, "给李大爷一台轮椅");
    a.sync(&mut relay);

    // A household filed under a community the worker may not write.
    let outside = CommunityPath::new(HEHUA).unwrap();
    let author = a.author.clone();
    let stray = a
        .store
        .create_household(
            &author,
            &outside,
            &NewHousehold {
                address: "荷花社区8栋".into(),
                ..Default::default()
            },
        )
        .unwrap();
    // A tampered app that claims the supervisor role to approve its own card.
    let mut forged = a.author.clone();
    forged.role = Role::Supervisor;
    a.store
        .append_event(&forged, w1, &EventInput::new(EventKind::Approve))
        .unwrap();
    // And an honest edit that must still go through.
    let good = household(&mut a, "西坑村四巷1号");

    let report = a.sync(&mut relay);
    let codes: Vec<_> = {
        let mut c: Vec<_> = report.rejected.iter().map(|r| (r.id, r.code)).collect();
        c.sort();
        c
    };
    let mut expected = vec![
        (stray.record(), RejectCode::Scope),
        (w1.record(), RejectCode::Role),
    ];
    expected.sort();
    assert_eq!(codes, expected);
    assert!(
        report.rejected.iter().all(|r| !r.reason.is_empty()),
        "each refusal says why"
    );

    // The rest of the sync went through.
    b.sync(&mut relay);
    assert!(b.store.record(good.record()).is_ok());
    assert_eq!(
        card(&b.store, w1).state.status,
        Status::Submitted,
        "the forged approval reached nobody"
    );
    assert!(b.store.record(stray.record()).is_err());
    assert!(
        relay.store.record(stray.record()).is_err(),
        "nothing refused is stored"
    );

    // The worker still sees both refused edits, flagged, and they are not resent.
    let flagged = a.store.rejections(&relay_peer()).unwrap();
    assert_eq!(flagged.len(), 2);
    assert!(a.store.record(stray.record()).is_ok());
    assert_eq!(card(&a.store, w1).state.status, Status::Approved);
    let again = a.sync(&mut relay);
    assert_eq!(
        again.sent, 0,
        "refused edits are not sent again by themselves"
    );
    assert_eq!(a.store.pending_changes(&relay_peer()).unwrap(), 0);

    // Retrying without fixing anything is refused again, and still kept.
    a.store
        .retry_rejected(&relay_peer(), stray.record())
        .unwrap();
    let retried = a.sync(&mut relay);
    assert_eq!(retried.sent, 1);
    assert_eq!(retried.rejected.len(), 1);
    assert_eq!(a.store.rejections(&relay_peer()).unwrap().len(), 2);

    // Later changes to the card by others still reach the worker.
    let mut sup = Phone::new("chen", Role::Supervisor, &["longgang"], clock);
    sup.sync(&mut relay);
    let sup_author = sup.author.clone();
    sup.store
        .append_event(
            &sup_author,
            w1,
            &EventInput::new(EventKind::RequestInfo).with_note("请补充照片"),
        )
        .unwrap();
    sup.sync(&mut relay);
    a.sync(&mut relay);
    let seen = card(&a.store, w1);
    assert!(seen.events.iter().any(|e| e.kind == EventKind::RequestInfo));
    assert!(
        seen.events.iter().any(|e| e.kind == EventKind::Approve),
        "the refused event is still kept locally"
    );
}

#[test]
fn a_phone_that_misses_a_base_fetches_the_whole_record() {
    let World {
        mut relay,
        mut a,
        mut b,
        ..
    } = world();
    let home = household(&mut a, "西坑村三巷5号");
    a.sync(&mut relay);
    b.sync(&mut relay);
    // b loses its database and is restored from an old copy without the household,
    // but keeps its cursor: the relay's incremental update cannot apply.
    b.store
        .connection()
        .execute("DELETE FROM records WHERE id = ?1", [home.to_string()])
        .unwrap();
    let author = a.author.clone();
    a.store
        .update_household(
            &author,
            home,
            &HouseholdPatch {
                members: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
    a.sync(&mut relay);
    b.sync(&mut relay);
    b.sync(&mut relay);
    let Record::Household(h) = b.store.record(home.record()).unwrap() else {
        panic!("household expected")
    };
    assert_eq!(h.members, 2);
}

#[test]
fn phones_sync_directly_then_both_with_the_relay_without_duplicates() {
    let World {
        mut relay,
        mut a,
        mut b,
        ..
    } = world();
    let home = household(&mut a, "西坑村三巷5号");
    let w1 = wish(&mut a, home, "给李大爷一台轮椅");
    let home_b = household(&mut b, "西坑村一巷2号");
    let w2 = wish(&mut b, home_b, "帮忙修理漏水的屋顶");

    a.meet(&mut b);
    assert_eq!(
        texts(&a.store),
        texts(&b.store),
        "phones agree without a relay"
    );
    assert_eq!(card(&b.store, w1).text, "给李大爷一台轮椅");

    b.sync(&mut relay);
    a.sync(&mut relay);
    b.sync(&mut relay);
    assert_eq!(texts(&relay.store).len(), 2, "no duplicates on the relay");
    assert_eq!(relay.store.households(&[], None, 100, 0).unwrap().total, 2);
    assert_eq!(texts(&a.store), texts(&relay.store));
    assert_eq!(texts(&b.store), texts(&relay.store));
    assert_eq!(card(&relay.store, w2).state.status, Status::Submitted);
    assert_eq!(a.store.pending_changes(&relay_peer()).unwrap(), 0);
    assert_eq!(b.store.pending_changes(&relay_peer()).unwrap(), 0);
    assert!(b.store.rejections(&relay_peer()).unwrap().is_empty());
}

#[test]
fn a_first_sync_in_several_pages_brings_every_record_even_ones_changed_meanwhile() {
    let World {
        clock,
        mut relay,
        mut a,
        ..
    } = world();
    // Enough data for several pull pages (2 MB of records each).
    let community = a.community();
    let author = a.author.clone();
    let mut homes = Vec::new();
    for i in 0..600u32 {
        let notes: String = (0..1500u32)
            .map(|j| char::from_u32(0x4E00 + (i * 7919 + j * 104_729) % 20_000).unwrap())
            .collect();
        let id = a
            .store
            .create_household(
                &author,
                &community,
                &NewHousehold {
                    address: format!("{i}号"),
                    notes,
                    ..Default::default()
                },
            )
            .unwrap();
        homes.push(id);
    }
    a.sync(&mut relay);
    // The first record changes after it was first written: it now sits late
    // in the feed, with an older version early in the feed.
    a.store
        .update_household(
            &author,
            homes[0],
            &HouseholdPatch {
                members: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
    a.sync(&mut relay);

    let mut fresh = Phone::new("zhao", Role::Worker, &[XIKENG], clock);
    let report = fresh.sync(&mut relay);
    assert!(report.received >= 600, "{report:?}");
    assert!(report.skipped.is_empty());
    assert_eq!(
        fresh.store.households(&[], None, 1, 0).unwrap().total,
        600,
        "one sync brings everything"
    );
    let Record::Household(first) = fresh.store.record(homes[0].record()).unwrap() else {
        panic!("household expected")
    };
    assert_eq!(first.members, 3);
    assert_eq!(
        fresh.sync(&mut relay).received,
        0,
        "nothing was left behind"
    );
}
