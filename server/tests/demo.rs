//! `doorstep demo`, as the README runs it: a populated district a new user
//! can query straight away.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::process::{Command, Stdio};
use std::time::Duration;

use doorstep_tests::http::Api;
use reqwest::StatusCode;
use sync_core::Status;

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
