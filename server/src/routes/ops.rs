//! `GET /healthz` and `GET /metrics`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult, StorageFault};
use crate::state::AppState;

/// Less room than this left for the database is a full store.
const LOW_HEADROOM_BYTES: u64 = 4 << 20;

/// A healthy relay.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Health {
    /// `ok`.
    status: &'static str,
    /// Records held.
    records: i64,
    /// Bytes left for the database (the smaller of the disk's and the size
    /// limit's), when known.
    free_bytes: Option<u64>,
}

/// A relay whose storage cannot take writes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Degraded {
    /// `degraded`.
    status: &'static str,
    /// The fault: `storage_full`, `storage_read_only` or `storage_unavailable`.
    reason: &'static str,
    /// What it means, for people.
    message: String,
}

/// Healthy when the database answers and takes a write; degraded (503,
/// with the fault and `Retry-After`) when its storage is full, read-only or
/// failing, so that monitoring sees what phones would meet.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "ops_healthz",
    tag = "meta",
    responses(
        (status = 200, description = "The database answers and takes a write", body = Health),
        (status = 503, description = "The storage is full, read-only or failing; see `Retry-After`", body = Degraded),
    ),
)]
pub(super) async fn healthz(State(state): State<AppState>) -> AppResult<Response> {
    let probe = state
        .db
        .run(|store| {
            store.probe_write()?;
            Ok((store.usage()?, store.headroom()?))
        })
        .await;
    // Nearly full counts as full: the next sync page may not fit.
    let probe = match probe {
        Ok((_, room)) if room.least().is_some_and(|b| b < LOW_HEADROOM_BYTES) => {
            Err(AppError::Storage {
                fault: StorageFault::Full,
                detail: format!("{room:?} left"),
            })
        }
        other => other,
    };
    match probe {
        Ok((usage, room)) => Ok(Json(Health {
            status: "ok",
            records: usage.records,
            free_bytes: room.least(),
        })
        .into_response()),
        Err(AppError::Storage { fault, detail }) => {
            tracing::warn!(code = fault.code(), %detail, "health check: storage fault");
            let message = AppError::Storage {
                fault,
                detail: String::new(),
            }
            .to_string();
            Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                [(RETRY_AFTER, "60")],
                Json(Degraded {
                    status: "degraded",
                    reason: fault.code(),
                    message,
                }),
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

/// Whether this request may read `/metrics`: with the configured token,
/// or, when none is configured, from this machine.
fn may_read_metrics(token: Option<&str>, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
    match token {
        Some(token) => headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                // Compared by digest, so the time taken says nothing of the token.
                Sha256::digest(given.as_bytes()) == Sha256::digest(token.as_bytes())
            }),
        None => peer.is_some_and(|p| p.ip().is_loopback()),
    }
}

/// Prometheus text format.
pub(super) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> AppResult<impl IntoResponse> {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
    if !may_read_metrics(state.settings.metrics_token.as_deref(), &headers, peer) {
        return Err(AppError::Forbidden(
            "/metrics answers this machine only; for a Prometheus elsewhere, set metrics_token and send it as a bearer token".into(),
        ));
    }
    let (usage, photos, pool) = state
        .db
        .run(|store| Ok((store.usage()?, store.photo_totals()?, store.pool())))
        .await?;
    if let Some(pool) = pool {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        state.metrics.pool_connections.set(gauge(pool.open));
        state.metrics.pool_idle.set(gauge(pool.idle));
        state.metrics.pool_waiting.set(gauge(pool.waiting));
        state.metrics.pool_max.set(gauge(pool.max));
    }
    state.metrics.db_bytes.set(usage.bytes);
    state.metrics.records.set(usage.records);
    let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    state.metrics.photos_held.set(gauge(photos.stored));
    state.metrics.photo_bytes.set(gauge(photos.bytes));
    state.metrics.photos_pending.set(gauge(photos.pending));
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    ))
}

/// A page for whoever opens the relay in a browser.
pub(super) async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
}
