//! The sync client against a scripted relay on loopback: token refresh,
//! retries, timeouts and the relay's refusals. The relay's sync answers come
//! from sync-core itself; only the HTTP around them is scripted. (The real
//! relay is driven from Python and Kotlin in `tests/`.)

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sync_core::keys::PublicKey;
use sync_core::store::Registration;
use sync_core::sync::{Message, RelayPolicy};
use sync_core::{DeviceId, Role, ScopePath, Store, UserId};

use crate::DoorstepError;
use crate::relay::SYNC_MEDIA_TYPE;
use crate::store::FieldStore;
use crate::types::{HouseholdFilter, NewHousehold, SyncOptions};

const XIKENG: &str = "longgang/yuanshan/xikeng";

/// What the scripted relay does with one request.
enum Reply {
    /// Serve it as the relay would.
    Serve,
    /// Answer with this status and JSON error code.
    Error(u16, &'static str),
    /// Never answer.
    Hang,
}

struct Request {
    path: String,
    authorization: String,
    body: Vec<u8>,
}

type Script = Box<dyn FnMut(&Request) -> Reply + Send>;

/// A relay on a loopback port whose behaviour a test scripts.
struct FakeRelay {
    url: String,
    hits: Arc<Mutex<Vec<(String, String)>>>,
    tokens_issued: Arc<AtomicUsize>,
}

impl FakeRelay {
    fn start(expires_in: i64, script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let tokens_issued = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(Mutex::new((Store::open_in_memory().unwrap(), script)));
        let (h, t) = (hits.clone(), tokens_issued.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, h, t) = (state.clone(), h.clone(), t.clone());
                std::thread::spawn(move || serve_connection(stream, &state, &h, &t, expires_in));
            }
        });
        Self {
            url,
            hits,
            tokens_issued,
        }
    }

    fn hits(&self, path: &str) -> Vec<String> {
        let hits = self.hits.lock().unwrap();
        hits.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, auth)| auth.clone())
            .collect()
    }
}

type State = Mutex<(Store, Script)>;

fn serve_connection(
    stream: TcpStream,
    state: &State,
    hits: &Mutex<Vec<(String, String)>>,
    issued: &AtomicUsize,
    expires_in: i64,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while let Some(request) = read_request(&mut reader) {
        hits.lock()
            .unwrap()
            .push((request.path.clone(), request.authorization.clone()));
        let reply = (state.lock().unwrap().1)(&request);
        let (status, content_type, body) = match reply {
            Reply::Hang => {
                std::thread::sleep(Duration::from_secs(30));
                return;
            }
            Reply::Error(status, code) => (
                status,
                "application/json",
                json!({"error": code, "message": code})
                    .to_string()
                    .into_bytes(),
            ),
            Reply::Serve if request.path == "/v1/sync" => {
                let store = &mut state.lock().unwrap().0;
                (200, SYNC_MEDIA_TYPE, serve_sync(store, &request.body))
            }
            Reply::Serve => {
                if request.path == "/v1/auth/login" {
                    enroll(&mut state.lock().unwrap().0, &request.body);
                }
                let n = issued.fetch_add(1, Ordering::SeqCst);
                let tokens = json!({
                    "access_token": format!("access-{n}"), "refresh_token": format!("refresh-{n}"),
                    "expires_in": expires_in,
                    "user": {"id": "wang", "role": "worker", "scopes": [XIKENG]},
                });
                (200, "application/json", tokens.to_string().into_bytes())
            }
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(&body).is_err() {
            return;
        }
    }
}

/// Registers the logging-in phone and its key, as the real relay does.
fn enroll(store: &mut Store, body: &[u8]) {
    let form: serde_json::Value = serde_json::from_slice(body).unwrap();
    let device: DeviceId = form["device_id"].as_str().unwrap().parse().unwrap();
    let key: PublicKey = form["public_key"].as_str().unwrap().parse().unwrap();
    let wang = UserId::new("wang").unwrap();
    let registration = Registration {
        device,
        user: &wang,
        name: "phone",
        kind: "phone",
        key: Some(key),
    };
    let scopes = [ScopePath::new(XIKENG).unwrap()];
    store
        .enroll(&wang, Role::Worker, &scopes, &registration, 0)
        .unwrap();
}

fn serve_sync(store: &mut Store, body: &[u8]) -> Vec<u8> {
    let Ok(Message::Request(request)) = Message::decode(body) else {
        panic!("not a sync request")
    };
    let policy = RelayPolicy::new(request.from, vec![ScopePath::new(XIKENG).unwrap()]);
    sync_core::sync::serve(store, &policy, body).unwrap()
}

fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let (mut length, mut authorization) = (0usize, String::new());
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "authorization" => authorization = value.trim().to_owned(),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        path,
        authorization,
        body,
    })
}

fn options(max_retries: u32) -> SyncOptions {
    SyncOptions {
        request_timeout_ms: 2_000,
        connect_timeout_ms: 2_000,
        max_retries,
        backoff_ms: 10,
        trusted_certificate_pem: None,
    }
}

/// A logged-in phone with one household not yet synced.
fn phone(relay: &FakeRelay, dir: &tempfile::TempDir, options: SyncOptions) -> Arc<FieldStore> {
    let path = dir.path().join("phone.db").to_string_lossy().into_owned();
    let store = FieldStore::new(path, None).unwrap();
    store.set_sync_options(options).unwrap();
    store
        .shared
        .login_blocking(&relay.url, "wang", "pw", "test phone")
        .unwrap();
    store
        .create_household(NewHousehold {
            community: XIKENG.into(),
            address: "西坑村三巷5号".into(),
            head_name: "李秀英".into(),
            phone: String::new(),
            members: 1,
            tags: vec![],
            notes: String::new(),
        })
        .unwrap();
    store
}

#[test]
fn a_rejected_access_token_is_refreshed_once_and_the_sync_goes_on() {
    let mut refused = false;
    let relay = FakeRelay::start(
        900,
        Box::new(move |r| {
            if r.path == "/v1/sync" && !refused {
                refused = true;
                Reply::Error(401, "invalid_token")
            } else {
                Reply::Serve
            }
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = phone(&relay, &dir, options(0));
    let report = store.shared.sync_blocking().unwrap();
    assert_eq!((report.sent, report.accepted), (1, 1));
    assert_eq!(relay.hits("/v1/auth/refresh").len(), 1);
    assert_eq!(
        relay.hits("/v1/sync"),
        ["Bearer access-0", "Bearer access-1"],
        "the request is sent again with the new token"
    );
    assert_eq!(store.pending_changes().unwrap(), 0);
    // The rotated tokens are stored: a reopened store uses them.
    drop(store);
    let path = dir.path().join("phone.db").to_string_lossy().into_owned();
    let again = FieldStore::new(path, None).unwrap();
    again.shared.sync_blocking().unwrap();
    assert_eq!(relay.hits("/v1/sync").last().unwrap(), "Bearer access-1");
}

#[test]
fn an_access_token_about_to_expire_is_refreshed_before_syncing() {
    let relay = FakeRelay::start(5, Box::new(|_| Reply::Serve));
    let dir = tempfile::tempdir().unwrap();
    let store = phone(&relay, &dir, options(0));
    store.shared.sync_blocking().unwrap();
    assert_eq!(relay.hits("/v1/sync"), ["Bearer access-1"]);
    assert_eq!(relay.tokens_issued.load(Ordering::SeqCst), 2);
}

#[test]
fn a_relay_that_stumbles_is_retried_with_backoff() {
    let mut failures = 0;
    let relay = FakeRelay::start(
        900,
        Box::new(move |r| {
            if r.path == "/v1/sync" && failures < 2 {
                failures += 1;
                Reply::Error(503, "unavailable")
            } else {
                Reply::Serve
            }
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = phone(&relay, &dir, options(2));
    let report = store.shared.sync_blocking().unwrap();
    assert_eq!(report.accepted, 1);
    assert_eq!(relay.hits("/v1/sync").len(), 3);
}

#[test]
fn a_relay_that_keeps_failing_is_reported_and_nothing_is_lost() {
    let relay = FakeRelay::start(
        900,
        Box::new(|r| {
            if r.path == "/v1/sync" {
                Reply::Error(503, "unavailable")
            } else {
                Reply::Serve
            }
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = phone(&relay, &dir, options(1));
    let e = store.shared.sync_blocking().unwrap_err();
    assert!(
        matches!(&e, DoorstepError::Server(m) if m.contains("503")),
        "{e:?}"
    );
    assert_eq!(relay.hits("/v1/sync").len(), 2);
    assert_eq!(store.pending_changes().unwrap(), 1);
    assert_eq!(
        store.households(HouseholdFilter::default()).unwrap().len(),
        1
    );
}

#[test]
fn a_relay_that_never_answers_times_out_as_offline() {
    let relay = FakeRelay::start(
        900,
        Box::new(|r| {
            if r.path == "/v1/sync" {
                Reply::Hang
            } else {
                Reply::Serve
            }
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = phone(
        &relay,
        &dir,
        SyncOptions {
            request_timeout_ms: 200,
            ..options(1)
        },
    );
    let e = store.shared.sync_blocking().unwrap_err();
    assert!(
        matches!(&e, DoorstepError::Offline(m) if m.contains("in time")),
        "{e:?}"
    );
    assert_eq!(relay.hits("/v1/sync").len(), 2, "tried again once");
    assert_eq!(store.pending_changes().unwrap(), 1);
}

#[test]
fn a_revoked_device_and_an_ended_session_are_told_apart() {
    let relay = FakeRelay::start(
        900,
        Box::new(|r| match r.path.as_str() {
            "/v1/sync" => Reply::Error(403, "device_revoked"),
            _ => Reply::Serve,
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = phone(&relay, &dir, options(3));
    let e = store.shared.sync_blocking().unwrap_err();
    assert!(matches!(e, DoorstepError::DeviceRevoked(_)), "{e:?}");
    assert_eq!(relay.hits("/v1/sync").len(), 1, "a refusal is not retried");

    let relay = FakeRelay::start(
        900,
        Box::new(|r| match r.path.as_str() {
            "/v1/sync" | "/v1/auth/refresh" => Reply::Error(401, "invalid_token"),
            _ => Reply::Serve,
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = phone(&relay, &dir, options(3));
    let e = store.shared.sync_blocking().unwrap_err();
    assert!(
        matches!(&e, DoorstepError::Unauthorized(m) if m.contains("log in again")),
        "{e:?}"
    );
    // The user can go on working offline until they log in again.
    assert!(store.account().is_some());
    assert_eq!(store.pending_changes().unwrap(), 1);
}
