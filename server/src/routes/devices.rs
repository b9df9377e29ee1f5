//! Devices and held work, for supervisors: which phones have work they have
//! not synced (and since when), whose clock is wrong, and the records a
//! lost phone's changes are held in, to accept or discard.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use sync_core::ScopePath;
use sync_core::store::CLOCK_BOUND_MS;
use sync_core::sync::{Decision, Held};

use super::openapi::{Authed, BadQuery};
use crate::accounts::Device;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::state::{AppState, now_ms};

/// A device as the devices page shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct DeviceItem {
    #[serde(flatten)]
    device: Device,
    /// Unsynced work not heard of for days: someone should find the phone.
    stranded: bool,
    /// Its clock is off by more than five minutes.
    clock_wrong: bool,
}

/// Whether two scopes overlap (one holds the other).
fn overlap(a: &ScopePath, b: &ScopePath) -> bool {
    a.contains(b) || b.contains(a)
}

/// `GET /v1/devices`: the devices of the users who work in the caller's
/// scopes, newest first.
#[utoipa::path(
    get,
    path = "/v1/devices",
    operation_id = "devices_list",
    tag = "devices",
    responses(
        (status = 200, description = "Devices of the users in the caller's scopes; supervisors and admins", body = Vec<DeviceItem>),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
) -> AppResult<Json<Vec<DeviceItem>>> {
    auth.require_supervisor()?;
    let devices = state
        .db
        .run(move |store| {
            let users = store.list_users()?;
            let visible: std::collections::HashSet<String> = users
                .into_iter()
                .filter(|u| {
                    u.scopes
                        .iter()
                        .any(|s| auth.user.scopes.iter().any(|mine| overlap(s, mine)))
                })
                .map(|u| u.username.to_string())
                .collect();
            Ok(store
                .list_devices()?
                .into_iter()
                .filter(|d| visible.contains(&d.username))
                .collect::<Vec<_>>())
        })
        .await?;
    let now = now_ms();
    Ok(Json(
        devices
            .into_iter()
            .map(|device| DeviceItem {
                stranded: device.stranded(now),
                clock_wrong: device
                    .clock_offset_ms
                    .is_some_and(|o| o.abs() > CLOCK_BOUND_MS),
                device,
            })
            .collect(),
    ))
}

/// Held-work listing options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct HeldParams {
    /// Also list held work already decided.
    #[serde(default)]
    decided: bool,
}

/// `GET /v1/quarantine`: records held because they carry a lost device's
/// changes, in the caller's scopes.
#[utoipa::path(
    get,
    path = "/v1/quarantine",
    operation_id = "devices_held",
    tag = "devices",
    params(
        HeldParams,
    ),
    responses(
        (status = 200, description = "Records held because they carry a lost device's changes; supervisors and admins", body = Vec<Held>),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn held(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<HeldParams>,
) -> AppResult<Json<Vec<Held>>> {
    auth.require_supervisor()?;
    let scopes = auth.user.scopes.clone();
    Ok(Json(
        state
            .db
            .run(move |store| store.held(&scopes, params.decided))
            .await?,
    ))
}

/// What became of held work.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Decided {
    id: i64,
    decision: Decision,
}

/// `POST /v1/quarantine/{id}/accept`
#[utoipa::path(
    post,
    path = "/v1/quarantine/{id}/accept",
    operation_id = "devices_accept",
    tag = "devices",
    params(
        ("id" = i64, Path, description = "The held update's id"),
    ),
    responses(
        (status = 200, description = "The decision taken", body = Decided),
        (status = 400, description = "The id is not a number, or the held changes cannot be applied (`bad_request`)", body = ErrorBody),
        (status = 404, description = "No such held work in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "It was decided already (`conflict`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn accept(
    state: State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Decided>> {
    decide(state, auth, id, Decision::Accepted).await
}

/// `POST /v1/quarantine/{id}/discard`
#[utoipa::path(
    post,
    path = "/v1/quarantine/{id}/discard",
    operation_id = "devices_discard",
    tag = "devices",
    params(
        ("id" = i64, Path, description = "The held update's id"),
    ),
    responses(
        (status = 200, description = "The decision taken", body = Decided),
        (status = 400, description = "The id is not a number, or the held changes cannot be applied (`bad_request`)", body = ErrorBody),
        (status = 404, description = "No such held work in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "It was decided already (`conflict`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn discard(
    state: State<AppState>,
    auth: AuthUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Decided>> {
    decide(state, auth, id, Decision::Discarded).await
}

async fn decide(
    State(state): State<AppState>,
    auth: AuthUser,
    id: i64,
    decision: Decision,
) -> AppResult<Json<Decided>> {
    auth.require_supervisor()?;
    let secret = state.keys.device_secret();
    state
        .db
        .run(move |store| {
            let mine = store
                .held(&auth.user.scopes, true)?
                .into_iter()
                .find(|h| h.id == id)
                .ok_or_else(|| AppError::NotFound(format!("no held work {id}")))?;
            if mine.decision.is_some() {
                return Err(AppError::Conflict(format!(
                    "held work {id} was decided already"
                )));
            }
            store
                .decide_held(id, decision, &auth.user.username, secret, now_ms())?
                .map_err(|refusal| {
                    AppError::BadRequest(format!(
                        "it cannot be applied ({}): {}",
                        refusal.code.as_str(),
                        refusal.reason
                    ))
                })
        })
        .await?;
    if decision == Decision::Accepted {
        state.live.notify();
    }
    tracing::info!(id, ?decision, "held work decided");
    Ok(Json(Decided { id, decision }))
}
