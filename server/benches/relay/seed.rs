//! The stores the relay benchmark runs on: the bench users, and a district
//! of many records built once.

use std::path::Path;
use std::time::Instant;

use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::{
    Author, CommunityPath, DeviceId, EventKind, NewHousehold, NewWish, Role, ScopePath, Store,
    UserId,
};

use crate::load::{COMMUNITIES, PASSWORD};

/// A relay database with `records` records (households and wish cards in
/// 100 communities of the district `stored`), plus the bench users.
pub fn build_store(path: &Path, records: usize) {
    let started = Instant::now();
    let mut store = Store::open(path).unwrap();
    store
        .connection()
        .pragma_update(None, "synchronous", "OFF")
        .unwrap();
    let author = Author {
        user: UserId::new("seeder").unwrap(),
        role: Role::Worker,
        device: DeviceId::random(),
    };
    let mut home = None;
    for i in 0..records {
        let community =
            CommunityPath::new(format!("stored/street{}/c{}", i % 10, i % 100)).unwrap();
        let Some(household) = home.filter(|_| i % 3 != 0) else {
            let h = store
                .create_household(
                    &author,
                    &community,
                    &NewHousehold {
                        address: format!("{i}号"),
                        head_name: "李建国".into(),
                        ..Default::default()
                    },
                )
                .unwrap();
            home = Some(h);
            continue;
        };
        {
            let id = store
                .create_wish(
                    &author,
                    &NewWish {
                        household,
                        text: format!("第{i}个心愿：希望给老人配一台轮椅"),
                        category: Category::MobilityAid,
                        urgency: Urgency::Normal,
                        photos: vec![],
                    },
                )
                .unwrap();
            if i % 2 == 0 {
                store
                    .append_event(&author, id, &EventInput::new(EventKind::Submit))
                    .unwrap();
            }
        }
        if i > 0 && i % 100_000 == 0 {
            eprintln!("  … {i} records ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    add_users(&mut store);
    store
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    eprintln!(
        "  built {records} records in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

pub fn add_users(store: &mut dyn server::store::RelayStore) {
    for c in 0..COMMUNITIES {
        let user = UserId::new(format!("worker{c}")).unwrap();
        let scope = ScopePath::new(format!("bench/load/c{c}")).unwrap();
        server::accounts::add_user(store, &user, Role::Worker, &[scope], PASSWORD, 0).unwrap();
    }
}
