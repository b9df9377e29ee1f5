//! The store as the phone and the relay use it: queries, search, statistics,
//! history, and bad input that must change nothing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency, WishPatch};
use sync_core::store::WishFilter;
use sync_core::{
    Author, CommunityPath, DeviceId, Error, EventKind, HouseholdId, NewHousehold, NewWish, Role,
    ScopePath, Status, Store, UserId, WishId,
};

const DAY: i64 = 86_400_000;

struct Desk {
    store: Store,
    now: Arc<AtomicI64>,
    worker: Author,
    supervisor: Author,
    volunteer: Author,
}

impl Desk {
    fn new() -> Self {
        let now = Arc::new(AtomicI64::new(1_760_000_000_000));
        let clock = now.clone();
        let store = Store::open_in_memory()
            .unwrap()
            .with_clock(Arc::new(move || clock.fetch_add(1, Ordering::SeqCst)));
        let device = store.id();
        let who = |name: &str, role| Author {
            user: UserId::new(name).unwrap(),
            role,
            device,
        };
        Self {
            worker: who("wang", Role::Worker),
            supervisor: who("chen", Role::Supervisor),
            volunteer: who("li", Role::Volunteer),
            store,
            now,
        }
    }

    fn advance_days(&self, days: i64) {
        self.now.fetch_add(days * DAY, Ordering::SeqCst);
    }

    fn home(&mut self, community: &str) -> HouseholdId {
        self.store
            .create_household(
                &self.worker,
                &CommunityPath::new(community).unwrap(),
                &NewHousehold {
                    address: format!("{community} 1号"),
                    ..Default::default()
                },
            )
            .unwrap()
    }

    fn wish(&mut self, home: HouseholdId, text: &str, category: Category) -> WishId {
        self.store
            .create_wish(
                &self.worker,
                &NewWish {
                    household: home,
                    text: text.into(),
                    category,
                    urgency: Urgency::Normal,
                    photos: vec![],
                },
            )
            .unwrap()
    }

    fn event(&mut self, who: &Author, id: WishId, input: EventInput) -> Status {
        self.store.append_event(who, id, &input).unwrap()
    }

    fn snapshot(&self) -> Vec<(String, i64, Vec<u8>)> {
        let mut stmt = self
            .store
            .connection()
            .prepare("SELECT id, seq, doc FROM records ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

#[test]
fn a_two_character_chinese_word_from_the_middle_of_a_wish_finds_it() {
    let mut desk = Desk::new();
    let home = desk.home("longgang/yuanshan/xikeng");
    let chair = desk.wish(
        home,
        "希望给独居的李大爷配一台轮椅方便出门",
        Category::MobilityAid,
    );
    desk.wish(
        home,
        "三巷的路灯坏了，晚上看不见路",
        Category::PublicFacility,
    );
    desk.wish(
        home,
        "Need a wheelchair ramp at the gate",
        Category::PublicFacility,
    );

    let ids = |store: &Store, q: &str| -> Vec<String> {
        store
            .search_wishes(q)
            .unwrap()
            .into_iter()
            .map(|w| w.id)
            .collect()
    };
    assert_eq!(ids(&desk.store, "轮椅"), vec![chair.to_string()]);
    assert_eq!(ids(&desk.store, "大爷配"), vec![chair.to_string()]);
    assert_eq!(ids(&desk.store, "路灯").len(), 1);
    assert_eq!(ids(&desk.store, "wheelchair").len(), 1);
    assert_eq!(ids(&desk.store, "WHEELCHAIR ramp").len(), 1);
    assert!(ids(&desk.store, "冰箱").is_empty());

    // Search follows edits.
    let worker = desk.worker.clone();
    desk.store
        .update_wish(
            &worker,
            chair,
            &WishPatch {
                text: Some("希望配一台助行器".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(ids(&desk.store, "轮椅").is_empty());
    assert_eq!(ids(&desk.store, "助行器"), vec![chair.to_string()]);
}

#[test]
fn filters_combine_scope_status_category_and_text() {
    let mut desk = Desk::new();
    let xikeng = desk.home("longgang/yuanshan/xikeng");
    let hehua = desk.home("longgang/yuanshan/hehua");
    let other = desk.home("longgang/buji/sanlian");
    let worker = desk.worker.clone();
    let a = desk.wish(xikeng, "一台轮椅", Category::MobilityAid);
    desk.event(&worker, a, EventInput::new(EventKind::Submit));
    desk.wish(hehua, "一台轮椅", Category::MobilityAid);
    let c = desk.wish(other, "一台轮椅", Category::MobilityAid);
    desk.event(&worker, c, EventInput::new(EventKind::Submit));
    desk.wish(xikeng, "修路灯", Category::PublicFacility);

    let count = |filter: WishFilter| desk.store.list_wishes(&filter).unwrap().total;
    let street = ScopePath::new("longgang/yuanshan").unwrap();
    assert_eq!(count(WishFilter::default()), 4);
    assert_eq!(
        count(WishFilter {
            scope: Some(street.clone()),
            ..Default::default()
        }),
        3
    );
    assert_eq!(
        count(WishFilter {
            scope: Some(ScopePath::new("longgang/yuan").unwrap()),
            ..Default::default()
        }),
        0,
        "a scope is a path, not a text prefix"
    );
    assert_eq!(
        count(WishFilter {
            status: Some(Status::Submitted),
            ..Default::default()
        }),
        2
    );
    assert_eq!(
        count(WishFilter {
            status: Some(Status::Submitted),
            scope: Some(street.clone()),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        count(WishFilter {
            category: Some(Category::MobilityAid),
            q: Some("轮椅".into()),
            scopes: vec![street],
            ..Default::default()
        }),
        2
    );
    let page = desk
        .store
        .list_wishes(&WishFilter {
            limit: Some(2),
            offset: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((page.items.len(), page.total), (2, 4));
}

#[test]
fn statistics_count_each_stage_and_the_median_days_to_fulfil() {
    let mut desk = Desk::new();
    let home = desk.home("longgang/yuanshan/xikeng");
    let far = desk.home("longgang/buji/sanlian");
    let (worker, sup, vol) = (
        desk.worker.clone(),
        desk.supervisor.clone(),
        desk.volunteer.clone(),
    );

    // Three cards go all the way, taking 2, 4 and 9 days from submission to fulfilment.
    for (days, rating) in [(2, 5), (4, 4), (9, 3)] {
        let id = desk.wish(home, "一台轮椅", Category::MobilityAid);
        desk.event(&worker, id, EventInput::new(EventKind::Submit));
        desk.event(&sup, id, EventInput::new(EventKind::Approve));
        desk.event(&vol, id, EventInput::new(EventKind::Claim));
        desk.advance_days(days);
        desk.event(
            &vol,
            id,
            EventInput::new(EventKind::Fulfil).with_note("已送到"),
        );
        desk.event(
            &worker,
            id,
            EventInput {
                rating: Some(rating),
                ..EventInput::new(EventKind::Confirm)
            },
        );
    }
    let rejected = desk.wish(home, "要一台电视", Category::Other);
    desk.event(&worker, rejected, EventInput::new(EventKind::Submit));
    desk.event(
        &sup,
        rejected,
        EventInput::new(EventKind::Reject).with_note("不在帮扶范围"),
    );
    desk.wish(home, "草稿", Category::Other);
    let elsewhere = desk.wish(far, "书桌", Category::Education);
    desk.event(&worker, elsewhere, EventInput::new(EventKind::Submit));

    let report = desk
        .store
        .stats(&[ScopePath::new("longgang").unwrap()])
        .unwrap();
    let t = &report.total;
    assert_eq!(
        (
            t.collected,
            t.reviewed,
            t.approved,
            t.claimed,
            t.fulfilled,
            t.confirmed
        ),
        (5, 4, 3, 3, 3, 3)
    );
    assert_eq!(t.by_status.get("draft"), Some(&1));
    assert_eq!(t.by_status.get("rejected"), Some(&1));
    assert_eq!(t.satisfaction, Some(4.0));
    let median = t.median_days_to_fulfil.unwrap();
    assert!((median - 4.0).abs() < 0.01, "median {median}");
    assert_eq!(report.streets.len(), 2);
    assert_eq!(report.communities.len(), 2);
    let xikeng = report
        .communities
        .iter()
        .find(|c| c.scope == "longgang/yuanshan/xikeng")
        .unwrap();
    assert_eq!((xikeng.collected, xikeng.fulfilled), (4, 3));

    let street_only = desk
        .store
        .stats(&[ScopePath::new("longgang/buji").unwrap()])
        .unwrap();
    assert_eq!(street_only.total.collected, 1);
    assert_eq!(street_only.total.fulfilled, 0);
}

#[test]
fn history_says_who_changed_what_from_what_to_what() {
    let mut desk = Desk::new();
    let home = desk.home("longgang/yuanshan/xikeng");
    let id = desk.wish(home, "一台轮椅", Category::MobilityAid);
    let worker = desk.worker.clone();
    desk.store
        .update_wish(
            &worker,
            id,
            &WishPatch {
                text: Some("一台轻便轮椅".into()),
                urgency: Some(Urgency::High),
                ..Default::default()
            },
        )
        .unwrap();
    let history = desk.store.history(id.record()).unwrap();
    assert_eq!(history.len(), 2);
    let edit = &history[1];
    assert_eq!(edit.user.as_ref().unwrap().as_str(), "wang");
    assert_eq!(edit.device, Some(desk.store.id()));
    let text = edit.fields.iter().find(|f| f.field == "text").unwrap();
    assert_eq!(
        (text.from.as_deref(), text.to.as_deref()),
        (Some("一台轮椅"), Some("一台轻便轮椅"))
    );
    assert!(
        edit.fields
            .iter()
            .any(|f| f.field == "urgency" && f.to.as_deref() == Some("high"))
    );
    assert!(
        edit.fields
            .iter()
            .any(|f| f.field == "event" && f.to.as_deref() == Some("edit"))
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let mut desk = Desk::new();
    let home = desk.home("longgang/yuanshan/xikeng");
    let id = desk.wish(home, "一台轮椅", Category::MobilityAid);
    let draft = desk.wish(home, "草稿", Category::Other);
    let (worker, sup) = (desk.worker.clone(), desk.supervisor.clone());
    desk.event(&worker, id, EventInput::new(EventKind::Submit));
    let before = desk.snapshot();

    let attempts: Vec<(Error, &str)> = vec![
        (
            desk.store
                .append_event(&worker, id, &EventInput::new(EventKind::Approve))
                .unwrap_err(),
            "may not approve",
        ),
        (
            desk.store
                .append_event(&sup, draft, &EventInput::new(EventKind::Approve))
                .unwrap_err(),
            "draft",
        ),
        (
            desk.store
                .append_event(&sup, id, &EventInput::new(EventKind::Reject))
                .unwrap_err(),
            "reason",
        ),
        (
            desk.store
                .append_event(
                    &worker,
                    id,
                    &EventInput {
                        rating: Some(7),
                        ..EventInput::new(EventKind::Confirm)
                    },
                )
                .unwrap_err(),
            "submitted",
        ),
        (
            desk.store
                .update_wish(
                    &worker,
                    id,
                    &WishPatch {
                        text: Some("   ".into()),
                        ..Default::default()
                    },
                )
                .unwrap_err(),
            "needs some text",
        ),
        (
            desk.store
                .update_wish(
                    &worker,
                    id,
                    &WishPatch {
                        text: Some("x".repeat(5000)),
                        ..Default::default()
                    },
                )
                .unwrap_err(),
            "longer than",
        ),
        (
            desk.store
                .create_wish(
                    &worker,
                    &NewWish {
                        household: HouseholdId::random(),
                        text: "孤儿卡".into(),
                        category: Category::Other,
                        urgency: Urgency::Low,
                        photos: vec![],
                    },
                )
                .unwrap_err(),
            "not found",
        ),
        (
            desk.store
                .append_event(
                    &worker,
                    WishId::random(),
                    &EventInput::new(EventKind::Submit),
                )
                .unwrap_err(),
            "not found",
        ),
    ];
    for (error, expected) in attempts {
        assert!(
            error.to_string().contains(expected),
            "{error} should mention {expected:?}"
        );
    }
    assert_eq!(desk.snapshot(), before, "nothing stored changed");
    assert_eq!(desk.store.feed_seq().unwrap(), 4);
}

#[test]
fn the_store_file_survives_reopening_with_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.sqlite");
    let worker = Author {
        user: UserId::new("wang").unwrap(),
        role: Role::Worker,
        device: DeviceId::random(),
    };
    let (id, home) = {
        let mut store = Store::open(&path).unwrap();
        let home = store
            .create_household(
                &worker,
                &CommunityPath::new("a/b/c").unwrap(),
                &NewHousehold::default(),
            )
            .unwrap();
        (store.id(), home)
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.id(), id);
    assert!(store.record(home.record()).is_ok());
    let mode: String = store
        .connection()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn cards_stored_before_the_wall_read_as_new_ones_after_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.sqlite");
    let device = DeviceId::random();
    let who = |name: &str, role| Author {
        user: UserId::new(name).unwrap(),
        role,
        device,
    };
    let (worker, supervisor, volunteer) = (
        who("wang", Role::Worker),
        who("chen", Role::Supervisor),
        who("li", Role::Volunteer),
    );
    let wish = {
        let mut store = Store::open(&path).unwrap();
        let home = store
            .create_household(
                &worker,
                &CommunityPath::new("a/b/c").unwrap(),
                &NewHousehold::default(),
            )
            .unwrap();
        let wish = store
            .create_wish(
                &worker,
                &NewWish {
                    household: home,
                    text: "轮椅".into(),
                    category: Category::MobilityAid,
                    urgency: Urgency::High,
                    photos: vec![],
                },
            )
            .unwrap();
        for (author, kind) in [
            (&worker, EventKind::Submit),
            (&supervisor, EventKind::Approve),
            (&volunteer, EventKind::Claim),
            (&volunteer, EventKind::CheckIn),
        ] {
            store
                .append_event(author, wish, &EventInput::new(kind))
                .unwrap();
        }
        wish
    };
    // Back to schema 6, as a relay from before the wall left its file (and
    // without what later schemas add).
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP TABLE wish_notes; DROP TABLE wish_takers; DROP TABLE places;
             DROP INDEX wishes_by_holder; DROP INDEX wishes_by_holder_unit;
             ALTER TABLE wishes DROP COLUMN holder_user; ALTER TABLE wishes DROP COLUMN holder_unit;
             ALTER TABLE wishes DROP COLUMN checked_in_at; ALTER TABLE wishes DROP COLUMN last_event;
             ALTER TABLE users DROP COLUMN display_name; ALTER TABLE users DROP COLUMN phone;
             ALTER TABLE users DROP COLUMN unit; DROP TABLE units;
             DROP TABLE audit_log; ALTER TABLE users DROP COLUMN must_change_password;
             ALTER TABLE users DROP COLUMN password_expires_at; DROP TABLE login_failures;
             PRAGMA user_version = 6;",
        )
        .unwrap();
    let store = Store::open(&path).unwrap();
    let row: (Option<String>, Option<i64>, Option<String>, i64) = store
        .connection()
        .query_row(
            "SELECT holder_user, checked_in_at, last_event,
                    (SELECT count(*) FROM wish_takers WHERE record_id = ?1 AND user = 'li')
               FROM wishes WHERE id = ?1",
            [wish.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(row.0.as_deref(), Some("li"), "who holds it");
    assert!(row.1.is_some(), "when they checked in");
    assert!(row.2.is_some(), "the last event");
    assert_eq!(row.3, 1, "li took it on");
}

#[test]
fn an_export_reads_the_address_and_the_reasons_also_of_cards_stored_before_schema_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.sqlite");
    let device = DeviceId::random();
    let who = |name: &str, role| Author {
        user: UserId::new(name).unwrap(),
        role,
        device,
    };
    let (worker, supervisor) = (who("wang", Role::Worker), who("chen", Role::Supervisor));
    let rejected = {
        let mut store = Store::open(&path).unwrap();
        let home = store
            .create_household(
                &worker,
                &CommunityPath::new("a/b/c").unwrap(),
                &NewHousehold {
                    address: "西坑村三巷 12 号".into(),
                    ..Default::default()
                },
            )
            .unwrap();
        let new = |store: &mut Store, household| {
            store
                .create_wish(
                    &worker,
                    &NewWish {
                        household,
                        text: "换一台电视".into(),
                        category: Category::Other,
                        urgency: Urgency::Low,
                        photos: vec![],
                    },
                )
                .unwrap()
        };
        let rejected = new(&mut store, home);
        for (author, input) in [
            (&worker, EventInput::new(EventKind::Submit)),
            (
                &supervisor,
                EventInput::new(EventKind::RequestInfo).with_note("请补充照片"),
            ),
            (&worker, EventInput::new(EventKind::Submit)),
            (
                &supervisor,
                EventInput::new(EventKind::Reject).with_note("不在帮扶范围"),
            ),
        ] {
            store.append_event(author, rejected, &input).unwrap();
        }
        rejected
    };
    // Back to schema 8, as a relay from before the notes left its file.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE wish_notes; DROP TABLE login_failures; PRAGMA user_version = 8;")
        .unwrap();
    let store = Store::open(&path).unwrap();
    let extras = store
        .wish_extras(&[rejected.to_string(), "nothing".into()])
        .unwrap();
    assert_eq!(extras.len(), 1, "cards not stored are left out");
    let card = &extras[&rejected.to_string()];
    assert_eq!(card.address.as_deref(), Some("西坑村三巷 12 号"));
    assert_eq!(card.note(EventKind::Reject), "不在帮扶范围");
    assert_eq!(card.note(EventKind::RequestInfo), "请补充照片");
    assert_eq!(card.note(EventKind::Cancel), "");
}
