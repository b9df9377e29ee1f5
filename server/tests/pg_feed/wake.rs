//! A waiter on relay B wakes after a write through relay A: by the
//! notification, by the listener catching up after its connection was
//! killed, and by the poll while the listener is down.

use std::time::{Duration, Instant};

use server::store::postgres::testing::TestDatabase;
use server::store::postgres::{PgStore, WakeOptions};
use sync_core::RecordId;

use crate::feeds::{Feed, two_relays};

const HOUR: Duration = Duration::from_secs(3600);
const PATIENCE: Duration = Duration::from_secs(30);

/// Waits for B's listener to be listening, and returns its backend pid.
async fn listening(store: &PgStore, not: Option<i32>) -> i32 {
    let mut listener = store.listener();
    let pid = tokio::time::timeout(
        PATIENCE,
        listener.wait_for(|pid| pid.is_some() && *pid != not),
    )
    .await
    .expect("the listener listens")
    .unwrap();
    pid.unwrap()
}

/// Starts waiting on `store` for a write after its head now; the task ends
/// with the position it woke at and how long it waited.
async fn waiter(store: &PgStore) -> (i64, impl Future<Output = (i64, Duration)>) {
    let cursor = store.feed_head().await.unwrap();
    let wait = async move {
        let start = Instant::now();
        let head = store.wait_for_feed(cursor, PATIENCE).await;
        (head, start.elapsed())
    };
    (cursor, wait)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_on_b_wakes_by_notification_after_a_write_through_a() {
    let Some(db) = TestDatabase::create("wake_notify").await else {
        return;
    };
    // B never polls: only the notification can wake it.
    let b_wake = WakeOptions {
        poll_interval: HOUR,
        reconnect_delay: HOUR,
    };
    let relays = two_relays(&db, 2, [WakeOptions::default(), b_wake]).await;
    listening(relays.relay(1), None).await;
    let (cursor, wait) = waiter(relays.relay(1)).await;
    let (woke, seq) = tokio::join!(wait, async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        relays
            .write(0, RecordId::random(), Duration::ZERO)
            .await
            .unwrap()
    });
    assert!(woke.0 > cursor, "B woke at {} after {:?}", woke.0, woke.1);
    assert_eq!(woke.0, seq);
    assert!(woke.1 < PATIENCE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_its_listener_is_killed_b_reconnects_and_catches_up() {
    let Some(db) = TestDatabase::create("wake_reconnect").await else {
        return;
    };
    // B never polls: only its listener, reconnected, can wake it.
    let b_wake = WakeOptions {
        poll_interval: HOUR,
        reconnect_delay: Duration::from_millis(300),
    };
    let relays = two_relays(&db, 2, [WakeOptions::default(), b_wake]).await;
    let (a, b) = (relays.relay(0), relays.relay(1));
    let first = listening(b, None).await;
    let (cursor, wait) = waiter(b).await;
    let killed: bool = a
        .client()
        .await
        .unwrap()
        .query_one("SELECT pg_terminate_backend($1)", &[&first])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    // Write while B's listener is down: its notification is lost.
    let mut gone = b.listener();
    tokio::time::timeout(PATIENCE, gone.wait_for(|pid| *pid != Some(first)))
        .await
        .unwrap()
        .unwrap();
    let seq = relays
        .write(0, RecordId::random(), Duration::ZERO)
        .await
        .unwrap();
    let (head, waited) = wait.await;
    assert!(
        head > cursor && head >= seq,
        "B caught up to {head} (wrote {seq}) after {waited:?}"
    );
    assert!(waited < PATIENCE);

    // And listens again: the next write wakes it by notification.
    let second = listening(b, Some(first)).await;
    assert_ne!(second, first);
    let (cursor, wait) = waiter(b).await;
    let (woke, seq) = tokio::join!(wait, async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        relays
            .write(0, RecordId::random(), Duration::ZERO)
            .await
            .unwrap()
    });
    assert!(woke.0 > cursor && woke.0 == seq, "{woke:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_its_listener_down_b_still_wakes_by_polling() {
    let Some(db) = TestDatabase::create("wake_poll").await else {
        return;
    };
    // B's listener, once killed, stays down: only the poll can wake it.
    let b_wake = WakeOptions {
        poll_interval: Duration::from_millis(100),
        reconnect_delay: HOUR,
    };
    let relays = two_relays(&db, 2, [WakeOptions::default(), b_wake]).await;
    let (a, b) = (relays.relay(0), relays.relay(1));
    let pid = listening(b, None).await;
    a.client()
        .await
        .unwrap()
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let mut down = b.listener();
    tokio::time::timeout(PATIENCE, down.wait_for(Option::is_none))
        .await
        .unwrap()
        .unwrap();
    let (cursor, wait) = waiter(b).await;
    let (woke, seq) = tokio::join!(wait, async {
        relays
            .write(0, RecordId::random(), Duration::ZERO)
            .await
            .unwrap()
    });
    assert!(woke.0 > cursor && woke.0 == seq, "{woke:?}");
    assert!(
        b.listener().borrow().is_none(),
        "woken with the listener down"
    );
}
