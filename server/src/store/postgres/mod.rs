//! The relay's records on PostgreSQL, for districts that run several
//! relays over one database.
//!
//! What is here is the foundation the sync engine's storage trait will be
//! implemented on: a connection pool, versioned schema migrations
//! ([`migrate`]), records written one read-merge-write at a time under a
//! row lock ([`lock_record`], [`store_record`]), a feed that is gapless
//! and in commit order ([`feed_after`]), and long polls woken across
//! relays by `LISTEN/NOTIFY` with a poll behind it
//! ([`PgStore::wait_for_feed`]).
//!
//! On it, [`PgEngine`] is sync-core's engine storage (`SyncStorage`, its
//! `PullView` and `Directory`): the engine runs over PostgreSQL unchanged,
//! and keeps the same storage contract as over SQLite
//! (`server/tests/pg_contract.rs`). The relay does not serve from it yet.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use server::store::postgres::{PgOptions, PgStore, RecordWrite, Result, lock_record, store_record};
//! use sync_core::RecordId;
//!
//! /// Merges a pushed change into record `id`, then waits for the next write.
//! async fn merge(store: &PgStore, id: RecordId, merged: RecordWrite) -> Result<()> {
//!     let mut client = store.client().await?;
//!     let tx = client.transaction().await?;
//!     let locked = lock_record(&tx, id).await?;
//!     // … merge the pushed changes into `locked.current()`, giving `merged` …
//!     let seq = store_record(&tx, locked, &merged).await?;
//!     tx.commit().await?;
//!
//!     let page = store.feed_after(seq - 1, None, 100).await?;
//!     assert_eq!(page.records[0].id, id);
//!     let head = store.wait_for_feed(page.next, Duration::from_secs(25)).await;
//!     Ok(())
//! }
//!
//! # async fn open() -> Result<()> {
//! let store = PgStore::connect(PgOptions::parse("host=/run/postgresql dbname=doorstep")?).await?;
//! # Ok(()) }
//! ```
//!
//! # PostgreSQL, YugabyteDB, CockroachDB
//!
//! The SQL keeps to what YugabyteDB and CockroachDB also speak (tables,
//! `ON CONFLICT`, `FOR UPDATE`, data-modifying `WITH`, `= ANY` over text
//! arrays), except:
//!
//! - `LISTEN` and `pg_notify` (the wake-up hint) are PostgreSQL's: on the
//!   others [`store_record`]'s statement must leave the `pg_notify` out and
//!   the listener stay off, and the poll wakes waiters,
//!   [`WakeOptions::poll_interval`] late;
//! - CockroachDB runs transactions SERIALIZABLE, so writers meeting at the
//!   feed's counter row retry (SQLSTATE 40001) where PostgreSQL queues them;
//! - the tests' `DROP DATABASE … WITH (FORCE)` is PostgreSQL 13's.
//!
//! Connections are plain (no TLS) for now: a socket on the same machine
//! or a private network.

mod accounts;
pub mod backup;
mod copy;
mod engine;
mod error;
mod feed;
mod migrate;
mod pull;
mod records;
mod relay;
pub mod testing;
mod wake;

pub use copy::{CopyReport, copy_to_postgres};
pub use deadpool_postgres::{Client, Transaction};
pub use engine::PgEngine;
pub use error::{Error, Result};
pub use feed::{FeedPage, feed_after, feed_head};
pub use migrate::{SCHEMA_VERSION, migrate, schema_version};
pub use records::{Locked, RecordWrite, StoredRecord, load_record, lock_record, store_record};
pub use tokio_postgres::Config;
pub use wake::{FEED_CHANNEL, LISTENER_NAME, WakeOptions};

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Status};
use sync_core::{RecordId, ScopePath};
use tokio::sync::watch;
use tokio_postgres::NoTls;

use wake::Waker;

/// How to reach the database, and how the relay uses it.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// The connection settings.
    pub config: Config,
    /// The most connections the pool opens (the listener has its own).
    pub pool_size: usize,
    /// How long a request waits for a free connection before failing.
    pub pool_wait: Duration,
    /// How other relays' writes wake this relay's waiters.
    pub wake: WakeOptions,
}

impl PgOptions {
    /// Default options for a database reached with `config`.
    pub fn new(config: Config) -> PgOptions {
        PgOptions {
            config,
            pool_size: 16,
            pool_wait: Duration::from_secs(10),
            wake: WakeOptions::default(),
        }
    }

    /// Default options for a connection string: `postgres://user@host/db`
    /// or libpq's `host=/run/postgresql user=doorstep dbname=doorstep`.
    pub fn parse(conninfo: &str) -> Result<PgOptions> {
        let config = Config::from_str(conninfo).map_err(|e| Error::Config(e.to_string()))?;
        Ok(PgOptions::new(config))
    }
}

/// One relay's handle on the PostgreSQL store: its connection pool, and
/// the listener and poll that keep [`PgStore::wait_for_feed`] awake.
/// Several relays each have one over the same database.
pub struct PgStore {
    pool: Pool,
    waker: Waker,
}

impl PgStore {
    /// Connects, brings the schema up to date ([`migrate`]) and starts
    /// listening for other relays' writes.
    pub async fn connect(options: PgOptions) -> Result<PgStore> {
        let mut config = options.config;
        if config.get_application_name().is_none() {
            config.application_name("doorstep");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .wait_timeout(Some(options.pool_wait))
            .create_timeout(Some(options.pool_wait))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let head = {
            let mut client = pool.get().await?;
            migrate(&mut client).await?;
            feed_head(&client).await?
        };
        config.application_name("doorstep feed listener");
        let waker = Waker::start(config, pool.clone(), head, options.wake);
        Ok(PgStore { pool, waker })
    }

    /// A connection from the pool, for a transaction of
    /// [`lock_record`] and [`store_record`].
    pub async fn client(&self) -> Result<Client> {
        Ok(self.pool.get().await?)
    }

    /// The pool's figures (connections open, idle, waited for).
    pub fn pool_status(&self) -> Status {
        self.pool.status()
    }

    /// A stored record, read without a lock.
    pub async fn load_record(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        load_record(&self.client().await?, id).await
    }

    /// The feed's head, read from the database.
    pub async fn feed_head(&self) -> Result<i64> {
        feed_head(&self.client().await?).await
    }

    /// A page of the feed: see [`feed_after`].
    pub async fn feed_after(
        &self,
        cursor: i64,
        scopes: Option<&[ScopePath]>,
        limit: usize,
    ) -> Result<FeedPage> {
        feed_after(&mut self.client().await?, cursor, scopes, limit).await
    }

    /// Waits until a write after `cursor` has committed, through any relay,
    /// or until `timeout`; returns the newest position known. A long poll
    /// calls it and then reads the feed.
    pub async fn wait_for_feed(&self, cursor: i64, timeout: Duration) -> i64 {
        self.waker.wait_after(cursor, timeout).await
    }

    /// The newest feed position known to be committed, through any relay,
    /// as it moves; it closes when this store is dropped.
    pub fn feed_heads(&self) -> watch::Receiver<i64> {
        self.waker.heads()
    }

    /// The backend process id of the connection listening for other
    /// relays' writes, while it is listening; `None` while it reconnects.
    pub fn listener(&self) -> watch::Receiver<Option<i32>> {
        self.waker.listener()
    }
}
