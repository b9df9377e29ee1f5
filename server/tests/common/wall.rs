//! The wish wall's tests' shared setting: a relay with volunteers, a
//! partner unit and display names, and a worker's household and cards.

use doorstep_tests::http::{Api, HttpPhone};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_core::doc::EventInput;
use sync_core::model::{NewHousehold, NewVisit};
use sync_core::{EventKind, HouseholdId, Role, ScopePath, UnitId, UserId, WishId};

use super::{TestRelay, XIKENG};

// What identifies the household; a volunteer sees it only while holding
// one of its wishes.
pub const ADDRESS: &str = "西坑村七巷88号";
pub const CONTACT: &str = "欧阳秀兰";
pub const CONTACT_PHONE: &str = "13912345678";
pub const VISIT_NOTES: &str = "老人独居，行动不便，需每周探访";

/// A relay with volunteers hu and ma, partner unit shuiwu with member
/// zhang, and display names.
pub fn relay() -> TestRelay {
    let relay = TestRelay::start();
    for name in ["hu", "ma", "zhang"] {
        relay.add_user(name, Role::Volunteer, &["longgang/yuanshan"]);
    }
    relay
        .state
        .db
        .blocking(|store| {
            let place = |p: &str| ScopePath::new(p).unwrap();
            store.set_place_name(&place("longgang/yuanshan"), Some("园山街道"))?;
            store.set_place_name(&place(XIKENG), Some("西坑社区"))?;
            let unit = UnitId::new("shuiwu").unwrap();
            store.put_unit(&unit, "龙岗区水务局", 0)?;
            let user = |u: &str| UserId::new(u).unwrap();
            store.set_profile(&user("hu"), Some("胡志强"), None, None)?;
            store.set_profile(&user("zhang"), Some("张建国"), None, Some(Some(&unit)))?;
            Ok(())
        })
        .unwrap();
    relay
}

/// A household with its delivery fields and a visit, on the worker's phone.
pub fn household(wang: &mut HttpPhone) -> HouseholdId {
    let p = &mut wang.phone;
    let community = p.community();
    let home = p
        .store
        .create_household(
            &p.author,
            &community,
            &NewHousehold {
                address: ADDRESS.into(),
                head_name: CONTACT.into(),
                phone: CONTACT_PHONE.into(),
                members: 1,
                tags: [sync_core::model::VulnerabilityTag::LivingAlone].into(),
                notes: String::new(),
            },
        )
        .unwrap();
    let visit = NewVisit {
        household: home,
        visited_at: p.store.now(),
        notes: VISIT_NOTES.into(),
        needs: "轮椅".into(),
        gps: None,
        follow_up: None,
    };
    p.store.record_visit(&p.author, &visit).unwrap();
    home
}

/// A submitted card of `home`.
pub fn card(wang: &mut HttpPhone, home: HouseholdId, text: &str) -> WishId {
    super::submitted_card(wang, home, text)
}

pub fn approve(chen: &Api, id: WishId) {
    let (status, body) = chen.post(
        &format!("/v1/wishes/{id}/review"),
        json!({"decision": "approve"}),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The last event of a card on the wall: what a page claims against.
pub fn seen(wall: &Value, id: WishId) -> Value {
    wall["wishes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == id.to_string())
        .map(|w| w["seen"].clone())
        .unwrap_or_else(|| panic!("{id} is not on the wall: {wall}"))
}

pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_owned())
        .collect()
}

pub fn confirm(wang: &mut HttpPhone, id: WishId, rating: u8) {
    wang.sync().unwrap();
    let p = &mut wang.phone;
    let input = EventInput {
        rating: Some(rating),
        ..EventInput::new(EventKind::Confirm)
    };
    p.store.append_event(&p.author, id, &input).unwrap();
    let report = wang.sync().unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
}
