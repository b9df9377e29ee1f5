//! The points ledger and its leaderboards, read from the materialized
//! cards: one entry per confirmed wish, for whoever holds it by the fold.

use std::collections::BTreeMap;

use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;
use serde::{Deserialize, Serialize};

use super::Store;
use super::query::scope_clause;
use crate::error::Result;
use crate::ids::{CommunityPath, ScopePath, UnitId, UserId, WishId};
use crate::model::{Category, Urgency};
use crate::points::PointsRules;
use crate::workflow::{Folded, Holder, Status};

/// One award: a confirmed wish and what it earned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerEntry {
    /// The wish.
    pub wish: WishId,
    /// Its community.
    pub community: CommunityPath,
    /// The volunteer who holds it, if one does.
    pub user: Option<UserId>,
    /// The partner unit it was done for, if any.
    pub unit: Option<UnitId>,
    /// The points.
    pub points: u32,
    /// When the resident confirmed (ms).
    pub confirmed_at: Option<i64>,
    /// The resident's rating.
    pub rating: Option<u8>,
}

/// Points summed for one volunteer or unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Score {
    /// The volunteer's login or the unit's id.
    pub who: String,
    /// Points in total.
    pub points: u32,
    /// Wishes confirmed.
    pub wishes: u32,
}

/// Leaderboards for a set of scopes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Leaderboards {
    /// Volunteers, best first, over all the scopes.
    pub volunteers: Vec<Score>,
    /// Partner units, best first.
    pub units: Vec<Score>,
    /// Volunteers per community, best first.
    pub by_community: BTreeMap<String, Vec<Score>>,
    /// Volunteers per street, best first.
    pub by_street: BTreeMap<String, Vec<Score>>,
}

fn ranked(totals: BTreeMap<String, (u32, u32)>) -> Vec<Score> {
    let mut out: Vec<Score> = totals
        .into_iter()
        .map(|(who, (points, wishes))| Score {
            who,
            points,
            wishes,
        })
        .collect();
    out.sort_by(|a, b| b.points.cmp(&a.points).then_with(|| a.who.cmp(&b.who)));
    out
}

/// A confirmed wish held by a volunteer or a unit, as a store reads it,
/// before the rules price it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmed {
    /// The wish.
    pub wish: WishId,
    /// Its community.
    pub community: CommunityPath,
    /// Its urgency.
    pub urgency: Urgency,
    /// Its category.
    pub category: Category,
    /// Who holds it.
    pub holder: Holder,
    /// The resident's rating.
    pub rating: Option<u8>,
    /// When the resident confirmed (ms).
    pub confirmed_at: Option<i64>,
}

impl Confirmed {
    /// Its entry in the ledger by `rules`; `None` if it earns nothing.
    pub fn entry(self, rules: &PointsRules) -> Option<LedgerEntry> {
        let state = Folded {
            status: Status::Confirmed,
            holder: Some(self.holder.clone()),
            rating: self.rating,
            ..Folded::default()
        };
        let points = rules.earned_by(self.urgency, self.category, &state)?;
        Some(LedgerEntry {
            wish: self.wish,
            community: self.community,
            user: self.holder.user,
            unit: self.holder.unit,
            points,
            confirmed_at: self.confirmed_at,
            rating: self.rating,
        })
    }
}

impl Leaderboards {
    /// The leaderboards of a ledger: volunteers overall, per community and
    /// per street, and partner units.
    pub fn of(ledger: &[LedgerEntry]) -> Leaderboards {
        let mut volunteers: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        let mut units: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        let mut community: BTreeMap<String, BTreeMap<String, (u32, u32)>> = BTreeMap::new();
        let mut street: BTreeMap<String, BTreeMap<String, (u32, u32)>> = BTreeMap::new();
        let add = |map: &mut BTreeMap<String, (u32, u32)>, who: &str, points: u32| {
            let entry = map.entry(who.to_owned()).or_default();
            entry.0 = entry.0.saturating_add(points);
            entry.1 += 1;
        };
        for entry in ledger {
            if let Some(unit) = &entry.unit {
                add(&mut units, unit.as_str(), entry.points);
            }
            let Some(user) = &entry.user else {
                continue;
            };
            add(&mut volunteers, user.as_str(), entry.points);
            let place = entry.community.as_scope();
            add(
                community.entry(place.as_str().to_owned()).or_default(),
                user.as_str(),
                entry.points,
            );
            add(
                street
                    .entry(entry.community.street().as_str().to_owned())
                    .or_default(),
                user.as_str(),
                entry.points,
            );
        }
        Leaderboards {
            volunteers: ranked(volunteers),
            units: ranked(units),
            by_community: community.into_iter().map(|(k, v)| (k, ranked(v))).collect(),
            by_street: street.into_iter().map(|(k, v)| (k, ranked(v))).collect(),
        }
    }
}

impl Store {
    /// The ledger of the scopes, by `rules`: one entry per confirmed wish
    /// held by a volunteer or a unit, latest confirmation first.
    pub fn points_ledger(
        &self,
        scopes: &[ScopePath],
        rules: &PointsRules,
    ) -> Result<Vec<LedgerEntry>> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<Sql> = Vec::new();
        let refs: Vec<&ScopePath> = scopes.iter().collect();
        let clause = scope_clause("community", &refs, &mut args);
        let mut stmt = self.connection().prepare(&format!(
            "SELECT id, community, urgency, category, rating, holder_user, holder_unit, confirmed_at
               FROM wishes
              WHERE status = 'confirmed' AND (holder_user IS NOT NULL OR holder_unit IS NOT NULL)
                AND {clause}
              ORDER BY confirmed_at DESC, id"
        ))?;
        type Row = (
            String,
            String,
            String,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<i64>,
        );
        let rows = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<Row>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, community, urgency, category, rating, user, unit, confirmed_at) in rows {
            let confirmed = Confirmed {
                wish: id.parse()?,
                community: CommunityPath::new(community)?,
                urgency: urgency.parse()?,
                category: category.parse()?,
                holder: Holder {
                    user: user.map(UserId::new).transpose()?,
                    unit: unit.map(UnitId::new).transpose()?,
                    name: None,
                },
                rating: rating.and_then(|r| u8::try_from(r).ok()),
                confirmed_at,
            };
            out.extend(confirmed.entry(rules));
        }
        Ok(out)
    }

    /// Leaderboards of the scopes: volunteers overall, per community and
    /// per street, and partner units.
    pub fn leaderboards(&self, scopes: &[ScopePath], rules: &PointsRules) -> Result<Leaderboards> {
        Ok(Leaderboards::of(&self.points_ledger(scopes, rules)?))
    }
}
