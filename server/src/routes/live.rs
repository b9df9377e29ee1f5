//! `GET /v1/changes?since=N&wait=S`: "did anything in my scopes change since
//! feed position N?", answered at once if so, or held up to S seconds until
//! something does (a long poll). The dashboard uses it to show new syncs
//! without a reload; it works through any proxy and holds no connection open
//! for longer than a normal request.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::openapi::{Authed, BadQuery};
use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::Changes;

/// The longest a poll is held, in seconds.
const MAX_WAIT_SECS: u64 = 25;

/// Poll options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ChangesParams {
    /// The feed position the caller has seen; without it, the answer is
    /// the position now.
    since: Option<i64>,
    /// Seconds to hold the answer while nothing changed (at most 25).
    #[serde(default)]
    wait: u64,
}

/// `GET /v1/changes`
#[utoipa::path(
    get,
    path = "/v1/changes",
    operation_id = "live_poll",
    tag = "live",
    params(
        ChangesParams,
    ),
    responses(
        (status = 200, description = "The feed's position, and how many records in the caller's scopes changed after `since`", body = Changes),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn poll(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ChangesParams>,
) -> AppResult<Json<Changes>> {
    auth.require_records(sync_core::RecordKind::Wish)?;
    // Subscribe before looking, so a write between the look and the wait wakes us.
    let mut wake = state.live.subscribe();
    let limit = MAX_WAIT_SECS.min(state.settings.request_timeout_secs.saturating_sub(5));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(params.wait.min(limit));
    let since = params.since.unwrap_or(i64::MAX);
    loop {
        let scopes = auth.user.scopes.clone();
        let found = state
            .db
            .run(move |store| store.changes(&scopes, since))
            .await?;
        let since_now = params.since.is_none() || found.changed > 0;
        if since_now || state.live.is_closed() {
            return Ok(Json(found));
        }
        // Another process writing the same file does not wake us: look again
        // every few seconds anyway.
        let tick = tokio::time::Instant::now() + Duration::from_secs(5);
        tokio::select! {
            _ = wake.changed() => {}
            () = tokio::time::sleep_until(tick.min(deadline)) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            let scopes = auth.user.scopes.clone();
            return Ok(Json(
                state
                    .db
                    .run(move |store| store.changes(&scopes, since))
                    .await?,
            ));
        }
    }
}
