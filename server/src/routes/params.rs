//! Query parameters shared by the list and export endpoints.

use serde::Deserialize;
use sync_core::store::WishFilter;
use sync_core::{HouseholdId, ScopePath};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};

/// Filters of `GET /v1/wishes` and `GET /v1/export/wishes.csv`.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only cards in this status.
    #[param(value_type = Option<sync_core::Status>)]
    status: Option<String>,
    /// Only cards in this scope (`district[/street[/community]]`), which
    /// must be within the caller's.
    scope: Option<String>,
    /// Only cards of this category.
    #[param(value_type = Option<sync_core::model::Category>)]
    category: Option<String>,
    /// Only cards of this urgency.
    #[param(value_type = Option<sync_core::model::Urgency>)]
    urgency: Option<String>,
    /// Only cards of this household (its id).
    #[param(format = Uuid)]
    household: Option<String>,
    /// Full-text search of the card's text (Chinese works).
    q: Option<String>,
    /// Created on or after: `YYYY-MM-DD` (UTC) or milliseconds since 1970.
    from: Option<String>,
    /// Created on or before: `YYYY-MM-DD` (UTC, the whole day) or milliseconds.
    to: Option<String>,
    /// `oldest` for oldest first; newest first otherwise.
    order: Option<String>,
    /// Page size (default 50, at most 500).
    limit: Option<u32>,
    /// Rows to skip.
    offset: Option<u32>,
}

fn parse<T: std::str::FromStr>(name: &str, value: &Option<String>) -> AppResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| AppError::BadRequest(format!("{name}: {e}")))
        })
        .transpose()
}

/// The latest instant a filter may name: the end of the year 9999, in ms.
const LATEST_MS: i64 = 253_402_300_799_999;

/// Which end of a day a date stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// The day's first instant (`from`).
    Start,
    /// The first instant after the day (`to`, which includes the day).
    End,
}

/// Milliseconds for `YYYY-MM-DD` (UTC) or a number of milliseconds from
/// 1970 to the end of 9999. A date stands for its start or, as the end of a
/// range, for the instant after it; milliseconds stand for themselves.
pub(crate) fn parse_time(name: &str, value: &str, bound: Bound) -> AppResult<i64> {
    let bad = || {
        AppError::BadRequest(format!(
            "{name} must be a date (YYYY-MM-DD) or milliseconds from 1970 to 9999, not {value:?}"
        ))
    };
    if let Ok(ms) = value.parse::<i64>() {
        return (0..=LATEST_MS).contains(&ms).then_some(ms).ok_or_else(bad);
    }
    let date: jiff::civil::Date = value.parse().map_err(|_| bad())?;
    // Days from 1970, whatever the date: no time zone is involved.
    let start = date
        .duration_since(jiff::civil::date(1970, 1, 1))
        .as_millis();
    let start = i64::try_from(start).map_err(|_| bad())?;
    let ms = match bound {
        Bound::Start => start,
        Bound::End => start + 86_400_000,
    };
    (0..=LATEST_MS + 1)
        .contains(&ms)
        .then_some(ms)
        .ok_or_else(bad)
}

impl ListParams {
    /// The store filter for this caller: always limited to their scopes.
    pub(crate) fn filter(&self, auth: &AuthUser) -> AppResult<WishFilter> {
        Ok(WishFilter {
            scopes: auth.user.scopes.clone(),
            scope: parse::<ScopePath>("scope", &self.scope)?,
            status: parse("status", &self.status)?,
            category: parse("category", &self.category)?,
            urgency: parse("urgency", &self.urgency)?,
            household: parse::<HouseholdId>("household", &self.household)?,
            q: self.q.clone(),
            created_from: self
                .from
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| parse_time("from", v, Bound::Start))
                .transpose()?,
            created_to: self
                .to
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| parse_time("to", v, Bound::End))
                .transpose()?,
            oldest_first: self.order.as_deref() == Some("oldest"),
            limit: self.limit,
            offset: self.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Bound, parse_time};

    #[test]
    fn dates_are_utc_days() {
        let parse = |v, bound| parse_time("from", v, bound).ok();
        assert_eq!(parse("1970-01-01", Bound::Start), Some(0));
        assert_eq!(parse("2026-11-21", Bound::Start), Some(1_795_219_200_000));
        assert_eq!(
            parse("2026-11-21", Bound::End),
            Some(1_795_219_200_000 + 86_400_000)
        );
        assert_eq!(parse("1795219200000", Bound::End), Some(1_795_219_200_000));
        assert_eq!(parse("9999-12-31", Bound::End), Some(253_402_300_800_000));
    }

    #[test]
    fn nonsense_and_huge_times_are_refused() {
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "yesterday",
            "9223372036854775807",
            "-9223372036854775808",
            "-1",
            "253402300800000",
            "99999-01-01",
        ] {
            assert!(
                parse_time("to", bad, Bound::End).is_err(),
                "{bad} is accepted"
            );
        }
        assert!(parse_time("from", "1969-12-31", Bound::Start).is_err());
    }
}
