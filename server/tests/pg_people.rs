//! Names, partner units, profiles, the wish wall, held wishes, points and
//! the photo index on PostgreSQL answer as on SQLite: each test takes the
//! same steps against a SQLite `Store` and a `PgEngine`, both through the
//! relay's traits (`RelayStore`, `People`, `PhotoIndex`), compares every
//! answer, and checks the expected answer itself where it matters.
//!
//! Needs `DOORSTEP_TEST_PG` (run under `scripts/with-postgres`); without it
//! the tests skip, or fail under `CI=true`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "pg_people/both.rs"]
mod both;
#[path = "pg_people/district.rs"]
mod district;
#[path = "pg_people/photos.rs"]
mod photos;

use std::collections::BTreeMap;

use server::store::RelayStore;
use sync_core::model::Category;
use sync_core::points::PointsRules;
use sync_core::store::{Profile, Unit};
use sync_core::workflow::Reader;
use sync_core::{Role, Status, UnitId, UserId, WishId};

use both::{SHUIJING, XIKENG, both, outcome, reader, scope, scopes, unit, user};
use district::{District, district, unseen, wall_of, with_people};

#[test]
fn places_units_and_profiles_read_alike() {
    let Some(mut both) = both("pg_people_names") else {
        return;
    };
    with_people(&mut both, &[]);

    // Places: named, renamed, forgotten; a bad name changes nothing.
    for (path, name) in [
        ("longgang", "龙岗区"),
        ("longgang/yuanshan", "园山街道"),
        (XIKENG, "西坑村"),
        (XIKENG, "西坑社区"),
        (SHUIJING, "水晶社区"),
        ("longgang/buji", "布吉街道"),
    ] {
        both.run("name a place", |s| {
            s.set_place_name(&scope(path), Some(name))
        });
    }
    both.run("forget a place's name", |s| {
        s.set_place_name(&scope("longgang/buji"), None)
    });
    let refused = both.same("a blank place name", |s| {
        outcome(s.set_place_name(&scope(SHUIJING), Some("   ")))
    });
    assert!(refused.unwrap_err().starts_with("BadRequest"));
    let places = both.same("place names", |s| s.place_names().unwrap());
    assert_eq!(
        places,
        BTreeMap::from([
            ("longgang".to_owned(), "龙岗区".to_owned()),
            ("longgang/yuanshan".to_owned(), "园山街道".to_owned()),
            (XIKENG.to_owned(), "西坑社区".to_owned()),
            (SHUIJING.to_owned(), "水晶社区".to_owned()),
        ])
    );

    // Units: added, renamed; a bad name changes nothing.
    let now = both.time.tick();
    for (id, name) in [
        ("shuiwu", "水务局"),
        ("yinhang", "农商银行"),
        ("shuiwu", "县水务局"),
        ("a-team", "志愿者协会"),
    ] {
        both.run("put a unit", |s| s.put_unit(&unit(id), name, now));
    }
    let refused = both.same("a unit without a name", |s| {
        outcome(s.put_unit(&unit("yinhang"), "", now))
    });
    assert!(refused.unwrap_err().starts_with("BadRequest"));

    // Profiles: each field set, left or cleared; refusals change nothing.
    let set = |who: &str,
               name: Option<&'static str>,
               phone: Option<&'static str>,
               to: Option<Option<&'static str>>| {
        let who = user(who);
        move |s: &mut dyn RelayStore| {
            let to = to.map(|u| u.map(unit));
            outcome(s.set_profile(&who, name, phone, to.as_ref().map(|u| u.as_ref())))
        }
    };
    for step in [
        set(
            "zhangwei",
            Some("张伟"),
            Some(" 138-0013-8000 "),
            Some(Some("shuiwu")),
        ),
        set("liuyang", Some("刘洋"), None, Some(Some("shuiwu"))),
        set("gone", Some("老赵"), None, Some(Some("shuiwu"))),
        set("xiaoli", Some("小李"), Some("13900000000"), None),
        set("wang", Some("王芳"), None, Some(None)),
        set("chen", Some("陈主任"), Some("0755-1234567"), None),
        set("idle", Some("闲人"), None, Some(Some("a-team"))),
        // Cleared: the display name and the unit.
        set("idle", Some(""), None, Some(None)),
        // Left as they were: nothing given.
        set("xiaoli", None, None, None),
    ] {
        both.same("set a profile", step).unwrap();
    }
    let before = both.same("profiles", |s| s.profiles().unwrap());
    for (refusal, kind) in [
        (set("nobody", Some("某人"), None, None), "NotFound"),
        // The name would go in first: the whole change is refused.
        (
            set("xiaoli", Some("李晓"), Some("call me"), None),
            "BadRequest",
        ),
        (
            set("xiaoli", Some("李晓"), None, Some(Some("nowhere"))),
            "NotFound",
        ),
        (
            set("xiaoli", Some(" "), Some("1\u{202e}2"), None),
            "BadRequest",
        ),
    ] {
        let refused = both.same("a refused profile", refusal).unwrap_err();
        assert!(refused.starts_with(kind), "{refused}");
    }
    assert_eq!(
        both.same("profiles", |s| s.profiles().unwrap()),
        before,
        "a refused change changes nothing"
    );
    assert_eq!(
        before[&user("zhangwei")],
        Profile {
            display_name: Some("张伟".into()),
            phone: Some("138-0013-8000".into()),
            unit: Some(unit("shuiwu")),
        }
    );
    assert_eq!(before[&user("idle")], Profile::default());
    assert_eq!(
        before[&user("xiaoli")].display_name.as_deref(),
        Some("小李")
    );

    // A disabled member is no longer listed; enabled again, they are.
    both.run("disable a member", |s| s.disable_user("gone", now));
    let units = both.same("units", |s| s.units().unwrap());
    let members = |names: &[&str]| names.iter().map(|n| user(n)).collect::<Vec<_>>();
    assert_eq!(
        units,
        [
            Unit {
                id: unit("a-team"),
                name: "志愿者协会".into(),
                members: vec![],
            },
            Unit {
                id: unit("shuiwu"),
                name: "县水务局".into(),
                members: members(&["liuyang", "zhangwei"]),
            },
            Unit {
                id: unit("yinhang"),
                name: "农商银行".into(),
                members: vec![],
            },
        ]
    );
    both.run("enable a member", |s| s.enable_user("gone"));
    let units = both.same("units", |s| s.units().unwrap());
    assert_eq!(units[1].members, members(&["gone", "liuyang", "zhangwei"]));
}

#[test]
fn the_wall_and_held_wishes_read_alike() {
    let Some(mut d) = district("pg_people_wall") else {
        return;
    };
    let xiaoli = reader("xiaoli", Role::Volunteer, None);
    let zhangwei = reader("zhangwei", Role::Volunteer, Some("shuiwu"));
    let idle = reader("idle", Role::Volunteer, None);
    let chen = reader("chen", Role::Supervisor, None);

    // The wall: approved and unheld, longest waiting first, in scope.
    let street = d.both.same("the street's wall", |s| {
        wall_of(s, &xiaoli, &["longgang/yuanshan"], 50)
    });
    let ids: Vec<WishId> = street.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [d.rice, d.heater],
        "the rice was approved before the heater"
    );
    assert_eq!(street[0].text, "米和油");
    let district = d.both.same("the district's wall", |s| {
        wall_of(s, &chen, &["longgang"], 50)
    });
    let ids: Vec<WishId> = district.iter().map(|c| c.id).collect();
    assert_eq!(ids, [d.far, d.rice, d.heater]);
    for (list, limit) in [
        (&["longgang"][..], 2),
        (&["longgang"][..], 0),
        (&[SHUIJING, XIKENG][..], 50),
        (&["longgang/buji"][..], 50),
        (&["longgang/yuan"][..], 50),
        (&["longgang/yuanshan/xikeng2"][..], 50),
        (&[][..], 50),
    ] {
        d.both.same("a wall", |s| wall_of(s, &idle, list, limit));
    }
    assert!(
        d.both
            .same("a prefix that is not a parent", |s| {
                wall_of(s, &idle, &["longgang/yuan"], 50)
            })
            .is_empty()
    );

    // What each reader holds or held.
    let held = |d: &mut District, who: &Reader, list: &[&str]| {
        d.both.same("held wishes", |s| {
            s.held_by(who, &scopes(list))
                .unwrap()
                .into_iter()
                .map(|mut h| {
                    h.card = unseen(s, h.card);
                    h
                })
                .collect::<Vec<_>>()
        })
    };
    let hers = held(&mut d, &xiaoli, &["longgang"]);
    let ids: Vec<(WishId, Status, bool, bool)> = hers
        .iter()
        .map(|h| (h.card.id, h.status, h.theirs, h.delivery.is_some()))
        .collect();
    assert_eq!(
        ids,
        [
            (d.walker, Status::Claimed, true, true),
            (d.wheelchair, Status::Confirmed, true, false),
        ],
        "latest first; the delivery fields only while it is hers to deliver"
    );
    assert_eq!(hers[1].rating, Some(5));
    assert_eq!(hers[0].delivery.as_ref().unwrap().address, "西坑村七巷2号");
    let his = held(&mut d, &zhangwei, &["longgang/yuanshan"]);
    let ids: Vec<(WishId, bool, bool)> = his
        .iter()
        .map(|h| (h.card.id, h.theirs, h.delivery.is_some()))
        .collect();
    assert_eq!(
        ids,
        [
            (d.radio, true, true),
            (d.walker, false, false),
            (d.glasses, true, false),
        ],
        "the unit's radio, the walker his claim lost, the glasses he lit up"
    );
    for (who, list) in [
        (&idle, &["longgang"][..]),
        (&xiaoli, &[SHUIJING][..]),
        (&xiaoli, &[][..]),
        (&chen, &["longgang"][..]),
        (
            &reader("liuyang", Role::Volunteer, Some("shuiwu")),
            &[XIKENG][..],
        ),
        (&reader("liuyang", Role::Volunteer, None), &[XIKENG][..]),
    ] {
        held(&mut d, who, list);
    }
    assert!(held(&mut d, &idle, &["longgang"]).is_empty());
    assert!(
        !district.iter().any(|c| c.id == d.draft),
        "a card not yet approved is not on the wall"
    );
}

#[test]
fn points_and_leaderboards_read_alike() {
    let Some(mut d) = district("pg_people_points") else {
        return;
    };
    let rules = PointsRules::default();
    let ledger = d.both.same("the ledger", |s| {
        s.points_ledger(&scopes(&["longgang"]), &rules).unwrap()
    });
    let awards: Vec<(WishId, Option<&str>, Option<&str>, u32)> = ledger
        .iter()
        .map(|e| {
            (
                e.wish,
                e.user.as_ref().map(UserId::as_str),
                e.unit.as_ref().map(UnitId::as_str),
                e.points,
            )
        })
        .collect();
    assert_eq!(
        awards,
        [
            (d.glasses, Some("zhangwei"), Some("shuiwu"), 10),
            (d.wheelchair, Some("xiaoli"), None, 20),
        ],
        "latest confirmation first; a high wish rated five earns 15 + 5"
    );
    let mut generous = PointsRules::default();
    generous.by_category.insert(Category::MobilityAid, 3);
    generous.bonus_rating = 3;
    for (list, rules) in [
        (&["longgang/yuanshan"][..], &rules),
        (&[XIKENG][..], &generous),
        (&[SHUIJING][..], &rules),
        (&[][..], &rules),
    ] {
        d.both.same("a ledger", |s| {
            s.points_ledger(&scopes(list), rules).unwrap()
        });
        d.both.same("leaderboards", |s| {
            s.leaderboards(&scopes(list), rules).unwrap()
        });
    }
    let boards = d.both.same("leaderboards", |s| {
        s.leaderboards(&scopes(&["longgang"]), &generous).unwrap()
    });
    let scores = |list: &[sync_core::store::Score]| {
        list.iter()
            .map(|s| (s.who.clone(), s.points, s.wishes))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        scores(&boards.volunteers),
        [("xiaoli".to_owned(), 23, 1), ("zhangwei".to_owned(), 15, 1)]
    );
    assert_eq!(scores(&boards.units), [("shuiwu".to_owned(), 15, 1)]);
    assert_eq!(
        boards.by_street.keys().collect::<Vec<_>>(),
        ["longgang/yuanshan"]
    );
    assert_eq!(boards.by_community[XIKENG].len(), 2);
}
