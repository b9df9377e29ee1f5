//! Changes that certify themselves, against the real binary: work carried
//! phone to phone reaches the relay under its author's name after the
//! author's phone is gone; forgeries are refused one record at a time and
//! nothing else in the database changes; a retired phone's earlier work
//! arrives; a lost phone's carried work waits for a supervisor.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::Path;

use automerge::transaction::Transactable;
use automerge::{ROOT, ScalarValue};
use doorstep_tests::http::{Api, HttpPhone};
use doorstep_tests::process::{self, Started};
use reqwest::StatusCode;
use sync_core::keys::DeviceKey;
use sync_core::store::system_clock;
use sync_core::sync::RejectCode;
use sync_core::{RecordId, Store};

mod common;

use common::new_card;

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const PASSWORD: &str = "correct horse battery";
const XIKENG: &str = "longgang/yuanshan/xikeng";

fn district(dir: &Path) -> (Started, std::path::PathBuf) {
    let db = dir.join("district.sqlite");
    for (name, role, scope) in [
        ("wang", "worker", XIKENG),
        ("li", "worker", XIKENG),
        ("chen", "supervisor", "longgang"),
    ] {
        process::add_user(BIN, &db, name, role, scope, PASSWORD);
    }
    (process::serve(BIN, &db), db)
}

fn phone(relay: &Started, name: &str) -> HttpPhone {
    HttpPhone::login(&relay.url, name, PASSWORD, system_clock()).unwrap()
}

/// Everything the relay stores about records: the before/after comparison.
fn records(db: &Path) -> Vec<(String, i64, Vec<u8>, Vec<u8>)> {
    let store = Store::open(db).unwrap();
    let mut stmt = store
        .connection()
        .prepare("SELECT id, seq, doc, sigs FROM records ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A modified app sets `key` of a record as its own device (signed with
/// its own key).
fn tamper(phone: &mut HttpPhone, id: RecordId, key: &'static str, value: ScalarValue) {
    doorstep_tests::tamper(&mut phone.phone, id, |tx| {
        tx.put(ROOT, key, value).unwrap();
    });
}

#[test]
fn carried_work_forgeries_retired_and_lost_phones() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, db) = district(dir.path());
    let mut wang = phone(&relay, "wang");
    let mut li = phone(&relay, "li");
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();

    // Carry: wang's phone records a card offline, meets li's, and is lost
    // in a river before it ever syncs. li's phone delivers wang's card.
    let carried = new_card(&mut wang, "给李大爷一台轮椅");
    wang.phone.meet(&mut li.phone);
    let wang_device = wang.phone.device().to_string();
    drop(wang);
    let report = li.sync().unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let (status, history) = chen.get(&format!("/v1/wishes/{carried}/history"));
    assert_eq!(status, StatusCode::OK);
    let history = history.as_array().unwrap();
    assert!(!history.is_empty());
    assert!(
        history
            .iter()
            .all(|e| e["user"] == "wang" && e["device"] == wang_device.as_str()),
        "the history names wang's phone: {history:?}"
    );

    // Forgeries, each on its own record, beside honest work.
    let mut li2 = phone(&relay, "li");
    let rewritten_time = new_card(&mut li2, "一张诚实的卡");
    let in_wangs_name = new_card(&mut li2, "另一张诚实的卡");
    li2.sync().unwrap();
    let before = records(&db);
    tamper(&mut li2, carried.record(), "created_by", "li".into());
    tamper(&mut li2, rewritten_time.record(), "created_at", 0.into());
    // A change in wang's name, signed with a key that is not his.
    let author = {
        let mut a = li2.phone.author.clone();
        a.device = wang_device.parse().unwrap();
        a
    };
    li2.phone
        .store
        .add_signing_key(DeviceKey::generate(author.device).unwrap());
    li2.phone
        .store
        .update_wish(
            &author,
            in_wangs_name,
            &sync_core::model::WishPatch {
                text: Some("冒名修改".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let honest = new_card(&mut li2, "修好三巷的路灯");
    let report = li2.sync().unwrap();
    let mut codes: Vec<(RecordId, RejectCode)> =
        report.rejected.iter().map(|r| (r.id, r.code)).collect();
    codes.sort();
    let mut expected = vec![
        (carried.record(), RejectCode::Identity),
        (rewritten_time.record(), RejectCode::Identity),
        (in_wangs_name.record(), RejectCode::Signature),
    ];
    expected.sort();
    assert_eq!(codes, expected);
    let (status, card) = chen.get(&format!("/v1/wishes/{honest}"));
    assert_eq!(status, StatusCode::OK, "the rest of the sync went through");
    assert_eq!(card["text"], "修好三巷的路灯");
    // Before and after: only the honest card and its household are new;
    // nothing else in the database changed.
    let after = records(&db);
    let old: Vec<_> = after
        .iter()
        .filter(|r| before.iter().any(|b| b.0 == r.0))
        .cloned()
        .collect();
    assert_eq!(old, before, "nothing refused is stored");
    assert_eq!(after.len(), before.len() + 2);
    let (_, card) = chen.get(&format!("/v1/wishes/{carried}"));
    assert_eq!(card["created_by"], "wang");

    // Retired: li's first phone is retired with work it has not synced; it
    // still delivers it, and receives nothing.
    let waiting = new_card(&mut li, "孩子需要一张书桌");
    process::doorstep(
        BIN,
        &[
            "device",
            "retire",
            "--db",
            db.to_str().unwrap(),
            &li.phone.device().to_string(),
        ],
    );
    let delivered = li.sync().unwrap();
    assert_eq!(delivered.received, 0);
    assert!(delivered.rejected.is_empty());
    assert_eq!(chen.get(&format!("/v1/wishes/{waiting}")).0, StatusCode::OK);

    // Lost: li's second phone meets a new phone of wang's, then is stolen.
    let mut wang2 = phone(&relay, "wang");
    let held = new_card(&mut li2, "可疑的心愿");
    li2.phone.meet(&mut wang2.phone);
    process::doorstep(
        BIN,
        &[
            "device",
            "lost",
            "--db",
            db.to_str().unwrap(),
            &li2.phone.device().to_string(),
        ],
    );
    assert_eq!(li2.sync().unwrap_err().status, Some(StatusCode::FORBIDDEN));
    let report = wang2.sync().unwrap();
    assert!(
        report
            .rejected
            .iter()
            .any(|r| r.id == held.record() && r.code == RejectCode::Quarantine),
        "{:?}",
        report.rejected
    );
    assert_eq!(
        chen.get(&format!("/v1/wishes/{held}")).0,
        StatusCode::NOT_FOUND
    );
    let (_, quarantine) = chen.get("/v1/quarantine");
    assert!(
        quarantine
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["record"] == held.record().to_string() && h["authors"][0]["user"] == "li"),
        "{quarantine}"
    );
    let (_, devices) = chen.get("/v1/devices");
    assert!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == li2.phone.device().to_string() && d["standing"] == "lost")
    );
    process::stop(relay.child);
}
