//! A district restores its relay from a backup, as after a disk failure:
//! with `doorstep restore`, by copying the backup into place by hand, and
//! from a copy made some other way. Work done after the backup (new cards,
//! edits, a supervisor's approval and dispatch, an edit carried phone to
//! phone) is on the phones only; after one sync of every phone, the relay
//! has all of it again and every phone agrees with it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::Path;

use doorstep_tests::heads;
use doorstep_tests::http::{Api, HttpPhone};
use doorstep_tests::process::{self, Started};
use serde_json::json;
use sync_core::doc::{RecordDoc, heads_from_bytes};
use sync_core::model::{Urgency, WishPatch};
use sync_core::store::system_clock;
use sync_core::{Record, Status, Store, WishId};

mod common;

use common::new_card;

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const PASSWORD: &str = "correct horse battery";
const XIKENG: &str = "longgang/yuanshan/xikeng";

/// How the relay is put back.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Restore {
    /// `doorstep backup`, then `doorstep restore`.
    Command,
    /// `doorstep backup`, then the file copied over the database by hand.
    ByHand,
    /// A copy made without doorstep (SQLite's own), copied in by hand.
    PlainCopy,
}

fn add_user(db: &Path, name: &str, role: &str, scope: &str) {
    process::add_user(BIN, db, name, role, scope, PASSWORD);
}

fn phone(relay: &Started, name: &str) -> HttpPhone {
    HttpPhone::login(&relay.url, name, PASSWORD, system_clock()).unwrap()
}

fn wish(store: &Store, id: WishId) -> sync_core::model::WishCard {
    match store.record(id.record()).unwrap() {
        Record::Wish(card) => card,
        other => panic!("not a wish: {other:?}"),
    }
}

fn edit(phone: &mut HttpPhone, id: WishId, patch: WishPatch) {
    let author = phone.phone.author.clone();
    phone.phone.store.update_wish(&author, id, &patch).unwrap();
}

fn run(how: Restore) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    add_user(&db, "wang", "worker", XIKENG);
    add_user(&db, "li", "worker", XIKENG);
    add_user(&db, "zhao", "worker", XIKENG);
    add_user(&db, "chen", "supervisor", "longgang");
    let relay = process::serve(BIN, &db);
    let mut wang = phone(&relay, "wang");
    let mut li = phone(&relay, "li");
    let a = new_card(&mut wang, "给李大爷一台轮椅");
    let b = new_card(&mut wang, "修好三巷的路灯");
    wang.sync().unwrap();
    let c = new_card(&mut li, "孩子需要一张书桌");
    li.sync().unwrap();

    // The backup is taken while li's phone keeps syncing new work.
    let backup = dir.path().join("backup.sqlite");
    let syncing = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let mut cards = Vec::new();
            for n in 0..4 {
                cards.push(new_card(&mut li, &format!("第{n}张心愿卡")));
                li.sync().unwrap();
            }
            cards
        });
        match how {
            Restore::Command | Restore::ByHand => {
                process::doorstep(
                    BIN,
                    &[
                        "backup",
                        "--db",
                        db.to_str().unwrap(),
                        backup.to_str().unwrap(),
                    ],
                );
            }
            Restore::PlainCopy => {
                rusqlite::Connection::open(&db)
                    .unwrap()
                    .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
                    .unwrap();
            }
        }
        worker.join().unwrap()
    });

    // More work after the backup: a new card and edits...
    let d = new_card(&mut wang, "帮王奶奶修漏水的屋顶");
    edit(
        &mut wang,
        a,
        WishPatch {
            text: Some("给李大爷一台轻便轮椅".into()),
            ..WishPatch::default()
        },
    );
    wang.sync().unwrap();
    // ...a supervisor's approval and dispatch on the dashboard API...
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let (status, _) = chen.post(
        &format!("/v1/wishes/{b}/review"),
        json!({"decision": "approve"}),
    );
    assert!(status.is_success(), "{status}");
    let (status, _) = chen.post(
        &format!("/v1/wishes/{b}/assign"),
        json!({"claimant": "志愿者小刘"}),
    );
    assert!(status.is_success(), "{status}");
    wang.sync().unwrap();
    li.sync().unwrap();
    // ...and an edit li makes offline, which reaches the relay only
    // because wang's phone carries it.
    edit(
        &mut li,
        c,
        WishPatch {
            urgency: Some(Urgency::Critical),
            ..WishPatch::default()
        },
    );
    li.phone.meet(&mut wang.phone);
    wang.sync().unwrap();

    let before = {
        let sql = Store::open(&db).unwrap();
        heads(&sql)
    };
    assert_eq!(wish(&wang.phone.store, b).state.status, Status::Claimed);

    // The disk fails; the relay comes back from the backup.
    if how == Restore::Command {
        let busy = std::process::Command::new(BIN)
            .args([
                "restore",
                backup.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
                "--force",
            ])
            .output()
            .unwrap();
        assert!(
            !busy.status.success(),
            "restore refuses while the relay serves"
        );
        assert!(String::from_utf8_lossy(&busy.stderr).contains("stop it"));
    }
    process::stop(relay.child);
    match how {
        Restore::Command => {
            let out = process::doorstep(
                BIN,
                &[
                    "restore",
                    backup.to_str().unwrap(),
                    "--db",
                    db.to_str().unwrap(),
                    "--force",
                ],
            );
            assert!(out.contains("new feed epoch"), "{out}");
            let log = process::doorstep(
                BIN,
                &["audit", "--db", db.to_str().unwrap(), "--action", "restore"],
            );
            assert!(
                log.lines()
                    .nth(1)
                    .is_some_and(|l| l.contains("restore") && l.contains(backup.to_str().unwrap())),
                "the restore is in the audit log: {log}"
            );
        }
        Restore::ByHand | Restore::PlainCopy => {
            for leftover in ["district.sqlite-wal", "district.sqlite-shm"] {
                let _ = std::fs::remove_file(dir.path().join(leftover));
            }
            std::fs::copy(&backup, &db).unwrap();
        }
    }
    let restored = heads(&Store::open(&db).unwrap());
    assert!(
        before.iter().any(|(id, h)| restored.get(id) != Some(h)),
        "the backup lacks work done after it"
    );
    let relay = process::serve(BIN, &db);
    // The same relay for the phones: its port is new only because tests
    // bind port 0.
    wang.base = relay.url.clone();
    li.base = relay.url.clone();

    // Every phone syncs once; a new phone joins to see what the relay has.
    let wang_report = wang.sync().unwrap();
    let li_report = li.sync().unwrap();
    assert!(wang_report.reconciled && li_report.reconciled);
    assert!(
        wang_report.rejected.is_empty(),
        "{:?}",
        wang_report.rejected
    );
    assert!(li_report.rejected.is_empty(), "{:?}", li_report.rejected);
    wang.sync().unwrap();
    let mut zhao = phone(&relay, "zhao");
    zhao.sync().unwrap();
    process::stop(relay.child);

    let relay_store = Store::open(&db).unwrap();
    let now = heads(&relay_store);
    for (id, was) in &before {
        let stored = relay_store.stored(id.parse().unwrap()).unwrap();
        let stored = stored.unwrap_or_else(|| panic!("record {id} is lost ({how:?})"));
        let doc = RecordDoc::load(&stored.doc).unwrap();
        for head in heads_from_bytes(was).unwrap() {
            assert!(doc.has_change(&head), "record {id} lost a change ({how:?})");
        }
    }
    for (name, phone) in [("wang", &wang), ("li", &li), ("zhao", &zhao)] {
        assert_eq!(
            heads(&phone.phone.store),
            now,
            "{name} agrees with the relay ({how:?})"
        );
    }
    assert_eq!(wish(&relay_store, a).text, "给李大爷一台轻便轮椅");
    let dispatched = wish(&relay_store, b);
    assert_eq!(dispatched.state.status, Status::Claimed);
    assert_eq!(dispatched.state.claimant.as_deref(), Some("志愿者小刘"));
    assert_eq!(wish(&relay_store, c).urgency, Urgency::Critical);
    assert_eq!(wish(&relay_store, d).text, "帮王奶奶修漏水的屋顶");
    for id in syncing {
        assert!(relay_store.record(id.record()).is_ok());
    }
    let history = relay_store.history(b.record()).unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.user.as_ref().is_some_and(|u| u.as_str() == "chen")),
        "the supervisor's actions are his in the history"
    );
}

#[test]
fn restored_with_doorstep_restore_nothing_is_lost() {
    run(Restore::Command);
}

#[test]
fn restored_by_copying_the_backup_by_hand_nothing_is_lost() {
    run(Restore::ByHand);
}

#[test]
fn replaced_by_an_older_copy_made_without_doorstep_nothing_is_lost() {
    run(Restore::PlainCopy);
}
