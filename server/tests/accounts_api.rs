//! Accounts through the API, as a district's administrators use them (the
//! dashboard's users page calls these): one-time codes that only let their
//! user choose a password, scopes an administrator cannot reach beyond,
//! one's own password, and the audit log of all of it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use common::{PASSWORD, TestRelay};
use doorstep_tests::http::{Api, HttpPhone, login, uuid_like};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_core::Role;

fn admin(relay: &TestRelay) -> Api {
    relay.add_user("ops", Role::Admin, &["longgang/yuanshan"]);
    Api::login(&relay.url, "ops", PASSWORD).unwrap()
}

/// The audit log's actions about `who`, newest first.
fn audited(api: &Api, who: &str) -> Vec<String> {
    let (status, entries) = api.get(&format!("/v1/audit?who={who}"));
    assert_eq!(status, StatusCode::OK, "{entries}");
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

fn login_with_new(url: &str, user: &str, code: &str, new: &str) -> reqwest::blocking::Response {
    doorstep_tests::http::client()
        .post(format!("{url}/v1/auth/login"))
        .json(&json!({
            "username": user, "password": code, "new_password": new,
            "device_id": uuid_like(), "device_name": "test",
        }))
        .send()
        .unwrap()
}

#[test]
fn a_one_time_code_opens_nothing_but_a_new_password() {
    let relay = TestRelay::start();
    let api = admin(&relay);
    let (status, code) = api.post(
        "/v1/users",
        json!({"username": "liu", "role": "worker", "scopes": ["longgang/yuanshan/xikeng"], "display_name": "刘芳"}),
    );
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let code = code["code"].as_str().unwrap().to_owned();

    // The code alone gets no token, and says what to do.
    let refused = login(&relay.url, "liu", &code, &uuid_like()).unwrap_err();
    assert_eq!(refused.status, Some(StatusCode::FORBIDDEN));
    assert!(
        refused.message.contains("password_change_required"),
        "{}",
        refused.message
    );
    // A new password too short is refused, and the code still stands.
    let short = login_with_new(&relay.url, "liu", &code, "short");
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    let ok = login_with_new(&relay.url, "liu", &code, "liu's own password");
    assert_eq!(ok.status(), StatusCode::OK);
    let tokens: Value = ok.json().unwrap();
    assert_eq!(tokens["user"]["id"], "liu");

    // The code is spent; the new password works like any other.
    assert!(login(&relay.url, "liu", &code, &uuid_like()).is_err());
    let mut phone =
        HttpPhone::login(&relay.url, "liu", "liu's own password", common::clock()).unwrap();
    phone.sync().unwrap();

    // A reset ends the phone's session and gives a fresh code.
    let (status, reset) = api.post("/v1/users/liu/reset-password", json!({}));
    assert_eq!(status, StatusCode::OK, "{reset}");
    assert_ne!(reset["code"].as_str().unwrap(), code);
    assert!(
        phone.refresh().is_err(),
        "the reset ended the phone's session"
    );
    assert!(login(&relay.url, "liu", "liu's own password", &uuid_like()).is_err());

    let steps = audited(&api, "liu");
    assert_eq!(
        steps,
        [
            "login_failed",
            "password_reset",
            "login",
            "login_failed",
            "login",
            "password_changed",
            "user_added"
        ],
        "newest first: the old password refused, the reset, the phone's login, the spent code \
         refused, the first login, with its new password, and the account added"
    );
}

#[test]
fn an_administrator_manages_only_accounts_within_their_scopes() {
    let relay = TestRelay::start();
    let api = admin(&relay);
    relay.add_user("buji_sup", Role::Supervisor, &["longgang/buji"]);
    let (_, users) = api.get("/v1/users");
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"chen") && names.contains(&"wang"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"buji_sup"),
        "another street's account is not listed: {names:?}"
    );

    let before = api.get("/v1/users");
    for (path, body) in [
        (
            "/v1/users",
            json!({"username": "wide", "role": "admin", "scopes": ["longgang"]}),
        ),
        ("/v1/users/buji_sup/disable", json!({})),
        ("/v1/users/buji_sup/reset-password", json!({})),
    ] {
        let (status, body) = api.post(path, body);
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, _) = api.patch("/v1/users/chen", json!({"scopes": ["longgang/buji"]}));
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a scope beyond the administrator's"
    );
    let (status, _) = api.post(
        "/v1/users",
        json!({"username": "nul\u{0}name", "role": "worker", "scopes": ["longgang/yuanshan"]}),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.patch("/v1/users/ops", json!({"role": "worker"}));
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an administrator keeps their own role"
    );
    assert_eq!(api.get("/v1/users"), before, "nothing changed");
    let (_, log) = api.get("/v1/audit?action=user_changed");
    assert_eq!(log, json!([]), "no change recorded");
    assert!(
        login(&relay.url, "buji_sup", PASSWORD, &uuid_like()).is_ok(),
        "the other street's supervisor still logs in"
    );

    // Within their street, every change goes through and is recorded.
    let (status, chen) = api.patch(
        "/v1/users/chen",
        json!({"role": "admin", "scopes": ["longgang/yuanshan/hehua"], "display_name": "陈立新"}),
    );
    assert_eq!(status, StatusCode::OK, "{chen}");
    assert_eq!(chen["role"], "admin");
    assert_eq!(chen["scopes"], json!(["longgang/yuanshan/hehua"]));
    assert_eq!(chen["display_name"], "陈立新");
    let (status, wang) = api.post("/v1/users/wang/disable", json!({}));
    assert_eq!(
        (status, wang["disabled"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert!(login(&relay.url, "wang", PASSWORD, &uuid_like()).is_err());
    let (status, wang) = api.post("/v1/users/wang/enable", json!({}));
    assert_eq!(
        (status, wang["disabled"].clone()),
        (StatusCode::OK, json!(false))
    );
    assert!(login(&relay.url, "wang", PASSWORD, &uuid_like()).is_ok());
    assert_eq!(audited(&api, "chen")[0], "user_changed");
    assert_eq!(
        &audited(&api, "wang")[..4],
        ["login", "user_enabled", "login_failed", "user_disabled"]
    );
}

#[test]
fn a_supervisor_cannot_read_accounts_or_the_audit_log() {
    let relay = TestRelay::start();
    let api = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    for path in ["/v1/users", "/v1/audit", "/v1/export/audit.csv"] {
        let (status, _) = api.get_text(path);
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = api.post(
        "/v1/users",
        json!({"username": "x", "role": "worker", "scopes": ["longgang/yuanshan"]}),
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.post("/v1/users/wang/reset-password", json!({}));
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[test]
fn anyone_changes_their_own_password_knowing_the_current_one() {
    let relay = TestRelay::start();
    let api = Api::login(&relay.url, "wang", PASSWORD).unwrap();
    let (status, body) = api.post(
        "/v1/account/password",
        json!({"current_password": "not it at all", "new_password": "wang's new password"}),
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        login(&relay.url, "wang", PASSWORD, &uuid_like()).is_ok(),
        "unchanged"
    );
    let (status, _) = api.post(
        "/v1/account/password",
        json!({"current_password": PASSWORD, "new_password": "wang's new password"}),
    );
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(login(&relay.url, "wang", PASSWORD, &uuid_like()).is_err());
    assert!(login(&relay.url, "wang", "wang's new password", &uuid_like()).is_ok());
}

#[test]
fn a_replayed_refresh_token_is_recorded_and_unknown_ones_are_not() {
    let relay = TestRelay::start();
    let api = admin(&relay);
    let answer = login(&relay.url, "wang", PASSWORD, &uuid_like()).unwrap();
    let token = answer["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: &str| {
        doorstep_tests::http::client()
            .post(format!("{}/v1/auth/refresh", relay.url))
            .json(&json!({"refresh_token": token}))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(refresh(&token), StatusCode::OK);
    assert_eq!(refresh(&token), StatusCode::UNAUTHORIZED, "used twice");
    for _ in 0..20 {
        assert_eq!(refresh("made-up"), StatusCode::UNAUTHORIZED);
    }
    let (_, entries) = api.get("/v1/audit?action=refresh_failed");
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0]["detail"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
}

#[test]
fn the_audit_log_filters_by_time_and_refuses_nonsense() {
    let relay = TestRelay::start();
    let api = admin(&relay);
    let (status, all) = api.get("/v1/audit");
    assert_eq!(status, StatusCode::OK);
    let all = all.as_array().unwrap().len();
    assert!(all >= 2, "the settings at start and the login");
    let (_, later) = api.get("/v1/audit?from=9999-12-31");
    assert_eq!(later, json!([]));
    let (_, two) = api.get("/v1/audit?limit=1");
    assert_eq!(two.as_array().unwrap().len(), 1);
    for bad in [
        "action=nonsense",
        "from=yesterday",
        "to=99999999999999999999",
        "limit=-1",
    ] {
        let (status, body) = api.get(&format!("/v1/audit?{bad}"));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[test]
fn behind_a_proxy_on_this_machine_the_log_names_the_client() {
    let relay = TestRelay::start();
    let api = admin(&relay);
    let login = |forwarded: &str| {
        let status = doorstep_tests::http::client()
            .post(format!("{}/v1/auth/login", relay.url))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"username": "wang", "password": "wrong", "device_id": uuid_like()}))
            .send()
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    };
    // The proxy appends the address that reached it; what the client wrote
    // before it is not believed.
    login("10.9.9.9, 203.0.113.7");
    let (_, entries) = api.get("/v1/audit?action=login_failed");
    assert_eq!(entries[0]["peer"], "203.0.113.7", "{entries}");
    login("not an address");
    let (_, entries) = api.get("/v1/audit?action=login_failed");
    assert_eq!(entries[0]["peer"], "127.0.0.1", "{entries}");
}

#[test]
fn exports_are_recorded_with_who_and_what() {
    let relay = TestRelay::start();
    let api = admin(&relay);
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let (status, _) = chen.get_text("/v1/export/points.csv?scope=longgang/yuanshan");
    assert_eq!(status, StatusCode::OK);
    let (_, entries) = api.get("/v1/audit?action=export");
    let entry = &entries[0];
    assert_eq!(
        (&entry["actor"], &entry["target"]),
        (&json!("chen"), &json!("points.csv")),
        "{entries}"
    );
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .contains("longgang/yuanshan"),
        "{entry}"
    );
    // A refused export is not one.
    let (status, _) = chen.get_text("/v1/export/points.csv?scope=longgang/buji");
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, entries) = api.get("/v1/audit?action=export");
    assert_eq!(entries.as_array().unwrap().len(), 1);
    // The cards and the figures too.
    for file in ["wishes.csv", "stats.csv"] {
        let (status, _) = chen.get_text(&format!("/v1/export/{file}"));
        assert_eq!(status, StatusCode::OK, "{file}");
        let (_, entries) = api.get("/v1/audit?action=export&who=chen");
        assert_eq!(entries[0]["target"], file, "{entries}");
    }
}
