//! `GET /healthz` and `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse};
use serde_json::{Value, json};

use crate::error::AppResult;
use crate::state::AppState;

/// Healthy when the database answers.
pub(super) async fn healthz(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let usage = state.db.run(|store| store.usage()).await?;
    Ok(Json(json!({ "status": "ok", "records": usage.records })))
}

/// Prometheus text format.
pub(super) async fn metrics(State(state): State<AppState>) -> AppResult<impl IntoResponse> {
    let usage = state.db.run(|store| store.usage()).await?;
    state.metrics.db_bytes.set(usage.bytes);
    state.metrics.records.set(usage.records);
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
