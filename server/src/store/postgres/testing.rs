//! A fresh PostgreSQL database for each test.
//!
//! The tests of the PostgreSQL store run against a real server, named by
//! [`TEST_PG_VAR`] (`DOORSTEP_TEST_PG`), a libpq-style connection string
//! such as `host=/tmp/pg user=postgres dbname=postgres`;
//! `scripts/with-postgres` starts a throwaway cluster and sets it. Each test
//! makes a database of its own there, which is dropped when the test is
//! done with it, so tests run in parallel and leave nothing behind.
//!
//! Without the variable a test cannot run. On a developer's machine it says
//! so and passes; under CI (`CI=true`) it fails, so that a CI that lost its
//! database never goes green by skipping.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{Config, NoTls};

/// The environment variable naming the PostgreSQL server for tests.
pub const TEST_PG_VAR: &str = "DOORSTEP_TEST_PG";

/// A database made for one test, dropped (with whatever still holds a
/// connection to it) when this value is.
pub struct TestDatabase {
    admin: Config,
    config: Config,
    conninfo: String,
    name: String,
}

impl TestDatabase {
    /// Makes a new, empty database on the server of [`TEST_PG_VAR`], named
    /// after `label` (the test's name). `None` when the variable is unset
    /// and this is not CI: the test should return early; the reason is
    /// printed.
    ///
    /// # Panics
    ///
    /// When the variable is unset under `CI=true`, does not parse, or names
    /// a server that cannot make the database: a test that cannot reach
    /// its database fails.
    pub async fn create(label: &str) -> Option<TestDatabase> {
        let Ok(conninfo) = std::env::var(TEST_PG_VAR) else {
            if on_ci() {
                panic!(
                    "{TEST_PG_VAR} is not set, and CI=true: the PostgreSQL tests need a server \
                     (run them under scripts/with-postgres, as scripts/test does)"
                );
            }
            eprintln!(
                "skipped {label}: {TEST_PG_VAR} is not set (run under scripts/with-postgres to include the PostgreSQL tests)"
            );
            return None;
        };
        let admin = Config::from_str(&conninfo)
            .unwrap_or_else(|e| panic!("{TEST_PG_VAR}={conninfo:?} does not parse: {e}"));
        let name = database_name(label);
        let mut config = admin.clone();
        config.dbname(&name);
        let (client, connection) = admin
            .connect(NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {TEST_PG_VAR}={conninfo:?}: {e}"));
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name} on {conninfo:?}: {e}"));
        drop(client);
        let _ = driver.await;
        Some(TestDatabase {
            admin,
            config,
            conninfo: format!("{conninfo} dbname={name}"),
            name,
        })
    }

    /// How to connect to this database.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How to connect to this database, as `--store` takes it.
    pub fn conninfo(&self) -> &str {
        &self.conninfo
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A plain connection pool over this database (no migrations run, no
    /// listener), for tests that look at tables directly.
    ///
    /// # Panics
    ///
    /// If the pool cannot be built (it connects lazily, so only on bad settings).
    pub fn pool(&self, size: usize) -> Pool {
        let manager = Manager::from_config(
            self.config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .build()
            .unwrap_or_else(|e| panic!("a pool over {}: {e}", self.name))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside any async context it could await in: a thread
        // with its own runtime does the work.
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let (client, connection) = admin.connect(NoTls).await.map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client.batch_execute(&sql).await.map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test database {}", self.name),
        }
    }
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// `doorstep_<label>_<pid>_<n>`: unique among parallel tests and test
/// processes, at most PostgreSQL's 63 bytes, and safe inside double quotes.
fn database_name(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let label: String = label
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '_',
        })
        .take(32)
        .collect();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("doorstep_{label}_{}_{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_short_and_plain() {
        let a = database_name("Two relays: one DB — 两个");
        let b = database_name("Two relays: one DB — 两个");
        assert_ne!(a, b);
        assert!(a.len() <= 63, "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{a}"
        );
    }

    #[tokio::test]
    async fn a_test_database_is_made_and_dropped() {
        let Some(db) = TestDatabase::create("made_and_dropped").await else {
            return;
        };
        let name = db.name().to_owned();
        let admin = db.admin.clone();
        let pool = db.pool(1);
        let one: i32 = pool
            .get()
            .await
            .unwrap()
            .query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(one, 1);
        drop(db); // while the pool still holds its connection
        let (client, connection) = admin.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        let left: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                &[&name],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 0, "{name} was dropped");
    }
}
