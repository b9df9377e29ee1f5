//! The figures a district publishes: per community, per street and in total.

use std::collections::BTreeMap;

use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;
use serde::{Deserialize, Serialize};

use super::Store;
use super::query::scope_clause;
use crate::error::Result;
use crate::ids::{CommunityPath, ScopePath};
use crate::workflow::Status;

const DAY_MS: f64 = 86_400_000.0;

/// Cards per current status.
pub type StatusCounts = BTreeMap<String, u64>;

/// The published counts for one scope.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScopeStats {
    /// The scope these figures cover.
    pub scope: String,
    /// The place's display name (西坑社区), where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every card in the scope, drafts included, by current status.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, u64>))]
    pub by_status: StatusCounts,
    /// Cards collected: submitted for review at least once.
    pub collected: u64,
    /// Cards a supervisor has reviewed (approved, rejected or sent back).
    pub reviewed: u64,
    /// Cards approved and not rejected or withdrawn since (approved, claimed, fulfilled, confirmed).
    pub approved: u64,
    /// Cards claimed or further along.
    pub claimed: u64,
    /// Cards fulfilled ("lit up"), confirmed or not.
    pub fulfilled: u64,
    /// Cards the resident confirmed.
    pub confirmed: u64,
    /// Average rating of confirmed cards (1–5).
    pub satisfaction: Option<f64>,
    /// Median days from first submission to fulfilment.
    pub median_days_to_fulfil: Option<f64>,
    #[serde(skip)]
    ratings: Vec<i64>,
    #[serde(skip)]
    days: Vec<f64>,
}

/// Statistics for a set of scopes: the total and a breakdown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsReport {
    /// All cards in the scopes together.
    pub total: ScopeStats,
    /// One entry per street.
    pub streets: Vec<ScopeStats>,
    /// One entry per community.
    pub communities: Vec<ScopeStats>,
}

impl ScopeStats {
    fn add(
        &mut self,
        status: Status,
        submitted: Option<i64>,
        reviewed: Option<i64>,
        fulfilled: Option<i64>,
        confirmed: Option<i64>,
        rating: Option<i64>,
    ) {
        *self
            .by_status
            .entry(status.as_str().to_owned())
            .or_default() += 1;
        self.collected += u64::from(submitted.is_some());
        self.reviewed += u64::from(reviewed.is_some());
        self.approved += u64::from(matches!(
            status,
            Status::Approved | Status::Claimed | Status::Fulfilled | Status::Confirmed
        ));
        self.claimed += u64::from(matches!(
            status,
            Status::Claimed | Status::Fulfilled | Status::Confirmed
        ));
        let is_fulfilled = matches!(status, Status::Fulfilled | Status::Confirmed);
        self.fulfilled += u64::from(is_fulfilled);
        self.confirmed += u64::from(status == Status::Confirmed && confirmed.is_some());
        if status == Status::Confirmed {
            self.ratings.extend(rating);
        }
        if let (true, Some(s), Some(f)) = (is_fulfilled, submitted, fulfilled) {
            // Times from different devices: never a negative duration.
            self.days.push((f - s).max(0) as f64 / DAY_MS);
        }
    }

    fn merge(&mut self, other: &ScopeStats) {
        for (status, n) in &other.by_status {
            *self.by_status.entry(status.clone()).or_default() += n;
        }
        self.collected += other.collected;
        self.reviewed += other.reviewed;
        self.approved += other.approved;
        self.claimed += other.claimed;
        self.fulfilled += other.fulfilled;
        self.confirmed += other.confirmed;
        self.ratings.extend(&other.ratings);
        self.days.extend(&other.days);
    }

    fn finish(mut self) -> Self {
        // In order, so that two stores reading their rows in different
        // orders give equal reports.
        self.ratings.sort_unstable();
        if !self.ratings.is_empty() {
            self.satisfaction =
                Some(self.ratings.iter().sum::<i64>() as f64 / self.ratings.len() as f64);
        }
        self.median_days_to_fulfil = median(&mut self.days);
        self
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// One wish card as the published figures count it: its materialized
/// row's community, status and times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsRow {
    /// The card's community.
    pub community: String,
    /// Its current status.
    pub status: Status,
    /// First submission (ms).
    pub submitted_at: Option<i64>,
    /// First review decision (ms).
    pub reviewed_at: Option<i64>,
    /// Fulfilment (ms).
    pub fulfilled_at: Option<i64>,
    /// Resident's confirmation (ms).
    pub confirmed_at: Option<i64>,
    /// Resident's rating.
    pub rating: Option<i64>,
}

/// The figures for the cards `rows` (those under `scopes`, all cards if
/// empty), per community, per street and in total, with the places'
/// display names from `names` (path → name): what every store's `stats`
/// returns from its rows.
pub fn stats_report(
    scopes: &[ScopePath],
    rows: impl IntoIterator<Item = StatsRow>,
    names: &BTreeMap<String, String>,
) -> StatsReport {
    let mut communities: BTreeMap<String, ScopeStats> = BTreeMap::new();
    for row in rows {
        communities
            .entry(row.community.clone())
            .or_insert_with(|| ScopeStats {
                scope: row.community,
                ..ScopeStats::default()
            })
            .add(
                row.status,
                row.submitted_at,
                row.reviewed_at,
                row.fulfilled_at,
                row.confirmed_at,
                row.rating,
            );
    }
    let mut streets: BTreeMap<String, ScopeStats> = BTreeMap::new();
    let mut total = ScopeStats {
        scope: scopes
            .iter()
            .map(ScopePath::as_str)
            .collect::<Vec<_>>()
            .join(","),
        ..ScopeStats::default()
    };
    for (path, stats) in &communities {
        let street = CommunityPath::new(path.clone())
            .map(|c| c.street().as_str().to_owned())
            .unwrap_or_else(|_| path.clone());
        streets
            .entry(street.clone())
            .or_insert_with(|| ScopeStats {
                scope: street,
                ..ScopeStats::default()
            })
            .merge(stats);
        total.merge(stats);
    }
    let named = |mut stats: ScopeStats| {
        stats.name = names.get(&stats.scope).cloned();
        stats.finish()
    };
    StatsReport {
        total: named(total),
        streets: streets.into_values().map(named).collect(),
        communities: communities.into_values().map(named).collect(),
    }
}

impl Store {
    /// Statistics for the cards under `scopes` (all cards if empty).
    pub fn stats(&self, scopes: &[ScopePath]) -> Result<StatsReport> {
        let mut args: Vec<Sql> = Vec::new();
        let where_sql = if scopes.is_empty() {
            String::new()
        } else {
            let scopes: Vec<&ScopePath> = scopes.iter().collect();
            format!("WHERE {}", scope_clause("community", &scopes, &mut args))
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT community, status, submitted_at, reviewed_at, fulfilled_at, confirmed_at, rating
             FROM wishes {where_sql}"
        ))?;
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        let mut cards = Vec::new();
        while let Some(r) = rows.next()? {
            let status: String = r.get(1)?;
            let Ok(status) = status.parse::<Status>() else {
                continue;
            };
            cards.push(StatsRow {
                community: r.get(0)?,
                status,
                submitted_at: r.get(2)?,
                reviewed_at: r.get(3)?,
                fulfilled_at: r.get(4)?,
                confirmed_at: r.get(5)?,
                rating: r.get(6)?,
            });
        }
        Ok(stats_report(scopes, cards, &self.place_names()?))
    }
}
