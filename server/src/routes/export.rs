//! CSV exports for people, in their language: the wish cards
//! (`/v1/export/wishes.csv`) and the statistics page's figures
//! (`/v1/export/stats.csv`). UTF-8 with a byte-order mark, so that Excel
//! shows Chinese text; every cell people wrote is made inert (see
//! [`inert`]). Labels come from the dashboard's one table
//! (`dashboard::labels`); times are local date-times in ISO form, in the
//! zone the headers name.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use serde::Deserialize;
use sync_core::store::{ScopeStats, WishFilter, WishRow};
use sync_core::{EventKind, Status};

use super::names::{Names, names_in};
use super::openapi::{Authed, BadQuery, Binary};
use super::params::ListParams;
use super::stats::{StatsParams, inert, scopes};
use crate::audit::{self, Peer};
use crate::auth::AuthUser;
use crate::dashboard::Lang;
use crate::dashboard::labels::label;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Most rows one export carries.
pub(super) const EXPORT_MAX_ROWS: u32 = 100_000;

/// How an export is written for its reader.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct FileParams {
    /// `zh` or `en`; otherwise the request's `Accept-Language`, else Chinese.
    lang: Option<String>,
    /// Minutes to add to UTC for the reader's clock (480 in China); without
    /// it, the relay machine's time zone.
    tz_offset: Option<i64>,
    /// Whether drafts are exported too (they are not, unless asked for).
    #[serde(default)]
    drafts: bool,
}

/// The zone times are written in, and its name for the headers.
struct Zone {
    tz: TimeZone,
    name: String,
}

impl Zone {
    fn of(tz_offset: Option<i64>) -> Zone {
        match tz_offset {
            Some(minutes) => {
                let minutes = minutes.clamp(-14 * 60, 14 * 60);
                let offset = i32::try_from(minutes * 60)
                    .ok()
                    .and_then(|s| Offset::from_seconds(s).ok())
                    .unwrap_or(Offset::UTC);
                Zone {
                    tz: TimeZone::fixed(offset),
                    name: utc_name(offset),
                }
            }
            None => {
                let tz = TimeZone::system();
                let name = tz
                    .iana_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| utc_name(tz.to_offset(Timestamp::now())));
                Zone { tz, name }
            }
        }
    }

    /// `2026-12-01 14:30`, or nothing.
    fn time(&self, ms: Option<i64>) -> String {
        ms.and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .map(|at| {
                at.to_zoned_datetime(self.tz.clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    }
}

/// `UTC+08:00`, `UTC-05:30`.
fn utc_name(offset: Offset) -> String {
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let mins = secs.unsigned_abs() / 60;
    format!("UTC{sign}{:02}:{:02}", mins / 60, mins % 60)
}

/// A column's header in both languages; `timed` ones name the zone.
struct Column {
    zh: &'static str,
    en: &'static str,
    timed: bool,
}

const fn col(zh: &'static str, en: &'static str) -> Column {
    Column {
        zh,
        en,
        timed: false,
    }
}

const fn at(zh: &'static str, en: &'static str) -> Column {
    Column {
        zh,
        en,
        timed: true,
    }
}

/// The wish export's columns, in the order [`wish_row`] fills them.
const WISH_COLUMNS: &[Column] = &[
    col("编号", "ID"),
    col("社区", "Community"),
    col("住户地址", "Household address"),
    col("心愿内容", "Wish"),
    col("类别", "Category"),
    col("紧急程度", "Urgency"),
    col("状态", "Status"),
    col("登记人", "Recorded by"),
    col("认领人/单位", "Claimant"),
    at("创建时间", "Created"),
    at("提交时间", "Submitted"),
    at("审核时间", "Reviewed"),
    at("点亮时间", "Lit up"),
    at("确认时间", "Confirmed"),
    col("退回补充的理由", "Sent back because"),
    col("不通过的理由", "Rejected because"),
    col("撤回的理由", "Withdrawn because"),
    col("取消的理由", "Cancelled because"),
    col("点亮情况说明", "Fulfilment note"),
    col("居民评分", "Resident's rating"),
    col("居民反馈", "Resident's comment"),
    col("待处理冲突", "Open conflicts"),
];

fn header(columns: &[Column], lang: Lang, zone: &str) -> Vec<String> {
    columns
        .iter()
        .map(|c| {
            let text = if lang == Lang::Zh { c.zh } else { c.en };
            if c.timed {
                format!("{text} ({zone})")
            } else {
                text.to_owned()
            }
        })
        .collect()
}

/// One card's cells.
fn wish_row(
    w: &WishRow,
    extras: Option<&sync_core::store::WishExtras>,
    names: &Names,
    lang: Lang,
    zone: &Zone,
) -> Vec<String> {
    let note = |kind| inert(extras.map_or("", |x| x.note(kind))).into_owned();
    let time = |ms| zone.time(ms);
    vec![
        w.id.clone(),
        inert(names.place(&w.community)).into_owned(),
        inert(
            extras
                .and_then(|x| x.address.as_deref())
                .unwrap_or_default(),
        )
        .into_owned(),
        inert(&w.text).into_owned(),
        label(lang, "category", &w.category).to_owned(),
        label(lang, "urgency", &w.urgency).to_owned(),
        label(lang, "status", &w.status).to_owned(),
        inert(names.person(&w.created_by)).into_owned(),
        inert(&claimant_name(names, w, lang)).into_owned(),
        time(Some(w.created_at)),
        time(w.submitted_at),
        time(w.reviewed_at),
        time(w.fulfilled_at),
        time(w.confirmed_at),
        note(EventKind::RequestInfo),
        note(EventKind::Reject),
        note(EventKind::Withdraw),
        note(EventKind::Cancel),
        note(EventKind::Fulfil),
        w.rating.map(|r| r.to_string()).unwrap_or_default(),
        note(EventKind::Confirm),
        w.open_conflicts.to_string(),
    ]
}

/// The holder as people know them: the volunteer's name, with their unit;
/// the unit's name; or the free-text name, marked as unregistered.
fn claimant_name(names: &Names, w: &WishRow, lang: Lang) -> String {
    match (&w.holder_user, &w.holder_unit, &w.claimant) {
        (Some(user), Some(unit), _) => match lang {
            Lang::Zh => format!("{}（{}）", names.person(user), names.unit(unit)),
            Lang::En => format!("{} ({})", names.person(user), names.unit(unit)),
        },
        (Some(user), None, _) => names.person(user).to_owned(),
        (None, Some(unit), _) => names.unit(unit).to_owned(),
        (None, None, Some(name)) => format!("{name} {}", label(lang, "claimant", "free")),
        (None, None, None) => String::new(),
    }
}

fn csv_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// The response of a CSV file named `name`.
fn attachment(name: &'static str, body: Vec<u8>) -> impl IntoResponse {
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
}

/// `GET /v1/export/wishes.csv?scope=…&lang=&tz_offset=&drafts=` (and the
/// list filters): one row per card, drafts left out unless asked for.
#[utoipa::path(
    get,
    path = "/v1/export/wishes.csv",
    operation_id = "export_wishes",
    tag = "stats",
    params(ListParams, FileParams),
    responses(
        (status = 200, description = "The cards as CSV in the reader's language (UTF-8 with a byte-order mark, for Excel)", body = Binary, content_type = "text/csv; charset=utf-8"),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn wishes(
    State(state): State<AppState>,
    auth: AuthUser,
    Peer(peer): Peer,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
    Query(file): Query<FileParams>,
) -> AppResult<impl IntoResponse> {
    auth.require_records(sync_core::RecordKind::Wish)?;
    let mut filter: WishFilter = params.filter(&auth)?;
    if let Some(scope) = &filter.scope
        && !auth.may_see(scope)
    {
        return Err(AppError::refused(
            crate::error::Reason::OutOfScope,
            format!("{scope} is outside your scopes"),
        ));
    }
    let lang = crate::dashboard::for_file(&headers, file.lang.as_deref());
    let zone = Zone::of(file.tz_offset);
    let drafts = file.drafts || filter.status == Some(Status::Draft);
    let user = auth.user.username.clone();
    let exported_scopes = filter.scopes.clone();
    let body = state
        .db
        .run(move |store| {
            let mut rows = 0;
            let mut out = Vec::from("\u{feff}".as_bytes());
            {
                let mut csv = csv::Writer::from_writer(&mut out);
                csv.write_record(header(WISH_COLUMNS, lang, &zone.name))
                    .map_err(csv_error)?;
                let names = names_in(store, true)?;
                filter.limit = Some(500);
                let mut offset = 0u32;
                loop {
                    filter.offset = Some(offset);
                    let page = store.list_wishes(&filter)?;
                    let ids: Vec<String> = page.items.iter().map(|w| w.id.clone()).collect();
                    let extras = store.wish_extras(&ids)?;
                    for w in &page.items {
                        if !drafts && w.status == Status::Draft.as_str() {
                            continue;
                        }
                        csv.write_record(wish_row(w, extras.get(&w.id), &names, lang, &zone))
                            .map_err(csv_error)?;
                        rows += 1;
                    }
                    offset += page.items.len() as u32;
                    if page.items.len() < 500 || offset >= EXPORT_MAX_ROWS {
                        break;
                    }
                }
                csv.flush().map_err(csv_error)?;
            }
            audit::exported(
                store,
                user.as_str(),
                "wishes.csv",
                rows,
                &exported_scopes,
                peer,
            )?;
            Ok(out)
        })
        .await?;
    Ok(attachment("wishes.csv", body))
}

/// The statistics export's columns, after the level and the place.
const STATS_COLUMNS: &[Column] = &[
    col("级别", "Level"),
    col("范围", "Scope"),
    col("收集", "Collected"),
    col("已审核", "Reviewed"),
    col("已通过", "Approved"),
    col("已认领", "Claimed"),
    col("已点亮", "Lit up"),
    col("居民确认", "Confirmed"),
    col("满意度（满分 5 分）", "Satisfaction (out of 5)"),
    col("点亮用时中位数（天）", "Median days to light up"),
];

/// One scope's figures, as the statistics page shows them.
fn stats_row(level: (&str, &str), s: &ScopeStats, place: &str, lang: Lang) -> Vec<String> {
    let one = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    vec![
        if lang == Lang::Zh { level.0 } else { level.1 }.to_owned(),
        inert(place).into_owned(),
        s.collected.to_string(),
        s.reviewed.to_string(),
        s.approved.to_string(),
        s.claimed.to_string(),
        s.fulfilled.to_string(),
        s.confirmed.to_string(),
        one(s.satisfaction),
        one(s.median_days_to_fulfil),
    ]
}

/// Options of the statistics export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct StatsFileParams {
    /// `zh` or `en`; otherwise the request's `Accept-Language`, else Chinese.
    lang: Option<String>,
}

/// `GET /v1/export/stats.csv?scope=&lang=`: the figures of the statistics
/// page (the scope's total, then each street and community) as a table.
#[utoipa::path(
    get,
    path = "/v1/export/stats.csv",
    operation_id = "export_stats",
    tag = "stats",
    params(StatsParams, StatsFileParams),
    responses(
        (status = 200, description = "The statistics page's figures as CSV in the reader's language", body = Binary, content_type = "text/csv; charset=utf-8"),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn stats(
    State(state): State<AppState>,
    auth: AuthUser,
    Peer(peer): Peer,
    headers: HeaderMap,
    Query(params): Query<StatsParams>,
    Query(file): Query<StatsFileParams>,
) -> AppResult<impl IntoResponse> {
    let scopes = scopes(&auth, params.scope.as_deref())?;
    let lang = crate::dashboard::for_file(&headers, file.lang.as_deref());
    let asked = params.scope.filter(|s| !s.is_empty());
    let user = auth.user.username.clone();
    let body = state
        .db
        .run(move |store| {
            let report = store.stats(&scopes)?;
            let figures = 1 + report.streets.len() + report.communities.len();
            audit::exported(store, user.as_str(), "stats.csv", figures, &scopes, peer)?;
            let names = names_in(store, false)?;
            let mut out = Vec::from("\u{feff}".as_bytes());
            {
                let mut csv = csv::Writer::from_writer(&mut out);
                csv.write_record(header(STATS_COLUMNS, lang, ""))
                    .map_err(csv_error)?;
                let total = match (&asked, lang) {
                    (Some(scope), _) => names.place(scope),
                    (None, Lang::Zh) => "我的全部范围",
                    (None, Lang::En) => "All my scopes",
                };
                let rows = std::iter::once((("合计", "Total"), &report.total, total))
                    .chain(
                        report
                            .streets
                            .iter()
                            .map(|s| (("街道", "Street"), s, names.place(&s.scope))),
                    )
                    .chain(
                        report
                            .communities
                            .iter()
                            .map(|s| (("社区", "Community"), s, names.place(&s.scope))),
                    );
                for (level, figures, place) in rows {
                    csv.write_record(stats_row(level, figures, place, lang))
                        .map_err(csv_error)?;
                }
                csv.flush().map_err(csv_error)?;
            }
            Ok(out)
        })
        .await?;
    Ok(attachment("stats.csv", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_named_by_their_offset_and_times_written_in_them() {
        let china = Zone::of(Some(480));
        assert_eq!(china.name, "UTC+08:00");
        // 2026-12-01 06:30 UTC is half past two in the afternoon in China.
        assert_eq!(china.time(Some(1_796_106_600_000)), "2026-12-01 14:30");
        assert_eq!(china.time(None), "");
        assert_eq!(Zone::of(Some(-330)).name, "UTC-05:30");
        assert_eq!(Zone::of(Some(0)).time(Some(0)), "1970-01-01 00:00");
        assert_eq!(Zone::of(Some(99_999)).name, "UTC+14:00", "clamped");
    }

    #[test]
    fn headers_are_in_the_language_and_name_the_zone_of_times() {
        let zh = header(WISH_COLUMNS, Lang::Zh, "UTC+08:00");
        assert_eq!(zh.len(), WISH_COLUMNS.len());
        assert!(zh.contains(&"创建时间 (UTC+08:00)".to_owned()), "{zh:?}");
        assert!(zh.contains(&"住户地址".to_owned()));
        let en = header(WISH_COLUMNS, Lang::En, "UTC");
        assert!(en.contains(&"Rejected because".to_owned()), "{en:?}");
    }
}
