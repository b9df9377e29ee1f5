//! Waking long polls when another relay writes.
//!
//! A phone or dashboard waiting for "anything after my cursor" waits in
//! the relay it asked, but the write may come through another relay. Every
//! write transaction sends `NOTIFY doorstep_feed` with its position, which
//! PostgreSQL delivers to every listening connection once the transaction
//! commits. Each relay keeps one connection listening (outside its pool)
//! and raises its known head when a notification comes.
//!
//! A notification is only a hint. The listening connection can drop (a
//! restart, a proxy, an idle timeout) and notifications sent while it is
//! down are not kept for it. So the listener reconnects, reads the head
//! once it listens again (whatever it missed is then counted), and a
//! poll reads the head every [`WakeOptions::poll_interval`] in any case:
//! a waiter wakes at most that late even when no notification ever comes.
//!
//! YugabyteDB and CockroachDB have no LISTEN/NOTIFY; there the poll is
//! what wakes waiters.

use std::future::poll_fn;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Config, NoTls};

use super::error::Result;
use super::feed::feed_head;

/// The channel the feed's hints are sent on.
pub const FEED_CHANNEL: &str = "doorstep_feed";

/// The `application_name` of each relay's listening connection, which is
/// how an operator (or a test) finds it in `pg_stat_activity`.
pub const LISTENER_NAME: &str = "doorstep feed listener";

/// How a relay learns of other relays' writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeOptions {
    /// How often the feed's head is read when no notification says it
    /// moved: the latest a waiter wakes when notifications are lost.
    pub poll_interval: Duration,
    /// How long the listener waits before connecting again after its
    /// connection dropped or could not be made.
    pub reconnect_delay: Duration,
}

impl Default for WakeOptions {
    fn default() -> Self {
        WakeOptions {
            poll_interval: Duration::from_secs(2),
            reconnect_delay: Duration::from_secs(1),
        }
    }
}

/// The newest feed position this relay knows to be committed, kept up by
/// the listener and the poll; and the listener's state.
pub(super) struct Waker {
    head: watch::Sender<i64>,
    listener: watch::Sender<Option<i32>>,
    tasks: [JoinHandle<()>; 2],
}

impl Waker {
    /// Starts the listener (on a connection of its own, made from
    /// `config`) and the poll (through `pool`), from a known `head`.
    pub(super) fn start(config: Config, pool: Pool, head: i64, options: WakeOptions) -> Waker {
        let (head, _) = watch::channel(head);
        let (listener, _) = watch::channel(None);
        let listen = tokio::spawn(listen(
            config,
            head.clone(),
            listener.clone(),
            options.reconnect_delay,
        ));
        let poll = tokio::spawn(poll(pool, head.clone(), options.poll_interval));
        Waker {
            head,
            listener,
            tasks: [listen, poll],
        }
    }

    /// The newest position known to be committed.
    pub(super) fn head(&self) -> i64 {
        *self.head.borrow()
    }

    /// Waits until a position after `cursor` is known to be committed, or
    /// `timeout` has passed; returns the newest known position.
    pub(super) async fn wait_after(&self, cursor: i64, timeout: Duration) -> i64 {
        let mut head = self.head.subscribe();
        // The sender lives as long as `self`: `wait_for` ends by the
        // condition or the timeout.
        let _ = tokio::time::timeout(timeout, head.wait_for(|&h| h > cursor)).await;
        self.head()
    }

    /// A receiver of the newest position known to be committed.
    pub(super) fn heads(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// The listener's backend process id while it is connected and
    /// listening, `None` while it is not.
    pub(super) fn listener(&self) -> watch::Receiver<Option<i32>> {
        self.listener.subscribe()
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Raises the known head to `seq` (never lowers it: a notification and a
/// poll may arrive out of order).
fn publish(head: &watch::Sender<i64>, seq: i64) {
    head.send_if_modified(|known| {
        let newer = seq > *known;
        if newer {
            *known = seq;
        }
        newer
    });
}

async fn listen(
    config: Config,
    head: watch::Sender<i64>,
    listener: watch::Sender<Option<i32>>,
    reconnect_delay: Duration,
) {
    let mut config = config;
    config.application_name(LISTENER_NAME);
    loop {
        match listen_once(&config, &head, &listener).await {
            Ok(()) => tracing::warn!("the feed listener's connection closed; reconnecting"),
            Err(e) => tracing::warn!(%e, "the feed listener failed; reconnecting"),
        }
        listener.send_replace(None);
        tokio::time::sleep(reconnect_delay).await;
    }
}

/// One connection's life: listen, catch up, then raise the head on every
/// notification until the connection ends.
async fn listen_once(
    config: &Config,
    head: &watch::Sender<i64>,
    listener: &watch::Sender<Option<i32>>,
) -> Result<()> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (notes, mut notified) = mpsc::unbounded_channel();
    // The connection is driven here so that its notifications can be read;
    // the client's statements go through it too.
    let mut driver = AbortOnDrop(tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if notes.send(n.payload().parse::<i64>().ok()).is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    }));
    client
        .batch_execute(&format!("LISTEN {FEED_CHANNEL}"))
        .await?;
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await?
        .try_get(0)?;
    // Listening from here on: what was written before is in the head.
    let now: i64 = client
        .query_one("SELECT seq FROM feed_counter WHERE id = 1", &[])
        .await?
        .try_get(0)?;
    publish(head, now);
    listener.send_replace(Some(pid));
    tracing::debug!(pid, "the feed listener is listening");
    while let Some(seq) = notified.recv().await {
        match seq {
            Some(seq) => publish(head, seq),
            // A hint without a position (sent by hand, say): read the head.
            None => {
                let now: i64 = client
                    .query_one("SELECT seq FROM feed_counter WHERE id = 1", &[])
                    .await?
                    .try_get(0)?;
                publish(head, now);
            }
        }
    }
    drop(client);
    match (&mut driver.0).await {
        Ok(Err(e)) => Err(e.into()),
        _ => Ok(()),
    }
}

async fn poll(pool: Pool, head: watch::Sender<i64>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match read_head(&pool).await {
            Ok(seq) => publish(&head, seq),
            Err(e) => tracing::debug!(%e, "polling the feed's head failed"),
        }
    }
}

async fn read_head(pool: &Pool) -> Result<i64> {
    feed_head(&pool.get().await?).await
}

/// A task that ends with the value holding it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
