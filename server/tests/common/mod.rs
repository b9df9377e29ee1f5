//! A relay on a loopback port for tests, over a real SQLite file, or over
//! a PostgreSQL database of its own when `DOORSTEP_TEST_STORE=postgres`
//! (under `scripts/with-postgres`): the suites that look only through the
//! relay's API run on both stores.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod wall;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use doorstep_tests::http::HttpPhone;
use server::config::Settings;
use server::state::AppState;
use server::store::postgres::testing::TestDatabase;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::store::Clock;
use sync_core::{EventKind, HouseholdId, NewHousehold, NewWish, Role, ScopePath, UserId, WishId};

pub const PASSWORD: &str = "correct horse battery";
pub const XIKENG: &str = "longgang/yuanshan/xikeng";
pub const HEHUA: &str = "longgang/yuanshan/hehua";

/// A relay served from a background thread until dropped.
pub struct TestRelay {
    pub url: String,
    pub db: PathBuf,
    pub state: AppState,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The database of a relay over PostgreSQL; dropped last.
    postgres: Option<TestDatabase>,
}

/// Whether the relays of this run are over PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("DOORSTEP_TEST_STORE").is_ok_and(|s| s == "postgres")
}

/// A database of its own for a relay, named after the running test.
fn test_database() -> TestDatabase {
    let label = std::thread::current()
        .name()
        .unwrap_or("relay")
        .rsplit("::")
        .next()
        .unwrap_or("relay")
        .to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(TestDatabase::create(&label)).expect(
        "DOORSTEP_TEST_STORE=postgres needs DOORSTEP_TEST_PG (run under scripts/with-postgres)",
    )
}

impl TestRelay {
    pub fn start() -> Self {
        Self::start_with(Settings::default())
    }

    /// A relay with these settings, over a database of its own (`db` is
    /// replaced).
    pub fn start_with(settings: Settings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("relay.sqlite");
        let postgres = on_postgres().then(test_database);
        let settings = Settings {
            db: db.clone(),
            store: postgres.as_ref().map(|pg| pg.conninfo().to_owned()),
            photos_dir: settings
                .photos_dir
                .clone()
                .or_else(|| postgres.as_ref().map(|_| dir.path().join("photos"))),
            ..settings
        };
        let state = server::open_state(settings).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                server::serve_until(listener, serving, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let relay = Self {
            url,
            db,
            state,
            _dir: dir,
            shutdown: Some(tx),
            thread: Some(thread),
            postgres,
        };
        relay.add_user("wang", Role::Worker, &[XIKENG]);
        relay.add_user("zhao", Role::Worker, &[XIKENG]);
        relay.add_user("sun", Role::Worker, &[HEHUA]);
        relay.add_user("chen", Role::Supervisor, &["longgang/yuanshan"]);
        relay
    }

    pub fn add_user(&self, name: &str, role: Role, scopes: &[&str]) {
        let scopes: Vec<ScopePath> = scopes.iter().map(|s| ScopePath::new(*s).unwrap()).collect();
        let user = UserId::new(name).unwrap();
        self.state
            .db
            .blocking(move |store| {
                server::accounts::add_user(store, &user, role, &scopes, PASSWORD, 0)
            })
            .unwrap();
    }

    /// A read-only connection to the relay's SQLite file, opened beside the
    /// running relay, to look at what is really stored.
    pub fn sql(&self) -> rusqlite::Connection {
        assert!(
            self.postgres.is_none(),
            "this test reads the relay's SQLite file: run it without DOORSTEP_TEST_STORE"
        );
        rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
    }

    /// Changes the relay's file behind its back, to make a situation a test
    /// cannot wait for (days passing).
    pub fn sql_write(&self, sql: &str) {
        rusqlite::Connection::open(&self.db)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    /// Everything stored about records, and the feed position.
    pub fn snapshot(&self) -> (Vec<(String, i64, Vec<u8>)>, i64) {
        if let Some(pg) = &self.postgres {
            return postgres_snapshot(pg);
        }
        let sql = self.sql();
        let rows = sql
            .prepare("SELECT id, seq, doc FROM records ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let seq = sql
            .query_row("SELECT coalesce(max(seq), 0) FROM records", [], |r| {
                r.get(0)
            })
            .unwrap();
        (rows, seq)
    }
}

/// [`TestRelay::snapshot`] of a relay over PostgreSQL.
fn postgres_snapshot(pg: &TestDatabase) -> (Vec<(String, i64, Vec<u8>)>, i64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = pg.pool(1);
        let client = pool.get().await.unwrap();
        let rows = client
            .query(
                "SELECT id::text, seq, doc FROM records WHERE seq IS NOT NULL ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let seq: i64 = client
            .query_one("SELECT seq FROM feed_counter WHERE id = 1", &[])
            .await
            .unwrap()
            .get(0);
        (rows, seq)
    })
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn clock() -> Clock {
    let now = Arc::new(AtomicI64::new(1_760_000_000_000));
    Arc::new(move || now.fetch_add(1, Ordering::SeqCst))
}

/// A household and a submitted wish card with `text`, made on `phone`
/// (not yet synced).
pub fn new_card(phone: &mut HttpPhone, text: &str) -> WishId {
    let p = &mut phone.phone;
    let community = p.community();
    let home = p
        .store
        .create_household(
            &p.author,
            &community,
            &NewHousehold {
                address: "西坑村三巷5号".into(),
                ..Default::default()
            },
        )
        .unwrap();
    submitted_card(phone, home, text)
}

/// A submitted wish card with `text` of household `home`, made on `phone`
/// (not yet synced).
pub fn submitted_card(phone: &mut HttpPhone, home: HouseholdId, text: &str) -> WishId {
    let p = &mut phone.phone;
    let id = p
        .store
        .create_wish(
            &p.author,
            &NewWish {
                household: home,
                text: text.into(),
                category: Category::MobilityAid,
                urgency: Urgency::High,
                photos: vec![],
            },
        )
        .unwrap();
    p.store
        .append_event(&p.author, id, &EventInput::new(EventKind::Submit))
        .unwrap();
    id
}
