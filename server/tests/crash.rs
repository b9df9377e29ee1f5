//! The real `doorstep` binary, killed with SIGKILL while phones sync in a
//! loop, then started again on the same database: every change it
//! acknowledged is still there and every phone converges.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use doorstep_tests::http::HttpPhone;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::store::WishFilter;
use sync_core::{EventKind, NewHousehold, NewWish};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const PASSWORD: &str = "correct horse battery";

fn doorstep(args: &[&str]) {
    doorstep_tests::process::doorstep(BIN, args);
}

/// Starts `doorstep serve` on a free port and returns it with its URL.
fn serve(db: &Path) -> (Child, String) {
    let started = doorstep_tests::process::serve(BIN, db);
    (started.child, started.url)
}

fn wishes(store: &sync_core::Store) -> BTreeSet<(String, String)> {
    store
        .list_wishes(&WishFilter {
            limit: Some(500),
            ..WishFilter::default()
        })
        .unwrap()
        .items
        .into_iter()
        .map(|w| (w.id, w.text))
        .collect()
}

#[test]
fn acknowledged_changes_survive_a_sigkill_and_phones_converge() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    let db_arg = db.to_str().unwrap();
    for user in ["wang", "zhao", "qian"] {
        doorstep(&[
            "user",
            "add",
            "--db",
            db_arg,
            "--username",
            user,
            "--role",
            "worker",
            "--scope",
            "longgang/yuanshan/xikeng",
            "--password",
            PASSWORD,
        ]);
    }
    let (mut relay, url) = serve(&db);

    let synced = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = ["wang", "zhao", "qian"]
        .into_iter()
        .map(|user| {
            let mut phone =
                HttpPhone::login(&url, user, PASSWORD, sync_core::store::system_clock()).unwrap();
            let (synced, failed) = (synced.clone(), failed.clone());
            std::thread::spawn(move || {
                let community = phone.phone.community();
                let author = phone.phone.author.clone();
                let home = phone
                    .phone
                    .store
                    .create_household(&author, &community, &NewHousehold::default())
                    .unwrap();
                let mut acknowledged = BTreeSet::new();
                let mut written = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                for i in 0..40 {
                    let text = format!("{} 的第{i}个心愿", author.user);
                    let store = &mut phone.phone.store;
                    let id = store
                        .create_wish(
                            &author,
                            &NewWish {
                                household: home,
                                text: text.clone(),
                                category: Category::Other,
                                urgency: Urgency::Low,
                                photos: vec![],
                            },
                        )
                        .unwrap();
                    store
                        .append_event(&author, id, &EventInput::new(EventKind::Submit))
                        .unwrap();
                    written.push((id.to_string(), text));
                    if Instant::now() > deadline {
                        break;
                    }
                    if phone.sync().is_ok() {
                        // Everything written so far is acknowledged by the relay.
                        acknowledged.extend(written.drain(..));
                        synced.fetch_add(1, Ordering::SeqCst);
                    } else {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
                (phone, acknowledged)
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(60);
    while synced.load(Ordering::SeqCst) < 15 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    relay.kill().unwrap(); // SIGKILL: no shutdown, no flush
    relay.wait().unwrap();
    let mut phones: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(
        synced.load(Ordering::SeqCst) >= 15,
        "phones synced before the crash"
    );
    assert!(
        failed.load(Ordering::SeqCst) > 0,
        "the crash happened while phones were syncing"
    );

    let (mut relay, url) = serve(&db);
    for _ in 0..2 {
        for (phone, _) in &mut phones {
            phone.base = url.clone();
            phone.sync().unwrap();
        }
    }
    relay.kill().unwrap();
    relay.wait().unwrap();

    let stored = wishes(&sync_core::Store::open(&db).unwrap());
    for (phone, acknowledged) in &phones {
        assert!(
            acknowledged.is_subset(&stored),
            "{} lost acknowledged changes",
            phone.phone.author.user
        );
        assert_eq!(
            wishes(&phone.phone.store),
            stored,
            "{} converged",
            phone.phone.author.user
        );
        assert_eq!(
            phone
                .phone
                .store
                .pending_changes(&doorstep_tests::relay_peer())
                .unwrap(),
            0
        );
    }
    let written: usize = phones
        .iter()
        .map(|(p, _)| wishes(&p.phone.store).len())
        .sum::<usize>()
        / phones.len();
    assert_eq!(stored.len(), written, "no duplicates");
}
