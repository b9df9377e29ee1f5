//! What an attacker tried against the relay, each refused: formulas in the
//! CSV export, refused actions that left a trace, control characters in
//! names, absurd dates, and tokens the relay would never have issued.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use automerge::ROOT;
use automerge::transaction::Transactable;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{PASSWORD, TestRelay, clock, new_card};
use doorstep_tests::http::{Api, HttpPhone, client, login, uuid_like};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_core::sync::RejectCode;

fn submitted_card(relay: &TestRelay, text: &str) -> String {
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let card = new_card(&mut wang, text);
    let report = wang.sync().unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    card.to_string()
}

/// The export's rows (after the header), as a spreadsheet reads them.
fn export(api: &Api) -> Vec<Vec<String>> {
    let (status, body) = api.get_text("/v1/export/wishes.csv");
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes())
        .into_records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn cells_that_look_like_formulas_reach_the_spreadsheet_as_text() {
    let relay = TestRelay::start();
    let formulas = [
        "=HYPERLINK(\"http://example.invalid\",\"点这里\")",
        "+86 138 0000 0000",
        "-1 把椅子",
        "@SUM(A1:A9)",
        "\t=1+1",
    ];
    for text in formulas {
        submitted_card(&relay, text);
    }
    let plain = submitted_card(&relay, "给李大爷一台轮椅");
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    assert_eq!(
        chen.post(
            &format!("/v1/wishes/{plain}/review"),
            json!({"decision": "approve"})
        )
        .0,
        StatusCode::OK
    );
    let claimant = "=cmd|' /C calc'!A0";
    let (status, body) = chen.post(
        &format!("/v1/wishes/{plain}/assign"),
        json!({ "claimant": claimant }),
    );
    assert_eq!(status, StatusCode::OK, "{body}");

    let rows = export(&chen);
    // 编号 (id), 心愿内容 (the wish) and 认领人/单位 (the claimant).
    let (id, wish, claimed_by) = (0, 3, 8);
    let texts: Vec<&str> = rows.iter().map(|r| r[wish].as_str()).collect();
    for text in formulas {
        let inert = format!("'{text}");
        assert!(
            texts.contains(&inert.as_str()),
            "{text:?} is not exported as {inert:?}: {texts:?}"
        );
    }
    let row = rows.iter().find(|r| r[id] == plain).unwrap();
    assert_eq!(row[wish], "给李大爷一台轮椅", "plain text is left alone");
    assert_eq!(row[claimed_by], format!("'{claimant} （未注册）"));
}

/// Rows of records (id, seq, document) and the feed position.
type Snapshot = (Vec<(String, i64, Vec<u8>)>, i64);

/// What the relay stores that a refused action must not touch: how many
/// devices it knows, and its records.
fn stored(relay: &TestRelay) -> (i64, Snapshot) {
    let devices = relay
        .sql()
        .query_row("SELECT count(*) FROM devices", [], |r| r.get(0))
        .unwrap();
    (devices, relay.snapshot())
}

#[test]
fn a_refused_action_writes_nothing_not_even_a_device() {
    let relay = TestRelay::start();
    let card = submitted_card(&relay, "修好巷口的路灯");
    // A supervisor with an API token: the relay writes as their web device
    // the first time they act, and only if the action goes through.
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let web_devices = || -> i64 {
        relay
            .sql()
            .query_row("SELECT count(*) FROM devices WHERE kind = 'web'", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let before = stored(&relay);
    let refused = [
        ("review", json!({"decision": "reject"})), // no reason
        ("review", json!({"decision": "needs_info", "reason": " "})),
        ("fulfil", json!({})),              // not claimed
        ("feedback", json!({"rating": 4})), // not fulfilled
        ("assign", json!({"claimant": "李\u{0}四"})),
        ("cancel", json!({"reason": "不需要了"})), // not approved
    ];
    for (action, body) in refused {
        let (status, answer) = chen.post(&format!("/v1/wishes/{card}/{action}"), body.clone());
        assert!(
            status.is_client_error(),
            "{action} {body} is not refused: {status} {answer}"
        );
        assert!(answer["message"].is_string(), "{action}: {answer}");
        assert!(
            stored(&relay) == before,
            "{action} {body} changed the store"
        );
    }
    assert_eq!(web_devices(), 0);

    // The same supervisor's first accepted action does register the device.
    let (status, _) = chen.post(
        &format!("/v1/wishes/{card}/review"),
        json!({"decision": "approve"}),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(web_devices(), 1);
}

#[test]
fn control_characters_are_refused_in_names_on_every_path() {
    let relay = TestRelay::start();
    let nasty = [
        "phone\u{0}",
        "\u{1b}[2J\u{1b}[31m红米",
        "line\nbreak",
        "张三\u{202e}txt.exe",
    ];
    // A device's name at login: refused before the password is checked,
    // and no device is registered.
    for name in nasty {
        let response = client()
            .post(format!("{}/v1/auth/login", relay.url))
            .json(&json!({"username": "wang", "password": PASSWORD,
                          "device_id": uuid_like(), "device_name": name}))
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name:?}");
        let body: Value = response.json().unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("control characters"),
            "{body}"
        );
    }
    let phones: i64 = relay
        .sql()
        .query_row("SELECT count(*) FROM devices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(phones, 0);

    // A claimant, from the dashboard's dispatch.
    let card = submitted_card(&relay, "送一台轮椅");
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    chen.post(
        &format!("/v1/wishes/{card}/review"),
        json!({"decision": "approve"}),
    );
    for name in nasty {
        let (status, body) = chen.post(
            &format!("/v1/wishes/{card}/assign"),
            json!({ "claimant": name }),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {body}");
    }
    let (_, detail) = chen.get(&format!("/v1/wishes/{card}"));
    assert_eq!(detail["status"], "approved");

    // Text a modified app wrote around the library's checks: that record is
    // refused, and the rest of the sync goes through.
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let good = new_card(&mut wang, "修一下楼道灯");
    let bad = new_card(&mut wang, "placeholder");
    doorstep_tests::tamper(&mut wang.phone, bad.record(), |tx| {
        tx.put(ROOT, "text", "\u{1b}]8;;http://example.invalid\u{7}点我")
            .unwrap();
    });
    let report = wang.sync().unwrap();
    let refused: Vec<_> = report.rejected.iter().map(|r| (r.id, r.code)).collect();
    assert_eq!(refused, vec![(bad.record(), RejectCode::Invalid)]);
    assert!(
        report.rejected[0].reason.contains("control characters"),
        "{:?}",
        report.rejected[0]
    );
    assert_eq!(chen.get(&format!("/v1/wishes/{good}")).0, StatusCode::OK);
    assert_eq!(
        chen.get(&format!("/v1/wishes/{bad}")).0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn absurd_dates_get_a_clear_400() {
    let relay = TestRelay::start();
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    for query in [
        "to=9223372036854775807",
        "from=-9223372036854775808",
        "to=-1",
        "from=99999-01-01",
        "to=2026-02-30",
        "from=next%20week",
    ] {
        for path in ["/v1/wishes", "/v1/export/wishes.csv"] {
            let (status, body) = chen.get(&format!("{path}?{query}"));
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}?{query}: {body}");
            assert!(
                body["message"].as_str().unwrap().contains("YYYY-MM-DD"),
                "{path}?{query}: {body}"
            );
        }
    }
    let (status, _) = chen.get("/v1/wishes?from=2026-01-01&to=9999-12-31");
    assert_eq!(status, StatusCode::OK, "the widest sane range is fine");
}

/// A token signed with the relay's own key, with the claims given.
fn forge(relay: &TestRelay, claims: &Value) -> String {
    let key_file = format!("{}.key", relay.db.display());
    let secret = STANDARD
        .decode(std::fs::read_to_string(key_file).unwrap().trim())
        .unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap()
}

#[test]
fn tokens_the_relay_would_not_issue_are_refused_even_with_its_key() {
    let relay = TestRelay::start();
    let device = uuid_like();
    login(&relay.url, "chen", PASSWORD, &device).unwrap();
    let now = server::state::now_ms() / 1000;
    let ttl = relay.state.settings.access_ttl_secs;
    let claims = |iat: i64, exp: i64, nbf: Option<i64>| {
        let mut c = json!({"sub": "chen", "role": "supervisor", "dev": device,
                           "iat": iat, "exp": exp});
        if let Some(nbf) = nbf {
            c["nbf"] = nbf.into();
        }
        c
    };
    let answer = |token: &str| {
        client()
            .get(format!("{}/v1/wishes", relay.url))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(
        answer(&forge(&relay, &claims(now, now + ttl, None))),
        StatusCode::OK,
        "a token as the relay issues them"
    );
    for (why, forged) in [
        ("not valid yet", claims(now, now + ttl, Some(now + 3600))),
        ("ten years long", claims(now, now + 10 * 365 * 86_400, None)),
        (
            "issued in the future",
            claims(now + 3600, now + 3600 + ttl, None),
        ),
        (
            "no issue time",
            json!({"sub": "chen", "role": "supervisor",
                                 "dev": device, "exp": now + ttl}),
        ),
    ] {
        assert_eq!(
            answer(&forge(&relay, &forged)),
            StatusCode::UNAUTHORIZED,
            "a token {why} is accepted"
        );
    }
}
