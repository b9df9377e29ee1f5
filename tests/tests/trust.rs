//! Changes that certify themselves, with a relay and phones in one process:
//! a phone carries a colleague's work to the relay under the colleague's
//! name; forged changes are refused one record at a time and change nothing
//! else; a retired device's earlier work arrives and its later work does
//! not; a lost device's work is held back.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use automerge::ROOT;
use automerge::transaction::Transactable;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use doorstep_tests::{Phone, Relay, card, household, tamper, wish};
use sync_core::keys::DeviceKey;
use sync_core::model::WishPatch;
use sync_core::store::{Clock, RevokeKind};
use sync_core::sync::{self, Message, RejectCode, SyncResponse};
use sync_core::{NewVisit, RecordId, Role, Status};

const XIKENG: &str = "longgang/yuanshan/xikeng";

struct World {
    clock: Clock,
    /// The time every store reads (each reading steps it by 1 ms).
    now: Arc<AtomicI64>,
    relay: Relay,
    wang: Phone,
    li: Phone,
}

/// A relay and two workers of one community, both synced once.
fn world() -> World {
    let now = Arc::new(AtomicI64::new(1_767_225_600_000)); // 2026-01-01
    let clock: Clock = {
        let now = now.clone();
        Arc::new(move || now.fetch_add(1, Ordering::SeqCst))
    };
    let mut relay = Relay::new(clock.clone());
    let mut wang = Phone::new("wang", Role::Worker, &[XIKENG], clock.clone());
    let mut li = Phone::new("li", Role::Worker, &[XIKENG], clock.clone());
    wang.sync(&mut relay);
    li.sync(&mut relay);
    World {
        clock,
        now,
        relay,
        wang,
        li,
    }
}

/// A stored record: id, feed position, document, heads, signatures.
type Row = (String, i64, Vec<u8>, Vec<u8>, Vec<u8>);

/// Every record row of the relay: what a before/after comparison looks at.
fn rows(relay: &Relay) -> Vec<Row> {
    let mut stmt = relay
        .store
        .connection()
        .prepare("SELECT id, seq, doc, heads, sigs FROM records ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// One sync round from `phone`, with its request changed by `change` first.
fn push_altered(
    relay: &mut Relay,
    phone: &mut Phone,
    change: impl FnOnce(&mut sync::SyncRequest),
) -> SyncResponse {
    relay.enroll(phone);
    let (mut request, _) = phone
        .store
        .begin_sync(&doorstep_tests::relay_peer(), &phone.scopes.clone())
        .unwrap();
    change(&mut request);
    let answer = relay.serve(phone, Message::Request(request).encode().unwrap());
    let Message::Response(response) = Message::decode(&answer).unwrap() else {
        panic!("a response")
    };
    response
}

fn refusal(response: &SyncResponse, id: RecordId) -> Option<RejectCode> {
    response
        .rejected
        .iter()
        .find(|r| r.id == id)
        .map(|r| r.code)
}

#[test]
fn work_carried_phone_to_phone_reaches_the_relay_under_its_authors_name() {
    let World {
        clock,
        mut relay,
        mut wang,
        mut li,
        ..
    } = world();
    // Offline in the village, wang records a wish and edits it.
    let home = household(&mut wang, "西坑村三巷5号");
    let id = wish(&mut wang, home, "给李大爷一台轮椅");
    let author = wang.author.clone();
    wang.store
        .update_wish(
            &author,
            id,
            &WishPatch {
                text: Some("给李大爷一台轻便轮椅".into()),
                ..WishPatch::default()
            },
        )
        .unwrap();
    // He meets li, their phones sync, and then his phone is lost in a river.
    wang.meet(&mut li);
    let wang_device = wang.device();
    drop(wang);

    let report = li.sync(&mut relay);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(
        li.store
            .pending_changes(&doorstep_tests::relay_peer())
            .unwrap(),
        0
    );
    let on_relay = card(&relay.store, id);
    assert_eq!(on_relay.text, "给李大爷一台轻便轮椅");
    assert_eq!(on_relay.meta.created_by.as_str(), "wang");
    let history = relay.store.history(id.record()).unwrap();
    assert!(!history.is_empty());
    assert!(
        history.iter().all(|e| e.device == Some(wang_device)
            && e.user.as_ref().map(|u| u.as_str()) == Some("wang")),
        "every change is wang's, from his phone: {history:#?}"
    );

    // The supervisor sees it and can act on it.
    let mut chen = Phone::new("chen", Role::Supervisor, &["longgang"], clock);
    chen.sync(&mut relay);
    assert_eq!(card(&chen.store, id).state.status, Status::Submitted);
}

#[test]
fn forgeries_are_refused_one_record_at_a_time_and_nothing_else_changes() {
    let World {
        mut relay,
        mut wang,
        mut li,
        ..
    } = world();
    let home = household(&mut wang, "西坑村三巷5号");
    let card_id = wish(&mut wang, home, "给李大爷一台轮椅");
    let visit = wang
        .store
        .record_visit(
            &wang.author.clone(),
            &NewVisit {
                household: home,
                visited_at: 1_767_225_600_000,
                notes: "老人独居，腿脚不便".into(),
                needs: "轮椅".into(),
                gps: None,
                follow_up: None,
            },
        )
        .unwrap();
    wang.sync(&mut relay);
    li.sync(&mut relay);
    let before = rows(&relay);

    // li's modified app rewrites the card's author and the visit's author
    // and creation time, each change signed with li's own, valid key.
    tamper(&mut li, card_id.record(), |tx| {
        tx.put(ROOT, "created_by", "li").unwrap();
    });
    tamper(&mut li, visit.record(), |tx| {
        tx.put(ROOT, "created_by", "li").unwrap();
        tx.put(ROOT, "created_at", 0).unwrap();
    });
    // A change in wang's name, signed with a key that is not his.
    let home_copy = li.store.doc(home.record()).unwrap();
    li.store
        .add_signing_key(DeviceKey::generate(wang.device()).unwrap());
    let mut as_wang = home_copy;
    let mut forged_author = wang.author.clone();
    forged_author.device = wang.device();
    as_wang
        .update_household(
            &forged_author,
            &sync_core::model::HouseholdPatch {
                phone: Some("13800000000".into()),
                ..Default::default()
            },
            li.store.now(),
        )
        .unwrap();
    li.store.put_doc(home.record(), &as_wang).unwrap();
    // And li's honest new work, which must go through.
    let good = household(&mut li, "西坑村四巷1号");
    let mine = wish(&mut li, good, "修好四巷的路灯");
    // One more of li's own cards whose signature is damaged on the way.
    let damaged = wish(&mut li, good, "给孩子买一张书桌");

    let response = push_altered(&mut relay, &mut li, |request| {
        let update = request
            .push
            .iter_mut()
            .find(|u| u.id == damaged.record())
            .unwrap();
        update.sigs[0].sig[5] ^= 0x40;
    });
    assert_eq!(
        refusal(&response, card_id.record()),
        Some(RejectCode::Identity)
    );
    assert_eq!(
        refusal(&response, visit.record()),
        Some(RejectCode::Identity)
    );
    assert_eq!(
        refusal(&response, home.record()),
        Some(RejectCode::Signature)
    );
    assert_eq!(
        refusal(&response, damaged.record()),
        Some(RejectCode::Signature)
    );
    assert!(response.accepted.contains(&good.record()));
    assert!(response.accepted.contains(&mine.record()));
    assert_eq!(response.rejected.len(), 4, "{:#?}", response.rejected);
    assert!(response.rejected.iter().all(|r| !r.reason.is_empty()));

    // Before and after: the two new records are the only difference.
    let after: Vec<_> = rows(&relay)
        .into_iter()
        .filter(|r| r.0 != good.record().to_string() && r.0 != mine.record().to_string())
        .collect();
    assert_eq!(after, before, "nothing else on the relay changed");
    assert_eq!(card(&relay.store, card_id).meta.created_by.as_str(), "wang");

    // The control: the damaged card itself was fine, and goes through when
    // its signature arrives intact; the forgeries are refused again.
    let again = push_altered(&mut relay, &mut li, |_| {});
    assert!(again.accepted.contains(&damaged.record()), "{again:#?}");
    assert_eq!(again.rejected.len(), 3, "{:#?}", again.rejected);
}

#[test]
fn nobody_writes_into_another_devices_workflow_event() {
    let World {
        mut relay,
        mut wang,
        mut li,
        ..
    } = world();
    let home = household(&mut wang, "西坑村三巷5号");
    let id = wish(&mut wang, home, "给李大爷一台轮椅");
    wang.meet(&mut li);
    // Before the card reaches the relay, li's app slips a note into wang's
    // submit event (a field it would never have had).
    let events = {
        let doc = li.store.doc(id.record()).unwrap();
        let am = doc.automerge();
        let (_, list) = automerge::ReadDoc::get(am, ROOT, "events")
            .unwrap()
            .unwrap();
        let (_, event) = automerge::ReadDoc::get(am, &list, 0).unwrap().unwrap();
        event
    };
    tamper(&mut li, id.record(), |tx| {
        tx.put(&events, "note", "已核实").unwrap();
    });
    let report = li.sync(&mut relay);
    assert_eq!(
        report
            .rejected
            .iter()
            .map(|r| (r.id, r.code))
            .collect::<Vec<_>>(),
        [(id.record(), RejectCode::History)]
    );
    assert!(relay.store.record(id.record()).is_err(), "not stored");
    // wang's own copy, untouched, goes through.
    assert!(wang.sync(&mut relay).rejected.is_empty());
    assert!(card(&relay.store, id).events[0].note.is_none());
}

#[test]
fn a_retired_phones_earlier_work_arrives_and_its_later_work_does_not() {
    let World {
        now,
        mut relay,
        mut wang,
        mut li,
        ..
    } = world();
    let home = household(&mut wang, "西坑村三巷5号");
    let before = wish(&mut wang, home, "给李大爷一台轮椅");
    // wang changes phones; the old one is retired, still holding his card.
    let at = relay.store.now();
    relay
        .store
        .revoke(wang.device(), RevokeKind::Retired, at)
        .unwrap();
    // Well past the retirement (and the grace for clocks that differ), the
    // old phone is used once more.
    now.fetch_add(sync::RETIREMENT_GRACE_MS + 60_000, Ordering::SeqCst);
    let after = wish(&mut wang, home, "修好三巷的路灯");
    wang.meet(&mut li);

    let report = li.sync(&mut relay);
    assert_eq!(card(&relay.store, before).text, "给李大爷一台轮椅");
    assert_eq!(
        report
            .rejected
            .iter()
            .map(|r| (r.id, r.code))
            .collect::<Vec<_>>(),
        [(after.record(), RejectCode::Retired)]
    );
    assert!(relay.store.record(after.record()).is_err());
}

#[test]
fn a_lost_phones_carried_work_is_held_back_and_the_rest_goes_through() {
    let World {
        mut relay,
        mut wang,
        mut li,
        ..
    } = world();
    let home = household(&mut wang, "西坑村三巷5号");
    let id = wish(&mut wang, home, "给李大爷一台轮椅");
    wang.meet(&mut li);
    let at = relay.store.now();
    relay
        .store
        .revoke(wang.device(), RevokeKind::Lost, at)
        .unwrap();
    let own_home = household(&mut li, "西坑村四巷1号");
    let own = wish(&mut li, own_home, "修好四巷的路灯");
    let report = li.sync(&mut relay);
    let mut codes: Vec<_> = report.rejected.iter().map(|r| (r.id, r.code)).collect();
    codes.sort();
    let mut held = vec![
        (home.record(), RejectCode::Quarantine),
        (id.record(), RejectCode::Quarantine),
    ];
    held.sort();
    assert_eq!(codes, held);
    assert!(relay.store.record(id.record()).is_err());
    assert_eq!(card(&relay.store, own).text, "修好四巷的路灯");
}
