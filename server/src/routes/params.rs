//! Query parameters shared by the list and export endpoints.

use serde::Deserialize;
use sync_core::store::WishFilter;
use sync_core::{HouseholdId, ScopePath};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};

/// Filters of `GET /v1/wishes` and `GET /v1/export/wishes.csv`.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct ListParams {
    status: Option<String>,
    scope: Option<String>,
    category: Option<String>,
    urgency: Option<String>,
    household: Option<String>,
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    order: Option<String>,
    limit: Option<u32>,
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

/// Milliseconds for `YYYY-MM-DD` (UTC midnight) or a number of milliseconds.
pub(crate) fn parse_time(name: &str, value: &str) -> AppResult<i64> {
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || {
        AppError::BadRequest(format!(
            "{name} must be YYYY-MM-DD or milliseconds, not {value:?}"
        ))
    };
    let mut parts = value.splitn(3, '-').map(|p| p.parse::<i64>());
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    // Days from the civil calendar (proleptic Gregorian) to the Unix epoch.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * 86_400_000)
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
                .map(|v| parse_time("from", v))
                .transpose()?,
            created_to: self
                .to
                .as_deref()
                .map(|v| parse_time("to", v).map(|t| t + 86_400_000))
                .transpose()?,
            oldest_first: self.order.as_deref() == Some("oldest"),
            limit: self.limit,
            offset: self.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn dates_are_utc_midnight() {
        assert_eq!(parse_time("from", "1970-01-01").ok(), Some(0));
        assert_eq!(
            parse_time("from", "2026-11-21").ok(),
            Some(1_795_219_200_000)
        );
        assert!(parse_time("from", "2026-13-01").is_err());
        assert!(parse_time("from", "yesterday").is_err());
    }
}
