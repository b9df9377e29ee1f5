//! The published counts, and the CSV export.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use serde::Deserialize;
use sync_core::ScopePath;
use sync_core::store::{StatsReport, WishFilter};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::routes::params::ListParams;
use crate::state::AppState;

/// Which scope to count.
#[derive(Debug, Deserialize)]
pub(super) struct StatsParams {
    scope: Option<String>,
}

/// The scopes to report on: the one asked for (which must be the caller's),
/// or all the caller's scopes.
fn scopes(auth: &AuthUser, scope: Option<&str>) -> AppResult<Vec<ScopePath>> {
    match scope.filter(|s| !s.is_empty()) {
        None => Ok(auth.user.scopes.clone()),
        Some(scope) => {
            let scope = ScopePath::new(scope).map_err(|e| AppError::BadRequest(e.to_string()))?;
            if auth.may_see(&scope) {
                Ok(vec![scope])
            } else {
                Err(AppError::Forbidden(format!(
                    "{scope} is outside your scopes"
                )))
            }
        }
    }
}

/// `GET /v1/stats?scope=`
pub(super) async fn stats(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<StatsParams>,
) -> AppResult<Json<StatsReport>> {
    let scopes = scopes(&auth, params.scope.as_deref())?;
    Ok(Json(
        state.db.run(move |store| Ok(store.stats(&scopes)?)).await?,
    ))
}

/// Most rows one export carries.
const EXPORT_MAX_ROWS: u32 = 100_000;

/// `GET /v1/export/wishes.csv?scope=…` (and the list filters): UTF-8 with a
/// byte-order mark so that Excel shows Chinese text correctly.
pub(super) async fn export(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> AppResult<impl IntoResponse> {
    let mut filter: WishFilter = params.filter(&auth)?;
    if let Some(scope) = &filter.scope
        && !auth.may_see(scope)
    {
        return Err(AppError::Forbidden(format!(
            "{scope} is outside your scopes"
        )));
    }

    let body = state
        .db
        .run(move |store| {
            let mut out = Vec::from("\u{feff}".as_bytes());
            {
                let mut csv = csv::Writer::from_writer(&mut out);
                csv.write_record([
                    "id",
                    "community",
                    "status",
                    "category",
                    "urgency",
                    "text",
                    "created_by",
                    "created_at",
                    "submitted_at",
                    "fulfilled_at",
                    "confirmed_at",
                    "claimant",
                    "rating",
                    "open_conflicts",
                ])
                .map_err(|e| AppError::Internal(e.to_string()))?;
                filter.limit = Some(500);
                let mut offset = 0u32;
                loop {
                    filter.offset = Some(offset);
                    let page = store.list_wishes(&filter)?;
                    for w in &page.items {
                        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
                        csv.write_record([
                            w.id.as_str(),
                            &w.community,
                            &w.status,
                            &w.category,
                            &w.urgency,
                            &w.text,
                            &w.created_by,
                            &w.created_at.to_string(),
                            &opt(w.submitted_at),
                            &opt(w.fulfilled_at),
                            &opt(w.confirmed_at),
                            w.claimant.as_deref().unwrap_or_default(),
                            &opt(w.rating),
                            &w.open_conflicts.to_string(),
                        ])
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    }
                    offset += page.items.len() as u32;
                    if page.items.len() < 500 || offset >= EXPORT_MAX_ROWS {
                        break;
                    }
                }
                csv.flush().map_err(|e| AppError::Internal(e.to_string()))?;
            }
            Ok(out)
        })
        .await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"wishes.csv\""),
        ],
        body,
    ))
}
