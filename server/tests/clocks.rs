//! Wrong phone clocks, against the real binary: a phone a year ahead and one
//! three days behind work on the same cards as a phone whose clock is right.
//! Every replica agrees, the relay never stamps its own actions in the
//! future, and the median days to fulfil is the true one.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use doorstep_tests::heads;
use doorstep_tests::http::{Api, HttpPhone};
use doorstep_tests::process::{self, Started};
use serde_json::{Value, json};
use sync_core::doc::EventInput;
use sync_core::store::{Clock, system_clock};
use sync_core::{EventKind, Status, WishId};

mod common;

use common::new_card;

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const PASSWORD: &str = "correct horse battery";
const XIKENG: &str = "longgang/yuanshan/xikeng";
const DAY: i64 = 86_400_000;
const MINUTE: i64 = 60_000;

/// A phone's clock: the real time plus an offset that can change.
fn clock(offset: &Arc<AtomicI64>) -> Clock {
    let offset = offset.clone();
    let real = system_clock();
    Arc::new(move || real() + offset.load(Ordering::SeqCst))
}

fn now() -> i64 {
    system_clock()()
}

struct District {
    _dir: tempfile::TempDir,
    relay: Started,
}

fn district() -> District {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    for (name, role, scope) in [
        ("wang", "worker", XIKENG),
        ("li", "worker", XIKENG),
        ("zhao", "worker", XIKENG),
        ("chen", "supervisor", "longgang"),
    ] {
        process::add_user(BIN, &db, name, role, scope, PASSWORD);
    }
    District {
        relay: process::serve(BIN, &db),
        _dir: dir,
    }
}

fn act(phone: &mut HttpPhone, id: WishId, kind: EventKind) -> Status {
    let author = phone.phone.author.clone();
    phone
        .phone
        .store
        .append_event(&author, id, &EventInput::new(kind))
        .unwrap()
}

/// Asserts `at` (ms) is a real time of this test: not before it started,
/// not after now.
fn real_time(what: &str, at: &Value, started: i64) {
    let at = at.as_i64().unwrap_or_else(|| panic!("{what} has no time"));
    assert!(
        at >= started - MINUTE && at <= now() + MINUTE,
        "{what} is {} min off the real time",
        (at - now()) / MINUTE
    );
}

/// The phones log in with right clocks; then one jumps a year ahead and
/// one three days back while offline, as cheap phones' clocks do. What they
/// record before their next sync carries the wrong times; the relay
/// corrects them as they arrive, and from that sync on the phones stamp
/// their work by the relay's time.
#[test]
fn clocks_that_jump_offline_do_not_skew_the_figures() {
    let started = now();
    let District { relay, .. } = district();
    let (ahead, behind) = (Arc::new(AtomicI64::new(0)), Arc::new(AtomicI64::new(0)));
    let login = |name, offset: &Arc<AtomicI64>| {
        HttpPhone::login(&relay.url, name, PASSWORD, clock(offset)).unwrap()
    };
    let mut wang = login("wang", &Arc::new(AtomicI64::new(0)));
    let mut li = login("li", &ahead);
    let mut zhao = login("zhao", &behind);
    ahead.store(365 * DAY, Ordering::SeqCst);
    behind.store(-3 * DAY, Ordering::SeqCst);

    let cards = [
        new_card(&mut wang, "给李大爷一台轮椅"),
        new_card(&mut li, "修好三巷的路灯"),
        new_card(&mut zhao, "孩子需要一张书桌"),
    ];
    for phone in [&mut wang, &mut li, &mut zhao] {
        assert!(phone.sync().unwrap().rejected.is_empty());
    }
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    for card in cards {
        let (status, body) = chen.post(
            &format!("/v1/wishes/{card}/review"),
            json!({"decision": "approve"}),
        );
        assert!(status.is_success(), "{body}");
    }
    for phone in [&mut wang, &mut li, &mut zhao] {
        phone.sync().unwrap();
    }
    // Claims race on the first card; the others are claimed once each.
    act(&mut li, cards[0], EventKind::Claim);
    act(&mut zhao, cards[0], EventKind::Claim);
    act(&mut wang, cards[1], EventKind::Claim);
    act(&mut zhao, cards[2], EventKind::Claim);
    for phone in [&mut li, &mut zhao, &mut wang] {
        phone.sync().unwrap();
    }
    li.sync().unwrap();
    // Whoever holds a card lights it up; the supervisor confirms on the dashboard.
    for card in cards {
        let holder = chen.get(&format!("/v1/wishes/{card}")).1["claimant"]
            .as_str()
            .unwrap()
            .to_owned();
        let phone = match holder.as_str() {
            "wang" => &mut wang,
            "li" => &mut li,
            _ => &mut zhao,
        };
        phone.sync().unwrap();
        assert_eq!(act(phone, card, EventKind::Fulfil), Status::Fulfilled);
        phone.sync().unwrap();
        let (status, body) = chen.post(
            &format!("/v1/wishes/{card}/feedback"),
            json!({"rating": 5, "comment": "谢谢"}),
        );
        assert!(status.is_success(), "{body}");
    }
    for phone in [&mut wang, &mut li, &mut zhao] {
        phone.sync().unwrap();
    }

    // Every replica agrees.
    let reference = heads(&wang.phone.store);
    assert_eq!(heads(&li.phone.store), reference);
    assert_eq!(heads(&zhao.phone.store), reference);
    // The figures are the true ones: minutes, not a year or minus three days.
    let (_, stats) = chen.get("/v1/stats");
    let median = stats["total"]["median_days_to_fulfil"].as_f64().unwrap();
    assert!(
        (0.0..=1.0 / 1440.0).contains(&median),
        "median days to fulfil {median}"
    );
    let (_, timeline) = chen.get("/v1/stats/timeline");
    let days = timeline["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "one day, today: {days:?}");
    for card in cards {
        let (_, detail) = chen.get(&format!("/v1/wishes/{card}"));
        assert_eq!(detail["status"], "confirmed");
        for time in [
            "created_at",
            "submitted_at",
            "reviewed_at",
            "fulfilled_at",
            "confirmed_at",
        ] {
            let at = detail
                .get(time)
                .or_else(|| detail["state"].get(time))
                .unwrap();
            real_time(&format!("{card} {time}"), at, started);
        }
        for event in detail["events"].as_array().unwrap() {
            real_time(&format!("{card} {}", event["kind"]), &event["at"], started);
            if event["actor"] == "chen" {
                assert!(
                    event["at"].as_i64().unwrap() <= now(),
                    "the relay's own stamp"
                );
            }
        }
        // The corrected events are named, with the time their device wrote.
        let corrected = detail["clock_corrected"].as_array().unwrap();
        if card != cards[0] {
            assert!(!corrected.is_empty(), "{card}: {detail}");
        }
        let (_, history) = chen.get(&format!("/v1/wishes/{card}/history"));
        for entry in history.as_array().unwrap() {
            let shown = entry
                .get("corrected_at_ms")
                .filter(|v| !v.is_null())
                .unwrap_or(&entry["at_ms"]);
            if entry["user"] == "chen" {
                assert!(
                    entry["at_ms"].as_i64().unwrap() <= now(),
                    "the relay's own stamp"
                );
            }
            if entry["user"] != "li" || entry["corrected_at_ms"].is_null() {
                real_time(&format!("{card} history"), shown, started);
            }
        }
    }
    // A phone learnt its error at its first sync: what it stamps now is right.
    let card = new_card(&mut li, "再来一张");
    li.sync().unwrap();
    real_time(
        "a card made after the sync",
        &chen.get(&format!("/v1/wishes/{card}")).1["created_at"],
        started,
    );
}

/// A phone whose clock is wrong from the start learns the relay's time at
/// login: its work is stamped right without any correction.
#[test]
fn a_wrong_clock_at_login_is_corrected_at_the_source() {
    let started = now();
    let District { relay, .. } = district();
    let ahead = Arc::new(AtomicI64::new(365 * DAY));
    let mut li = HttpPhone::login(&relay.url, "li", PASSWORD, clock(&ahead)).unwrap();
    assert!((li.phone.store.clock_skew() + 365 * DAY).abs() < MINUTE);
    let card = new_card(&mut li, "修好三巷的路灯");
    li.sync().unwrap();
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let (_, detail) = chen.get(&format!("/v1/wishes/{card}"));
    real_time("created_at", &detail["created_at"], started);
    assert!(
        detail["clock_corrected"].as_array().unwrap().is_empty(),
        "nothing needed correcting"
    );
    let (_, devices) = chen.get("/v1/devices");
    let row = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["username"] == "li")
        .unwrap();
    assert_eq!(row["clock_wrong"], false, "{row}");
}
