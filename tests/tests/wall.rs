//! The wish wall's write rules between phones and a relay: photos join an
//! approved card only with its fulfilment, and a volunteer's modified app
//! cannot slip one in otherwise.

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT};
use doorstep_tests::pictures::picture;
use doorstep_tests::{Phone, Relay, card, household, tamper, test_clock, wish};
use sync_core::doc::EventInput;
use sync_core::sync::RejectCode;
use sync_core::{EventKind, Role, Status};

const XIKENG: &str = "longgang/yuanshan/xikeng";

#[test]
fn photos_join_an_approved_card_only_with_its_fulfilment() {
    let clock = test_clock(1_767_225_600_000);
    let mut relay = Relay::new(clock.clone());
    let mut wang = Phone::new("wang", Role::Worker, &[XIKENG], clock.clone());
    let mut chen = Phone::new(
        "chen",
        Role::Supervisor,
        &["longgang/yuanshan"],
        clock.clone(),
    );
    let mut li = Phone::new("li", Role::Volunteer, &[XIKENG], clock);
    let home = household(&mut wang, "西坑村三巷5号");
    let honest = wish(&mut wang, home, "给李大爷一台轮椅");
    let sneaky = wish(&mut wang, home, "修好三巷的路灯");
    wang.sync(&mut relay);
    chen.sync(&mut relay);
    for id in [honest, sneaky] {
        let author = chen.author.clone();
        chen.store
            .append_event(&author, id, &EventInput::new(EventKind::Approve))
            .expect("approve");
    }
    chen.sync(&mut relay);
    li.sync(&mut relay);
    for id in [honest, sneaky] {
        let author = li.author.clone();
        li.store
            .append_event(&author, id, &EventInput::new(EventKind::Claim))
            .expect("claim");
    }
    assert!(li.sync(&mut relay).rejected.is_empty());

    // Lit up with a photo: accepted, the photo on the relay's card.
    let author = li.author.clone();
    let photo = li
        .store
        .fulfil_with_photo(
            &author,
            honest,
            Some("已送到".into()),
            &picture(1200, 900, 7),
        )
        .expect("fulfil with a photo");
    // The app cannot add one to the approved card otherwise.
    assert!(
        li.store
            .add_photo(&author, sneaky, &picture(800, 600, 8))
            .is_err()
    );
    // A modified one writes it straight into the document, with no event.
    tamper(&mut li, sneaky.record(), |tx| {
        let list = tx.put_object(ROOT, "photos", ObjType::List).unwrap();
        let obj = tx.insert_object(&list, 0, ObjType::Map).unwrap();
        tx.put(&obj, "sha256", photo.sha256.as_str()).unwrap();
        tx.put(&obj, "bytes", 1000_i64).unwrap();
        tx.put(&obj, "mime", "image/jpeg").unwrap();
        tx.put(&obj, "width", 800_i64).unwrap();
        tx.put(&obj, "height", 600_i64).unwrap();
    });
    let before = relay.store.doc(sneaky.record()).unwrap().save();
    let report = li.sync(&mut relay);
    let refused: Vec<_> = report.rejected.iter().map(|r| (r.id, r.code)).collect();
    assert_eq!(
        refused,
        [(sneaky.record(), RejectCode::Workflow)],
        "{report:?}"
    );
    assert_eq!(relay.store.doc(sneaky.record()).unwrap().save(), before);

    let lit = card(&relay.store, honest);
    assert_eq!(lit.state.status, Status::Fulfilled);
    assert_eq!(lit.photos, std::slice::from_ref(&photo));
    assert!(card(&relay.store, sneaky).photos.is_empty());
    // The worker's phone receives the photo's reference with the card.
    wang.sync(&mut relay);
    assert_eq!(card(&wang.store, honest).photos, [photo]);
}
