//! Households and their visits.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use sync_core::model::Household;
use sync_core::store::{HouseholdRow, Page, VisitRow, WishFilter, WishRow};
use sync_core::{HouseholdId, Record, RecordKind};

use super::openapi::{Authed, BadQuery};
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::state::AppState;

/// Household listing options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct HouseholdParams {
    /// Search of address, name and phone.
    q: Option<String>,
    /// Only households of this scope, which must be within the caller's.
    scope: Option<String>,
    /// Page size (default 50).
    limit: Option<u32>,
    /// Rows to skip.
    offset: Option<u32>,
}

/// `GET /v1/households`
#[utoipa::path(
    get,
    path = "/v1/households",
    operation_id = "households_list",
    tag = "households",
    params(
        HouseholdParams,
    ),
    responses(
        (status = 200, description = "A page of households in the caller's scopes", body = Page<HouseholdRow>),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct HouseholdDetail {
    #[serde(flatten)]
    household: Household,
    visits: Vec<VisitRow>,
    wishes: Vec<WishRow>,
}

/// `GET /v1/households/{id}`
#[utoipa::path(
    get,
    path = "/v1/households/{id}",
    operation_id = "households_get",
    tag = "households",
    params(
        ("id" = String, Path, format = Uuid, description = "The household's id"),
    ),
    responses(
        (status = 200, description = "The household, its visits and its wishes", body = HouseholdDetail),
        (status = 404, description = "No such household in the caller's scopes (`not_found`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct VisitParams {
    /// The household's id.
    #[param(format = Uuid)]
    household: String,
}

/// `GET /v1/visits?household=`
#[utoipa::path(
    get,
    path = "/v1/visits",
    operation_id = "households_visits",
    tag = "households",
    params(
        VisitParams,
    ),
    responses(
        (status = 200, description = "The household's visits", body = Vec<VisitRow>),
        (status = 404, description = "No such household in the caller's scopes (`not_found`)", body = ErrorBody),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
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
