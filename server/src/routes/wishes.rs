//! Wish cards for supervisors: list, read, history, and the workflow actions
//! (review, assign, fulfil, feedback), plus conflicts.
//!
//! Actions are Automerge changes the relay makes for the supervisor, as the
//! supervisor's web device, through the same workflow rules the phones use.
//! They reach the phones at their next sync.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use sync_core::doc::{EventInput, HistoryEntry};
use sync_core::model::WishCard;
use sync_core::store::{ConflictRow, Page, WishRow};
use sync_core::{Author, EventId, EventKind, Record, Store, WishId};

use crate::accounts;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::routes::params::ListParams;
use crate::state::{AppState, now_ms};

/// A wish card with its status and open conflicts at the top.
#[derive(Debug, Serialize)]
pub(super) struct WishDetail {
    #[serde(flatten)]
    card: WishCard,
    status: sync_core::Status,
    claimant: Option<String>,
    open_conflicts: usize,
}

impl From<WishCard> for WishDetail {
    fn from(card: WishCard) -> Self {
        Self {
            status: card.state.status,
            claimant: card.state.claimant.clone(),
            open_conflicts: card.state.open_conflicts().count(),
            card,
        }
    }
}

fn parse_id(id: &str) -> AppResult<WishId> {
    id.parse()
        .map_err(|_| AppError::NotFound(format!("no wish {id}")))
}

/// Loads a wish the caller may see; anything else is "not found".
pub(super) fn wish_in_scope(store: &Store, auth: &AuthUser, id: WishId) -> AppResult<WishCard> {
    let missing = || AppError::NotFound(format!("no wish {id}"));
    match store.record(id.record()) {
        Ok(Record::Wish(card)) if auth.may_see(card.meta.community.as_scope()) => Ok(card),
        Ok(_) | Err(sync_core::Error::NotFound(_)) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// `GET /v1/wishes`
pub(super) async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> AppResult<Json<Page<WishRow>>> {
    let filter = params.filter(&auth)?;
    Ok(Json(
        state
            .db
            .run(move |store| Ok(store.list_wishes(&filter)?))
            .await?,
    ))
}

/// `GET /v1/wishes/{id}`
pub(super) async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<WishDetail>> {
    let id = parse_id(&id)?;
    let card = state
        .db
        .run(move |store| wish_in_scope(store, &auth, id))
        .await?;
    Ok(Json(card.into()))
}

/// `GET /v1/wishes/{id}/history`
pub(super) async fn history(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<HistoryEntry>>> {
    let id = parse_id(&id)?;
    let history = state
        .db
        .run(move |store| {
            wish_in_scope(store, &auth, id)?;
            Ok(store.history(id.record())?)
        })
        .await?;
    Ok(Json(history))
}

/// Appends a workflow event as the caller's web device and returns the card.
pub(super) async fn act(
    state: &AppState,
    auth: AuthUser,
    id: WishId,
    input: EventInput,
) -> AppResult<WishDetail> {
    let card = state
        .db
        .run(move |store| {
            wish_in_scope(store, &auth, id)?;
            let device = accounts::web_device(&auth.user.username);
            accounts::ensure_web_device(store.connection(), &auth.user.username, device, now_ms())?;
            let author = Author {
                user: auth.user.username.clone(),
                role: auth.user.role,
                device,
            };
            store.append_event(&author, id, &input)?;
            wish_in_scope(store, &auth, id)
        })
        .await?;
    Ok(card.into())
}

/// Review decision.
#[derive(Debug, Deserialize)]
pub(super) struct Review {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/wishes/{id}/review`
pub(super) async fn review(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(form): Json<Review>,
) -> AppResult<Json<WishDetail>> {
    let kind = match form.decision.as_str() {
        "approve" => EventKind::Approve,
        "reject" => EventKind::Reject,
        "needs_info" => EventKind::RequestInfo,
        other => {
            return Err(AppError::BadRequest(format!(
                "decision must be approve, reject or needs_info, not {other:?}"
            )));
        }
    };
    let input = EventInput {
        note: form.reason.filter(|r| !r.trim().is_empty()),
        ..EventInput::new(kind)
    };
    Ok(Json(act(&state, auth, parse_id(&id)?, input).await?))
}

/// Dispatch.
#[derive(Debug, Deserialize)]
pub(super) struct Assign {
    claimant: String,
}

/// `POST /v1/wishes/{id}/assign`
pub(super) async fn assign(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(form): Json<Assign>,
) -> AppResult<Json<WishDetail>> {
    let input = EventInput {
        claimant: Some(form.claimant),
        ..EventInput::new(EventKind::Assign)
    };
    Ok(Json(act(&state, auth, parse_id(&id)?, input).await?))
}

/// Fulfilment report.
#[derive(Debug, Deserialize)]
pub(super) struct Fulfil {
    #[serde(default)]
    note: Option<String>,
}

/// `POST /v1/wishes/{id}/fulfil`
pub(super) async fn fulfil(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(form): Json<Fulfil>,
) -> AppResult<Json<WishDetail>> {
    let input = EventInput {
        note: form.note,
        ..EventInput::new(EventKind::Fulfil)
    };
    Ok(Json(act(&state, auth, parse_id(&id)?, input).await?))
}

/// The resident's feedback.
#[derive(Debug, Deserialize)]
pub(super) struct Feedback {
    rating: u8,
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /v1/wishes/{id}/feedback`
pub(super) async fn feedback(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(form): Json<Feedback>,
) -> AppResult<Json<WishDetail>> {
    let input = EventInput {
        rating: Some(form.rating),
        note: form.comment,
        ..EventInput::new(EventKind::Confirm)
    };
    Ok(Json(act(&state, auth, parse_id(&id)?, input).await?))
}

/// Conflict listing options.
#[derive(Debug, Deserialize)]
pub(super) struct ConflictParams {
    #[serde(default)]
    include_resolved: bool,
}

/// `GET /v1/conflicts`
pub(super) async fn conflicts(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ConflictParams>,
) -> AppResult<Json<Vec<ConflictRow>>> {
    let scopes = auth.user.scopes.clone();
    Ok(Json(
        state
            .db
            .run(move |store| Ok(store.conflicts(&scopes, params.include_resolved)?))
            .await?,
    ))
}

/// A resolution note.
#[derive(Debug, Deserialize, Default)]
pub(super) struct Resolve {
    #[serde(default)]
    note: Option<String>,
}

/// `POST /v1/conflicts/{id}/resolve` — `id` is the losing event's id.
pub(super) async fn resolve(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    form: Option<Json<Resolve>>,
) -> AppResult<Json<WishDetail>> {
    let event: EventId = id
        .parse()
        .map_err(|_| AppError::NotFound(format!("no conflict {id}")))?;
    let scopes = auth.user.scopes.clone();
    let record = state
        .db
        .run(move |store| {
            let row = store
                .conflicts(&scopes, true)?
                .into_iter()
                .find(|c| c.event_id == event.to_string())
                .ok_or_else(|| AppError::NotFound(format!("no conflict {event}")))?;
            row.record_id
                .parse::<WishId>()
                .map_err(|e| AppError::Internal(e.to_string()))
        })
        .await?;
    let input = EventInput {
        target: Some(event),
        note: form.and_then(|f| f.0.note),
        ..EventInput::new(EventKind::ResolveConflict)
    };
    Ok(Json(act(&state, auth, record, input).await?))
}
