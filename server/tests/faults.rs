//! A relay whose storage fills up, against the real binary: its database
//! reaches the size limit set in its settings file (SQLite's page limit,
//! so that no test needs a mount), as a full disk would. Syncs get a clear
//! 507 with Retry-After and nothing is acknowledged that is not stored;
//! `/healthz` says degraded; `/metrics` counts it; when the limit is raised
//! (the file edited, SIGHUP) everything goes through.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use doorstep_tests::http::{HttpPhone, client};
use doorstep_tests::process;
use doorstep_tests::relay_peer;
use sync_core::NewHousehold;
use sync_core::store::system_clock;

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const PASSWORD: &str = "correct horse battery";
const XIKENG: &str = "longgang/yuanshan/xikeng";

fn settings(path: &Path, max_db_mb: Option<u64>) {
    let limit = max_db_mb.map_or(String::new(), |mb| format!("max_db_mb = {mb}\n"));
    std::fs::write(path, limit).unwrap();
}

fn hangup(child: &std::process::Child) {
    assert!(
        Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

fn health(url: &str) -> (u16, serde_json::Value) {
    let response = client().get(format!("{url}/healthz")).send().unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

/// Waits (a signal is handled asynchronously) until `/healthz` answers `status`.
fn health_becomes(url: &str, status: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (got, body) = health(url);
        if got == status {
            return body;
        }
        assert!(Instant::now() < deadline, "/healthz stays {got}: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn households(phone: &mut HttpPhone, n: usize) {
    let author = phone.phone.author.clone();
    let community = phone.phone.community();
    for i in 0..n {
        phone
            .phone
            .store
            .create_household(
                &author,
                &community,
                &NewHousehold {
                    address: format!("西坑村{i}号"),
                    // Long notes, so that the records need new pages.
                    notes: "独居老人，需要定期探访。".repeat(150),
                    ..Default::default()
                },
            )
            .unwrap();
    }
}

fn relay_records(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_full_store_refuses_clearly_acknowledges_nothing_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let config = dir.path().join("doorstep.toml");
    settings(&config, None);
    process::add_user(BIN, &db, "wang", "worker", XIKENG, PASSWORD);
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::null());
    let relay = process::start(command, Duration::from_secs(60));
    let url = relay.url.clone();
    let mut phone = HttpPhone::login(&url, "wang", PASSWORD, system_clock()).unwrap();
    households(&mut phone, 2);
    phone.sync().unwrap();
    assert_eq!(health(&url).0, 200);

    // The limit is set to (below) what the database holds: it is full.
    settings(&config, Some(0));
    hangup(&relay.child);
    let degraded = health_becomes(&url, 503);
    assert_eq!(degraded["status"], "degraded");
    assert_eq!(degraded["reason"], "storage_full");

    let stored_before = relay_records(&db);
    households(&mut phone, 20);
    let failed = phone.sync().unwrap_err();
    assert_eq!(failed.status.map(|s| s.as_u16()), Some(507), "{failed}");
    assert!(failed.message.contains("storage_full"), "{failed}");
    let response = client()
        .post(format!("{url}/v1/sync"))
        .bearer_auth(&phone.access)
        .header("content-type", "application/vnd.doorstep.sync")
        .body({
            let (request, _) = phone.phone.store.begin_sync(&relay_peer(), &[]).unwrap();
            sync_core::sync::Message::Request(request).encode().unwrap()
        })
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 507);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("60".to_owned())
    );
    // Nothing the relay did not store is acknowledged: the phone still has
    // all twenty to send, and the relay holds at most what it could store.
    assert_eq!(
        phone.phone.store.pending_changes(&relay_peer()).unwrap(),
        20
    );
    let stored = relay_records(&db);
    assert!(stored < stored_before + 20, "it did fill up ({stored})");
    let metrics = client()
        .get(format!("{url}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let counted = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(
        counted("doorstep_storage_errors_total{code=\"storage_full\"}") >= 2.0,
        "{metrics}"
    );
    assert!(counted("doorstep_syncs_failed_total") >= 2.0, "{metrics}");

    // Space returns.
    settings(&config, None);
    hangup(&relay.child);
    assert_eq!(health_becomes(&url, 200)["status"], "ok");
    let report = phone.sync().unwrap();
    assert!(report.rejected.is_empty());
    assert_eq!(phone.phone.store.pending_changes(&relay_peer()).unwrap(), 0);
    assert_eq!(relay_records(&db), stored_before + 20);
    process::stop(relay.child);
}
