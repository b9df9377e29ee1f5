//! `doorstep store copy` moves the demo district from its SQLite file onto
//! PostgreSQL: every record's heads are equal afterwards, the dashboard's
//! statistics and lists read the same from a relay on either store, the
//! district's logins and phones' tokens still work, and a second copy into
//! the same database is refused without changing it.
//!
//! Needs `DOORSTEP_TEST_PG` (run under `scripts/with-postgres`); without it
//! the test skips, or fails under `CI=true`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::process::Command;

use doorstep_tests::http::Api;
use doorstep_tests::process::{Started, serve, serve_store};
use server::auth::Keys;
use server::demo::{DEMO_PASSWORD, seed_if_empty};
use server::store::RelayStore;
use server::store::postgres::testing::TestDatabase;
use sync_core::store::WishFilter;
use sync_core::{ScopePath, Store};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");

fn database(label: &str) -> Option<TestDatabase> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(TestDatabase::create(label))
}

fn copy(from: &std::path::Path, to: &str) -> std::process::Output {
    Command::new(BIN)
        .args(["store", "copy", "--from"])
        .arg(from)
        .args(["--to", to])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn kill(started: Started) {
    let mut child = started.child;
    let _ = child.kill();
    let _ = child.wait();
}

/// What a supervisor's dashboard reads from the relay at `url`.
fn dashboard(url: &str) -> Vec<serde_json::Value> {
    let chen = Api::login(url, "chen", DEMO_PASSWORD).unwrap();
    [
        "/v1/stats",
        "/v1/wishes?limit=500",
        "/v1/wishes?q=轮椅",
        "/v1/households?limit=500",
    ]
    .iter()
    .map(|path| {
        let (status, body) = chen.get(path);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    })
    .collect()
}

#[test]
fn the_demo_district_copied_onto_postgres_reads_the_same() {
    let Some(db) = database("store_copy") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("district.sqlite");
    let keys = Keys::load_or_create(&dir.path().join("district.sqlite.key")).unwrap();
    assert!(
        seed_if_empty(&file, &keys).unwrap(),
        "the demo district is seeded"
    );

    let out = copy(&file, db.conninfo());
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sqlite = Store::open(&file).unwrap();
    let records: i64 = sqlite
        .connection()
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert!(
        printed.contains(&format!("{records} records, each with equal heads")),
        "{printed}"
    );
    assert!(!printed.contains("password"), "{printed}");

    // Every record's heads, checked here too, not only by the copy itself.
    let pg = server::store::open_postgres(db.conninfo()).unwrap();
    let ids: Vec<String> = sqlite
        .connection()
        .prepare("SELECT id FROM records")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids.len() as i64, records);
    for id in &ids {
        let id = id.parse().unwrap();
        assert_eq!(
            sync_core::sync::storage::SyncStorage::stored(&pg, id)
                .unwrap()
                .map(|s| s.heads),
            sqlite.stored(id).unwrap().map(|s| s.heads),
            "record {id}"
        );
    }
    let everywhere = [ScopePath::new("longgang").unwrap()];
    assert_eq!(
        RelayStore::stats(&pg, &everywhere).unwrap(),
        RelayStore::stats(&sqlite, &everywhere).unwrap(),
        "the district's statistics"
    );
    let all = WishFilter {
        limit: Some(500),
        ..WishFilter::default()
    };
    assert_eq!(
        pg.list_wishes(&all).unwrap().items,
        sqlite.list_wishes(&all).unwrap().items
    );
    assert_eq!(pg.list_users().unwrap(), sqlite.list_users().unwrap());
    assert_eq!(
        pg.audit_log(&Default::default()).unwrap().len(),
        sqlite.audit_log(&Default::default()).unwrap().len() + 1,
        "the copy itself is in the audit log"
    );
    drop(pg);
    drop(sqlite);

    // The dashboard reads the same from a relay on either store.
    let photos = dir.path().join("photos");
    let on_pg = serve_store(BIN, db.conninfo(), &photos);
    let on_file = serve(BIN, &file);
    assert_eq!(dashboard(&on_pg.url), dashboard(&on_file.url));
    kill(on_file);
    kill(on_pg);

    // A second copy finds a district there and changes nothing.
    let again = copy(&file, db.conninfo());
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("already holds a district"), "{said}");
    let pg = server::store::open_postgres(db.conninfo()).unwrap();
    assert_eq!(pg.usage().unwrap().records, records);
}
