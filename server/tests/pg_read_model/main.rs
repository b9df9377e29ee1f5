//! The PostgreSQL store's read model answers as SQLite's: one district of
//! phones syncs with a SQLite relay and a PostgreSQL relay alike, and
//! every list, search, figure and count is asked of both through
//! [`RelayStore`] and compared, beside a few answers checked outright.
//!
//! Needs `DOORSTEP_TEST_PG` (run under `scripts/with-postgres`); without it
//! the tests skip, or fail under `CI=true`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod district;
mod reads;

use district::{BL, District, HH, SL, XK, scope};
use sync_core::doc::EventInput;
use sync_core::model::{Category, HouseholdPatch, Urgency, WishPatch};
use sync_core::store::WishFilter;
use sync_core::{EventKind, Status};

use server::store::RelayStore;

fn input(kind: EventKind) -> EventInput {
    EventInput::new(kind)
}

fn noted(kind: EventKind, note: &str) -> EventInput {
    EventInput {
        note: Some(note.to_owned()),
        ..EventInput::new(kind)
    }
}

#[test]
fn every_read_answers_as_on_sqlite() {
    let Some(mut d) = District::open("read_model") else {
        return;
    };
    let mut wang = d.phone("wang", sync_core::Role::Worker, &[XK], 0);
    let mut li = d.phone("li", sync_core::Role::Worker, &[HH], 0);
    let mut zhao = d.phone("zhao", sync_core::Role::Worker, &[SL], 0);
    // A phone whose clock runs three days ahead: the relays correct its times.
    let mut sun = d.phone("sun", sync_core::Role::Worker, &[BL], 3 * district::DAY);
    let mut zhou = d.phone("zhou", sync_core::Role::Supervisor, &["longgang"], 0);
    let mut hu = d.phone("hu", sync_core::Role::Volunteer, &["longgang/yuanshan"], 0);
    let mut ma = d.phone("ma", sync_core::Role::Volunteer, &["longgang/yuanshan"], 0);
    d.name_place("longgang/yuanshan/xikeng", "西坑社区");
    d.name_place("longgang/yuanshan", "园山街道");

    // Households, visits and cards, made offline and synced.
    let h1 = d.household(&mut wang, "西坑村三巷5号", "独居老人");
    let h2 = d.household(&mut wang, "西坑村新村路12号", "腿脚不便，需要轮椅");
    let h3 = d.household(&mut wang, "Block 7 Lamp Street", "lives alone");
    let h4 = d.household(&mut li, "荷花路88号", "");
    let h5 = d.household(&mut li, "荷花新村3栋201", "低保户");
    let h6 = d.household(&mut zhao, "三联村一巷2号", "");
    let sun_created = d.time.now() + 3 * district::DAY;
    let h7 = d.household(&mut sun, "北里街1号", "时钟不准的手机");
    d.visit(&mut wang, h1, "送米面油", "轮椅");
    d.visit(&mut wang, h1, "再访，身体好转", "");
    d.visit(&mut li, h4, "路灯坏了", "照明");

    let w1 = d.wish(
        &mut wang,
        h1,
        "一台轮椅",
        Category::MobilityAid,
        Urgency::High,
    );
    let w2 = d.wish(
        &mut wang,
        h2,
        "大爷的轮椅坏了需要修理",
        Category::HomeRepair,
        Urgency::Normal,
    );
    let w3 = d.draft(&mut wang, h1, "想要一个电饭煲");
    let w4 = d.wish(
        &mut li,
        h4,
        "路灯不亮",
        Category::PublicFacility,
        Urgency::Low,
    );
    let w5 = d.wish(&mut li, h5, "助听器", Category::Medical, Urgency::Critical);
    let w6 = d.wish(
        &mut zhao,
        h6,
        "Fix the lamp 3号楼",
        Category::HomeRepair,
        Urgency::Normal,
    );
    let w7 = d.wish(
        &mut sun,
        h7,
        "轮椅垫子",
        Category::MobilityAid,
        Urgency::Normal,
    );
    // Both bigrams of 轮椅坏, but not one after the other.
    let w8 = d.wish(
        &mut li,
        h5,
        "轮椅，椅坏了",
        Category::MobilityAid,
        Urgency::High,
    );
    let w9 = d.wish(
        &mut wang,
        h2,
        "米面油",
        Category::DailyNecessities,
        Urgency::Normal,
    );
    for phone in [&mut wang, &mut li, &mut zhao, &mut sun] {
        d.sync(phone);
    }
    d.sync(&mut zhou);

    // The supervisor decides on the dashboard, through one relay or the other.
    d.relay_event(false, &mut zhou, w1, input(EventKind::Approve));
    d.relay_event(true, &mut zhou, w2, noted(EventKind::Reject, "重复申请"));
    d.relay_event(
        false,
        &mut zhou,
        w4,
        noted(EventKind::RequestInfo, "请补充照片"),
    );
    d.relay_event(true, &mut zhou, w5, input(EventKind::Approve));
    d.relay_event(false, &mut zhou, w6, input(EventKind::Approve));
    d.relay_event(true, &mut zhou, w7, input(EventKind::Approve));
    d.relay_event(false, &mut zhou, w9, input(EventKind::Approve));
    for phone in [&mut wang, &mut li, &mut zhao, &mut hu, &mut ma] {
        d.sync(phone);
    }

    // w1: claimed, fulfilled, confirmed with a rating.
    d.event(&mut hu, w1, input(EventKind::Claim));
    d.sync(&mut hu);
    d.event(&mut hu, w1, noted(EventKind::Fulfil, "已送到"));
    d.sync(&mut hu);
    d.sync(&mut wang);
    d.event(
        &mut wang,
        w1,
        EventInput {
            rating: Some(5),
            note: Some("很满意".into()),
            ..input(EventKind::Confirm)
        },
    );
    d.sync(&mut wang);
    // w6: claimed and fulfilled by the worker.
    d.event(&mut zhao, w6, input(EventKind::Claim));
    d.event(&mut zhao, w6, input(EventKind::Fulfil));
    d.sync(&mut zhao);
    // w5: two volunteers claim it offline; one claim loses. Resolved later.
    d.event(&mut hu, w5, input(EventKind::Claim));
    d.event(&mut ma, w5, input(EventKind::Claim));
    d.sync(&mut hu);
    d.sync(&mut ma);
    // w9: cancelled by the supervisor, offline, then claimed by a volunteer who
    // had not heard: the claim loses, a conflict left open.
    d.sync(&mut zhou);
    d.event(&mut zhou, w9, noted(EventKind::Cancel, "已由街道解决"));
    d.event(&mut hu, w9, input(EventKind::Claim));
    d.sync(&mut hu);
    d.sync(&mut zhou);
    let lost = RelayStore::conflicts(&d.sqlite, &[scope("longgang/yuanshan/hehua")], false)
        .unwrap()
        .pop()
        .expect("w5's losing claim");
    d.relay_event(
        true,
        &mut zhou,
        w5,
        EventInput {
            target: Some(lost.event_id.parse().unwrap()),
            ..input(EventKind::ResolveConflict)
        },
    );

    // Concurrent edits of one household by the worker and the supervisor.
    d.sync(&mut wang);
    d.tick();
    let author = wang.author.clone();
    wang.store
        .update_household(
            &author,
            h1,
            &HouseholdPatch {
                head_name: Some("李秀英".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let author = zhou.author.clone();
    zhou.store
        .update_household(
            &author,
            h1,
            &HouseholdPatch {
                phone: Some("13800000000".into()),
                notes: Some("独居老人，已登记".into()),
                ..Default::default()
            },
        )
        .unwrap();
    d.sync(&mut wang);
    d.sync(&mut zhou);
    d.sync(&mut wang);
    // A card edited after it was synced.
    d.tick();
    let author = li.author.clone();
    li.store
        .update_wish(
            &author,
            w4,
            &WishPatch {
                text: Some("路灯不亮，晚上很黑".into()),
                urgency: Some(Urgency::High),
                ..Default::default()
            },
        )
        .unwrap();
    d.sync(&mut li);
    for phone in [
        &mut wang, &mut li, &mut zhao, &mut sun, &mut zhou, &mut hu, &mut ma,
    ] {
        d.sync(phone);
    }
    d.same_records();

    // ---- every read, compared ------------------------------------------
    let wishes = [w1, w2, w3, w4, w5, w6, w7, w8, w9];
    let homes = [h1, h2, h3, h4, h5, h6, h7];
    let compared = reads::compare_all(&d, &wishes, &homes);
    assert!(compared > 1000, "{compared} reads compared");
    eprintln!("{compared} reads compared");

    // ---- and a few answers, outright -----------------------------------
    let id = |w: sync_core::WishId| w.to_string();
    let found = |q: &str| -> Vec<String> {
        let mut ids: Vec<String> = RelayStore::list_wishes(
            &d.pg,
            &WishFilter {
                q: Some(q.into()),
                ..Default::default()
            },
        )
        .unwrap()
        .items
        .into_iter()
        .map(|w| w.id)
        .collect();
        ids.sort();
        ids
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(
        found("轮椅"),
        sorted(vec![id(w1), id(w2), id(w7), id(w8)]),
        "a two-character word"
    );
    assert_eq!(found("大爷的轮椅"), [id(w2)], "adjacent bigrams");
    assert_eq!(
        found("轮椅坏"),
        [id(w2)],
        "both bigrams, but apart, is no match"
    );
    assert_eq!(found("椅"), sorted(vec![id(w1), id(w2), id(w7), id(w8)]));
    assert_eq!(found("LAMP fix"), [id(w6)], "several words, any case");
    assert_eq!(found("3号楼"), [id(w6)]);
    assert!(
        found("\"*").is_empty(),
        "nothing to search for finds nothing"
    );

    let in_yuanshan = RelayStore::list_wishes(
        &d.pg,
        &WishFilter {
            scopes: vec![scope("longgang/yuanshan")],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(in_yuanshan.total, 7, "not yuanshanx's card, nor buji's");
    let draft = RelayStore::list_wishes(
        &d.pg,
        &WishFilter {
            status: Some(Status::Draft),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        draft.items.iter().map(|w| w.id.clone()).collect::<Vec<_>>(),
        [id(w3)]
    );

    let sun_card = RelayStore::list_wishes(
        &d.pg,
        &WishFilter {
            household: Some(h7),
            ..Default::default()
        },
    )
    .unwrap()
    .items
    .pop()
    .unwrap();
    // Made three days "ahead", the card is dated when it arrived instead.
    assert!(
        sun_card.created_at < sun_created - 2 * district::DAY,
        "the relay corrected the fast clock: {sun_card:?}"
    );
    assert!(sun_card.submitted_at.unwrap() < sun_created - 2 * district::DAY);

    let stats = RelayStore::stats(&d.pg, &[scope("longgang")]).unwrap();
    assert_eq!(stats.total.by_status.get("confirmed"), Some(&1));
    assert_eq!(stats.total.by_status.get("rejected"), Some(&1));
    assert_eq!(stats.total.by_status.get("needs_info"), Some(&1));
    assert_eq!(stats.total.by_status.get("cancelled"), Some(&1));
    assert_eq!((stats.total.fulfilled, stats.total.confirmed), (2, 1));
    assert_eq!(stats.total.satisfaction, Some(5.0));
    assert_eq!(stats.communities.len(), 4);
    assert_eq!(stats.streets.len(), 3);
    assert_eq!(
        stats.communities[2].name.as_deref(),
        Some("西坑社区"),
        "{:?}",
        stats.communities
    );

    let open = RelayStore::conflicts(&d.pg, &[], false).unwrap();
    let all = RelayStore::conflicts(&d.pg, &[], true).unwrap();
    assert_eq!((open.len(), all.len()), (1, 2), "{all:?}");
    assert_eq!(open[0].record_id, id(w9));

    let extras = RelayStore::wish_extras(&d.pg, &[id(w2), id(w1)]).unwrap();
    assert_eq!(extras[&id(w2)].note(EventKind::Reject), "重复申请");
    assert_eq!(extras[&id(w2)].address.as_deref(), Some("西坑村新村路12号"));
    assert_eq!(extras[&id(w1)].note(EventKind::Confirm), "很满意");

    let homes = RelayStore::households(&d.pg, &[scope(XK)], Some("李秀英"), 50, 0).unwrap();
    assert_eq!(homes.total, 1, "the merged edit is found");
    assert_eq!(homes.items[0].phone, "13800000000", "neither edit lost");
}

#[test]
fn photo_references_and_unreferenced_photos_follow_the_cards() {
    let Some(mut d) = District::open("read_model_photos") else {
        return;
    };
    let mut li = d.phone("li", sync_core::Role::Worker, &[HH], 0);
    let home = d.household(&mut li, "荷花路88号", "");
    let card = d.wish(&mut li, home, "轮椅", Category::MobilityAid, Urgency::High);
    let other = d.wish(&mut li, home, "助听器", Category::Medical, Urgency::High);
    let one = d.photo(&mut li, card, 1);
    let two = d.photo(&mut li, card, 2);
    let shared = d.photo(&mut li, other, 1);
    assert_eq!(one, shared, "the same picture is the same photo");
    d.sync(&mut li);
    // The relays hold the bytes of both photos.
    for sha in [&one, &two] {
        d.store_photo(sha);
    }
    d.compare_photos("both referenced");

    d.tick();
    let author = li.author.clone();
    li.store
        .update_wish(
            &author,
            other,
            &WishPatch {
                text: Some("助听器一副".into()),
                ..Default::default()
            },
        )
        .unwrap();
    li.store.remove_photo(&author, card, &two).unwrap();
    li.store.remove_photo(&author, card, &one).unwrap();
    d.sync(&mut li);
    let photos = d.compare_photos("two lost its last reference, one is still the other card's");
    let now = d.time.now();
    assert_eq!(
        photos,
        [(one.to_string(), None), (two.to_string(), Some(now)),]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
    );

    d.tick();
    let again = d.photo(&mut li, card, 2);
    assert_eq!(again, two);
    d.sync(&mut li);
    let photos = d.compare_photos("two referenced again");
    assert_eq!(photos[two.as_str()], None);
    let refs = d.photo_refs_of_pg();
    let since_one = refs
        .iter()
        .find(|r| r.1 == one.as_str() && r.0 == other.to_string())
        .unwrap()
        .3;
    assert!(since_one < now, "a reference keeps when it was first seen");
}
