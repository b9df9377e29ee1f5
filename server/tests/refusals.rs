//! Refusals a supervisor meets in the dashboard carry a specific, stable
//! `reason` beside the general `error` code the phones know, so that the
//! dashboard can say them in its own language.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use common::{PASSWORD, TestRelay, clock, new_card};
use doorstep_tests::http::{Api, HttpPhone};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn refused(answer: (StatusCode, Value)) -> (StatusCode, String, String) {
    let (status, body) = answer;
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn each_refusal_names_its_reason_and_keeps_its_general_code() {
    let relay = TestRelay::start();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let card = new_card(&mut wang, "给李大爷一台轮椅");
    assert!(wang.sync().unwrap().rejected.is_empty());
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let path = |what: &str| format!("/v1/wishes/{card}/{what}");
    let bad = StatusCode::BAD_REQUEST;
    let forbidden = StatusCode::FORBIDDEN;
    let reason = |s: &str| s.to_owned();

    for body in [
        json!({"decision": "reject"}),
        json!({"decision": "reject", "reason": "   "}),
    ] {
        assert_eq!(
            refused(chen.post(&path("review"), body)),
            (bad, reason("bad_request"), reason("reason_required"))
        );
    }
    assert_eq!(
        refused(chen.post(
            &path("review"),
            json!({"decision": "needs_info", "reason": ""})
        )),
        (bad, reason("bad_request"), reason("reason_required"))
    );
    assert_eq!(
        chen.post(&path("review"), json!({"decision": "approve"})).0,
        StatusCode::OK
    );
    assert_eq!(
        refused(chen.post(&path("review"), json!({"decision": "approve"}))),
        (forbidden, reason("forbidden"), reason("not_allowed_now")),
        "approved already"
    );
    assert_eq!(
        refused(chen.post(&path("cancel"), json!({}))),
        (bad, reason("bad_request"), reason("reason_required"))
    );
    assert_eq!(
        refused(chen.post(&path("assign"), json!({"claimant": " "}))),
        (bad, reason("bad_request"), reason("claimant_required"))
    );
    assert_eq!(
        refused(chen.get("/v1/stats?scope=longgang/buji")),
        (forbidden, reason("forbidden"), reason("out_of_scope"))
    );
    let worker = Api::login(&relay.url, "wang", PASSWORD).unwrap();
    let (status, body) = worker.post(&path("review"), json!({"decision": "approve"}));
    assert_eq!(status, forbidden, "{body}");
    // Refusals without a more specific reason have none.
    let (status, body) = chen.get("/v1/wishes/not-a-card");
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    assert!(body.get("reason").is_none(), "{body}");
}
