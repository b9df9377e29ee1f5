//! Two real `doorstep serve --store postgres://…` processes over one
//! database, each on its own loopback port, with phones syncing through
//! both at once: every acknowledged change is stored once, the feed's
//! positions run 1, 2, 3, … without a gap, every phone converges, a
//! dashboard waiting on one relay wakes for a write through the other, and
//! a relay killed mid-sync loses nothing it acknowledged.
//!
//! Needs `DOORSTEP_TEST_PG` (run under `scripts/with-postgres`); without it
//! the tests skip, or fail under `CI=true`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeSet;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use doorstep_tests::http::{Api, HttpPhone};
use doorstep_tests::process::{Started, doorstep, serve_store};
use server::store::postgres::testing::TestDatabase;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::store::WishFilter;
use sync_core::{EventKind, NewHousehold, NewWish};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const PASSWORD: &str = "correct horse battery";
const XIKENG: &str = "longgang/yuanshan/xikeng";
/// Cards each phone writes in the crash test.
const CARDS: usize = 40;

fn database(label: &str) -> Option<TestDatabase> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(TestDatabase::create(label))
}

fn add_user(store: &str, name: &str, role: &str, scope: &str) {
    doorstep(
        BIN,
        &[
            "user",
            "add",
            "--store",
            store,
            "--username",
            name,
            "--role",
            role,
            "--scope",
            scope,
            "--password",
            PASSWORD,
        ],
    );
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Wish cards (id, text) as a store lists them.
fn wishes(store: &dyn server::store::RelayStore) -> BTreeSet<(String, String)> {
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

fn phone_wishes(phone: &HttpPhone) -> BTreeSet<(String, String)> {
    wishes(&phone.phone.store)
}

/// What the database says of its feed: every position handed out, in
/// order, and the counter.
fn feed_positions(db: &TestDatabase) -> (Vec<i64>, i64) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let pool = db.pool(1);
            let client = pool.get().await.unwrap();
            let seqs = client
                .query("SELECT seq FROM record_versions ORDER BY seq", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let head = client
                .query_one("SELECT seq FROM feed_counter WHERE id = 1", &[])
                .await
                .unwrap()
                .get(0);
            (seqs, head)
        })
}

/// A phone writing `cards` submitted cards, syncing after each through
/// `url`; returns the phone and what the relays acknowledged.
fn write_and_sync(
    mut phone: HttpPhone,
    cards: usize,
    synced: Arc<AtomicUsize>,
) -> (HttpPhone, BTreeSet<(String, String)>) {
    let community = phone.phone.community();
    let author = phone.phone.author.clone();
    let home = phone
        .phone
        .store
        .create_household(&author, &community, &NewHousehold::default())
        .unwrap();
    let mut acknowledged = BTreeSet::new();
    let mut written = Vec::new();
    for i in 0..cards {
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
        if phone.sync().is_ok() {
            acknowledged.extend(written.drain(..));
            synced.fetch_add(1, Ordering::SeqCst);
        }
    }
    (phone, acknowledged)
}

#[test]
fn phones_on_two_relays_over_one_database_converge_on_a_gapless_feed() {
    let Some(db) = database("two_relays_http") else {
        return;
    };
    let store = db.conninfo().to_owned();
    let photos = tempfile::tempdir().unwrap();
    let names = ["wang", "zhao", "qian", "sun"];
    for name in names {
        add_user(&store, name, "worker", XIKENG);
    }
    add_user(&store, "chen", "supervisor", "longgang");
    let a: Started = serve_store(BIN, &store, photos.path());
    let b: Started = serve_store(BIN, &store, photos.path());
    let urls = [a.url.clone(), b.url.clone()];

    // A dashboard on B waits for changes while the phones write through A.
    let waiting = {
        let supervisor = Api::login(&urls[1], "chen", PASSWORD).unwrap();
        let (_, now) = supervisor.get("/v1/changes");
        let since = now["seq"].as_i64().unwrap();
        std::thread::spawn(move || {
            let started = Instant::now();
            let (status, changes) = supervisor.get(&format!("/v1/changes?since={since}&wait=20"));
            (status, changes, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));

    let synced = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // Each phone logs in on one relay and syncs through the other.
            let mut phone = HttpPhone::login(
                &urls[i % 2],
                name,
                PASSWORD,
                sync_core::store::system_clock(),
            )
            .unwrap();
            phone.base = urls[(i + 1) % 2].clone();
            let synced = synced.clone();
            std::thread::spawn(move || write_and_sync(phone, 12, synced))
        })
        .collect();
    let mut phones: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();

    let (status, changes, waited) = waiting.join().unwrap();
    assert!(status.is_success(), "{status} {changes}");
    assert!(
        changes["changed"].as_u64().unwrap() > 0,
        "the wait on B saw the writes through A: {changes}"
    );
    assert!(
        waited < Duration::from_secs(19),
        "the wait on B ended when A wrote, not at its timeout ({waited:?})"
    );

    // Everyone pulls through the relay they did not push through.
    for _ in 0..2 {
        for (n, (phone, _)) in phones.iter_mut().enumerate() {
            phone.base = urls[n % 2].clone();
            phone.sync().unwrap();
        }
    }
    let engine = server::store::open_postgres(&store).unwrap();
    let stored = wishes(&engine);
    let written: usize = phones.iter().map(|(_, acked)| acked.len()).sum();
    assert_eq!(
        stored.len(),
        written,
        "every card once, none lost, none twice"
    );
    for (phone, acknowledged) in &phones {
        assert!(
            acknowledged.is_subset(&stored),
            "{} lost work",
            phone.phone.author.user
        );
        assert_eq!(
            phone_wishes(phone),
            stored,
            "{} converged",
            phone.phone.author.user
        );
    }
    let (positions, head) = feed_positions(&db);
    assert_eq!(
        positions,
        (1..=head).collect::<Vec<_>>(),
        "the feed's positions are 1..=head with no gap"
    );
    drop(engine);
    kill(a.child);
    kill(b.child);
}

#[test]
fn a_relay_killed_mid_sync_loses_nothing_it_acknowledged() {
    let Some(db) = database("crash_on_postgres") else {
        return;
    };
    let store = db.conninfo().to_owned();
    let photos = tempfile::tempdir().unwrap();
    let names = ["wang", "zhao", "qian"];
    for name in names {
        add_user(&store, name, "worker", XIKENG);
    }
    let relay = serve_store(BIN, &store, photos.path());
    let synced = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = names
        .iter()
        .map(|name| {
            let phone =
                HttpPhone::login(&relay.url, name, PASSWORD, sync_core::store::system_clock())
                    .unwrap();
            let synced = synced.clone();
            std::thread::spawn(move || write_and_sync(phone, CARDS, synced))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while synced.load(Ordering::SeqCst) < 15 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(relay.child); // SIGKILL: no shutdown
    let mut phones: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let written = names.len() * CARDS;
    let acknowledged: usize = phones.iter().map(|(_, a)| a.len()).sum();
    assert!(acknowledged >= 15, "phones synced before the kill");
    assert!(
        acknowledged < written,
        "the kill came while phones were syncing"
    );

    let relay = serve_store(BIN, &store, photos.path());
    for _ in 0..2 {
        for (phone, _) in &mut phones {
            phone.base = relay.url.clone();
            phone.sync().unwrap();
        }
    }
    kill(relay.child);
    let engine = server::store::open_postgres(&store).unwrap();
    let stored = wishes(&engine);
    for (phone, acknowledged) in &phones {
        assert!(
            acknowledged.is_subset(&stored),
            "{} lost acknowledged work",
            phone.phone.author.user
        );
        assert_eq!(
            phone_wishes(phone),
            stored,
            "{} converged",
            phone.phone.author.user
        );
    }
    assert_eq!(stored.len(), written, "every card is stored once");
}
