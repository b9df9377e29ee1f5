//! The supervisor dashboard over HTTP, as a browser uses it: the login form
//! and its nonce, the session cookie, CSRF on requests that change state,
//! redirects to the login page, security headers, and the endpoints the
//! dashboard added to /v1 (changes, the fulfilment series, actions).
//! The same flows run in a real Chromium in `dashboard-test/`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{PASSWORD, TestRelay, clock, new_card};
use doorstep_tests::http::{Api, HttpPhone};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use sync_core::{Record, Role, Status};

/// A browser's view of the relay: cookies kept by hand, redirects not followed.
struct Browser {
    base: String,
    client: Client,
    cookies: BTreeMap<String, String>,
    language: &'static str,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            language: "zh-CN,zh;q=0.9,en;q=0.8",
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn send(&mut self, request: RequestBuilder) -> Response {
        let response = request
            .header("cookie", self.cookie_header())
            .header("accept-language", self.language)
            .send()
            .unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    fn get(&mut self, path: &str) -> Response {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request)
    }

    /// A same-origin POST, with the headers a browser adds.
    fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(urlencoded(form));
        self.send(request)
    }

    fn post_json(&mut self, path: &str, body: Value, csrf: Option<&str>) -> Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .json(&body);
        if let Some(token) = csrf {
            request = request.header("x-csrf-token", token);
        }
        self.send(request)
    }

    /// Opens the login page and submits it.
    fn log_in(&mut self, username: &str, password: &str) -> Response {
        let page = self.get("/login?next=/stats").text().unwrap();
        let nonce = attr(&page, r#"name="csrf" value=""#);
        self.post_form(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf", &nonce),
                ("next", "/stats"),
            ],
        )
    }

    /// The CSRF token a page was rendered with.
    fn csrf(&mut self) -> String {
        let page = self.get("/queue").text().unwrap();
        attr(&page, r#"name="doorstep-csrf" content=""#)
    }
}

fn urlencoded(form: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn attr(html: &str, prefix: &str) -> String {
    let start = html.find(prefix).unwrap() + prefix.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn location(headers: &HeaderMap) -> &str {
    headers.get(LOCATION).unwrap().to_str().unwrap()
}

const PAGES: &[&str] = &[
    "/queue",
    "/dispatch",
    "/wishes",
    "/wishes/00000000-0000-4000-8000-000000000000",
    "/conflicts",
    "/households",
    "/households/00000000-0000-4000-8000-000000000000",
    "/stats?scope=longgang/yuanshan",
    "/devices",
];

#[test]
fn pages_without_a_supervisor_session_go_to_the_login_page() {
    let relay = TestRelay::start();
    let mut anonymous = Browser::new(&relay.url);
    for page in PAGES {
        let response = anonymous.get(page);
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        let to = location(response.headers());
        assert!(to.starts_with("/login?next="), "{page} → {to}");
    }
    assert_eq!(location(anonymous.get("/").headers()), "/login");
    // The API answers JSON, not a redirect.
    assert_eq!(
        anonymous.get("/v1/wishes").status(),
        StatusCode::UNAUTHORIZED
    );

    // A forged or stale cookie is no session.
    anonymous
        .cookies
        .insert("doorstep_session".into(), "forged".into());
    assert_eq!(anonymous.get("/queue").status(), StatusCode::SEE_OTHER);
    let stale = anonymous.get("/v1/wishes");
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn workers_and_wrong_passwords_are_refused_and_get_no_session() {
    let relay = TestRelay::start();
    relay.add_user("hu", Role::Volunteer, &["longgang"]);
    for (user, password, message) in [
        ("wang", PASSWORD, "社区工作者请使用手机应用"),
        ("chen", "wrong password", "用户名或密码不正确"),
        ("nobody", PASSWORD, "用户名或密码不正确"),
    ] {
        let mut browser = Browser::new(&relay.url);
        let response = browser.log_in(user, password);
        assert_eq!(response.status(), StatusCode::OK, "{user}");
        let page = response.text().unwrap();
        assert!(page.contains(message), "{user}: {page}");
        assert!(page.contains(r#"role="alert""#));
        assert!(!browser.cookies.contains_key("doorstep_session"), "{user}");
        assert_eq!(browser.get("/queue").status(), StatusCode::SEE_OTHER);
    }

    // A volunteer logs in to the wish wall, not to the supervisors' pages,
    // and the supervisors' API refuses them.
    let mut volunteer = Browser::new(&relay.url);
    let response = volunteer.log_in("hu", PASSWORD);
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(response.headers()), "/wall");
    assert_eq!(volunteer.get("/wall").status(), StatusCode::OK);
    assert_eq!(location(volunteer.get("/queue").headers()), "/wall");
    assert_eq!(volunteer.get("/v1/wishes").status(), StatusCode::FORBIDDEN);
    assert_eq!(volunteer.get("/v1/wall").status(), StatusCode::OK);

    // Without the form's nonce (a forged cross-site form), nobody logs in.
    let mut browser = Browser::new(&relay.url);
    let response = browser.post_form(
        "/login",
        &[("username", "chen"), ("password", PASSWORD), ("csrf", "x")],
    );
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().unwrap().contains("已过期"));
    assert!(!browser.cookies.contains_key("doorstep_session"));

    // After more wrong passwords than the throttle lets through, even the
    // right one waits, and the page says why.
    for _ in 0..5 {
        Browser::new(&relay.url).log_in("chen", "wrong password");
    }
    let mut browser = Browser::new(&relay.url);
    let page = browser.log_in("chen", PASSWORD).text().unwrap();
    assert!(page.contains("登录失败次数过多"), "{page}");
    assert!(!browser.cookies.contains_key("doorstep_session"));
}

#[test]
fn a_supervisor_session_is_a_strict_http_only_cookie_and_writes_need_its_csrf_token() {
    let relay = TestRelay::start();
    let mut phone = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let card = new_card(&mut phone, "给李大爷一台轮椅");
    phone.sync().unwrap();

    let mut browser = Browser::new(&relay.url);
    let response = browser.log_in("chen", PASSWORD);
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(response.headers()), "/stats");
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("doorstep_session="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }

    for page in PAGES {
        assert_eq!(browser.get(page).status(), StatusCode::OK, "{page}");
    }
    let csrf = browser.csrf();
    let (status, list) = {
        let r = browser.get("/v1/wishes?status=submitted&order=oldest");
        (r.status(), r.json::<Value>().unwrap())
    };
    assert_eq!((status, list["total"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(
        list["items"][0]["actions"],
        json!(["approve", "reject", "needs_info", "withdraw"])
    );

    let review = format!("/v1/wishes/{card}/review");
    let approve = json!({"decision": "approve"});
    for (token, origin_ok) in [
        (None, true),
        (Some("forged"), true),
        (Some(csrf.as_str()), false),
    ] {
        let mut request = browser
            .client
            .post(format!("{}{review}", relay.url))
            .header(
                "sec-fetch-site",
                if origin_ok {
                    "same-origin"
                } else {
                    "cross-site"
                },
            )
            .header(
                "origin",
                if origin_ok {
                    relay.url.as_str()
                } else {
                    "http://evil.example"
                },
            )
            .json(&approve);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        let refused = browser.send(request);
        assert_eq!(
            refused.status(),
            StatusCode::FORBIDDEN,
            "{token:?} {origin_ok}"
        );
    }
    assert_eq!(
        Api::login(&relay.url, "chen", PASSWORD)
            .unwrap()
            .get(&format!("/v1/wishes/{card}"))
            .1["status"],
        "submitted",
        "refused requests changed nothing"
    );

    let approved = browser.post_json(&review, approve, Some(&csrf));
    assert_eq!(approved.status(), StatusCode::OK);
    let approved: Value = approved.json().unwrap();
    assert_eq!(approved["status"], "approved");
    assert_eq!(
        approved["actions"],
        json!(["reject", "assign", "cancel", "withdraw"])
    );

    // The approval reaches the phone, made by chen's dashboard device.
    phone.sync().unwrap();
    match phone.phone.store.record(card.record()).unwrap() {
        Record::Wish(w) => assert_eq!(w.state.status, Status::Approved),
        other => panic!("{other:?}"),
    }
    let history: Value = browser
        .get(&format!("/v1/wishes/{card}/history"))
        .json()
        .unwrap();
    let kinds: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"].as_str().unwrap(),
                e["device_kind"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("wang", "phone"), ("wang", "phone"), ("chen", "web")]
    );

    // The cookie is not a refresh token.
    let secret = browser.cookies["doorstep_session"].clone();
    let refresh = browser
        .client
        .post(format!("{}/v1/auth/refresh", relay.url));
    let traded = browser.send(refresh.json(&json!({ "refresh_token": secret })));
    assert_eq!(traded.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(browser.get("/queue").status(), StatusCode::OK);

    // Logging out needs the token too, then ends the session for good.
    let refused = browser.post_form("/logout", &[("csrf", "forged")]);
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/queue").status(), StatusCode::OK);
    let out = browser.post_form("/logout", &[("csrf", &csrf)]);
    assert_eq!(
        (out.status(), location(out.headers())),
        (StatusCode::SEE_OTHER, "/login")
    );
    assert!(!browser.cookies.contains_key("doorstep_session"));
    browser.cookies.insert("doorstep_session".into(), secret);
    assert_eq!(browser.get("/queue").status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/v1/wishes").status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn disabling_a_user_ends_their_dashboard_session() {
    let relay = TestRelay::start();
    let mut browser = Browser::new(&relay.url);
    assert_eq!(
        browser.log_in("chen", PASSWORD).status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(browser.get("/queue").status(), StatusCode::OK);
    relay
        .state
        .db
        .blocking(|store| store.disable_user("chen", 1))
        .unwrap();
    assert_eq!(browser.get("/queue").status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/v1/stats").status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn every_answer_carries_the_security_headers_and_assets_come_from_the_relay() {
    let relay = TestRelay::start();
    let mut browser = Browser::new(&relay.url);
    browser.log_in("chen", PASSWORD);
    for path in [
        "/queue",
        "/favicon.ico",
        "/assets/app.js",
        "/assets/app.css",
        "/v1/stats",
        "/healthz",
        "/api",
    ] {
        let response = browser.get(path);
        assert!(response.status().is_success(), "{path}");
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
    let login = Browser::new(&relay.url).get("/login");
    assert!(
        login.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("form-action 'self'")
    );
    let page = browser.get("/queue").text().unwrap();
    assert!(
        !page.contains("<script>") && !page.contains("onclick"),
        "no inline script"
    );
    assert!(page.contains(r#"<script type="module" src="/assets/app.js">"#));
    let js = browser.get("/assets/app.js");
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = js.headers()["etag"].to_str().unwrap().to_owned();
    let again = browser
        .client
        .get(format!("{}/assets/app.js", relay.url))
        .header("if-none-match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        browser.get("/assets/nothing.js").status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn the_language_follows_the_browser_and_the_switch() {
    let relay = TestRelay::start();
    let mut browser = Browser::new(&relay.url);
    assert!(
        browser
            .get("/login")
            .text()
            .unwrap()
            .contains(r#"<html lang="zh-CN">"#)
    );
    browser.language = "en-GB,en;q=0.9";
    let english = browser.get("/login").text().unwrap();
    assert!(english.contains(r#"<html lang="en">"#) && english.contains("Log in"));
    browser.language = "zh-CN";
    assert!(
        browser
            .get("/login?lang=en")
            .text()
            .unwrap()
            .contains(r#"lang="en""#)
    );
    assert_eq!(
        browser.cookies.get("doorstep_lang").map(String::as_str),
        Some("en")
    );
    assert!(
        browser
            .get("/login")
            .text()
            .unwrap()
            .contains(r#"<html lang="en">"#),
        "remembered"
    );
    browser.log_in("chen", PASSWORD);
    assert!(
        browser
            .get("/queue")
            .text()
            .unwrap()
            .contains(r#"<html lang="en">"#)
    );
    assert!(
        browser
            .get("/queue?lang=zh")
            .text()
            .unwrap()
            .contains(r#"<html lang="zh-CN">"#)
    );
}

#[test]
fn a_dashboard_waiting_for_changes_wakes_when_a_phone_syncs() {
    let relay = TestRelay::start();
    let sup = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let (status, first) = sup.get("/v1/changes");
    assert_eq!(status, StatusCode::OK);
    let since = first["seq"].as_i64().unwrap();
    assert_eq!(
        sup.get(&format!("/v1/changes?since={since}")).1["changed"],
        0
    );

    let url = relay.url.clone();
    let syncing = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut phone = HttpPhone::login(&url, "wang", PASSWORD, clock()).unwrap();
        new_card(&mut phone, "修好三巷的路灯");
        phone.sync().unwrap();
    });
    let started = Instant::now();
    let (status, woke) = sup.get(&format!("/v1/changes?since={since}&wait=20"));
    syncing.join().unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(woke["changed"], 2, "a household and a card: {woke}");
    assert!(woke["seq"].as_i64().unwrap() > since);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken, not timed out"
    );

    // Another community's records are not counted for its supervisor.
    relay.add_user("lin", Role::Supervisor, &["longgang/buji"]);
    let other = Api::login(&relay.url, "lin", PASSWORD).unwrap();
    assert_eq!(
        other.get(&format!("/v1/changes?since={since}")).1["changed"],
        0
    );
}

#[test]
fn the_fulfilment_series_counts_lit_up_and_confirmed_cards_per_day() {
    let relay = TestRelay::start();
    let mut phone = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let card = new_card(&mut phone, "给李大爷一台轮椅");
    phone.sync().unwrap();
    let sup = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let (_, empty) = sup.get("/v1/stats/timeline");
    assert_eq!(empty, json!({"days": [], "ratings": [0, 0, 0, 0, 0]}));
    for (path, body) in [
        ("review", json!({"decision": "approve"})),
        ("assign", json!({"claimant": "社区志愿服务队"})),
        ("fulfil", json!({"note": "已送到"})),
        ("feedback", json!({"rating": 4})),
    ] {
        let (status, answer) = sup.post(&format!("/v1/wishes/{card}/{path}"), body);
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    }
    let (status, series) = sup.get("/v1/stats/timeline?scope=longgang/yuanshan&tz_offset=480");
    assert_eq!(status, StatusCode::OK);
    let days = series["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{series}");
    assert_eq!(
        (days[0]["fulfilled"].as_u64(), days[0]["confirmed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(series["ratings"], json!([0, 0, 0, 1, 0]));
    assert_eq!(
        sup.get("/v1/stats/timeline?scope=longgang/buji").0,
        StatusCode::FORBIDDEN
    );
}
