//! `doorstep demo`, as the README runs it: a populated district a new user
//! can query straight away.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::process::{Command, Stdio};
use std::time::Duration;

use doorstep_tests::http::Api;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_core::Status;

const DAY: i64 = 86_400_000;

#[test]
fn the_demo_district_is_populated_in_every_workflow_state() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorstep"));
    command
        .args(["demo", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    let started = doorstep_tests::process::start(command, Duration::from_secs(240));
    let (mut child, url, printed) = (started.child, started.url, started.printed);
    let welcome = printed.join("\n");
    assert!(
        welcome.contains("doorstep-demo") && welcome.contains("chen"),
        "the logins are printed:\n{welcome}"
    );

    let chen = Api::login(&url, "chen", "doorstep-demo").unwrap();
    let (status, stats) = chen.get("/v1/stats");
    assert_eq!(status, StatusCode::OK);
    let total = &stats["total"];
    for s in Status::ALL {
        assert!(
            total["by_status"][s.as_str()].as_u64().unwrap_or(0) > 0,
            "some cards are {s}: {total}"
        );
    }
    let cards: u64 = total["by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!((700..=900).contains(&cards), "about 800 cards, got {cards}");
    assert_eq!(stats["streets"].as_array().unwrap().len(), 3);
    assert_eq!(stats["communities"].as_array().unwrap().len(), 6);
    let median = total["median_days_to_fulfil"].as_f64().unwrap();
    assert!(
        median > 0.0 && median < 60.0,
        "median days to fulfil {median}"
    );
    let households = chen.get("/v1/households?limit=1").1["total"]
        .as_u64()
        .unwrap();
    assert!(
        (450..=550).contains(&households),
        "about 500 households, got {households}"
    );
    assert!(
        !chen.get("/v1/conflicts").1.as_array().unwrap().is_empty(),
        "a few conflicts"
    );

    // The devices page: xu's phone was lost after it met wang's, whose sync
    // brought xu's last visit and card in, held; sun's phone holds work it
    // has not synced for days; zheng's old phone's clock is a year ahead.
    let devices = chen.get("/v1/devices").1;
    let devices = devices.as_array().unwrap();
    let only = |what: &str| -> Vec<&Value> { devices.iter().filter(|d| d[what] == true).collect() };
    let lost: Vec<_> = devices.iter().filter(|d| d["standing"] == "lost").collect();
    assert_eq!(lost.len(), 1, "one lost phone: {devices:?}");
    assert_eq!(lost[0]["username"], "xu");
    let stranded = only("stranded");
    assert_eq!(
        stranded.len(),
        1,
        "one phone holds work for days: {devices:?}"
    );
    assert_eq!(
        (&stranded[0]["username"], &stranded[0]["pending"]),
        (&json!("sun"), &json!(3))
    );
    let clock_wrong = only("clock_wrong");
    assert_eq!(clock_wrong.len(), 1, "one wrong clock: {devices:?}");
    assert_eq!(clock_wrong[0]["username"], "zheng");
    let offset = clock_wrong[0]["clock_offset_ms"].as_i64().unwrap();
    assert!(
        (364 * DAY..366 * DAY).contains(&offset),
        "a year ahead: {offset}"
    );
    // What zheng's old phone recorded before its first sync carries its
    // clock's year; the relay corrected it.
    let (_, fast) = chen.get(&format!("/v1/wishes?q={}", "卫生间需要装一个扶手"));
    let fast = &fast["items"][0];
    let (_, card) = chen.get(&format!("/v1/wishes/{}", fast["id"].as_str().unwrap()));
    let corrected = card["clock_corrected"].as_array().unwrap();
    assert_eq!(corrected.len(), 1, "the submission: {card}");
    let written = corrected[0]["written"].as_i64().unwrap();
    let submitted = card["state"]["submitted_at"].as_i64().unwrap();
    assert!(
        (364 * DAY..366 * DAY).contains(&(written - submitted)),
        "written {written}, shown {submitted}"
    );
    assert!(card["created_at"].as_i64().unwrap() < written - 300 * DAY);
    let held = chen.get("/v1/quarantine").1;
    let held = held.as_array().unwrap();
    let mut kinds: Vec<_> = held.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["visit", "wish"], "{held:?}");
    for h in held {
        assert_eq!(
            h["authors"],
            json!([{"device": lost[0]["id"], "user": "xu"}])
        );
        assert_eq!(h["carrier"]["user"], "wang");
        assert!(h["decision"].is_null());
        assert_eq!(h["community"], "longgang/yuanshan/xikeng");
    }
    let wish = held.iter().find(|h| h["kind"] == "wish").unwrap();
    assert_eq!(wish["preview"], "独居的刘奶奶想换一个带熄火保护的燃气灶");
    assert_eq!(
        chen.get(&format!("/v1/wishes/{}", wish["record"].as_str().unwrap()))
            .0,
        StatusCode::NOT_FOUND,
        "held, not applied"
    );

    // wang photographed a few cards: three photos reached the relay, the
    // last is missing for weeks, and the devices page lists it.
    let pending = chen.get("/v1/photos/pending?days=3").1;
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 1, "one photo missing: {pending:?}");
    assert_eq!(pending[0]["device_name"], "wang's phone (wang)");
    let (_, card) = chen.get(&format!(
        "/v1/wishes/{}",
        pending[0]["record_id"].as_str().unwrap()
    ));
    assert_eq!(card["photo_states"][0]["state"], "pending");
    let (_, metrics) = chen.get_text("/metrics");
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("doorstep_photos_held 3\n"),
        "three photos held: {metrics}"
    );

    // A street supervisor sees only their street; a worker only their community.
    let liu = Api::login(&url, "liu", "doorstep-demo").unwrap();
    let liu_total = liu.get("/v1/wishes?limit=1").1["total"].as_u64().unwrap();
    assert!(liu_total > 0 && liu_total < cards);
    let wang = Api::login(&url, "wang", "doorstep-demo").unwrap();
    let wang_total = wang.get("/v1/wishes?limit=1").1["total"].as_u64().unwrap();
    assert!(wang_total > 0 && wang_total < liu_total);

    child.kill().unwrap();
    child.wait().unwrap();
}
