//! The OpenAPI document at `/v1/openapi.json` describes the router as it
//! is: every `/v1` route (and `/healthz`) with its methods and no route that
//! does not exist, as OpenAPI 3 whose references resolve, with the bearer
//! scheme on exactly the operations that refuse a caller without a token.
//! `scripts/test-api` then holds the relay to the document with schemathesis.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::TestRelay;
use reqwest::Method;
use serde_json::{Value, json};

/// The router's source: the routes are read from it, so that a route added
/// there without an annotation fails this test.
const ROUTES: &str = include_str!("../src/routes/mod.rs");

/// `(method, path)` of every `.route("/v1…", …)` and `/healthz` in
/// `routes/mod.rs`.
fn routes_in_router() -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut rest = ROUTES;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let text = rest.trim_start();
        let Some(text) = text.strip_prefix('"') else {
            continue;
        };
        let end = text.find('"').unwrap();
        let path = &text[..end];
        // The method router runs to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let mut close = 0;
        for (i, c) in text[end..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                close = end + i;
                break;
            }
        }
        if !(path.starts_with("/v1/") || path == "/healthz") {
            continue;
        }
        let methods = &text[end + 1..close];
        let mut any = false;
        for method in ["get", "post", "put", "patch", "delete", "head"] {
            let call = format!("{method}(");
            let mut from = 0;
            while let Some(i) = methods[from..].find(&call) {
                let start = from + i;
                let before = methods[..start].chars().next_back();
                // `get(` but not `…::get(` or `forget(`.
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                    found.insert((method.to_owned(), path.to_owned()));
                    any = true;
                }
                from = start + call.len();
            }
        }
        assert!(any, "no method found for route {path}: {methods}");
    }
    found
}

fn document(relay: &TestRelay) -> Value {
    let response = reqwest::blocking::get(format!("{}/v1/openapi.json", relay.url)).unwrap();
    assert_eq!(response.status(), 200, "served without a token");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    response.json().unwrap()
}

/// `(method, path)` → operation, for every operation of the document.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut all = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete", "head"].contains(&method.as_str()) {
                all.insert((method.clone(), path.clone()), operation.clone());
            }
        }
    }
    all
}

#[test]
fn every_route_of_the_router_is_documented_and_nothing_else() {
    let relay = TestRelay::start();
    let doc = document(&relay);
    let router = routes_in_router();
    // The parse found the routes (a broken parse would compare nothing).
    assert!(router.len() >= 40, "{router:?}");
    assert!(router.contains(&("patch".to_owned(), "/v1/photos/{sha}".to_owned())));
    assert!(router.contains(&("get".to_owned(), "/v1/openapi.json".to_owned())));
    let documented: BTreeSet<(String, String)> = operations(&doc).into_keys().collect();
    let missing: Vec<_> = router.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&router).collect();
    assert!(
        missing.is_empty(),
        "routes with no #[utoipa::path]: {missing:?}"
    );
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_whose_references_resolve() {
    let relay = TestRelay::start();
    let doc = document(&relay);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a reference outside the schemas: {r}"));
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
    let mut ids = BTreeSet::new();
    for ((method, path), operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap().to_owned();
        let responses = operation["responses"].as_object().unwrap();
        assert!(!responses.is_empty(), "{method} {path} has no responses");
        for (status, response) in responses {
            let code: u16 = status.parse().unwrap();
            assert!((100..600).contains(&code), "{method} {path}: {status}");
            assert!(
                response["description"].is_string(),
                "{method} {path} {status}"
            );
            // Errors of the API answer its error body.
            if code >= 400
                && path.starts_with("/v1/")
                && let Some(json) = response["content"].get("application/json")
            {
                assert_eq!(
                    json["schema"]["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
        // Each `{name}` of the path is a required path parameter.
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter(|p| p["in"] == "path")
                    .inspect(|p| assert_eq!(p["required"], true, "{method} {path}"))
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let templated: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(declared, templated, "{method} {path}");
        assert!(ids.insert(id.clone()), "operationId {id} twice");
    }
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(bearer["bearerFormat"], "JWT");
}

/// A stand-in for each path parameter: well formed, naming nothing.
fn fill(path: &str) -> String {
    path.replace("{id}", "00000000-0000-4000-8000-000000000000")
        .replace(
            "/v1/quarantine/00000000-0000-4000-8000-000000000000",
            "/v1/quarantine/1",
        )
        .replace("{sha}", &"0".repeat(64))
}

#[test]
fn operations_that_refuse_a_caller_without_a_token_require_the_bearer_scheme() {
    let relay = TestRelay::start();
    let doc = document(&relay);
    let client = reqwest::blocking::Client::new();
    let mut open = Vec::new();
    for ((method, path), operation) in operations(&doc) {
        let url = format!("{}{}", relay.url, fill(&path));
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = client.request(method.clone(), &url);
        if method == Method::POST {
            request = request.json(&json!({}));
        }
        if method == Method::PATCH {
            request = request
                .header("upload-offset", "0")
                .header("upload-length", "1")
                .body(vec![0u8]);
        }
        let status = request.send().unwrap().status();
        let security = operation["security"].as_array();
        let bearer = security.is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        // An empty requirement would make the token optional.
        let optional = security.is_some_and(|s| s.iter().any(|r| r == &json!({})));
        if status == 401 {
            assert!(
                bearer && !optional,
                "{method} {path} answers 401 with no token but documents no bearer requirement"
            );
            assert!(
                operation["responses"].get("401").is_some(),
                "{method} {path}: 401 undocumented"
            );
        } else {
            assert!(
                !bearer,
                "{method} {path} documents a bearer requirement but answers {status} without a token"
            );
            open.push(path);
        }
    }
    open.sort();
    assert_eq!(
        open,
        [
            "/healthz",
            "/v1/auth/login",
            "/v1/auth/refresh",
            "/v1/openapi.json"
        ]
    );
}

/// What a request the relay cannot read gets: its status, and the error body.
fn refused(response: reqwest::blocking::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/json"), "{status}: {kind}");
    let body: Value = response.json().unwrap();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (status, body["error"].as_str().unwrap().to_owned())
}

#[test]
fn requests_the_relay_cannot_read_get_the_error_body() {
    let relay = TestRelay::start();
    let client = reqwest::blocking::Client::new();
    let login = format!("{}/v1/auth/login", relay.url);
    let not_json = client.post(&login).body("username=chen").send().unwrap();
    assert_eq!(refused(not_json), (415, "unsupported_media_type".into()));
    let broken = client
        .post(&login)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .unwrap();
    assert_eq!(refused(broken), (400, "bad_request".into()));
    let shapeless = client
        .post(&login)
        .json(&json!({"username": 1}))
        .send()
        .unwrap();
    assert_eq!(refused(shapeless), (422, "invalid_body".into()));
    // An announced body too large is refused before it is read.
    let answer = {
        use std::io::{Read, Write};
        let host = relay.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        write!(
            stream,
            "POST /v1/auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer
            .to_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    assert!(answer.contains(r#""error":"too_large""#), "{answer}");
    let wrong_method = client.delete(&login).send().unwrap();
    assert_eq!(refused(wrong_method), (405, "method_not_allowed".into()));

    let access = doorstep_tests::http::login(
        &relay.url,
        "chen",
        common::PASSWORD,
        "00000000-0000-4000-8000-0000000000c1",
    )
    .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = client
        .get(format!("{}/v1/wishes?limit=-1", relay.url))
        .bearer_auth(&access)
        .send()
        .unwrap();
    assert_eq!(refused(query), (400, "bad_request".into()));
    let held = client
        .post(format!("{}/v1/quarantine/x/accept", relay.url))
        .bearer_auth(&access)
        .send()
        .unwrap();
    assert_eq!(refused(held), (400, "bad_request".into()));
}
