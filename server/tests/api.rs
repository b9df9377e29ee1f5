//! The relay on a loopback port: phones syncing over HTTP, a supervisor over
//! the JSON API, and every kind of bad input refused with nothing changed.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{HEHUA, PASSWORD, TestRelay, clock, new_card};
use doorstep_tests::http::{Api, HttpPhone, client, login};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_core::doc::EventInput;
use sync_core::store::RevokeKind;
use sync_core::sync::{Message, Payload, RecordUpdate, RejectCode, SyncOptions, SyncRequest};
use sync_core::{CommunityPath, EventKind, NewHousehold, Record, RecordId, Status, WishId};

fn status_on(phone: &HttpPhone, id: WishId) -> Option<Status> {
    match phone.phone.store.record(id.record()) {
        Ok(Record::Wish(card)) => Some(card.state.status),
        _ => None,
    }
}

#[test]
fn a_card_goes_from_phone_to_supervisor_to_the_other_phone_of_its_community_only() {
    let relay = TestRelay::start();
    let mut a = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let mut b = HttpPhone::login(&relay.url, "zhao", PASSWORD, clock()).unwrap();
    let mut c = HttpPhone::login(&relay.url, "sun", PASSWORD, clock()).unwrap();

    let card = new_card(&mut a, "给李大爷一台轮椅");
    let report = a.sync().unwrap();
    assert_eq!(
        (report.sent, report.accepted, report.rejected.len()),
        (2, 2, 0)
    );

    let sup = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let (status, queue) = sup.get("/v1/wishes?status=submitted&order=oldest");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queue["total"], 1);
    assert_eq!(queue["items"][0]["text"], "给李大爷一台轮椅");
    let (status, found) = sup.get(&format!("/v1/wishes?q={}", "轮椅"));
    assert_eq!((status, found["total"].as_u64()), (StatusCode::OK, Some(1)));
    let (status, approved) = sup.post(
        &format!("/v1/wishes/{card}/review"),
        json!({"decision": "approve"}),
    );
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "approved");
    let (_, history) = sup.get(&format!("/v1/wishes/{card}/history"));
    let by_sup = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["user"] == "chen")
        .expect("approval in history");
    assert!(
        by_sup["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["to"] == "approve")
    );

    b.sync().unwrap();
    assert_eq!(
        status_on(&b, card),
        Some(Status::Approved),
        "b sees the card and the approval"
    );
    a.sync().unwrap();
    assert_eq!(
        status_on(&a, card),
        Some(Status::Approved),
        "the author sees the approval"
    );
    c.sync().unwrap();
    assert_eq!(status_on(&c, card), None, "hehua sees neither");
    let hehua = Api::login(&relay.url, "sun", PASSWORD).unwrap();
    assert_eq!(
        hehua.get(&format!("/v1/wishes/{card}")).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(hehua.get("/v1/wishes").1["total"], 0);

    let (status, stats) = sup.get("/v1/stats?scope=longgang/yuanshan");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            stats["total"]["collected"].as_u64(),
            stats["total"]["approved"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let (status, csv) = sup.get_text("/v1/export/wishes.csv?scope=longgang/yuanshan");
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.starts_with(&[0xEF, 0xBB, 0xBF]),
        "CSV starts with a UTF-8 BOM"
    );
    assert!(String::from_utf8(csv).unwrap().contains("给李大爷一台轮椅"));
    assert_eq!(
        sup.get("/v1/stats?scope=longgang/buji").0,
        StatusCode::FORBIDDEN
    );
}

fn sync_raw(relay: &TestRelay, token: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let response = client()
        .post(format!("{}/v1/sync", relay.url))
        .bearer_auth(token)
        .body(body)
        .send()
        .unwrap();
    (response.status(), response.bytes().unwrap().to_vec())
}

/// Announces a body of `length` bytes and reads the status line before
/// sending any of it: an oversized body is refused up front.
fn announce_body(relay: &TestRelay, path: &str, token: &str, length: usize) -> u16 {
    use std::io::{Read, Write};
    let host = relay.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

fn error_code(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .map(|v| v["error"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

#[test]
fn bad_tokens_are_refused_and_change_nothing() {
    let relay = TestRelay::start();
    let mut a = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    new_card(&mut a, "给李大爷一台轮椅");
    a.sync().unwrap();
    new_card(&mut a, "修好三巷的路灯");
    let (request, _) = a
        .phone
        .store
        .begin_sync(&doorstep_tests::relay_peer(), &a.phone.scopes)
        .unwrap();
    let body = Message::Request(request).encode().unwrap();
    let before = relay.snapshot();

    let claims = |exp: i64| json!({"sub": "wang", "role": "worker", "dev": a.phone.device().to_string(), "iat": exp - 60, "exp": exp});
    let now = (sync_core::store::system_clock())() / 1000;
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims(now + 600),
        &jsonwebtoken::EncodingKey::from_secret(b"not the relay's secret, but long enough"),
    )
    .unwrap();
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(now + 600).to_string())
    );
    let user = server::accounts::User {
        username: a.phone.author.user.clone(),
        role: a.phone.author.role,
        scopes: a.phone.scopes.clone(),
        disabled: false,
        display_name: None,
        phone: None,
        unit: None,
        must_change_password: false,
    };
    let expired = relay
        .state
        .keys
        .issue(&user, a.phone.device(), 60, now - 3600)
        .unwrap();

    let no_token = client()
        .post(format!("{}/v1/sync", relay.url))
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    for token in [forged, none, expired, "garbage".to_owned()] {
        let (status, answer) = sync_raw(&relay, &token, body.clone());
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(error_code(&answer), "invalid_token");
    }

    // A revoked device is cut off at its next request, refresh included.
    relay
        .state
        .db
        .blocking({
            let device = a.phone.device();
            move |store| store.revoke_device(device, RevokeKind::Lost, 1)
        })
        .unwrap();
    let (status, answer) = sync_raw(&relay, &a.access.clone(), body);
    assert_eq!(
        (status, error_code(&answer).as_str()),
        (StatusCode::FORBIDDEN, "device_revoked")
    );
    let refused = a.refresh().unwrap_err();
    assert_eq!(refused.status, Some(StatusCode::FORBIDDEN));
    assert_eq!(relay.snapshot(), before, "nothing stored changed");
    assert_eq!(
        a.phone
            .store
            .pending_changes(&doorstep_tests::relay_peer())
            .unwrap(),
        2,
        "the phone keeps its work"
    );
}

#[test]
fn refresh_tokens_rotate_and_a_replayed_one_ends_the_session() {
    let relay = TestRelay::start();
    let mut a = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let first = a.refresh.clone();
    a.refresh().unwrap();
    assert_ne!(a.refresh, first);
    a.sync().unwrap();
    let stolen = client()
        .post(format!("{}/v1/auth/refresh", relay.url))
        .json(&json!({"refresh_token": first}))
        .send()
        .unwrap();
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.refresh().unwrap_err().status,
        Some(StatusCode::UNAUTHORIZED),
        "the chain is closed after a replay"
    );
    assert!(
        login(
            &relay.url,
            "wang",
            "wrong password",
            &a.phone.device().to_string()
        )
        .is_err()
    );
}

#[test]
fn forbidden_and_invalid_writes_are_refused_and_change_nothing() {
    let relay = TestRelay::start();
    let mut a = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let b = HttpPhone::login(&relay.url, "zhao", PASSWORD, clock()).unwrap();
    let card = new_card(&mut a, "给李大爷一台轮椅");
    a.sync().unwrap();
    let before = relay.snapshot();

    // A worker asking the API to approve.
    let worker = Api::login(&relay.url, "wang", PASSWORD).unwrap();
    let (status, answer) = worker.post(
        &format!("/v1/wishes/{card}/review"),
        json!({"decision": "approve"}),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    // A bad decision, and a card outside the caller's scope.
    let sup = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    assert_eq!(
        sup.post(
            &format!("/v1/wishes/{card}/review"),
            json!({"decision": "maybe"})
        )
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        sup.post(
            &format!("/v1/wishes/{card}/review"),
            json!({"decision": "reject"})
        )
        .0,
        StatusCode::BAD_REQUEST,
        "a rejection needs a reason"
    );
    let outsider = Api::login(&relay.url, "sun", PASSWORD).unwrap();
    assert_eq!(
        outsider.get(&format!("/v1/wishes/{card}")).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        outsider.get(&format!("/v1/wishes/{card}/history")).0,
        StatusCode::NOT_FOUND
    );

    // Sends everything a phone holds that the relay lacks, other devices'
    // changes included: what a tampered app could send.
    let push = |phone: &mut HttpPhone| {
        let options = SyncOptions {
            scopes: phone.phone.scopes.clone(),
            peer_scopes: None,
            unsigned_too: true,
            learn_clock: false,
        };
        let (request, _) = phone
            .phone
            .store
            .begin_sync_with(&doorstep_tests::relay_peer(), &options)
            .unwrap();
        let (status, body) = sync_raw(
            &relay,
            &phone.access,
            Message::Request(request).encode().unwrap(),
        );
        let Message::Response(response) = Message::decode(&body).unwrap() else {
            panic!("a sync response")
        };
        (status, response)
    };

    // A tampered app appending an approval as a worker.
    let mut forged = a.phone.author.clone();
    forged.role = sync_core::Role::Supervisor;
    a.phone
        .store
        .append_event(&forged, card, &EventInput::new(EventKind::Approve))
        .unwrap();
    let (status, response) = push(&mut a);
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(response.rejected[0].code, RejectCode::Role);

    // A change made in the name of another device (b's), which t holds no
    // key for: it goes unsigned, and b's key is what it is checked against.
    let mut t = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    t.sync().unwrap();
    let mut as_b = t.phone.author.clone();
    as_b.device = b.phone.device();
    t.phone
        .store
        .update_wish(
            &as_b,
            card,
            &sync_core::model::WishPatch {
                text: Some("改过的心愿".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let (status, response) = push(&mut t);
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        response
            .rejected
            .iter()
            .any(|r| r.id == card.record() && r.code == RejectCode::Signature),
        "{response:?}"
    );

    // A household filed outside the worker's scope.
    let mut s = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let author = s.phone.author.clone();
    s.phone
        .store
        .create_household(
            &author,
            &CommunityPath::new(HEHUA).unwrap(),
            &NewHousehold::default(),
        )
        .unwrap();
    let (status, response) = push(&mut s);
    assert_eq!(
        (status, response.rejected[0].code),
        (StatusCode::FORBIDDEN, RejectCode::Scope)
    );

    // Invalid Automerge bytes.
    let garbage = Message::Request(SyncRequest {
        from: a.phone.device(),
        push: vec![RecordUpdate {
            id: RecordId::random(),
            heads: vec![],
            payload: Payload::Full(b"not automerge".to_vec()),
            sigs: vec![],
        }],
        ..SyncRequest::default()
    });
    let (status, body) = sync_raw(&relay, &a.access, garbage.encode().unwrap());
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let Message::Response(response) = Message::decode(&body).unwrap() else {
        panic!("a sync response")
    };
    assert_eq!(response.rejected[0].code, RejectCode::Invalid);

    // A malformed body, a request naming another device, and an oversized body.
    let (status, body) = sync_raw(&relay, &a.access, b"{\"not\": \"a sync message\"}".to_vec());
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "bad_message")
    );
    let other = Message::Request(SyncRequest {
        from: b.phone.device(),
        ..SyncRequest::default()
    });
    assert_eq!(
        sync_raw(&relay, &a.access, other.encode().unwrap()).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        announce_body(
            &relay,
            "/v1/sync",
            &a.access,
            sync_core::sync::MAX_MESSAGE_BYTES + 1
        ),
        413
    );
    assert_eq!(announce_body(&relay, "/v1/auth/login", "", 200_000), 413);

    assert_eq!(relay.snapshot(), before, "nothing stored changed");
    // The worker's refused edit is still on the phone, flagged.
    assert_eq!(status_on(&a, card), Some(Status::Approved));
    a.sync().unwrap();
    assert_eq!(
        a.phone
            .store
            .rejections(&doorstep_tests::relay_peer())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn health_metrics_and_conflicts_are_served() {
    let relay = TestRelay::start();
    relay.add_user("hu", sync_core::Role::Volunteer, &["longgang"]);
    relay.add_user("ma", sync_core::Role::Volunteer, &["longgang"]);
    let mut a = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let card = new_card(&mut a, "孩子需要书桌");
    a.sync().unwrap();
    let sup = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    sup.post(
        &format!("/v1/wishes/{card}/review"),
        json!({"decision": "approve"}),
    );
    let mut hu = HttpPhone::login(&relay.url, "hu", PASSWORD, clock()).unwrap();
    let mut ma = HttpPhone::login(&relay.url, "ma", PASSWORD, clock()).unwrap();
    hu.sync().unwrap();
    ma.sync().unwrap();
    for v in [&mut hu, &mut ma] {
        let author = v.phone.author.clone();
        v.phone
            .store
            .append_event(&author, card, &EventInput::new(EventKind::Claim))
            .unwrap();
    }
    hu.sync().unwrap();
    ma.sync().unwrap();
    hu.sync().unwrap();
    let claimant = |v: &HttpPhone| match v.phone.store.record(card.record()).unwrap() {
        Record::Wish(w) => (w.state.claimant.clone(), w.state.open_conflicts().count()),
        _ => panic!("wish expected"),
    };
    assert_eq!(claimant(&hu), claimant(&ma));
    assert_eq!(claimant(&hu).1, 1);

    let (status, conflicts) = sup.get("/v1/conflicts");
    assert_eq!(status, StatusCode::OK);
    let conflict = conflicts[0]["event_id"].as_str().unwrap().to_owned();
    let (status, resolved) = sup.post(
        &format!("/v1/conflicts/{conflict}/resolve"),
        json!({"note": "已电话确认由先认领者负责"}),
    );
    assert_eq!(
        (status, resolved["open_conflicts"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    assert_eq!(sup.get("/v1/conflicts").1.as_array().unwrap().len(), 0);

    let health: Value = client()
        .get(format!("{}/healthz", relay.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    let metrics = client()
        .get(format!("{}/metrics", relay.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("doorstep_syncs_total"), "{metrics}");
    assert!(metrics.contains("doorstep_db_size_bytes"));
    assert!(metrics.contains("doorstep_sync_duration_seconds_bucket"));
    let unknown = client()
        .get(format!("{}/v1/nothing", relay.url))
        .send()
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

/// Tries one login with a new device id; the status, the error code and the
/// `Retry-After` header.
fn try_login(
    relay: &TestRelay,
    username: &str,
    password: &str,
) -> (StatusCode, Value, Option<u64>) {
    let response = client()
        .post(format!("{}/v1/auth/login", relay.url))
        .json(&json!({
            "username": username, "password": password,
            "device_id": sync_core::DeviceId::random().to_string(), "device_name": "guess",
        }))
        .send()
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, response.json().unwrap(), retry_after)
}

fn devices_of(relay: &TestRelay, username: &'static str) -> i64 {
    let devices = relay
        .state
        .db
        .blocking(|store| store.list_devices())
        .unwrap();
    devices.iter().filter(|d| d.username == username).count() as i64
}

#[test]
fn repeated_wrong_passwords_are_throttled_per_name_and_phones_keep_syncing() {
    let relay = TestRelay::start();
    let mut phone = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let devices = devices_of(&relay, "wang");

    // A known name and an unknown one get the same answers: five free
    // wrong passwords, a sixth that starts a wait, then refusals unchecked.
    for name in ["wang", "nobody"] {
        for attempt in 1..=6 {
            let (status, body, retry) = try_login(&relay, name, "guess");
            assert_eq!(
                (status, body["error"].as_str(), retry),
                (StatusCode::UNAUTHORIZED, Some("unauthorized"), None),
                "{name}, attempt {attempt}"
            );
        }
        let (status, body, retry) = try_login(&relay, name, PASSWORD);
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")),
            "{name}: even the right password waits"
        );
        assert!(
            matches!(retry, Some(1..=30)),
            "{name}: Retry-After {retry:?}"
        );
        assert!(body["message"].as_str().unwrap().contains("try again in"));
    }
    assert_eq!(devices_of(&relay, "wang"), devices, "no device registered");

    // Other names are not affected; the throttled user's phone syncs on.
    assert!(
        login(
            &relay.url,
            "zhao",
            PASSWORD,
            &sync_core::DeviceId::random().to_string()
        )
        .is_ok()
    );
    phone.refresh().unwrap();
    new_card(&mut phone, "修好三巷路灯");
    phone.sync().unwrap();

    let metrics = client()
        .get(format!("{}/metrics", relay.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("doorstep_login_failures_total 12"),
        "{metrics}"
    );
    assert!(
        metrics.contains("doorstep_logins_throttled_total 2"),
        "{metrics}"
    );
}

#[test]
fn a_supervisor_releases_cancels_and_withdraws_cards_and_phones_see_why() {
    let relay = TestRelay::start();
    relay.add_user("hu", sync_core::Role::Volunteer, &["longgang"]);
    let mut phone = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let [claimed, approved, submitted] =
        ["给李大爷一台轮椅", "修好三巷路灯", "孩子需要书桌"].map(|text| new_card(&mut phone, text));
    phone.sync().unwrap();
    let sup = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    for card in [claimed, approved] {
        sup.post(
            &format!("/v1/wishes/{card}/review"),
            json!({"decision": "approve"}),
        );
    }
    let (_, assigned) = sup.post(
        &format!("/v1/wishes/{claimed}/assign"),
        json!({"claimant": "hu"}),
    );
    assert_eq!(assigned["status"], "claimed");
    let actions = |card: &Value| -> Vec<String> {
        card["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        actions(&assigned).contains(&"release".to_owned()),
        "{assigned}"
    );
    assert!(actions(&assigned).contains(&"cancel".to_owned()));
    assert!(
        !actions(&assigned).contains(&"withdraw".to_owned()),
        "too late to withdraw"
    );

    // Without a reason, nothing happens.
    let before = relay.snapshot();
    for what in ["cancel", "withdraw"] {
        let (status, body) = sup.post(
            &format!("/v1/wishes/{approved}/{what}"),
            json!({"reason": "  "}),
        );
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{what}: {body}"
        );
    }
    // A worker may not cancel; a submitted card cannot be released.
    let worker = Api::login(&relay.url, "wang", PASSWORD).unwrap();
    assert_eq!(
        worker
            .post(
                &format!("/v1/wishes/{approved}/cancel"),
                json!({"reason": "不需要了"})
            )
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        sup.post(&format!("/v1/wishes/{submitted}/release"), json!({}))
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(relay.snapshot(), before, "refusals change nothing");

    // The volunteer cannot come: the card goes back for another dispatch.
    let (status, released) = sup.post(
        &format!("/v1/wishes/{claimed}/release"),
        json!({"reason": "志愿者临时有事"}),
    );
    assert_eq!(status, StatusCode::OK, "{released}");
    assert_eq!(
        (released["status"].as_str(), &released["claimant"]),
        (Some("approved"), &Value::Null)
    );
    assert!(actions(&released).contains(&"assign".to_owned()));
    let (status, cancelled) = sup.post(
        &format!("/v1/wishes/{approved}/cancel"),
        json!({"reason": "居民已搬走"}),
    );
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, withdrawn) = sup.post(
        &format!("/v1/wishes/{submitted}/withdraw"),
        json!({"reason": "居民撤回心愿"}),
    );
    assert_eq!(
        (status, withdrawn["status"].as_str()),
        (StatusCode::OK, Some("withdrawn"))
    );

    // The worker's phone gets the new states, and the reasons with them.
    phone.sync().unwrap();
    let events = |id: WishId| match phone.phone.store.record(id.record()).unwrap() {
        Record::Wish(w) => (w.state.status, w.events.last().unwrap().note.clone()),
        _ => panic!("wish expected"),
    };
    assert_eq!(
        events(claimed),
        (Status::Approved, Some("志愿者临时有事".into()))
    );
    assert_eq!(
        events(approved),
        (Status::Cancelled, Some("居民已搬走".into()))
    );
    assert_eq!(
        events(submitted),
        (Status::Withdrawn, Some("居民撤回心愿".into()))
    );
}
