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
    let records: i64 = state
        .db
        .run(|store| {
            Ok(store
                .connection()
                .query_row("SELECT count(*) FROM records", [], |r| r.get(0))?)
        })
        .await?;
    Ok(Json(json!({ "status": "ok", "records": records })))
}

/// Prometheus text format.
pub(super) async fn metrics(State(state): State<AppState>) -> AppResult<impl IntoResponse> {
    let (bytes, records): (i64, i64) = state
        .db
        .run(|store| {
            let conn = store.connection();
            let bytes = conn.query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get(0),
            )?;
            let records = conn.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
            Ok((bytes, records))
        })
        .await?;
    state.metrics.db_bytes.set(bytes);
    state.metrics.records.set(records);
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
