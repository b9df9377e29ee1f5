//! The published counts (`/public/`, `/public/counts.json`), over a real
//! relay on loopback: absent unless the settings file turns them on; when
//! on, the figures a supervisor sees at `/v1/stats`, and nothing about a
//! person — no name, address, phone, text, user, device or record id.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use common::{HEHUA, PASSWORD, TestRelay, XIKENG, clock};
use doorstep_tests::http::{Api, HttpPhone, client};
use reqwest::StatusCode;
use reqwest::blocking::Response;
use serde_json::{Value, json};
use server::config::Settings;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::{EventKind, NewHousehold, NewWish, Role, WishId};

const PUBLIC: &[&str] = &[
    "/public/",
    "/public",
    "/public/counts.json",
    "/public/page.css",
    "/public/page.js",
];

/// The people of the test district: names that cannot turn up by chance.
const XIKENG_WORKER: &str = "fw.quokka-7731";
const HEHUA_WORKER: &str = "fw.narwhal-4486";
const SUPERVISOR: &str = "sv.axolotl-9025";

/// Settings read from a TOML file, as an operator writes them.
fn settings_from(toml: &str) -> Settings {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doorstep.toml");
    std::fs::write(&path, toml).unwrap();
    Settings::from_file(Some(&path)).unwrap()
}

fn get(relay: &TestRelay, path: &str, language: Option<&str>) -> Response {
    let mut request = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", relay.url));
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    request.send().unwrap()
}

/// What the relay must never publish, gathered while making the data.
#[derive(Default)]
struct Secrets(Vec<(&'static str, String)>);

impl Secrets {
    fn add(&mut self, what: &'static str, value: impl ToString) {
        self.0.push((what, value.to_string()));
    }

    /// Those of the values found in `text`.
    fn found_in(&self, text: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, v)| text.contains(v.as_str()))
            .map(|(what, v)| format!("{what} {v:?}"))
            .collect()
    }
}

/// A household and a submitted card on `phone`, every personal field
/// distinctive.
fn card(phone: &mut HttpPhone, n: usize, secrets: &mut Secrets) -> WishId {
    let p = &mut phone.phone;
    let community = p.community();
    let household = NewHousehold {
        address: format!("隐私测试路{n}号-QZ{n}X"),
        head_name: format!("欧阳测试{n}号-HN{n}K"),
        phone: format!("+86 139 0{n}71 4{n}42"),
        notes: format!("户内备注-NT{n}W"),
        members: 3,
        ..Default::default()
    };
    let home = p
        .store
        .create_household(&p.author, &community, &household)
        .unwrap();
    let text = format!("心愿内容第{n}条-WT{n}Y：给老人配一台轮椅");
    let id = p
        .store
        .create_wish(
            &p.author,
            &NewWish {
                household: home,
                text: text.clone(),
                category: Category::MobilityAid,
                urgency: Urgency::High,
                photos: vec![],
            },
        )
        .unwrap();
    p.store
        .append_event(&p.author, id, &EventInput::new(EventKind::Submit))
        .unwrap();
    secrets.add("address", household.address);
    secrets.add("head of household", household.head_name);
    secrets.add("phone number", household.phone);
    secrets.add("household notes", household.notes);
    secrets.add("wish text", text);
    secrets.add("household id", home);
    secrets.add("wish id", id);
    id
}

/// Three cards in xikeng and two in hehua, taken through the workflow by a
/// supervisor, so that every figure differs from the next:
/// xikeng 3 collected, 2 reviewed, 1 lit up and confirmed (rated 4);
/// hehua 2 collected, 2 reviewed (one rejected), 1 lit up and confirmed
/// (rated 5).
fn populate(relay: &TestRelay) -> (Api, Secrets) {
    relay.add_user(XIKENG_WORKER, Role::Worker, &[XIKENG]);
    relay.add_user(HEHUA_WORKER, Role::Worker, &[HEHUA]);
    relay.add_user(SUPERVISOR, Role::Supervisor, &["longgang"]);
    let mut secrets = Secrets::default();
    for user in [XIKENG_WORKER, HEHUA_WORKER, SUPERVISOR] {
        secrets.add("user name", user);
    }
    let mut xikeng = HttpPhone::login(&relay.url, XIKENG_WORKER, PASSWORD, clock()).unwrap();
    let mut hehua = HttpPhone::login(&relay.url, HEHUA_WORKER, PASSWORD, clock()).unwrap();
    let x: Vec<WishId> = (1..=3)
        .map(|n| card(&mut xikeng, n, &mut secrets))
        .collect();
    let h: Vec<WishId> = (4..=5).map(|n| card(&mut hehua, n, &mut secrets)).collect();
    for phone in [&mut xikeng, &mut hehua] {
        phone.sync().unwrap();
        secrets.add("device id", phone.phone.store.id());
    }

    let sup = Api::login(&relay.url, SUPERVISOR, PASSWORD).unwrap();
    let lit = |id: WishId, rating: u8| {
        for (path, body) in [
            ("review", json!({"decision": "approve"})),
            ("assign", json!({"claimant": "认领单位-鹈鹕-CL7Z"})),
            ("fulfil", json!({"note": "点亮备注-FN7Z"})),
            (
                "feedback",
                json!({"rating": rating, "comment": "居民评语-RC7Z"}),
            ),
        ] {
            let (status, answer) = sup.post(&format!("/v1/wishes/{id}/{path}"), body);
            assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        }
    };
    lit(x[0], 4);
    lit(h[1], 5);
    let (status, _) = sup.post(
        &format!("/v1/wishes/{}/review", x[1]),
        json!({"decision": "approve"}),
    );
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = sup.post(
        &format!("/v1/wishes/{}/review", h[0]),
        json!({"decision": "reject", "reason": "驳回理由-RJ7Z"}),
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
    for (what, value) in [
        ("claimant", "认领单位-鹈鹕-CL7Z"),
        ("fulfilment note", "点亮备注-FN7Z"),
        ("resident's comment", "居民评语-RC7Z"),
        ("rejection reason", "驳回理由-RJ7Z"),
    ] {
        secrets.add(what, value);
    }
    (sup, secrets)
}

fn public_relay() -> TestRelay {
    let settings = settings_from("public_page = true\n");
    assert!(settings.public_page);
    TestRelay::start_with(settings)
}

#[test]
fn off_by_default_every_public_address_is_a_plain_not_found() {
    assert!(!Settings::default().public_page);
    assert!(!settings_from("max_connections = 100\n").public_page);
    let relay = TestRelay::start();
    let unknown = get(&relay, "/no-such-page", None);
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let plain = unknown.text().unwrap();
    for path in PUBLIC {
        let response = get(&relay, path, None);
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.text().unwrap(), plain, "{path}: nothing more");
    }
    // Turned on, the same relay code answers.
    let on = public_relay();
    for path in PUBLIC {
        assert_ne!(
            get(&on, path, None).status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

/// The number a page shows for `figure` of the scope `scope`.
fn shown(html: &str, scope: &str, figure: &str) -> String {
    let card = html
        .find(&format!(r#"data-scope="{scope}""#))
        .unwrap_or_else(|| panic!("no card for {scope}"));
    let rest = &html[card..];
    let at = rest.find(&format!(r#"data-figure="{figure}""#)).unwrap();
    let rest = &rest[at..];
    let num = rest.find(r#"class="num">"#).unwrap() + r#"class="num">"#.len();
    rest[num..].split('<').next().unwrap().to_owned()
}

const COUNTS: [&str; 4] = ["collected", "reviewed", "fulfilled", "confirmed"];
const FIGURES: [&str; 6] = [
    "collected",
    "reviewed",
    "fulfilled",
    "confirmed",
    "satisfaction",
    "median_days_to_fulfil",
];

#[test]
fn on_the_page_and_the_json_show_what_a_supervisor_sees() {
    let relay = public_relay();
    let (sup, _) = populate(&relay);
    let (status, stats) = sup.get("/v1/stats");
    assert_eq!(status, StatusCode::OK);

    let response = get(&relay, "/public/counts.json", None);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let public: Value = response.json().unwrap();

    // The figures themselves, so that agreeing on zeros cannot pass.
    let figures = |v: &Value| COUNTS.map(|k| v[k].as_u64().unwrap());
    assert_eq!(public["district"], "longgang");
    assert_eq!(public["total"]["scope"], "longgang");
    assert_eq!(figures(&public["total"]), [5, 4, 2, 2]);
    assert_eq!(public["total"]["satisfaction"], 4.5);
    let communities: Vec<(&str, [u64; 4])> = public["communities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["scope"].as_str().unwrap(), figures(c)))
        .collect();
    assert_eq!(communities, [(HEHUA, [2, 2, 1, 1]), (XIKENG, [3, 2, 1, 1])]);

    // The same as /v1/stats reports for a supervisor of the whole district.
    for key in FIGURES {
        assert_eq!(public["total"][key], stats["total"][key], "total {key}");
    }
    for list in ["streets", "communities"] {
        let (ours, theirs) = (
            public[list].as_array().unwrap(),
            stats[list].as_array().unwrap(),
        );
        assert_eq!(ours.len(), theirs.len(), "{list}");
        for (ours, theirs) in ours.iter().zip(theirs) {
            assert_eq!(ours["scope"], theirs["scope"], "{list}");
            for key in FIGURES {
                assert_eq!(ours[key], theirs[key], "{list} {} {key}", ours["scope"]);
            }
        }
    }

    // The page shows the same numbers, in Chinese unless asked otherwise.
    let response = get(&relay, "/public/", None);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let html = response.text().unwrap();
    assert!(html.contains(r#"<html lang="zh-CN">"#), "{html}");
    assert!(html.contains("微心愿公开数据") && html.contains("已点亮"));
    assert!(!html.contains("<script>") && !html.contains("style="));
    for list in ["streets", "communities"] {
        for entry in stats[list].as_array().unwrap() {
            let scope = entry["scope"].as_str().unwrap();
            for key in COUNTS {
                assert_eq!(shown(&html, scope, key), entry[key].to_string(), "{scope}");
            }
        }
    }
    assert_eq!(shown(&html, "longgang", "collected"), "5");
    assert!(html.contains(&format!(r#"href="{}/public/""#, relay.url)));

    let english = get(&relay, "/public/?lang=en", Some("zh-CN"))
        .text()
        .unwrap();
    assert!(english.contains(r#"<html lang="en">"#) && english.contains("Lit up"));
    let english = get(&relay, "/public/", Some("en-GB,en;q=0.9"))
        .text()
        .unwrap();
    assert!(english.contains(r#"<html lang="en">"#));
    let moved = get(&relay, "/public?lang=en", None);
    assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(moved.headers()["location"], "/public/?lang=en");
}

#[test]
fn nothing_about_a_person_is_published() {
    let relay = public_relay();
    let (sup, secrets) = populate(&relay);
    assert!(secrets.0.len() > 30, "{} values", secrets.0.len());

    // Where these values are to be found: a supervisor's view. Every one of
    // them is there, so the scan below would find them if they leaked.
    let mut control = String::new();
    for path in [
        "/v1/wishes?limit=100",
        "/v1/households?limit=100",
        "/v1/devices",
    ] {
        let (status, body) = sup.get(path);
        assert_eq!(status, StatusCode::OK, "{path}");
        control.push_str(&body.to_string());
    }
    let (_, wishes) = sup.get("/v1/wishes?limit=100");
    for wish in wishes["items"].as_array().unwrap() {
        let id = wish["id"].as_str().unwrap();
        control.push_str(&sup.get(&format!("/v1/wishes/{id}/history")).1.to_string());
    }
    let missing: Vec<&String> = secrets
        .0
        .iter()
        .map(|(_, v)| v)
        .filter(|v| !control.contains(v.as_str()))
        .collect();
    assert!(missing.is_empty(), "the control misses {missing:?}");

    let mut published = String::new();
    for path in [
        "/public/",
        "/public/?lang=en",
        "/public/counts.json",
        "/public/page.js",
        "/public/page.css",
    ] {
        let response = client().get(format!("{}{path}", relay.url)).send().unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body = response.text().unwrap();
        assert!(body.len() > 100, "{path}");
        published.push_str(&body);
    }
    assert_eq!(secrets.found_in(&published), Vec::<String>::new());
    // And the figures are there: the scan read the real pages.
    assert!(published.contains(XIKENG) && published.contains(r#""collected":5"#));
}
