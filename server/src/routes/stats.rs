//! The published counts, and the fulfilments over time.

use std::borrow::Cow;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use sync_core::store::{StatsReport, WishFilter, WishRow};
use sync_core::{ScopePath, Status};

use super::export::EXPORT_MAX_ROWS;
use super::openapi::{Authed, BadQuery};
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Which scope to count.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct StatsParams {
    /// The scope to report on, within the caller's; all of theirs by default.
    pub(super) scope: Option<String>,
}

/// The scopes to report on: the one asked for (which must be the caller's),
/// or all the caller's scopes.
pub(super) fn scopes(auth: &AuthUser, scope: Option<&str>) -> AppResult<Vec<ScopePath>> {
    match scope.filter(|s| !s.is_empty()) {
        None => Ok(auth.user.scopes.clone()),
        Some(scope) => {
            let scope = ScopePath::new(scope).map_err(|e| AppError::BadRequest(e.to_string()))?;
            if auth.may_see(&scope) {
                Ok(vec![scope])
            } else {
                Err(AppError::refused(
                    crate::error::Reason::OutOfScope,
                    format!("{scope} is outside your scopes"),
                ))
            }
        }
    }
}

/// `GET /v1/stats?scope=`
#[utoipa::path(
    get,
    path = "/v1/stats",
    operation_id = "stats",
    tag = "stats",
    params(
        StatsParams,
    ),
    responses(
        (status = 200, description = "The published counts: in all, per street, per community", body = StatsReport),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn stats(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<StatsParams>,
) -> AppResult<Json<StatsReport>> {
    let scopes = scopes(&auth, params.scope.as_deref())?;
    Ok(Json(state.db.run(move |store| store.stats(&scopes)).await?))
}

/// A cell a spreadsheet shows as the text it is: one that starts like a
/// formula (`=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading
/// apostrophe, which Excel and LibreOffice hide and take as "text".
/// Otherwise a card that says `=HYPERLINK(…)` runs when a supervisor opens
/// the export.
pub(super) fn inert(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Options of the fulfilment series.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct TimelineParams {
    /// The scope to report on, within the caller's; all of theirs by default.
    scope: Option<String>,
    /// Minutes to add to UTC for the caller's calendar days (480 in China).
    #[serde(default)]
    tz_offset: i64,
}

/// One calendar day of the series.
#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub(super) struct Day {
    day: String,
    fulfilled: u64,
    confirmed: u64,
}

/// Fulfilments and confirmations per day, and how residents rated them.
#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub(super) struct Timeline {
    /// Every day from the first fulfilment to the last, gaps included.
    days: Vec<Day>,
    /// How many confirmed cards were rated 1, 2, 3, 4 and 5.
    ratings: [u64; 5],
}

/// The most days one series covers (ten years).
const MAX_DAYS: i64 = 3660;

/// Buckets rows of fulfilled and confirmed cards by day.
fn timeline(rows: &[WishRow], tz_offset_min: i64) -> Timeline {
    let offset = tz_offset_min.clamp(-14 * 60, 14 * 60) * 60_000;
    let day = |ms: i64| (ms + offset).div_euclid(86_400_000);
    let mut counts: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
    let mut ratings = [0u64; 5];
    for row in rows {
        if let Some(at) = row.fulfilled_at {
            counts.entry(day(at)).or_default().0 += 1;
        }
        if row.status == Status::Confirmed.as_str() {
            if let Some(at) = row.confirmed_at {
                counts.entry(day(at)).or_default().1 += 1;
            }
            if let Some(r) = row.rating.filter(|r| (1..=5).contains(r)) {
                ratings[(r - 1) as usize] += 1;
            }
        }
    }
    let days = match (counts.keys().next(), counts.keys().next_back()) {
        (Some(&first), Some(&last)) => (first.max(last - MAX_DAYS + 1)..=last)
            .map(|d| {
                let (fulfilled, confirmed) = counts.get(&d).copied().unwrap_or_default();
                Day {
                    day: crate::when::day(d),
                    fulfilled,
                    confirmed,
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    Timeline { days, ratings }
}

/// `GET /v1/stats/timeline?scope=&tz_offset=`: fulfilments over time, and
/// the distribution of the residents' ratings. Read from the materialized
/// rows of fulfilled and confirmed cards; no document is loaded.
#[utoipa::path(
    get,
    path = "/v1/stats/timeline",
    operation_id = "stats_fulfilments",
    tag = "stats",
    params(
        TimelineParams,
    ),
    responses(
        (status = 200, description = "Fulfilments and confirmations per day, and the ratings", body = Timeline),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn fulfilments(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<TimelineParams>,
) -> AppResult<Json<Timeline>> {
    let scopes = scopes(&auth, params.scope.as_deref())?;
    let rows = state
        .db
        .run(move |store| {
            let mut rows = Vec::new();
            for status in [Status::Fulfilled, Status::Confirmed] {
                let mut filter = WishFilter {
                    scopes: scopes.clone(),
                    status: Some(status),
                    limit: Some(500),
                    ..WishFilter::default()
                };
                let mut offset = 0u32;
                loop {
                    filter.offset = Some(offset);
                    let page = store.list_wishes(&filter)?;
                    let n = page.items.len();
                    rows.extend(page.items);
                    offset += n as u32;
                    if n < 500 || offset >= EXPORT_MAX_ROWS {
                        break;
                    }
                }
            }
            Ok(rows)
        })
        .await?;
    Ok(Json(timeline(&rows, params.tz_offset)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_look_like_formulas_are_made_inert() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\r=1"] {
            assert_eq!(inert(formula), format!("'{formula}"));
        }
        for text in ["给李大爷一台轮椅", "a=b", "", "'quoted"] {
            assert_eq!(inert(text), text);
        }
    }

    fn row(
        status: Status,
        fulfilled: Option<i64>,
        confirmed: Option<i64>,
        rating: Option<i64>,
    ) -> WishRow {
        WishRow {
            id: String::new(),
            household: String::new(),
            community: "longgang/yuanshan/xikeng".into(),
            status: status.as_str().into(),
            category: "other".into(),
            urgency: "normal".into(),
            text: String::new(),
            created_by: "wang".into(),
            created_at: 0,
            submitted_at: Some(0),
            reviewed_at: Some(0),
            fulfilled_at: fulfilled,
            confirmed_at: confirmed,
            claimant: Some("hu".into()),
            holder_user: Some("hu".into()),
            holder_unit: None,
            checked_in_at: None,
            rating,
            open_conflicts: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn days_are_civil_dates() {
        assert_eq!(crate::when::day(0), "1970-01-01");
        assert_eq!(crate::when::day(20_778), "2026-11-21");
        assert_eq!(crate::when::day(-1), "1969-12-31");
        assert_eq!(crate::when::day(11_016), "2000-02-29");
    }

    #[test]
    fn fulfilments_are_counted_per_local_day_with_the_gaps() {
        const DAY: i64 = 86_400_000;
        let day0 = 20_778 * DAY;
        let rows = [
            row(Status::Fulfilled, Some(day0 + 3_600_000), None, None),
            // 20:00 UTC is the next morning in China.
            row(
                Status::Confirmed,
                Some(day0 + 20 * 3_600_000),
                Some(day0 + 2 * DAY),
                Some(5),
            ),
            row(
                Status::Confirmed,
                Some(day0 + 2 * DAY),
                Some(day0 + 2 * DAY + 1),
                Some(3),
            ),
        ];
        let t = timeline(&rows, 480);
        let days: Vec<(&str, u64, u64)> = t
            .days
            .iter()
            .map(|d| (d.day.as_str(), d.fulfilled, d.confirmed))
            .collect();
        assert_eq!(
            days,
            [
                ("2026-11-21", 1, 0),
                ("2026-11-22", 1, 0),
                ("2026-11-23", 1, 2)
            ]
        );
        assert_eq!(t.ratings, [0, 0, 1, 0, 1]);
        assert_eq!(timeline(&rows, 0).days.len(), 3);
        assert!(timeline(&[], 0).days.is_empty());
    }
}
