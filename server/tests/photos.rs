//! Photos through a relay on a loopback port: uploads verified and kept
//! once, fetched only through a card the reader may read, pending until
//! their bytes arrive, refused whole when they are not what they claim,
//! resumed after a cut, and cleaned up only when nothing refers to them.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use std::io::{Read, Write};

use common::{PASSWORD, TestRelay, clock, new_card};
use doorstep_tests::http::{Api, HttpPhone, client};
use reqwest::StatusCode;
use reqwest::blocking::Response;
use serde_json::{Value, json};
use sync_core::photo::{self, MAX_PHOTO_BYTES};
use sync_core::{PhotoRef, WishId};

/// A camera's picture: on its side with EXIF orientation 6 and a GPS fix.
const CAMERA: &[u8] = include_bytes!("../../sync-core/tests/fixtures/rotated-gps.jpg");

/// A worker's phone with a submitted card carrying the fixture's photo,
/// synced (the photo's bytes not yet sent).
fn card_with_photo(relay: &TestRelay, user: &str) -> (HttpPhone, WishId, PhotoRef) {
    let mut phone = HttpPhone::login(&relay.url, user, PASSWORD, clock()).unwrap();
    let card = new_card(&mut phone, "楼道扶手断了");
    let author = phone.phone.author.clone();
    let photo = phone.phone.store.add_photo(&author, card, CAMERA).unwrap();
    let report = phone.sync().unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    (phone, card, photo.sha256)
}

fn bytes_of(phone: &HttpPhone, sha: &PhotoRef) -> Vec<u8> {
    phone.phone.store.photo_data(sha).unwrap().unwrap()
}

fn head(relay: &TestRelay, token: &str, sha: &PhotoRef) -> Response {
    client()
        .head(format!("{}/v1/photos/{sha}", relay.url))
        .bearer_auth(token)
        .send()
        .unwrap()
}

fn offset_of(response: &Response) -> Option<u64> {
    response
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// `PATCH` of `bytes[offset..]` as a photo `length` long named `sha`.
fn patch(
    relay: &TestRelay,
    token: &str,
    sha: &PhotoRef,
    length: u64,
    offset: u64,
    bytes: &[u8],
) -> Response {
    client()
        .patch(format!("{}/v1/photos/{sha}", relay.url))
        .bearer_auth(token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset)
        .header("upload-length", length)
        .body(bytes.to_vec())
        .send()
        .unwrap()
}

fn upload(relay: &TestRelay, token: &str, sha: &PhotoRef, bytes: &[u8]) -> Response {
    patch(relay, token, sha, bytes.len() as u64, 0, bytes)
}

fn get(api: &Api, path: &str) -> (StatusCode, Vec<u8>, Value) {
    let response = client()
        .get(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .send()
        .unwrap();
    let status = response.status();
    let body = response.bytes().unwrap().to_vec();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, body, json)
}

/// Photo files in the relay's folder (thumbnails included).
fn files(relay: &TestRelay) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "uploads") {
                    walk(&path, out);
                }
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&relay.state.settings.photos_path(), &mut out);
    out.sort();
    out
}

fn stored_rows(relay: &TestRelay) -> i64 {
    relay
        .sql()
        .query_row("SELECT count(*) FROM stored_photos", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_photo_is_pending_then_stored_once_and_seen_only_through_its_card() {
    let relay = TestRelay::start();
    let (wang, card, sha) = card_with_photo(&relay, "wang");
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let thumb_path = format!("/v1/records/{card}/photos/{sha}/thumb");

    // The card is here, its photo not yet: pending, naming the phone.
    let (status, _, body) = get(&chen, &thumb_path);
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "photo_pending");
    assert!(
        body["message"].as_str().unwrap().contains("test (wang)"),
        "names the device: {body}"
    );
    let (_, _, detail) = get(&chen, &format!("/v1/wishes/{card}"));
    assert_eq!(detail["photo_states"][0]["state"], "pending");
    assert_eq!(detail["photos"][0]["width"], 300, "upright: 300 × 400");
    assert_eq!(detail["photos"][0]["height"], 400);

    let data = bytes_of(&wang, &sha);
    let first = head(&relay, &wang.access, &sha);
    assert_eq!(
        (first.status(), offset_of(&first)),
        (StatusCode::OK, Some(0))
    );
    let stored = upload(&relay, &wang.access, &sha, &data);
    assert_eq!(stored.status(), StatusCode::CREATED);
    let stored: Value = stored.json().unwrap();
    assert_eq!(stored["sha256"], sha.as_str());
    assert_eq!(files(&relay).len(), 2, "the photo and its thumbnail");
    #[cfg(unix)]
    for file in files(&relay) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }

    let (status, original, _) = get(&chen, &format!("/v1/records/{card}/photos/{sha}"));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(original, data, "the bytes the phone made");
    let (status, thumb, _) = get(&chen, &thumb_path);
    assert_eq!(status, StatusCode::OK);
    let thumb = photo::inspect(&thumb).unwrap();
    assert_eq!((thumb.width, thumb.height), (240, 320));
    let (_, _, detail) = get(&chen, &format!("/v1/wishes/{card}"));
    assert_eq!(detail["photo_states"][0]["state"], "stored");

    // Outside the card's community: nothing, not even that it exists.
    let sun = Api::login(&relay.url, "sun", PASSWORD).unwrap();
    let (status, _, _) = get(&sun, &thumb_path);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown = PhotoRef::from_digest([9; 32]);
    let (status, _, same) = get(&sun, &format!("/v1/records/{card}/photos/{unknown}"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(same["message"], "no such photo");
    let told = head(&relay, &sun.token, &sha);
    assert_eq!(offset_of(&told), Some(0));
    assert!(told.headers().get("photo-stored").is_none());

    // Sending the same bytes again stores no second copy, and grants nothing.
    let again = upload(&relay, &sun.token, &sha, &data);
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(files(&relay).len(), 2);
    assert_eq!(stored_rows(&relay), 1);
    assert_eq!(get(&sun, &thumb_path).0, StatusCode::NOT_FOUND);
    // A reader of the card is told it is there, and sends nothing.
    let zhao = Api::login(&relay.url, "zhao", PASSWORD).unwrap();
    let known = head(&relay, &zhao.token, &sha);
    assert_eq!(known.headers()["photo-stored"], "true");

    // Once the card is in sun's scopes, the photo is too.
    relay.sql_write(
        "INSERT INTO user_scopes (username, scope) VALUES ('sun', 'longgang/yuanshan/xikeng')",
    );
    assert_eq!(get(&sun, &thumb_path).0, StatusCode::OK);
}

#[test]
fn uploads_that_are_not_what_they_claim_leave_nothing_behind() {
    let relay = TestRelay::start();
    let (wang, _card, sha) = card_with_photo(&relay, "wang");
    let data = bytes_of(&wang, &sha);
    let token = &wang.access;
    let uploads_dir = relay.state.settings.photos_path().join("uploads");
    let leftovers = || -> usize { walkdir(&uploads_dir) };

    // Other bytes under this name: 422, and nothing kept.
    let mut other = data.clone();
    let last = other.len() - 3;
    other[last] ^= 0x55;
    let refused = upload(&relay, token, &sha, &other);
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().unwrap();
    assert_eq!(body["error"], "photo_mismatch");
    assert!(files(&relay).is_empty());
    assert_eq!(stored_rows(&relay), 0);
    assert_eq!(leftovers(), 0, "no partial upload left");
    assert_eq!(offset_of(&head(&relay, token, &sha)), Some(0));

    // One byte over the limit: a JSON 413 naming the limit, before any byte.
    let big = patch(&relay, token, &sha, MAX_PHOTO_BYTES + 1, 0, b"");
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = big.json().unwrap();
    assert_eq!(body["error"], "photo_too_large");
    assert_eq!(body["limit"], MAX_PHOTO_BYTES);
    assert!(body["message"].as_str().unwrap().contains("2097152"));

    // The camera's own file (GPS and all), under its true name: refused.
    let raw = photo::sha256(CAMERA);
    let refused = upload(&relay, token, &raw, CAMERA);
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().unwrap();
    assert_eq!(body["error"], "photo_refused");
    assert!(body["message"].as_str().unwrap().contains("GPS"), "{body}");

    // A tiny file that claims 60,000 × 60,000 pixels.
    let mut bomb = data.clone();
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bomb[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let refused = upload(&relay, token, &photo::sha256(&bomb), &bomb);
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // An offset the upload is not at: 409 saying where it is.
    let wrong = patch(&relay, token, &sha, data.len() as u64, 10, &data[10..]);
    assert_eq!(wrong.status(), StatusCode::CONFLICT);
    assert_eq!(offset_of(&wrong), Some(0));
    assert!(files(&relay).is_empty());
    assert_eq!(stored_rows(&relay), 0);
    assert_eq!(leftovers(), 0);

    // And the real photo still goes through.
    assert_eq!(
        upload(&relay, token, &sha, &data).status(),
        StatusCode::CREATED
    );
}

fn walkdir(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() { walkdir(&path) } else { 1 }
        })
        .sum()
}

#[test]
fn a_cut_upload_resumes_from_what_arrived() {
    let relay = TestRelay::start();
    let (wang, card, sha) = card_with_photo(&relay, "wang");
    let data = bytes_of(&wang, &sha);
    let cut = data.len() * 6 / 10;

    // The connection drops after 60% of the body.
    let host = relay.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "PATCH /v1/photos/{sha} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Upload-Offset: 0\r\nUpload-Length: {len}\r\nContent-Length: {len}\r\n\
         Content-Type: application/offset+octet-stream\r\n\r\n",
        wang.access,
        len = data.len()
    )
    .unwrap();
    stream.write_all(&data[..cut]).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    drop(stream);

    // What arrived is kept, and the upload carries on from there.
    let mut offset = None;
    for _ in 0..100 {
        offset = offset_of(&head(&relay, &wang.access, &sha));
        if offset == Some(cut as u64) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(offset, Some(cut as u64), "the first 60% are kept");
    let rest = patch(
        &relay,
        &wang.access,
        &sha,
        data.len() as u64,
        cut as u64,
        &data[cut..],
    );
    assert_eq!(rest.status(), StatusCode::CREATED);
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let (status, original, _) = get(&chen, &format!("/v1/records/{card}/photos/{sha}"));
    assert_eq!((status, original == data), (StatusCode::OK, true));
}

#[test]
fn cleanup_takes_only_what_nothing_refers_to_after_the_grace() {
    let relay = TestRelay::start();
    let (mut wang, card, sha) = card_with_photo(&relay, "wang");
    let data = bytes_of(&wang, &sha);
    assert_eq!(
        upload(&relay, &wang.access, &sha, &data).status(),
        StatusCode::CREATED
    );
    let author = wang.phone.author.clone();
    let day = 86_400_000;
    let now = server::state::now_ms();
    let grace = relay.state.settings.photo_grace_days as i64 * day;
    let sweep = |at: i64| {
        let state = relay.state.clone();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move { server::photos::sweep(&state, at).await.unwrap() })
    };

    // Still referred to: kept however late.
    assert_eq!(sweep(now + 10 * grace).removed, 0);

    // Taken off and put back within the grace: kept.
    wang.phone.store.remove_photo(&author, card, &sha).unwrap();
    wang.sync().unwrap();
    wang.phone.store.add_photo(&author, card, CAMERA).unwrap();
    wang.sync().unwrap();
    assert_eq!(sweep(now + grace + day).removed, 0);
    assert_eq!(files(&relay).len(), 2);

    // A reference that arrives between the mark and the sweep keeps it.
    wang.phone.store.remove_photo(&author, card, &sha).unwrap();
    wang.sync().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cutoff = now + grace + day;
    let marked = runtime
        .block_on(server::photos::sweep_candidates(&relay.state, cutoff))
        .unwrap();
    assert_eq!(marked, vec![sha.clone()]);
    wang.phone.store.add_photo(&author, card, CAMERA).unwrap();
    wang.sync().unwrap();
    let swept = runtime
        .block_on(server::photos::sweep_some(&relay.state, marked, cutoff))
        .unwrap();
    assert_eq!((swept.removed, swept.kept), (0, 1));
    assert_eq!(files(&relay).len(), 2);

    // Taken off for good: within the grace it stays, after it it goes.
    wang.phone.store.remove_photo(&author, card, &sha).unwrap();
    wang.sync().unwrap();
    assert_eq!(sweep(server::state::now_ms() + grace / 2).removed, 0);
    assert_eq!(sweep(server::state::now_ms() + grace + day).removed, 1);
    assert!(files(&relay).is_empty(), "photo and thumbnail gone");
    assert_eq!(stored_rows(&relay), 0);
}

#[test]
fn a_supervisor_purges_a_photo_for_good_and_sees_what_is_pending() {
    let relay = TestRelay::start();
    let (wang, card, sha) = card_with_photo(&relay, "wang");
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();

    let (status, pending) = chen.get("/v1/photos/pending?days=0");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending[0]["sha256"], sha.as_str());
    assert_eq!(pending[0]["record_id"], card.to_string());
    assert_eq!(pending[0]["device_name"], "test (wang)");
    let (_, older) = chen.get("/v1/photos/pending?days=3");
    assert_eq!(
        older.as_array().unwrap().len(),
        0,
        "not pending for 3 days yet"
    );
    let worker = Api::login(&relay.url, "zhao", PASSWORD).unwrap();
    assert_eq!(worker.get("/v1/photos/pending").0, StatusCode::FORBIDDEN);

    let data = bytes_of(&wang, &sha);
    assert_eq!(
        upload(&relay, &wang.access, &sha, &data).status(),
        StatusCode::CREATED
    );
    let (status, purged) = chen.post(
        &format!("/v1/records/{card}/photos/{sha}/purge"),
        json!({"reason": "照片拍到了身份证"}),
    );
    assert_eq!(status, StatusCode::OK, "{purged}");
    assert_eq!(purged["reference_removed"], true);
    assert!(files(&relay).is_empty());
    let (_, detail) = chen.get(&format!("/v1/wishes/{card}"));
    assert_eq!(
        detail["photos"].as_array().unwrap().len(),
        0,
        "off the card"
    );
    let again = upload(&relay, &wang.access, &sha, &data);
    assert_eq!(again.status(), StatusCode::GONE, "never taken again");
    assert!(files(&relay).is_empty());
}
