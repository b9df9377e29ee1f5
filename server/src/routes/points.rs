//! Points (积分): leaderboards per community, street and unit, and the
//! ledger as CSV. What earns points is sync-core's (`PointsRules`, read
//! from the district's settings).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use serde::Serialize;
use sync_core::store::Leaderboards;

use super::names::{Names, names_in};
use super::openapi::{Authed, BadQuery, Binary};
use super::stats::{StatsParams, inert, scopes};
use crate::audit::{self, Peer};
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Leaderboards with the names to show them by.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Boards {
    #[serde(flatten)]
    boards: Leaderboards,
    names: Names,
}

/// `GET /v1/points/leaderboards?scope=`
#[utoipa::path(
    get,
    path = "/v1/points/leaderboards",
    operation_id = "points_leaderboards",
    tag = "stats",
    params(
        StatsParams,
    ),
    responses(
        (status = 200, description = "Points per volunteer and unit, per community and street, with names", body = Boards),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn leaderboards(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<StatsParams>,
) -> AppResult<Json<Boards>> {
    let scopes = scopes(&auth, params.scope.as_deref())?;
    let rules = state.settings.points.clone();
    let boards = state
        .db
        .run(move |store| {
            Ok(Boards {
                boards: store.leaderboards(&scopes, &rules)?,
                names: names_in(store, true)?,
            })
        })
        .await?;
    Ok(Json(boards))
}

/// `GET /v1/export/points.csv?scope=`: the ledger, one row per confirmed
/// wish, with names; UTF-8 with a byte-order mark for Excel.
#[utoipa::path(
    get,
    path = "/v1/export/points.csv",
    operation_id = "points_ledger_csv",
    tag = "stats",
    params(
        StatsParams,
    ),
    responses(
        (status = 200, description = "The points ledger as CSV (UTF-8 with a byte-order mark); supervisors and admins", body = Binary, content_type = "text/csv; charset=utf-8"),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn ledger_csv(
    State(state): State<AppState>,
    auth: AuthUser,
    Peer(peer): Peer,
    Query(params): Query<StatsParams>,
) -> AppResult<impl IntoResponse> {
    auth.require_supervisor()?;
    let scopes = scopes(&auth, params.scope.as_deref())?;
    let rules = state.settings.points.clone();
    let user = auth.user.username.clone();
    let body = state
        .db
        .run(move |store| {
            let names = names_in(store, true)?;
            let mut rows = 0;
            let mut out = Vec::from("\u{feff}".as_bytes());
            {
                let mut csv = csv::Writer::from_writer(&mut out);
                let fail = |e: csv::Error| AppError::Internal(e.to_string());
                csv.write_record([
                    "心愿编号 wish",
                    "社区 community",
                    "志愿者 volunteer",
                    "姓名 name",
                    "结对单位 unit",
                    "积分 points",
                    "评分 rating",
                    "确认时间 confirmed",
                ])
                .map_err(fail)?;
                for entry in store.points_ledger(&scopes, &rules)? {
                    let user = entry.user.as_ref().map(|u| u.as_str()).unwrap_or_default();
                    let unit = entry.unit.as_ref().map(|u| u.as_str()).unwrap_or_default();
                    csv.write_record([
                        entry.wish.to_string().as_str(),
                        &inert(names.place(entry.community.as_str())),
                        user,
                        &inert(if user.is_empty() {
                            ""
                        } else {
                            names.person(user)
                        }),
                        &inert(if unit.is_empty() {
                            ""
                        } else {
                            names.unit(unit)
                        }),
                        &entry.points.to_string(),
                        &entry.rating.map(|r| r.to_string()).unwrap_or_default(),
                        &entry
                            .confirmed_at
                            .map(crate::when::local)
                            .unwrap_or_default(),
                    ])
                    .map_err(fail)?;
                    rows += 1;
                }
                csv.flush().map_err(|e| AppError::Internal(e.to_string()))?;
            }
            audit::exported(store, user.as_str(), "points.csv", rows, &scopes, peer)?;
            Ok(out)
        })
        .await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"points.csv\""),
        ],
        body,
    ))
}
