//! Households and their visits.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use sync_core::model::Household;
use sync_core::store::{HouseholdRow, Page, VisitRow, WishFilter, WishRow};
use sync_core::{HouseholdId, Record, RecordKind};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Household listing options.
#[derive(Debug, Deserialize)]
pub(super) struct HouseholdParams {
    q: Option<String>,
    scope: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

/// `GET /v1/households`
pub(super) async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<HouseholdParams>,
) -> AppResult<Json<Page<HouseholdRow>>> {
    auth.require_records(RecordKind::Household)?;
    let scopes = match params.scope.as_deref().filter(|s| !s.is_empty()) {
        Some(scope) => {
            let scope = sync_core::ScopePath::new(scope)
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            if !auth.may_see(&scope) {
                return Err(AppError::refused(
                    crate::error::Reason::OutOfScope,
                    format!("{scope} is outside your scopes"),
                ));
            }
            vec![scope]
        }
        None => auth.user.scopes.clone(),
    };
    let page = state
        .db
        .run(move |store| {
            store.households(
                &scopes,
                params.q.as_deref(),
                params.limit.unwrap_or(50),
                params.offset.unwrap_or(0),
            )
        })
        .await?;
    Ok(Json(page))
}

/// A household with its visits and wishes.
#[derive(Debug, Serialize)]
pub(super) struct HouseholdDetail {
    #[serde(flatten)]
    household: Household,
    visits: Vec<VisitRow>,
    wishes: Vec<WishRow>,
}

/// `GET /v1/households/{id}`
pub(super) async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<HouseholdDetail>> {
    auth.require_records(RecordKind::Household)?;
    let missing = || AppError::NotFound(format!("no household {id}"));
    let hid: HouseholdId = id.parse().map_err(|_| missing())?;
    let detail = state
        .db
        .run(move |store| {
            let household = match store.record(hid.record())? {
                Some(Record::Household(h)) if auth.may_see(h.meta.community.as_scope()) => h,
                _ => return Err(AppError::NotFound(format!("no household {hid}"))),
            };
            let visits = store.visits(hid)?;
            let wishes = store
                .list_wishes(&WishFilter {
                    household: Some(hid),
                    limit: Some(500),
                    ..WishFilter::default()
                })?
                .items;
            Ok(HouseholdDetail {
                household,
                visits,
                wishes,
            })
        })
        .await?;
    Ok(Json(detail))
}

/// Visit listing options.
#[derive(Debug, Deserialize)]
pub(super) struct VisitParams {
    household: String,
}

/// `GET /v1/visits?household=`
pub(super) async fn visits(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<VisitParams>,
) -> AppResult<Json<Vec<VisitRow>>> {
    auth.require_records(RecordKind::Visit)?;
    let hid: HouseholdId = params
        .household
        .parse()
        .map_err(|_| AppError::BadRequest("household must be a household id".into()))?;
    let visits = state
        .db
        .run(move |store| {
            match store.record(hid.record())? {
                Some(Record::Household(h)) if auth.may_see(h.meta.community.as_scope()) => {}
                _ => return Err(AppError::NotFound(format!("no household {hid}"))),
            }
            store.visits(hid)
        })
        .await?;
    Ok(Json(visits))
}
