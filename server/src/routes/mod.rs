//! The HTTP API: `fn app(state) -> Router`.

mod audit;
mod auth;
mod devices;
mod export;
mod households;
mod live;
mod names;
pub(crate) mod openapi;
mod ops;
pub(crate) mod params;
mod photo_uploads;
mod photos;
mod points;
mod public;
mod rejections;
mod stats;
mod sync;
mod users;
mod wall;
mod wall_photos;
mod wish_views;
mod wishes;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, head, patch, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use sync::SYNC_MEDIA_TYPE;

use crate::dashboard;
use crate::error::{AppError, StorageFault};
use crate::field;
use crate::metrics::FaultLabel;
use crate::state::AppState;

/// The largest JSON body accepted.
const JSON_LIMIT: usize = 64 * 1024;

/// Builds the relay's router over `state`.
pub fn app(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.settings.request_timeout_secs);
    let upload_timeout = Duration::from_secs(state.settings.upload_timeout_secs);
    // Photo bytes: larger bodies, and the time a slow network needs.
    let uploads = Router::new()
        .route(
            "/v1/photos/{sha}",
            head(photo_uploads::progress).patch(photo_uploads::upload),
        )
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(
            usize::try_from(sync_core::photo::MAX_PHOTO_BYTES).unwrap_or(usize::MAX) + 1024,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            upload_timeout,
        ));
    // A camera's picture from the wish wall, made a photo on the relay.
    let pictures = Router::new()
        .route("/v1/wall/{id}/photo", post(wall_photos::take))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(
            usize::try_from(sync_core::photo::MAX_CAPTURE_BYTES).unwrap_or(usize::MAX) + 1024,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            upload_timeout,
        ));
    let sync_routes = Router::new()
        .route("/v1/sync", post(sync::sync))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(
            sync_core::sync::MAX_MESSAGE_BYTES,
        ));
    let api = Router::new()
        .route("/v1/auth/login", post(auth::login))
        .route("/v1/auth/refresh", post(auth::refresh))
        .route("/v1/wishes", get(wishes::list))
        .route("/v1/wishes/{id}", get(wishes::get))
        .route("/v1/wishes/{id}/history", get(wishes::history))
        .route("/v1/wishes/{id}/review", post(wishes::review))
        .route("/v1/wishes/{id}/assign", post(wishes::assign))
        .route("/v1/wishes/{id}/fulfil", post(wishes::fulfil))
        .route("/v1/wishes/{id}/feedback", post(wishes::feedback))
        .route("/v1/wishes/{id}/release", post(wishes::release))
        .route("/v1/wishes/{id}/cancel", post(wishes::cancel))
        .route("/v1/wishes/{id}/withdraw", post(wishes::withdraw))
        .route("/v1/conflicts", get(wishes::conflicts))
        .route("/v1/conflicts/{id}/resolve", post(wishes::resolve))
        .route("/v1/households", get(households::list))
        .route("/v1/households/{id}", get(households::get))
        .route("/v1/visits", get(households::visits))
        .route("/v1/stats", get(stats::stats))
        .route("/v1/stats/timeline", get(stats::fulfilments))
        .route("/v1/export/wishes.csv", get(export::wishes))
        .route("/v1/export/stats.csv", get(export::stats))
        .route("/v1/export/points.csv", get(points::ledger_csv))
        .route("/v1/points/leaderboards", get(points::leaderboards))
        .route("/v1/names", get(names::names))
        .route("/v1/claimants", get(names::claimants))
        .route("/v1/wall", get(wall::view))
        .route("/v1/wall/{id}/claim", post(wall::claim))
        .route("/v1/wall/{id}/check-in", post(wall::check_in))
        .route("/v1/wall/{id}/fulfil", post(wall::fulfil))
        .route("/v1/wall/{id}/release", post(wall::release))
        .route("/v1/changes", get(live::poll))
        .route("/v1/users", get(users::list).post(users::create))
        .route("/v1/users/{name}", patch(users::change))
        .route("/v1/users/{name}/disable", post(users::disable))
        .route("/v1/users/{name}/enable", post(users::enable))
        .route(
            "/v1/users/{name}/reset-password",
            post(users::reset_password),
        )
        .route("/v1/account/password", post(users::own_password))
        .route("/v1/audit", get(audit::list))
        .route("/v1/export/audit.csv", get(audit::export))
        .route("/v1/devices", get(devices::list))
        .route("/v1/quarantine", get(devices::held))
        .route("/v1/quarantine/{id}/accept", post(devices::accept))
        .route("/v1/quarantine/{id}/discard", post(devices::discard))
        .route("/v1/records/{id}/photos/{sha}", get(photos::original))
        .route(
            "/v1/records/{id}/photos/{sha}/thumb",
            get(photos::thumbnail),
        )
        .route("/v1/records/{id}/photos/{sha}/purge", post(photos::purge))
        .route("/v1/photos/pending", get(photos::pending))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/api", get(ops::index))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .merge(public::routes(&state.settings))
        .merge(dashboard::routes())
        .merge(field::routes())
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .layer(RequestBodyLimitLayer::new(JSON_LIMIT));
    let timed = Router::new()
        .merge(sync_routes)
        .merge(api)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ));
    let router = Router::new()
        .merge(timed)
        .merge(uploads)
        .merge(pictures)
        .fallback(|| async { AppError::NotFound("no such endpoint".into()) })
        .layer(axum::middleware::from_fn(rejections::as_json));
    dashboard::with_security_headers(router)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Counts what went wrong where an answer is made: storage faults (an
/// [`AppError::Storage`] marks its response) and sync requests that got an
/// error instead of the engine's answer.
async fn observe(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let sync = request.uri().path() == "/v1/sync";
    let response = next.run(request).await;
    if let Some(fault) = response.extensions().get::<StorageFault>() {
        state
            .metrics
            .storage_errors
            .get_or_create(&FaultLabel {
                code: fault.code().to_owned(),
            })
            .inc();
    }
    let answered = matches!(response.status().as_u16(), 200 | 403 | 422)
        && response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == SYNC_MEDIA_TYPE.as_bytes());
    if sync && !answered {
        state.metrics.syncs_failed.inc();
    }
    response
}
