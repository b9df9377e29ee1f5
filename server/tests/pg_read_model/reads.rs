//! Every read of the read model, asked of both relays with many filters,
//! must give equal answers.

use server::store::RelayStore;
use sync_core::model::{Category, Urgency};
use sync_core::store::WishFilter;
use sync_core::{HouseholdId, ScopePath, Status, WishId};

use super::district::{BL, District, HH, SL, XK, scope};

/// Scope sets: none (everything), one community (a user scoped to one),
/// streets, the district, two at once, and paths that are only a prefix
/// of others' (`longgang/yuan`, `longgang/yuanshan` beside `yuanshanx`).
fn scope_sets() -> Vec<Vec<ScopePath>> {
    [
        &[][..],
        &[XK],
        &[HH],
        &[SL],
        &[BL],
        &["longgang/yuanshan"],
        &["longgang/yuanshanx"],
        &["longgang"],
        &["longgang/buji", XK],
        &["longgang/yuan"],
        &["shenzhen"],
    ]
    .iter()
    .map(|set| set.iter().map(|s| scope(s)).collect())
    .collect()
}

/// Text queries: Chinese words, one character, phrases of adjacent
/// bigrams and of bigrams apart, several words, any case, nothing to
/// search for, blank.
const QUERIES: &[&str] = &[
    "轮椅",
    "椅",
    "轮",
    "大爷的轮椅",
    "轮椅坏",
    "轮椅 大爷",
    "一台轮椅",
    "台轮",
    "坏了",
    "LAMP fix",
    "lamp",
    "Fix the lamp",
    "3号楼",
    "3",
    "号",
    "助听器",
    "路灯 很黑",
    "米面油",
    "西坑",
    "xyz",
    "\"*",
    "  ",
    "",
];

const HOUSEHOLD_QUERIES: &[&str] = &[
    "西坑",
    "李秀英",
    "李",
    "独居",
    "lamp",
    "block 7",
    "7",
    "轮椅",
    "荷花 低保",
    "已登记",
    "\"*",
    " ",
];

fn wish_filters(d: &District, homes: &[HouseholdId]) -> Vec<WishFilter> {
    let mut out = Vec::new();
    let base = WishFilter::default;
    for scopes in scope_sets() {
        for narrower in [None, Some("longgang/yuanshan"), Some(XK)] {
            out.push(WishFilter {
                scopes: scopes.clone(),
                scope: narrower.map(scope),
                ..base()
            });
        }
        for q in ["轮椅", "椅", "lamp"] {
            out.push(WishFilter {
                scopes: scopes.clone(),
                q: Some(q.into()),
                ..base()
            });
        }
    }
    for status in Status::ALL {
        for scopes in [vec![], vec![scope(XK)]] {
            out.push(WishFilter {
                scopes,
                status: Some(*status),
                ..base()
            });
        }
    }
    for category in Category::ALL {
        out.push(WishFilter {
            category: Some(*category),
            ..base()
        });
    }
    for urgency in Urgency::ALL {
        out.push(WishFilter {
            urgency: Some(*urgency),
            ..base()
        });
    }
    for home in homes.iter().copied().chain([HouseholdId::random()]) {
        out.push(WishFilter {
            household: Some(home),
            ..base()
        });
    }
    for q in QUERIES {
        for oldest_first in [false, true] {
            out.push(WishFilter {
                q: Some((*q).into()),
                oldest_first,
                ..base()
            });
        }
        out.push(WishFilter {
            q: Some((*q).into()),
            limit: Some(1),
            offset: Some(1),
            ..base()
        });
    }
    // Times between the cards' creations, from the SQLite relay's rows.
    let mut created: Vec<i64> = RelayStore::list_wishes(&d.sqlite, &base())
        .unwrap()
        .items
        .iter()
        .map(|w| w.created_at)
        .collect();
    created.sort_unstable();
    for (i, at) in created.iter().enumerate() {
        out.push(WishFilter {
            created_from: Some(*at),
            ..base()
        });
        out.push(WishFilter {
            created_to: Some(*at),
            ..base()
        });
        if let Some(later) = created.get(i + 3) {
            out.push(WishFilter {
                created_from: Some(*at),
                created_to: Some(*later),
                oldest_first: true,
                ..base()
            });
        }
    }
    for oldest_first in [false, true] {
        for limit in [None, Some(0), Some(1), Some(2), Some(3), Some(1000)] {
            for offset in [
                None,
                Some(0),
                Some(1),
                Some(2),
                Some(5),
                Some(8),
                Some(9),
                Some(100),
            ] {
                out.push(WishFilter {
                    oldest_first,
                    limit,
                    offset,
                    ..base()
                });
            }
        }
    }
    // Several filters at once.
    out.push(WishFilter {
        scopes: vec![scope("longgang/yuanshan")],
        status: Some(Status::Submitted),
        category: Some(Category::MobilityAid),
        q: Some("轮椅".into()),
        ..base()
    });
    out.push(WishFilter {
        scopes: vec![scope("longgang")],
        scope: Some(scope(XK)),
        urgency: Some(Urgency::High),
        oldest_first: true,
        limit: Some(1),
        ..base()
    });
    out.push(WishFilter {
        q: Some("轮椅".into()),
        oldest_first: true,
        limit: Some(2),
        offset: Some(1),
        ..base()
    });
    out
}

/// Asks both relays every read under many filters and asserts equal
/// answers; returns how many reads were compared.
pub(crate) fn compare_all(d: &District, wishes: &[WishId], homes: &[HouseholdId]) -> usize {
    let (a, b): (&dyn RelayStore, &dyn RelayStore) = (&d.sqlite, &d.pg);
    let mut compared = 0;
    for filter in wish_filters(d, homes) {
        let (x, y) = (
            a.list_wishes(&filter).unwrap(),
            b.list_wishes(&filter).unwrap(),
        );
        assert_eq!(
            (x.total, &x.items),
            (y.total, &y.items),
            "list_wishes {filter:?}"
        );
        compared += 1;
    }
    let mut ids: Vec<String> = wishes.iter().map(ToString::to_string).collect();
    let extras = |ids: &[String]| (a.wish_extras(ids).unwrap(), b.wish_extras(ids).unwrap());
    let (x, y) = extras(&ids);
    assert_eq!(x.len(), wishes.len());
    assert_eq!(x, y, "wish_extras of every card");
    ids.push(ids[0].to_uppercase());
    ids.push(ids[1].replace('-', ""));
    ids.push("not a card".into());
    ids.push(WishId::random().to_string());
    let (x, y) = extras(&ids);
    assert_eq!(x, y, "wish_extras of ids spelled otherwise or unknown");
    let (x, y) = extras(&ids[2..4]);
    assert_eq!(x, y, "wish_extras of a few");
    compared += 3;
    for scopes in scope_sets() {
        for q in [None]
            .into_iter()
            .chain(HOUSEHOLD_QUERIES.iter().map(|q| Some(*q)))
        {
            for (limit, offset) in [(50, 0), (2, 0), (2, 2), (2, 4), (0, 0), (1000, 0), (3, 100)] {
                let x = a.households(&scopes, q, limit, offset).unwrap();
                let y = b.households(&scopes, q, limit, offset).unwrap();
                assert_eq!(
                    (x.total, &x.items),
                    (y.total, &y.items),
                    "households {scopes:?} {q:?} {limit} {offset}"
                );
                compared += 1;
            }
        }
        for include_resolved in [false, true] {
            let x = a.conflicts(&scopes, include_resolved).unwrap();
            let y = b.conflicts(&scopes, include_resolved).unwrap();
            assert_eq!(x, y, "conflicts {scopes:?} {include_resolved}");
            compared += 1;
        }
        let (x, y) = (a.stats(&scopes).unwrap(), b.stats(&scopes).unwrap());
        assert_eq!(x, y, "stats {scopes:?}");
        compared += 1;
        let head = a.changes(&[], 0).unwrap().seq;
        for since in 0..=head + 1 {
            let x = a.changes(&scopes, since).unwrap();
            let y = b.changes(&scopes, since).unwrap();
            assert_eq!(x, y, "changes {scopes:?} after {since}");
            compared += 1;
        }
    }
    for home in homes.iter().copied().chain([HouseholdId::random()]) {
        assert_eq!(
            a.visits(home).unwrap(),
            b.visits(home).unwrap(),
            "visits of {home}"
        );
        compared += 1;
    }
    let (x, y) = (a.usage().unwrap(), b.usage().unwrap());
    assert_eq!(x.records, y.records, "records stored");
    assert!(y.bytes > 0);
    compared + 1
}
