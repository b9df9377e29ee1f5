//! The wish wall against a real relay on loopback: what a volunteer may
//! read and write (through the API and through a phone), a claim race told
//! to its loser, points awarded once and taken back with the claim, a
//! partner unit's claims, dispatch to registered claimants, and display
//! names in the statistics and the CSV.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use common::wall::{
    ADDRESS, CONTACT, CONTACT_PHONE, VISIT_NOTES, approve, card, confirm, household, ids, relay,
    seen,
};
use common::{PASSWORD, TestRelay, XIKENG, clock};
use doorstep_tests::http::{Api, HttpPhone};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_core::doc::EventInput;
use sync_core::model::{HouseholdPatch, NewHousehold, NewVisit};
use sync_core::sync::RejectCode;
use sync_core::{EventKind, RecordKind, Role, UnitId, WishId};

#[test]
fn a_volunteer_reads_the_wall_and_the_delivery_fields_of_what_they_hold_only() {
    let relay = relay();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let home = household(&mut wang);
    let open = card(&mut wang, home, "给欧阳奶奶配一台轮椅");
    let waiting = card(&mut wang, home, "还没审核的心愿");
    let refused = card(&mut wang, home, "被退回的心愿");
    wang.sync().unwrap();
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    approve(&chen, open);
    chen.post(
        &format!("/v1/wishes/{refused}/review"),
        json!({"decision": "reject", "reason": "不符合条件"}),
    );

    // Through a phone: the approved card alone, no household, no visit.
    let mut hu_phone = HttpPhone::login(&relay.url, "hu", PASSWORD, clock()).unwrap();
    hu_phone.sync().unwrap();
    let pulled: Vec<(String, String)> = hu_phone
        .phone
        .store
        .connection()
        .prepare("SELECT id, kind FROM records ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pulled, [(open.to_string(), RecordKind::Wish.to_string())]);

    // Through the API: whole records are refused.
    let hu = Api::login(&relay.url, "hu", PASSWORD).unwrap();
    for path in [
        "/v1/households".to_owned(),
        format!("/v1/households/{home}"),
        format!("/v1/visits?household={home}"),
        "/v1/wishes".to_owned(),
        format!("/v1/wishes/{open}"),
        format!("/v1/wishes/{waiting}"),
        format!("/v1/wishes/{open}/history"),
        "/v1/conflicts".to_owned(),
        "/v1/export/wishes.csv".to_owned(),
        "/v1/changes".to_owned(),
    ] {
        assert_eq!(hu.get(&path).0, StatusCode::FORBIDDEN, "{path}");
    }
    // The same paths answer a worker of the community: the refusal is the
    // volunteer's role, not a broken route.
    let zhao = Api::login(&relay.url, "zhao", PASSWORD).unwrap();
    assert_eq!(
        zhao.get(&format!("/v1/households/{home}")).0,
        StatusCode::OK
    );

    // The wall: the approved card, nothing of the household.
    let (status, wall) = hu.get("/v1/wall");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&wall["wishes"]), [open.to_string()]);
    let text = wall.to_string();
    for secret in [
        ADDRESS,
        CONTACT,
        CONTACT_PHONE,
        VISIT_NOTES,
        "living_alone",
        "还没审核",
        "被退回",
    ] {
        assert!(!text.contains(secret), "{secret} is on the wall: {text}");
    }

    // Holding it: the delivery fields, and still no tags or visits.
    let (status, claimed) = hu.post(
        &format!("/v1/wall/{open}/claim"),
        json!({"seen": seen(&wall, open)}),
    );
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let (_, wall) = hu.get("/v1/wall");
    let delivery = &wall["mine"][0]["delivery"];
    assert_eq!(
        delivery,
        &json!({"address": ADDRESS, "contact": CONTACT, "phone": CONTACT_PHONE})
    );
    for secret in [VISIT_NOTES, "living_alone", "还没审核", "被退回"] {
        assert!(!wall.to_string().contains(secret), "{secret}");
    }
    // Another volunteer sees neither the card nor its household now.
    let ma = Api::login(&relay.url, "ma", PASSWORD).unwrap();
    let (_, theirs) = ma.get("/v1/wall");
    assert!(ids(&theirs["wishes"]).is_empty());
    assert!(!theirs.to_string().contains(ADDRESS));

    // Once lit up, the address goes from the volunteer's view.
    let (status, _) = hu.post(
        &format!("/v1/wall/{open}/fulfil"),
        json!({"note": "已送到"}),
    );
    assert_eq!(status, StatusCode::OK);
    let (_, wall) = hu.get("/v1/wall");
    assert_eq!(wall["mine"][0]["status"], "fulfilled");
    assert!(wall["mine"][0]["delivery"].is_null());
    assert!(!wall.to_string().contains(ADDRESS));
}

/// Rows of the relay's tables a refused push must leave as they were.
fn stored(relay: &TestRelay, except: &str) -> Vec<String> {
    let sql = relay.sql();
    let mut out = Vec::new();
    for query in [
        "SELECT id || ':' || hex(heads) || ':' || seq FROM records WHERE id != ?1 ORDER BY id",
        "SELECT id || ':' || address || ':' || head_name || ':' || phone || ':' || tags FROM households WHERE ?1 = ?1 ORDER BY id",
        "SELECT id || ':' || household_id || ':' || notes FROM visits WHERE ?1 = ?1 ORDER BY id",
    ] {
        let rows: Vec<String> = sql
            .prepare(query)
            .unwrap()
            .query_map([except], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.extend(rows);
    }
    out
}

#[test]
fn a_volunteers_phone_may_not_write_households_or_visits_and_the_rest_goes_through() {
    let relay = relay();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let home = household(&mut wang);
    let open = card(&mut wang, home, "给欧阳奶奶配一台轮椅");
    wang.sync().unwrap();
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    approve(&chen, open);

    // The volunteer's phone gets the household from the worker's phone in
    // the village (phone to phone), edits it, adds a household and a
    // visit, and claims the approved wish.
    let mut hu = HttpPhone::login(&relay.url, "hu", PASSWORD, clock()).unwrap();
    hu.sync().unwrap();
    wang.phone.meet(&mut hu.phone);
    let author = hu.phone.author.clone();
    let store = &mut hu.phone.store;
    store
        .update_household(
            &author,
            home,
            &HouseholdPatch {
                address: Some("改过的地址".into()),
                ..HouseholdPatch::default()
            },
        )
        .unwrap();
    let community = sync_core::CommunityPath::new(XIKENG).unwrap();
    let new_home = store
        .create_household(
            &author,
            &community,
            &NewHousehold {
                address: "志愿者建的住户".into(),
                ..NewHousehold::default()
            },
        )
        .unwrap();
    let visit = store
        .record_visit(
            &author,
            &NewVisit {
                household: home,
                visited_at: 1,
                notes: "志愿者写的走访".into(),
                needs: String::new(),
                gps: None,
                follow_up: None,
            },
        )
        .unwrap();
    store
        .append_event(&author, open, &EventInput::new(EventKind::Claim))
        .unwrap();

    let before = stored(&relay, &open.to_string());
    let report = hu.sync().unwrap();
    let mut refused: Vec<(String, RejectCode)> = report
        .rejected
        .iter()
        .map(|r| (r.id.to_string(), r.code))
        .collect();
    refused.sort();
    let mut expected = vec![
        (home.to_string(), RejectCode::Role),
        (new_home.to_string(), RejectCode::Role),
        (visit.to_string(), RejectCode::Role),
    ];
    expected.sort();
    assert_eq!(refused, expected, "{:?}", report.rejected);
    assert_eq!(
        stored(&relay, &open.to_string()),
        before,
        "nothing refused is stored"
    );
    let reason = &report.rejected[0].reason;
    assert!(reason.contains("volunteer may not"), "{reason}");
    // The claim in the same sync went through.
    let (_, card) = chen.get(&format!("/v1/wishes/{open}"));
    assert_eq!(card["status"], "claimed");
    assert_eq!(card["state"]["holder"]["user"], "hu");

    // A worker's same edit is accepted: the refusal is the role's.
    let mut zhao = HttpPhone::login(&relay.url, "zhao", PASSWORD, clock()).unwrap();
    zhao.sync().unwrap();
    let author = zhao.phone.author.clone();
    zhao.phone
        .store
        .update_household(
            &author,
            home,
            &HouseholdPatch {
                address: Some("改过的地址".into()),
                ..HouseholdPatch::default()
            },
        )
        .unwrap();
    let report = zhao.sync().unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_ne!(stored(&relay, &open.to_string()), before);
}

fn points(api: &Api) -> (u64, usize) {
    let (_, wall) = api.get("/v1/wall");
    (
        wall["points"].as_u64().unwrap(),
        wall["awards"].as_array().unwrap().len(),
    )
}

#[test]
fn points_come_once_with_the_confirmation_and_go_with_a_claim_resolved_the_other_way() {
    let relay = relay();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let home = household(&mut wang);
    let first = card(&mut wang, home, "给欧阳奶奶配一台轮椅");
    let second = card(&mut wang, home, "修好楼道的灯");
    wang.sync().unwrap();
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    approve(&chen, first);
    approve(&chen, second);
    let hu = Api::login(&relay.url, "hu", PASSWORD).unwrap();
    let ma = Api::login(&relay.url, "ma", PASSWORD).unwrap();

    // Both saw the card on the wall; hu's claim arrives first.
    let (_, wall) = ma.get("/v1/wall");
    let saw = seen(&wall, first);
    let claim = json!({ "seen": saw });
    assert_eq!(
        hu.post(&format!("/v1/wall/{first}/claim"), claim.clone()).0,
        StatusCode::OK
    );
    let (status, lost) = ma.post(&format!("/v1/wall/{first}/claim"), claim);
    assert_eq!(status, StatusCode::CONFLICT, "{lost}");
    assert_eq!(lost["error"], "claim_lost");
    assert!(
        lost["message"]
            .as_str()
            .unwrap()
            .contains("just before you")
    );
    let (_, conflicts) = chen.get("/v1/conflicts");
    assert_eq!(conflicts.as_array().unwrap().len(), 1, "{conflicts}");
    // The loser follows the wish in their history, without its address.
    let (_, theirs) = ma.get("/v1/wall");
    assert_eq!(theirs["mine"][0]["theirs"], false);
    assert!(!theirs.to_string().contains(ADDRESS));

    for step in ["check-in", "fulfil"] {
        let (status, body) = hu.post(&format!("/v1/wall/{first}/{step}"), json!({}));
        assert_eq!(status, StatusCode::OK, "{step}: {body}");
    }
    assert_eq!(points(&hu), (0, 0), "nothing before the resident confirms");
    confirm(&mut wang, first, 5);
    // High urgency 15, and 5 for a five-star rating.
    assert_eq!(points(&hu), (20, 1));
    // Syncing again changes nothing: awarded once.
    wang.sync().unwrap();
    assert_eq!(points(&hu), (20, 1));
    let (_, boards) = chen.get("/v1/points/leaderboards");
    assert_eq!(
        boards["volunteers"],
        json!([{"who": "hu", "points": 20, "wishes": 1}])
    );
    assert_eq!(
        boards["by_community"][XIKENG],
        json!([{"who": "hu", "points": 20, "wishes": 1}])
    );
    let (status, csv) = chen.get_text("/v1/export/points.csv");
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("胡志强") && csv.contains("西坑社区") && csv.contains(",20,"));

    // The supervisor resolves the race the other way: ma holds the wish,
    // hu's fulfilment and points no longer count.
    let event = conflicts[0]["event_id"].as_str().unwrap();
    let (status, card) = chen.post(
        &format!("/v1/conflicts/{event}/resolve"),
        json!({"reverse": true, "note": "核实后由马丽娟负责"}),
    );
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["status"], "claimed");
    assert_eq!(card["state"]["holder"]["user"], "ma");
    assert_eq!(points(&hu), (0, 0));
    let (_, boards) = chen.get("/v1/points/leaderboards");
    assert_eq!(boards["volunteers"], json!([]));
    let (_, csv) = chen.get_text("/v1/export/points.csv");
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 1);
    let (_, mine) = ma.get("/v1/wall");
    assert_eq!(mine["mine"][0]["delivery"]["address"], ADDRESS);

    // A partner unit's member claims for the unit; the unit's board counts it.
    let zhang = Api::login(&relay.url, "zhang", PASSWORD).unwrap();
    assert_eq!(
        ma.post(
            &format!("/v1/wall/{second}/claim"),
            json!({"for_unit": true})
        )
        .0,
        StatusCode::BAD_REQUEST,
        "ma is no unit's member"
    );
    let (status, held) = zhang.post(
        &format!("/v1/wall/{second}/claim"),
        json!({"for_unit": true}),
    );
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["held"]["holder"]["unit"], "shuiwu");
    assert_eq!(
        zhang
            .post(&format!("/v1/wall/{second}/fulfil"), json!({}))
            .0,
        StatusCode::OK
    );
    confirm(&mut wang, second, 4);
    let (_, boards) = chen.get("/v1/points/leaderboards");
    assert_eq!(
        boards["units"],
        json!([{"who": "shuiwu", "points": 15, "wishes": 1}])
    );
    assert_eq!(boards["names"]["units"]["shuiwu"], "龙岗区水务局");
}

#[test]
fn a_phone_may_not_claim_for_a_unit_its_user_is_no_member_of() {
    let relay = relay();
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let home = household(&mut wang);
    let open = card(&mut wang, home, "给欧阳奶奶配一台轮椅");
    wang.sync().unwrap();
    approve(&Api::login(&relay.url, "chen", PASSWORD).unwrap(), open);
    for (user, refused) in [("ma", true), ("zhang", false)] {
        let mut phone = HttpPhone::login(&relay.url, user, PASSWORD, clock()).unwrap();
        phone.sync().unwrap();
        let author = phone.phone.author.clone();
        let input = EventInput {
            unit: Some(UnitId::new("shuiwu").unwrap()),
            ..EventInput::new(EventKind::Claim)
        };
        phone
            .phone
            .store
            .append_event(&author, open, &input)
            .unwrap();
        let report = phone.sync().unwrap();
        assert_eq!(!report.rejected.is_empty(), refused, "{user}: {report:?}");
        if refused {
            assert!(report.rejected[0].reason.contains("no member"));
        }
    }
}

#[test]
fn dispatch_offers_registered_claimants_and_marks_free_text() {
    let relay = relay();
    relay.add_user("far", Role::Volunteer, &["longgang/buji"]);
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let home = household(&mut wang);
    let cards: Vec<WishId> = (0..3)
        .map(|i| card(&mut wang, home, &format!("心愿 {i}")))
        .collect();
    wang.sync().unwrap();
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    for id in &cards {
        approve(&chen, *id);
    }
    let (status, offered) = chen.get(&format!("/v1/claimants?community={XIKENG}"));
    assert_eq!(status, StatusCode::OK);
    let volunteers: Vec<&str> = offered["volunteers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["user"].as_str().unwrap())
        .collect();
    assert_eq!(
        volunteers,
        ["hu", "ma", "zhang"],
        "not far, who serves buji"
    );
    assert_eq!(offered["units"][0]["name"], "龙岗区水务局");

    let assign = |id: WishId, body: Value| chen.post(&format!("/v1/wishes/{id}/assign"), body);
    for (body, why) in [
        (json!({"assignee": "chen"}), "a supervisor"),
        (json!({"assignee": "far"}), "does not serve"),
        (json!({"assignee": "nobody"}), "no active user"),
        (json!({"unit": "nounit"}), "no partner unit"),
        (json!({}), "needs a volunteer"),
    ] {
        let (status, answer) = assign(cards[0], body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(why),
            "{answer}"
        );
    }
    let (_, to_hu) = assign(cards[0], json!({"assignee": "hu"}));
    assert_eq!(to_hu["state"]["holder"]["user"], "hu");
    let (_, to_unit) = assign(cards[1], json!({"unit": "shuiwu"}));
    assert_eq!(to_unit["state"]["holder"]["unit"], "shuiwu");
    let (_, free) = assign(cards[2], json!({"claimant": "李师傅"}));
    assert_eq!(free["state"]["holder"]["name"], "李师傅");

    // hu holds the dispatched wish, with where to deliver it; the unit's
    // members hold the unit's.
    let (_, wall) = Api::login(&relay.url, "hu", PASSWORD)
        .unwrap()
        .get("/v1/wall");
    assert_eq!(wall["mine"][0]["delivery"]["address"], ADDRESS);
    let (_, wall) = Api::login(&relay.url, "zhang", PASSWORD)
        .unwrap()
        .get("/v1/wall");
    assert_eq!(ids(&wall["mine"]), [cards[1].to_string()]);

    // The export names them as people know them.
    let (_, csv) = chen.get_text("/v1/export/wishes.csv");
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("胡志强"), "{csv}");
    assert!(csv.contains("龙岗区水务局"));
    assert!(csv.contains("李师傅 （未注册）"));
    assert!(csv.contains("西坑社区"));
    let (_, stats) = chen.get("/v1/stats");
    assert_eq!(stats["communities"][0]["name"], "西坑社区");
    assert_eq!(stats["streets"][0]["name"], "园山街道");
}

#[test]
fn the_settings_file_names_places_and_sets_the_points_rules() {
    let points: sync_core::points::PointsRules =
        toml::from_str("base = 7\nby_urgency = { high = 40 }\nbonus = 0").unwrap();
    let settings = server::config::Settings {
        places: [(XIKENG.to_owned(), "西坑社区".to_owned())].into(),
        points,
        ..server::config::Settings::default()
    };
    let relay = TestRelay::start_with(settings);
    relay.add_user("hu", Role::Volunteer, &["longgang/yuanshan"]);
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    let (_, names) = chen.get("/v1/names");
    assert_eq!(names["places"][XIKENG], "西坑社区");

    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, clock()).unwrap();
    let home = household(&mut wang);
    let open = card(&mut wang, home, "给欧阳奶奶配一台轮椅");
    wang.sync().unwrap();
    approve(&chen, open);
    let hu = Api::login(&relay.url, "hu", PASSWORD).unwrap();
    for step in ["claim", "fulfil"] {
        assert_eq!(
            hu.post(&format!("/v1/wall/{open}/{step}"), json!({})).0,
            StatusCode::OK
        );
    }
    confirm(&mut wang, open, 5);
    // High urgency is worth 40 here, and there is no bonus.
    let (_, wall) = hu.get("/v1/wall");
    assert_eq!(wall["points"], 40);
}
