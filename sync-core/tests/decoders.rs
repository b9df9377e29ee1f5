//! Every decoder of untrusted bytes, fed random and truncated input: it
//! returns an error (or a refusal) and never panics, and nothing stored changes.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use proptest::prelude::*;
use sync_core::doc::{RecordDoc, heads_from_bytes};
use sync_core::model::{Category, Urgency};
use sync_core::store::PeerId;
use sync_core::sync::{
    Message, Payload, RecordUpdate, RejectCode, RelayPolicy, SyncRequest, SyncResponse,
};
use sync_core::{
    Author, CommunityPath, DeviceId, NewHousehold, NewWish, RecordId, Role, ScopePath, Store,
    UserId,
};

fn phone_and_relay() -> (Store, Store, Author, RecordId) {
    let phone = Store::open_in_memory().unwrap();
    let mut relay = Store::open_in_memory().unwrap();
    let author = Author {
        user: UserId::new("wang").unwrap(),
        role: Role::Worker,
        device: phone.id(),
    };
    let community = CommunityPath::new("longgang/yuanshan/xikeng").unwrap();
    let home = relay
        .create_household(&author, &community, &NewHousehold::default())
        .unwrap();
    let wish = relay
        .create_wish(
            &author,
            &NewWish {
                household: home,
                text: "一台轮椅".into(),
                category: Category::MobilityAid,
                urgency: Urgency::High,
                photos: vec![],
            },
        )
        .unwrap();
    (phone, relay, author, wish.record())
}

fn policy(author: &Author) -> RelayPolicy {
    RelayPolicy::new(author.device, vec![ScopePath::new("longgang").unwrap()])
}

fn snapshot(store: &Store) -> Vec<(String, i64, Vec<u8>)> {
    let mut stmt = store
        .connection()
        .prepare("SELECT id, seq, doc FROM records ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn valid_doc_and_change() -> (Vec<u8>, Vec<u8>) {
    let (_, relay, author, wish) = phone_and_relay();
    let mut doc = relay.doc(wish).unwrap();
    let base = doc.heads();
    doc.update_wish(
        &author,
        &sync_core::model::WishPatch {
            text: Some("两台轮椅".into()),
            ..Default::default()
        },
        1,
    )
    .unwrap();
    let change = doc.changes_since(&base)[0].raw_bytes().to_vec();
    (doc.save(), change)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn documents_from_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(doc) = RecordDoc::load(&bytes) {
            let _ = doc.read();
        }
        let _ = heads_from_bytes(&bytes);
    }

    #[test]
    fn truncated_documents_never_panic(cut in 0usize..2000) {
        let (doc, _) = valid_doc_and_change();
        let cut = cut.min(doc.len().saturating_sub(1));
        if let Ok(doc) = RecordDoc::load(&doc[..cut]) {
            let _ = doc.read();
        }
    }

    #[test]
    fn the_relay_refuses_random_payloads_and_stores_nothing(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        full in any::<bool>(),
        existing in any::<bool>(),
    ) {
        let (_, mut relay, author, wish) = phone_and_relay();
        let before = snapshot(&relay);
        let id = if existing { wish } else { RecordId::random() };
        let payload = if full {
            Payload::Full(bytes)
        } else {
            Payload::Changes { base: relay.doc(wish).unwrap().heads().iter().map(|h| h.0).collect(), changes: vec![bytes] }
        };
        let request = SyncRequest { from: author.device, push: vec![RecordUpdate { id, heads: vec![], payload, sigs: vec![] }], ..SyncRequest::default() };
        let response = relay.serve_sync(&policy(&author), &request).unwrap();
        prop_assert_eq!(response.rejected.len(), 1);
        prop_assert!(matches!(response.rejected[0].code, RejectCode::Invalid | RejectCode::NeedFull));
        prop_assert_eq!(snapshot(&relay), before);
    }

    #[test]
    fn the_relay_refuses_truncated_changes_and_stores_nothing(cut in 0usize..600, full in any::<bool>()) {
        let (_, mut relay, author, wish) = phone_and_relay();
        let (doc, change) = valid_doc_and_change();
        let before = snapshot(&relay);
        let payload = if full {
            Payload::Full(doc[..cut.min(doc.len() - 1)].to_vec())
        } else {
            Payload::Changes {
                base: relay.doc(wish).unwrap().heads().iter().map(|h| h.0).collect(),
                changes: vec![change[..cut.min(change.len() - 1)].to_vec()],
            }
        };
        let request = SyncRequest { from: author.device, push: vec![RecordUpdate { id: wish, heads: vec![], payload, sigs: vec![] }], ..SyncRequest::default() };
        let response = relay.serve_sync(&policy(&author), &request).unwrap();
        prop_assert_eq!(response.rejected.len(), 1);
        prop_assert_eq!(snapshot(&relay), before);
    }

    #[test]
    fn a_phone_skips_random_pulled_records_and_stores_nothing(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        full in any::<bool>(),
    ) {
        let (mut phone, _, _, _) = phone_and_relay();
        let peer = PeerId::new("relay").unwrap();
        let (_, pending) = phone.begin_sync(&peer, &[]).unwrap();
        let payload = if full { Payload::Full(bytes) } else { Payload::Changes { base: vec![], changes: vec![bytes] } };
        let response = SyncResponse {
            from: DeviceId::random(),
            pull: vec![RecordUpdate { id: RecordId::random(), heads: vec![], payload, sigs: vec![] }],
            cursor: 1,
            ..SyncResponse::default()
        };
        let report = phone.finish_sync(pending, &response).unwrap();
        prop_assert_eq!(report.received, 0);
        prop_assert!(snapshot(&phone).is_empty());
    }
}

#[test]
fn a_valid_message_round_trips_through_the_wire() {
    let (_, change) = valid_doc_and_change();
    let message = Message::Request(SyncRequest {
        from: DeviceId::random(),
        push: vec![RecordUpdate {
            id: RecordId::random(),
            heads: vec![[3; 32]],
            payload: Payload::Changes {
                base: vec![],
                changes: vec![change],
            },
            sigs: vec![],
        }],
        ..SyncRequest::default()
    });
    assert_eq!(
        Message::decode(&message.encode().unwrap()).unwrap(),
        message
    );
}

#[test]
fn an_empty_document_is_refused_not_taken_for_a_no_op() {
    let (_, mut relay, author, wish) = phone_and_relay();
    let before = snapshot(&relay);
    let request = SyncRequest {
        from: author.device,
        push: vec![RecordUpdate {
            id: wish,
            heads: vec![],
            payload: Payload::Full(Vec::new()),
            sigs: vec![],
        }],
        ..SyncRequest::default()
    };
    let response = relay.serve_sync(&policy(&author), &request).unwrap();
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(response.rejected[0].code, RejectCode::Invalid);
    assert_eq!(snapshot(&relay), before);
}
