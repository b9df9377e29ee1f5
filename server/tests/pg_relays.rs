//! Two real `doorstep serve --store postgres://…` processes over one
//! database, each on its own loopback port, with phones syncing through
//! both at once: every acknowledged change is stored once, the feed's
//! positions run 1, 2, 3, … without a gap, every phone converges, a
//! dashboard waiting on one relay wakes for a write through the other, and
//! a relay killed mid-sync loses nothing it acknowledged.
//!
//! The database itself slows the relays' write transactions down at random
//! (triggers that sleep, installed by [`slow_down_writes`]): while a card's
//! row is materialized, before the feed's counter is taken, and again after
//! it is taken, before the commit. That is when a feed with gaps, or a
//! merge lost between two relays, would show.
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
    block_on(TestDatabase::create(label))
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
    block_on(async {
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

/// Installs triggers that make every write transaction of the relays sleep
/// 0–20 ms, twice: when a wish's row is materialized (before the feed's
/// counter is taken) and when the record's row is stored (the statement
/// that takes the counter, so the transaction then holds its position a
/// while before it commits). Each sleep is counted in a sequence, which is
/// not rolled back, so a test can show the delays happened.
fn slow_down_writes(db: &TestDatabase) {
    run_sql(
        db,
        "CREATE SEQUENCE test_delays;
         CREATE FUNCTION test_delay() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM nextval('test_delays');
             PERFORM pg_sleep(random() * 0.02);
             RETURN NEW;
         END $$;
         CREATE TRIGGER test_delay_wish BEFORE INSERT OR UPDATE ON wishes
             FOR EACH ROW EXECUTE FUNCTION test_delay();
         CREATE TRIGGER test_delay_record BEFORE UPDATE ON records
             FOR EACH ROW WHEN (NEW.seq IS NOT NULL) EXECUTE FUNCTION test_delay();",
    );
}

/// How many delays [`slow_down_writes`] has injected.
fn delays(db: &TestDatabase) -> i64 {
    block_on(async {
        let pool = db.pool(1);
        let client = pool.get().await.unwrap();
        let row = client
            .query_one(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM test_delays",
                &[],
            )
            .await
            .unwrap();
        row.get(0)
    })
}

fn run_sql(db: &TestDatabase, sql: &str) {
    block_on(async {
        let pool = db.pool(1);
        pool.get().await.unwrap().batch_execute(sql).await.unwrap();
    });
}

fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(work)
}

/// A submitted wish card with `text`, in a household of its own, written
/// on `phone`; returns its id and text.
fn write_card(phone: &mut HttpPhone, text: &str) -> (String, String) {
    let community = phone.phone.community();
    let author = phone.phone.author.clone();
    let store = &mut phone.phone.store;
    let home = store
        .create_household(&author, &community, &NewHousehold::default())
        .unwrap();
    let id = store
        .create_wish(
            &author,
            &NewWish {
                household: home,
                text: text.to_owned(),
                category: Category::Other,
                urgency: Urgency::Low,
                photos: vec![],
            },
        )
        .unwrap();
    store
        .append_event(&author, id, &EventInput::new(EventKind::Submit))
        .unwrap();
    (id.to_string(), text.to_owned())
}

/// A phone writing `cards` submitted cards, syncing after each, through
/// each of `relays` in turn; returns the phone and what the relays
/// acknowledged.
fn write_and_sync(
    mut phone: HttpPhone,
    relays: Vec<String>,
    cards: usize,
    synced: Arc<AtomicUsize>,
) -> (HttpPhone, BTreeSet<(String, String)>) {
    let mut acknowledged = BTreeSet::new();
    let mut written = Vec::new();
    for i in 0..cards {
        let text = format!("{} 的第{i}个心愿", phone.phone.author.user);
        written.push(write_card(&mut phone, &text));
        phone.base = relays[i % relays.len()].clone();
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
    slow_down_writes(&db);

    // A dashboard on B waits for changes while the phones write through
    // both.
    let waiting = wait_for_changes(&urls[1]);

    let synced = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // Each phone logs in on one relay, then syncs through the
            // other and back, in turn.
            let phone = HttpPhone::login(
                &urls[i % 2],
                name,
                PASSWORD,
                sync_core::store::system_clock(),
            )
            .unwrap();
            let relays = vec![urls[(i + 1) % 2].clone(), urls[i % 2].clone()];
            let synced = synced.clone();
            std::thread::spawn(move || write_and_sync(phone, relays, 12, synced))
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
    // Two sleeps per stored card at least: the writes were slowed down.
    assert!(
        delays(&db) >= 2 * written as i64,
        "{} delays injected for {written} cards",
        delays(&db)
    );

    // Both relays' listening connections are cut. A dashboard waiting on
    // B still wakes for a card written through A, and the listeners come
    // back.
    // (This test's own store listens too.)
    let cut = listeners(&db, true);
    assert_eq!(
        cut, 3,
        "each relay, and this test, had one listening connection"
    );
    let waiting = wait_for_changes(&urls[1]);
    let (phone, acknowledged) = &mut phones[0];
    phone.base = urls[0].clone();
    let card = write_card(phone, "线断了之后写的心愿");
    phone.sync().unwrap();
    acknowledged.insert(card);
    let (status, changes, waited) = waiting.join().unwrap();
    assert!(status.is_success(), "{status} {changes}");
    assert!(
        changes["changed"].as_u64().unwrap() > 0 && waited < Duration::from_secs(19),
        "B woke for A's write without its listener ({waited:?}): {changes}"
    );
    let back = Instant::now() + Duration::from_secs(20);
    while listeners(&db, false) < cut && Instant::now() < back {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(listeners(&db, false), cut, "every listener reconnected");
    assert!(acknowledged.is_subset(&wishes(&engine)));
    drop(engine);
    kill(a.child);
    kill(b.child);
}

/// How many of the relays' connections listen for the feed's hints; with
/// `cut`, ends them, and returns how many it ended.
fn listeners(db: &TestDatabase, cut: bool) -> i64 {
    let pick = format!(
        "FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{}'",
        server::store::postgres::LISTENER_NAME
    );
    let sql = if cut {
        format!("SELECT count(pg_terminate_backend(pid)) {pick}")
    } else {
        format!("SELECT count(*) {pick}")
    };
    block_on(async {
        let pool = db.pool(1);
        let client = pool.get().await.unwrap();
        client.query_one(&sql, &[]).await.unwrap().get(0)
    })
}

/// A supervisor on `relay` waiting up to 20 s for anything newer than what
/// the relay has now; the thread returns the answer and how long it took.
fn wait_for_changes(
    relay: &str,
) -> std::thread::JoinHandle<(reqwest::StatusCode, serde_json::Value, Duration)> {
    let supervisor = Api::login(relay, "chen", PASSWORD).unwrap();
    let (_, now) = supervisor.get("/v1/changes");
    let since = now["seq"].as_i64().unwrap();
    let waiting = std::thread::spawn(move || {
        let started = Instant::now();
        let (status, changes) = supervisor.get(&format!("/v1/changes?since={since}&wait=20"));
        (status, changes, started.elapsed())
    });
    // The wait has reached the relay before anything is written.
    std::thread::sleep(Duration::from_millis(300));
    waiting
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
            let relays = vec![relay.url.clone()];
            std::thread::spawn(move || write_and_sync(phone, relays, CARDS, synced))
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
