//! A volunteer lights a wish up with a photo taken on the wall: the relay
//! makes the camera's picture a photo (no EXIF, no GPS), keeps it, and the
//! fulfilment adds it to the card, where a supervisor sees it. Refused
//! pictures leave nothing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use common::wall::{approve, card, household, relay, seen};
use common::{PASSWORD, clock};
use doorstep_tests::http::{Api, HttpPhone, client};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PICTURE: &[u8] = include_bytes!("../../sync-core/tests/fixtures/rotated-gps.jpg");

fn send_picture(api: &Api, wish: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{}/v1/wall/{wish}/photo", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "image/jpeg")
        .body(bytes)
        .send()
        .unwrap();
    let status = response.status();
    (status, response.json().unwrap_or(Value::Null))
}

fn stored_files(relay: &common::TestRelay) -> usize {
    walk(&relay.state.settings.photos_path())
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                let path = e.path();
                if path.is_dir() { walk(&path) } else { 1 }
            })
            .sum()
    })
}

#[test]
fn a_wish_lit_up_with_a_photo_taken_on_the_wall() {
    let relay = relay();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let home = household(&mut wang);
    let open = card(&mut wang, home, "给欧阳奶奶配一台轮椅");
    wang.sync().unwrap();
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    approve(&chen, open);
    let hu = Api::login(&relay.url, "hu", PASSWORD).unwrap();
    let ma = Api::login(&relay.url, "ma", PASSWORD).unwrap();
    let wish = open.to_string();

    // Not theirs yet: refused before anything is decoded or kept.
    let files = stored_files(&relay);
    let (status, body) = send_picture(&hu, &wish, PICTURE.to_vec());
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(stored_files(&relay), files);

    let (_, wall) = hu.get("/v1/wall");
    let claim = json!({"seen": seen(&wall, open)});
    assert_eq!(
        hu.post(&format!("/v1/wall/{wish}/claim"), claim).0,
        StatusCode::OK
    );
    // Another volunteer may not take the holder's photo.
    assert_ne!(
        send_picture(&ma, &wish, PICTURE.to_vec()).0,
        StatusCode::CREATED
    );
    // What is no picture is refused, and nothing stays.
    let (status, body) = send_picture(&hu, &wish, b"not a picture".to_vec());
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "photo_refused");
    assert_eq!(stored_files(&relay), files);

    let (status, photo) = send_picture(&hu, &wish, PICTURE.to_vec());
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    assert_eq!(photo["mime"], "image/jpeg");
    let sha = photo["sha256"].as_str().unwrap().to_owned();
    // A photo the volunteer did not take here cannot be named.
    let (status, body) = hu.post(
        &format!("/v1/wall/{wish}/fulfil"),
        json!({"photos": ["0".repeat(64)]}),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = hu.post(
        &format!("/v1/wall/{wish}/fulfil"),
        json!({"note": "已送到", "photos": [sha]}),
    );
    assert_eq!(status, StatusCode::OK, "{body}");

    // On the card, for the supervisor: stored, upright, without metadata.
    let (_, detail) = chen.get(&format!("/v1/wishes/{wish}"));
    assert_eq!(detail["status"], "fulfilled");
    assert_eq!(detail["photos"][0]["sha256"], sha);
    assert_eq!(detail["photo_states"][0]["state"], "stored", "{detail}");
    let (status, bytes) = chen.get_text(&format!("/v1/records/{wish}/photos/{sha}"));
    assert_eq!(status, StatusCode::OK);
    let exif = b"Exif\0\0";
    assert!(
        PICTURE.windows(exif.len()).any(|w| w == exif),
        "the fixture has EXIF"
    );
    assert!(
        !bytes.windows(exif.len()).any(|w| w == exif),
        "the photo has none"
    );
    let (status, _) = chen.get_text(&format!("/v1/records/{wish}/photos/{sha}/thumb"));
    assert_eq!(status, StatusCode::OK);

    // The worker's phone receives the photo's reference with the card.
    wang.sync().unwrap();
    match wang.phone.store.record(open.record()).unwrap() {
        sync_core::Record::Wish(card) => {
            assert_eq!(card.photos.len(), 1);
            assert_eq!(card.photos[0].sha256.as_str(), sha);
        }
        other => panic!("not a wish: {other:?}"),
    }
}
