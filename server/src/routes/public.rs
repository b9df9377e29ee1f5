//! The district's published counts, for anyone, without a login:
//! `GET /public/` (a page to read, print and share) and
//! `GET /public/counts.json` (the same figures), when the settings say
//! `public_page = true`. Otherwise none of these routes exists, and their
//! addresses answer the relay's plain 404 like any unknown one.
//!
//! Only aggregates leave here: each scope's path, its counts, satisfaction
//! and median days, copied field by field into [`Figures`]. A field later
//! added to sync-core's `ScopeStats` stays out until someone adds it to
//! [`Figures`] on purpose.

mod page;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_TYPE, HOST, VARY};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use sync_core::store::{ScopeStats, StatsReport};

use crate::config::Settings;
use crate::dashboard::{Lang, negotiate};
use crate::error::AppResult;
use crate::state::{AppState, now_ms};

/// Public answers may be kept by browsers and proxies for a minute: the
/// figures move slowly, and a shared link opened by many costs one count.
const CACHE: &str = "public, max-age=60";

const PAGE_CSS: &str = include_str!("public/page.css");
const PAGE_JS: &str = include_str!("public/page.js");

/// The public routes, or none when the district has not opted in.
pub(super) fn routes(settings: &Settings) -> Router<AppState> {
    if !settings.public_page {
        return Router::new();
    }
    Router::new()
        .route("/public", get(to_page))
        .route("/public/", get(html))
        .route("/public/counts.json", get(json))
        .route("/public/page.css", get(css))
        .route("/public/page.js", get(js))
}

/// One scope's published figures: exactly these fields, nothing else.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Figures {
    /// The scope path (`district/street/community`).
    scope: String,
    /// What people read for the scope (see [`label`]).
    label: String,
    /// Cards submitted for review at least once.
    collected: u64,
    /// Cards a supervisor reviewed.
    reviewed: u64,
    /// Cards lit up (fulfilled), confirmed or not.
    fulfilled: u64,
    /// Cards the resident confirmed.
    confirmed: u64,
    /// Average rating of confirmed cards (1–5).
    satisfaction: Option<f64>,
    /// Median days from submission to fulfilment.
    median_days_to_fulfil: Option<f64>,
}

/// The name a scope is shown by: its display name (西坑社区), or its path.
fn label(s: &ScopeStats) -> String {
    s.name.clone().unwrap_or_else(|| s.scope.clone())
}

impl From<&ScopeStats> for Figures {
    fn from(s: &ScopeStats) -> Self {
        Self {
            scope: s.scope.clone(),
            label: label(s),
            collected: s.collected,
            reviewed: s.reviewed,
            fulfilled: s.fulfilled,
            confirmed: s.confirmed,
            satisfaction: s.satisfaction,
            median_days_to_fulfil: s.median_days_to_fulfil,
        }
    }
}

/// Everything the public page shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Counts {
    /// The district (or districts, comma-separated) the relay holds cards of.
    district: String,
    /// When the figures were counted, in milliseconds since the epoch.
    generated_at: i64,
    /// The same, in the relay machine's time zone (`2026-12-01 10:04`).
    as_of: String,
    /// All cards together.
    total: Figures,
    /// One entry per street.
    streets: Vec<Figures>,
    /// One entry per community.
    communities: Vec<Figures>,
}

/// The top-level scopes the cards are in: the first segment of each
/// community's path, in order, once each.
fn districts(report: &StatsReport) -> Vec<String> {
    let mut out: Vec<String> = report
        .communities
        .iter()
        .filter_map(|c| c.scope.split('/').next())
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The published figures of a report over every card.
fn counts(report: &StatsReport, now: i64) -> Counts {
    let district = districts(report).join(",");
    // Counted over no scope in particular: the total is named after the
    // districts its cards are in.
    let mut total = report.total.clone();
    total.scope = district.clone();
    Counts {
        district,
        generated_at: now,
        as_of: crate::when::local(now),
        total: Figures::from(&total),
        streets: report.streets.iter().map(Figures::from).collect(),
        communities: report.communities.iter().map(Figures::from).collect(),
    }
}

/// Counts every card the relay holds (all scopes).
async fn load(state: &AppState) -> AppResult<Counts> {
    let (report, places) = state
        .db
        .run(|store| Ok((store.stats(&[])?, store.place_names()?)))
        .await?;
    let mut counts = counts(&report, now_ms());
    // The total is the district's (or the districts', comma-separated).
    let named: Vec<&str> = counts
        .district
        .split(',')
        .map(|d| places.get(d).map_or(d, String::as_str))
        .collect();
    counts.total.label = named.join("、");
    Ok(counts)
}

fn cached(mut response: Response, content_type: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE));
    response
}

/// `GET /public/counts.json`
async fn json(State(state): State<AppState>) -> AppResult<Response> {
    let counts = load(&state).await?;
    Ok(cached(
        axum::Json(counts).into_response(),
        "application/json",
    ))
}

/// The page's query: only the language.
#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    lang: Option<String>,
}

/// The page's language: `?lang=`, then the dashboard's language cookie,
/// then `Accept-Language`; Chinese when the browser says nothing.
fn language(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    if headers.contains_key(ACCEPT_LANGUAGE) {
        return negotiate(headers, asked).0;
    }
    let mut headers = headers.clone();
    headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("zh"));
    negotiate(&headers, asked).0
}

/// The address to share: this relay's, as the browser reached it, when the
/// `Host` header looks like a host name; otherwise the path alone (the
/// page's script puts the browser's own address there).
fn share_url(headers: &HeaderMap, lang: Lang) -> String {
    let path = match lang {
        Lang::Zh => "/public/",
        Lang::En => "/public/?lang=en",
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).filter(|h| {
        !h.is_empty()
            && h.len() <= 255
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    });
    match host {
        Some(host) => {
            let scheme = if crate::session::is_https(headers) {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}{path}")
        }
        None => path.to_owned(),
    }
}

/// `GET /public/`
async fn html(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> AppResult<Response> {
    let lang = language(&headers, query.lang.as_deref());
    let counts = load(&state).await?;
    let body = page::render(&counts, lang, &share_url(&headers, lang));
    let mut response = cached(body.into_response(), "text/html; charset=utf-8");
    // The language comes from these headers too.
    response.headers_mut().insert(
        VARY,
        HeaderValue::from_static("accept-language, cookie, host, x-forwarded-proto"),
    );
    Ok(response)
}

/// `GET /public`: the page is at `/public/`.
async fn to_page(uri: Uri) -> Redirect {
    match uri.query() {
        Some(q) => Redirect::permanent(&format!("/public/?{q}")),
        None => Redirect::permanent("/public/"),
    }
}

/// `GET /public/page.css`: the page's own rules, over the dashboard's
/// stylesheet.
async fn css() -> Response {
    cached(PAGE_CSS.into_response(), "text/css; charset=utf-8")
}

/// `GET /public/page.js`: the copy-link and print buttons.
async fn js() -> Response {
    cached(PAGE_JS.into_response(), "text/javascript; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(scope: &str, collected: u64) -> ScopeStats {
        let mut s = ScopeStats::default();
        s.scope = scope.into();
        s.collected = collected;
        (s.reviewed, s.approved, s.claimed, s.fulfilled, s.confirmed) = (2, 2, 1, 1, 1);
        s.satisfaction = Some(4.5);
        s.median_days_to_fulfil = Some(3.0);
        // Not published: cards per status (drafts and refusals included).
        s.by_status.insert("draft".to_owned(), 7);
        s
    }

    #[test]
    fn only_the_allowed_fields_are_published() {
        let report = StatsReport {
            total: stats("", 5),
            streets: vec![stats("longgang/yuanshan", 5)],
            communities: vec![
                stats("longgang/yuanshan/xikeng", 3),
                stats("longgang/yuanshan/hehua", 2),
            ],
        };
        let value = serde_json::to_value(counts(&report, 0)).unwrap_or_default();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(
            keys(&value),
            [
                "as_of",
                "communities",
                "district",
                "generated_at",
                "streets",
                "total"
            ]
        );
        let allowed = [
            "collected",
            "confirmed",
            "fulfilled",
            "label",
            "median_days_to_fulfil",
            "reviewed",
            "satisfaction",
            "scope",
        ];
        assert_eq!(keys(&value["total"]), allowed);
        assert_eq!(keys(&value["communities"][1]), allowed);
        assert_eq!(value["district"], "longgang");
        assert_eq!(value["total"]["scope"], "longgang");
        assert_eq!(value["communities"][0]["collected"], 3);
    }

    #[test]
    fn the_total_is_named_after_every_district_once() {
        let report = StatsReport {
            communities: vec![
                stats("longgang/a/x", 1),
                stats("futian/b/y", 1),
                stats("longgang/a/z", 1),
            ],
            ..StatsReport::default()
        };
        assert_eq!(districts(&report), ["futian", "longgang"]);
        assert_eq!(counts(&StatsReport::default(), 0).district, "");
    }

    #[test]
    fn chinese_unless_the_browser_or_the_link_asks_for_english() {
        let mut headers = HeaderMap::new();
        assert_eq!(language(&headers, None), Lang::Zh);
        assert_eq!(language(&headers, Some("en")), Lang::En);
        headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("en-GB,en"));
        assert_eq!(language(&headers, None), Lang::En);
        assert_eq!(language(&headers, Some("zh")), Lang::Zh);
    }

    #[test]
    fn the_page_loads_nothing_from_outside() {
        let html = page::render(&counts(&StatsReport::default(), 0), Lang::Zh, "/public/");
        for (name, body) in [("css", PAGE_CSS), ("js", PAGE_JS), ("html", &html)] {
            for needle in [
                "http://", "https://", "@import", "url(", "style=", "<script>",
            ] {
                assert!(!body.contains(needle), "{name} contains {needle}");
            }
        }
    }

    #[test]
    fn the_shared_link_is_this_page_on_this_host() {
        let mut headers = HeaderMap::new();
        assert_eq!(share_url(&headers, Lang::Zh), "/public/");
        headers.insert(HOST, HeaderValue::from_static("relay.example:8080"));
        assert_eq!(
            share_url(&headers, Lang::En),
            "http://relay.example:8080/public/?lang=en"
        );
        headers.insert(HOST, HeaderValue::from_static("evil\"><script>"));
        assert_eq!(share_url(&headers, Lang::Zh), "/public/");
    }
}
