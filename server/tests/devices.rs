//! Devices as supervisors look after them: which phones hold work the relay
//! has not seen, and the records a lost phone's changes are held in, to
//! accept or discard.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use common::{PASSWORD, TestRelay, clock, new_card};
use doorstep_tests::http::{Api, HttpPhone};
use doorstep_tests::relay_peer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_core::store::RevokeKind;
use sync_core::sync::RejectCode;

fn devices(api: &Api) -> Vec<Value> {
    let (status, body) = api.get("/v1/devices");
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

fn device<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter().find(|d| d["id"] == id).unwrap()
}

#[test]
fn the_devices_page_warns_about_unsynced_work_not_seen_for_days() {
    let relay = TestRelay::start();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let mut zhao = HttpPhone::login(&relay.url, "zhao", PASSWORD, clock()).unwrap();
    new_card(&mut wang, "给李大爷一台轮椅");
    // A phone reports its unsynced work at each sync; once its work went
    // through, nothing is left.
    let (request, _) = wang.phone.store.begin_sync(&relay_peer(), &[]).unwrap();
    assert_eq!(
        request.pending.unwrap().records,
        2,
        "a household and a card"
    );
    wang.sync().unwrap();
    zhao.sync().unwrap();
    let supervisor = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let wang_id = wang.phone.device().to_string();
    let seen = devices(&supervisor);
    let row = device(&seen, &wang_id);
    assert_eq!(
        (row["pending"].as_i64(), row["stranded"].as_bool()),
        (Some(0), Some(false))
    );
    assert_eq!(row["username"], "wang");
    assert_eq!(row["standing"], "active");
    assert_eq!(row["has_key"], true);
    // Four days ago its last sync stopped part way, with three records left.
    relay.sql_write(&format!(
        "UPDATE devices SET pending = 3, oldest_pending_at = reported_at - 5 * 86400000,
             reported_at = reported_at - 4 * 86400000 WHERE id = '{wang_id}'"
    ));
    let later = devices(&supervisor);
    let row = device(&later, &wang_id);
    assert_eq!(
        (row["pending"].as_i64(), row["stranded"].as_bool()),
        (Some(3), Some(true))
    );
    assert_eq!(
        device(&later, &zhao.phone.device().to_string())["stranded"],
        false
    );
    // Only supervisors see devices.
    let worker = Api::login(&relay.url, "zhao", PASSWORD).unwrap();
    assert_eq!(worker.get("/v1/devices").0, StatusCode::FORBIDDEN);
}

#[test]
fn a_lost_phones_carried_work_waits_for_a_supervisor_to_accept_or_discard() {
    let relay = TestRelay::start();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let mut zhao = HttpPhone::login(&relay.url, "zhao", PASSWORD, clock()).unwrap();
    wang.sync().unwrap();
    zhao.sync().unwrap();
    let kept = new_card(&mut wang, "给李大爷一台轮椅");
    let dropped = new_card(&mut wang, "可疑的心愿");
    wang.phone.meet(&mut zhao.phone);
    let lost = wang.phone.device();
    relay
        .state
        .db
        .blocking(move |store| store.revoke_device(lost, RevokeKind::Lost, 1))
        .unwrap();

    let report = zhao.sync().unwrap();
    assert!(
        report
            .rejected
            .iter()
            .all(|r| r.code == RejectCode::Quarantine),
        "{report:?}"
    );
    assert_eq!(report.rejected.len(), 4, "two cards and their households");
    let supervisor = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    assert_eq!(
        supervisor.get(&format!("/v1/wishes/{kept}")).0,
        StatusCode::NOT_FOUND,
        "nothing applied yet"
    );
    let (status, held) = supervisor.get("/v1/quarantine");
    assert_eq!(status, StatusCode::OK);
    let held = held.as_array().unwrap();
    assert_eq!(held.len(), 4);
    let entry = |record: String| {
        held.iter()
            .find(|h| h["record"] == record)
            .unwrap_or_else(|| panic!("{record} held: {held:?}"))
            .clone()
    };
    let card = entry(kept.record().to_string());
    assert_eq!(card["preview"], "给李大爷一台轮椅");
    assert_eq!(card["authors"][0]["user"], "wang");
    assert_eq!(card["carrier"]["user"], "zhao");
    // The same work pushed again is held once.
    zhao.phone
        .store
        .retry_rejected(&relay_peer(), kept.record())
        .unwrap();
    zhao.sync().unwrap();
    assert_eq!(
        supervisor.get("/v1/quarantine").1.as_array().unwrap().len(),
        4
    );

    // Accept one card (and its household), discard the other card.
    for h in held {
        let record = h["record"].as_str().unwrap();
        let id = h["id"].as_i64().unwrap();
        let decision = if record == dropped.record().to_string() {
            "discard"
        } else {
            "accept"
        };
        let (status, body) = supervisor.post(&format!("/v1/quarantine/{id}/{decision}"), json!({}));
        assert_eq!(status, StatusCode::OK, "{decision} {record}: {body}");
    }
    let (status, again) =
        supervisor.post(&format!("/v1/quarantine/{}/accept", card["id"]), json!({}));
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert!(
        supervisor
            .get("/v1/quarantine")
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, shown) = supervisor.get(&format!("/v1/wishes/{kept}"));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["text"], "给李大爷一台轮椅");
    assert_eq!(
        supervisor.get(&format!("/v1/wishes/{dropped}")).0,
        StatusCode::NOT_FOUND
    );
    let history = supervisor.get(&format!("/v1/wishes/{kept}/history")).1;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["user"] == "wang")
    );

    // The carrier's next sync brings the accepted card back; it is no longer
    // held against it.
    zhao.sync().unwrap();
    let refused: Vec<_> = zhao
        .phone
        .store
        .rejections(&relay_peer())
        .unwrap()
        .into_iter()
        .map(|r| r.record)
        .collect();
    assert!(!refused.contains(&kept.record()), "{refused:?}");
    assert!(refused.contains(&dropped.record()));
}
