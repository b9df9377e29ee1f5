//! Versioned schema migrations.
//!
//! The SQL lives in `server/migrations/postgres/`, one file per version,
//! compiled into the relay. Each migration runs in a transaction together
//! with the row that records it in `schema_version`, so a migration is
//! either wholly applied and recorded or not at all, and a restart applies
//! only what is missing.
//!
//! Relays started at the same time may migrate at the same time. Neither
//! takes a lock for it (advisory locks are PostgreSQL's own): the loser of
//! the race fails on the winner's tables or on `schema_version`'s primary
//! key, rolls back, and looks again.

use deadpool_postgres::Client;

use super::error::{Error, Result};

/// One schema version.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first; versions count up from 1 without holes.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "001_records.sql",
        sql: include_str!("../../../migrations/postgres/001_records.sql"),
    },
    Migration {
        version: 2,
        name: "002_engine.sql",
        sql: include_str!("../../../migrations/postgres/002_engine.sql"),
    },
    Migration {
        version: 3,
        name: "003_relay.sql",
        sql: include_str!("../../../migrations/postgres/003_relay.sql"),
    },
];

/// The schema version this relay writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";
const CURRENT_VERSION: &str = "SELECT coalesce(max(version), 0) FROM schema_version";
const RECORD_VERSION: &str = "INSERT INTO schema_version (version, name) VALUES ($1, $2)";

/// How often a migration that lost a race with another relay's is tried
/// again before giving up.
const ATTEMPTS: usize = 5;

/// Brings the database's schema to [`SCHEMA_VERSION`], applying the
/// missing migrations in order. Returns the version it was at before.
pub async fn migrate(client: &mut Client) -> Result<i32> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match migrate_once(client).await {
            Err(e) if attempt < ATTEMPTS && lost_race(&e) => {
                tracing::info!(%e, "another relay migrated the schema at the same time; looking again");
            }
            result => return result,
        }
    }
}

/// The schema version the database is at (0 for an empty one).
pub async fn schema_version(client: &Client) -> Result<i32> {
    client.batch_execute(CREATE_VERSION_TABLE).await?;
    Ok(client.query_one(CURRENT_VERSION, &[]).await?.try_get(0)?)
}

async fn migrate_once(client: &mut Client) -> Result<i32> {
    let before = schema_version(client).await?;
    if before > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found: before,
            known: SCHEMA_VERSION,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > before) {
        let failed = |source| Error::Migration {
            version: migration.version,
            name: migration.name,
            source,
        };
        let tx = client.transaction().await?;
        tx.batch_execute(migration.sql).await.map_err(failed)?;
        tx.execute(RECORD_VERSION, &[&migration.version, &migration.name])
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "PostgreSQL schema migrated"
        );
    }
    Ok(before)
}

/// Whether `e` is what a migration hits when another one ran beside it:
/// a table or row that was not there when it looked.
fn lost_race(e: &Error) -> bool {
    let db = match e {
        Error::Db(db) | Error::Migration { source: db, .. } => db,
        _ => return false,
    };
    // unique_violation, duplicate_table, duplicate_object, duplicate_column
    // (an ALTER TABLE … ADD COLUMN that waited for the other migration's),
    // serialization_failure, deadlock_detected
    db.code().is_some_and(|state| {
        ["23505", "42P07", "42710", "42701", "40001", "40P01"].contains(&state.code())
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestDatabase;
    use super::*;

    #[test]
    fn versions_count_up_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(m.name.starts_with(&format!("{:03}_", m.version)));
        }
    }

    #[tokio::test]
    async fn migrates_once_and_then_does_nothing() {
        let Some(db) = TestDatabase::create("migrates_once").await else {
            return;
        };
        let pool = db.pool(2);
        let mut client = pool.get().await.unwrap();
        assert_eq!(migrate(&mut client).await.unwrap(), 0);
        assert_eq!(migrate(&mut client).await.unwrap(), SCHEMA_VERSION);
        let rows = client
            .query("SELECT version FROM schema_version ORDER BY version", &[])
            .await
            .unwrap();
        let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
        let head: i64 = client
            .query_one("SELECT seq FROM feed_counter", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(head, 0);
    }

    #[tokio::test]
    async fn relays_starting_together_both_migrate() {
        let Some(db) = TestDatabase::create("migrate_race").await else {
            return;
        };
        let pool = db.pool(8);
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { migrate(&mut pool.get().await.unwrap()).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let client = pool.get().await.unwrap();
        assert_eq!(schema_version(&client).await.unwrap(), SCHEMA_VERSION);
        let counters: i64 = client
            .query_one("SELECT count(*) FROM feed_counter", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(counters, 1, "the counter row was made once");
    }

    #[tokio::test]
    async fn refuses_a_schema_from_a_newer_relay() {
        let Some(db) = TestDatabase::create("migrate_newer").await else {
            return;
        };
        let pool = db.pool(1);
        let mut client = pool.get().await.unwrap();
        migrate(&mut client).await.unwrap();
        client
            .execute(RECORD_VERSION, &[&(SCHEMA_VERSION + 1), &"999_future.sql"])
            .await
            .unwrap();
        let e = migrate(&mut client).await.unwrap_err();
        assert!(
            matches!(e, Error::SchemaTooNew { found, known } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
            "{e}"
        );
    }
}
