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
use sync_core::model::{WishCard, WishPatch};
use sync_core::store::{ConflictRow, Page};
use sync_core::{
    Author, DeviceId, EventId, EventKind, PhotoRef, Record, RecordId, RecordKind, UnitId, UserId,
    WishId,
};

use super::openapi::{Authed, BadQuery, JsonBody};
use crate::accounts;
use crate::auth::AuthUser;
use crate::error::{self, AppError, AppResult, ErrorBody};
use crate::routes::params::ListParams;
use crate::state::{AppState, now_ms};
use crate::store::RelayStore;

use super::wish_views::{WishDetail, WishItem, photo_states};

fn parse_id(id: &str) -> AppResult<WishId> {
    id.parse()
        .map_err(|_| AppError::NotFound(format!("no wish {id}")))
}

/// Loads a wish the caller may see; anything else is "not found".
pub(super) fn wish_in_scope(
    store: &dyn RelayStore,
    auth: &AuthUser,
    id: WishId,
) -> AppResult<WishCard> {
    auth.require_records(RecordKind::Wish)?;
    match store.record(id.record())? {
        Some(Record::Wish(card)) if auth.may_see(card.meta.community.as_scope()) => Ok(card),
        _ => Err(AppError::NotFound(format!("no wish {id}"))),
    }
}

/// `GET /v1/wishes`
#[utoipa::path(
    get,
    path = "/v1/wishes",
    operation_id = "wishes_list",
    tag = "wishes",
    params(
        ListParams,
    ),
    responses(
        (status = 200, description = "A page of wish cards in the caller's scopes, newest first unless `order=oldest`", body = Page<WishItem>),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ListParams>,
) -> AppResult<Json<Page<WishItem>>> {
    auth.require_records(RecordKind::Wish)?;
    let filter = params.filter(&auth)?;
    let role = auth.user.role;
    let page = state
        .db
        .run(move |store| store.list_wishes(&filter))
        .await?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|row| WishItem::new(row, role))
            .collect(),
        total: page.total,
    }))
}

/// `GET /v1/wishes/{id}`
#[utoipa::path(
    get,
    path = "/v1/wishes/{id}",
    operation_id = "wishes_get",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    responses(
        (status = 200, description = "The card, with what the caller may do with it", body = WishDetail),
        (status = 404, description = "No such wish in the caller's scopes (`not_found`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<WishDetail>> {
    let id = parse_id(&id)?;
    let role = auth.user.role;
    let detail = state
        .db
        .run(move |store| {
            let card = wish_in_scope(store, &auth, id)?;
            let photos = photo_states(store, &auth.user.scopes, &card)?;
            let times = store.corrected_times(id.record())?;
            Ok(WishDetail::new(card, &times, role, photos))
        })
        .await?;
    Ok(Json(detail))
}

/// One change in a card's history, with the name and kind of the device
/// it came from when the relay knows the device.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct HistoryItem {
    #[serde(flatten)]
    entry: HistoryEntry,
    device_name: Option<String>,
    device_kind: Option<String>,
    /// The change came from a device whose clock was off by more than five
    /// minutes (ms, positive: ahead), and the relay corrected its time:
    /// then `corrected_at_ms` is the time to show.
    clock_offset_ms: Option<i64>,
    /// The corrected time of the change, when it was corrected.
    corrected_at_ms: Option<i64>,
}

/// `GET /v1/wishes/{id}/history`
#[utoipa::path(
    get,
    path = "/v1/wishes/{id}/history",
    operation_id = "wishes_history",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    responses(
        (status = 200, description = "Every change to the card: who, from which device, when, which fields", body = Vec<HistoryItem>),
        (status = 404, description = "No such wish in the caller's scopes (`not_found`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn history(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<HistoryItem>>> {
    let id = parse_id(&id)?;
    let history = state
        .db
        .run(move |store| {
            wish_in_scope(store, &auth, id)?;
            let times = store.corrected_times(id.record())?;
            let mut devices: std::collections::HashMap<DeviceId, Option<accounts::Device>> =
                std::collections::HashMap::new();
            store
                .history(id.record())?
                .into_iter()
                .map(|entry| {
                    let device = match entry.device {
                        Some(d) => match devices.get(&d) {
                            Some(known) => known.clone(),
                            None => {
                                let found = store.device(d)?;
                                devices.insert(d, found.clone());
                                found
                            }
                        },
                        None => None,
                    };
                    let corrected = entry
                        .events
                        .iter()
                        .find_map(|e| times.corrected(e))
                        .or_else(|| times.created_correction().filter(|_| entry.creates));
                    Ok(HistoryItem {
                        device_name: device.as_ref().map(|d| d.name.clone()),
                        device_kind: device.map(|d| d.kind),
                        clock_offset_ms: corrected.map(|(_, offset)| offset),
                        corrected_at_ms: corrected.map(|(at, _)| at),
                        entry,
                    })
                })
                .collect::<AppResult<Vec<_>>>()
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
    let role = auth.user.role;
    let keys = state.keys.clone();
    let card = state
        .db
        .run(move |store| {
            wish_in_scope(store, &auth, id)?;
            // A refused action leaves no trace, not even a device row.
            store.check_event(&auth.user.username, auth.user.role, id, &input)?;
            let device = store.web_device(&auth.user.username, &keys.device_secret(), now_ms())?;
            let author = Author {
                user: auth.user.username.clone(),
                role: auth.user.role,
                device,
            };
            store.append_event(&author, &keys.web_device_key(device), id, &input)?;
            let card = wish_in_scope(store, &auth, id)?;
            let photos = photo_states(store, &auth.user.scopes, &card)?;
            let times = store.corrected_times(id.record())?;
            Ok(WishDetail::new(card, &times, role, photos))
        })
        .await?;
    state.live.notify();
    Ok(card)
}

/// Takes photo `sha` off card `record` as the caller (an edit through
/// their web device); false if the card's status allows no edit now.
pub(super) async fn remove_photo(
    state: &AppState,
    auth: AuthUser,
    record: RecordId,
    sha: PhotoRef,
) -> AppResult<bool> {
    let keys = state.keys.clone();
    let id = WishId::from_record(record);
    let removed = state
        .db
        .run(move |store| {
            wish_in_scope(store, &auth, id)?;
            let edit = EventInput::new(EventKind::Edit);
            match store.check_event(&auth.user.username, auth.user.role, id, &edit) {
                Ok(()) => {}
                Err(e) if e.is_forbidden() => return Ok(false),
                Err(e) => return Err(e),
            }
            let device = store.web_device(&auth.user.username, &keys.device_secret(), now_ms())?;
            let author = Author {
                user: auth.user.username.clone(),
                role: auth.user.role,
                device,
            };
            let patch = WishPatch {
                remove_photos: vec![sha],
                ..WishPatch::default()
            };
            store.edit_wish(&author, &keys.web_device_key(device), id, &patch)?;
            Ok(true)
        })
        .await?;
    Ok(removed)
}

/// Review decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct Review {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/wishes/{id}/review`
#[utoipa::path(
    post,
    path = "/v1/wishes/{id}/review",
    operation_id = "wishes_review",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body = Review,
    responses(
        (status = 200, description = "The card after the action", body = WishDetail),
        (status = 404, description = "No such wish in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
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

/// Dispatch: to a registered volunteer, to a partner unit, or to a
/// claimant named in free text (who has no account, and is shown as such).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct Assign {
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    claimant: Option<String>,
}

/// `POST /v1/wishes/{id}/assign`
#[utoipa::path(
    post,
    path = "/v1/wishes/{id}/assign",
    operation_id = "wishes_assign",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body = Assign,
    responses(
        (status = 200, description = "The card after the action", body = WishDetail),
        (status = 404, description = "No such wish in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn assign(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(form): Json<Assign>,
) -> AppResult<Json<WishDetail>> {
    let id = parse_id(&id)?;
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let assignee = nonempty(form.assignee)
        .map(|a| UserId::new(a.trim()).map_err(|e| AppError::BadRequest(e.to_string())))
        .transpose()?;
    let unit = nonempty(form.unit)
        .map(|u| UnitId::new(u.trim()).map_err(|e| AppError::BadRequest(e.to_string())))
        .transpose()?;
    let claimant = nonempty(form.claimant);
    if assignee.is_none() && unit.is_none() && claimant.is_none() {
        return Err(AppError::refused(
            error::Reason::ClaimantRequired,
            "assign needs a volunteer, a partner unit or a claimant's name",
        ));
    }
    if assignee.is_some() || unit.is_some() {
        let (who, unit_id) = (assignee.clone(), unit.clone());
        let check = auth.clone();
        state
            .db
            .run(move |store| super::wall::check_dispatch(store, &check, id, who, unit_id))
            .await?;
    }
    let input = EventInput {
        claimant: claimant.filter(|_| assignee.is_none() && unit.is_none()),
        assignee,
        unit,
        ..EventInput::new(EventKind::Assign)
    };
    Ok(Json(act(&state, auth, id, input).await?))
}

/// Fulfilment report.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct Fulfil {
    #[serde(default)]
    note: Option<String>,
}

/// `POST /v1/wishes/{id}/fulfil`
#[utoipa::path(
    post,
    path = "/v1/wishes/{id}/fulfil",
    operation_id = "wishes_fulfil",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body = Fulfil,
    responses(
        (status = 200, description = "The card after the action", body = WishDetail),
        (status = 404, description = "No such wish in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct Feedback {
    rating: u8,
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /v1/wishes/{id}/feedback`
#[utoipa::path(
    post,
    path = "/v1/wishes/{id}/feedback",
    operation_id = "wishes_feedback",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body = Feedback,
    responses(
        (status = 200, description = "The card after the action", body = WishDetail),
        (status = 404, description = "No such wish in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
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

/// Why a card is released, cancelled or withdrawn.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct Reason {
    #[serde(default)]
    reason: Option<String>,
}

/// Appends `kind` with the form's reason (trimmed; `required` refuses an
/// empty one, since the worker and the resident see it).
async fn act_with_reason(
    state: &AppState,
    auth: AuthUser,
    id: &str,
    form: Reason,
    kind: EventKind,
    required: bool,
) -> AppResult<Json<WishDetail>> {
    let note = form
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if required && note.is_none() {
        return Err(AppError::refused(
            error::Reason::ReasonRequired,
            format!("{kind} needs a reason: the worker and the resident see it"),
        ));
    }
    let input = EventInput {
        note,
        ..EventInput::new(kind)
    };
    Ok(Json(act(state, auth, parse_id(id)?, input).await?))
}

/// `POST /v1/wishes/{id}/release`: takes a claimed card back from its
/// volunteer or unit, so that it can be dispatched again.
#[utoipa::path(
    post,
    path = "/v1/wishes/{id}/release",
    operation_id = "wishes_release",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body = Reason,
    responses(
        (status = 200, description = "The card after the action", body = WishDetail),
        (status = 404, description = "No such wish in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn release(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(form): Json<Reason>,
) -> AppResult<Json<WishDetail>> {
    act_with_reason(&state, auth, &id, form, EventKind::Release, false).await
}

/// `POST /v1/wishes/{id}/cancel`: closes an approved or claimed card that
/// will not be fulfilled (a reason is required).
#[utoipa::path(
    post,
    path = "/v1/wishes/{id}/cancel",
    operation_id = "wishes_cancel",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body = Reason,
    responses(
        (status = 200, description = "The card after the action", body = WishDetail),
        (status = 404, description = "No such wish in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn cancel(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(form): Json<Reason>,
) -> AppResult<Json<WishDetail>> {
    act_with_reason(&state, auth, &id, form, EventKind::Cancel, true).await
}

/// `POST /v1/wishes/{id}/withdraw`: withdraws a card the resident no longer
/// wants, before it is claimed (a reason is required).
#[utoipa::path(
    post,
    path = "/v1/wishes/{id}/withdraw",
    operation_id = "wishes_withdraw",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body = Reason,
    responses(
        (status = 200, description = "The card after the action", body = WishDetail),
        (status = 404, description = "No such wish in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn withdraw(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    Json(form): Json<Reason>,
) -> AppResult<Json<WishDetail>> {
    act_with_reason(&state, auth, &id, form, EventKind::Withdraw, true).await
}

/// Conflict listing options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ConflictParams {
    /// Also list conflicts a supervisor has resolved.
    #[serde(default)]
    include_resolved: bool,
}

/// A conflict with the card's text and current status beside it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ConflictItem {
    #[serde(flatten)]
    row: ConflictRow,
    text: Option<String>,
    card_status: Option<String>,
}

/// `GET /v1/conflicts`
#[utoipa::path(
    get,
    path = "/v1/conflicts",
    operation_id = "wishes_conflicts",
    tag = "wishes",
    params(
        ConflictParams,
    ),
    responses(
        (status = 200, description = "Events that lost a race, with their card's text and status", body = Vec<ConflictItem>),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn conflicts(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ConflictParams>,
) -> AppResult<Json<Vec<ConflictItem>>> {
    auth.require_records(RecordKind::Wish)?;
    let scopes = auth.user.scopes.clone();
    Ok(Json(
        state
            .db
            .run(move |store| {
                let rows = store.conflicts(&scopes, params.include_resolved)?;
                rows.into_iter()
                    .map(|row| {
                        let card = match row.record_id.parse::<RecordId>() {
                            Ok(id) => store.record(id)?,
                            Err(_) => None,
                        };
                        let (text, card_status) = match card {
                            Some(Record::Wish(card)) => {
                                (Some(card.text), Some(card.state.status.as_str().to_owned()))
                            }
                            _ => (None, None),
                        };
                        Ok(ConflictItem {
                            row,
                            text,
                            card_status,
                        })
                    })
                    .collect::<AppResult<Vec<_>>>()
            })
            .await?,
    ))
}

/// A resolution note, and whether the race goes the other way (the losing
/// claim or assignment wins instead).
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub(super) struct Resolve {
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    reverse: bool,
}

/// `POST /v1/conflicts/{id}/resolve` — `id` is the losing event's id.
#[utoipa::path(
    post,
    path = "/v1/conflicts/{id}/resolve",
    operation_id = "wishes_resolve",
    tag = "wishes",
    params(
        ("id" = String, Path, format = Uuid, description = "The losing event's id (the conflict's)"),
    ),
    request_body(content = Option<Resolve>, description = "Optional: a note, and `reverse` to let the losing event win"),
    responses(
        (status = 200, description = "The card after the action", body = WishDetail),
        (status = 404, description = "No such conflict in the caller's scopes (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
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
    let form = form.map(|f| f.0).unwrap_or_default();
    let input = EventInput {
        target: Some(event),
        note: form.note,
        reverse: form.reverse,
        ..EventInput::new(EventKind::ResolveConflict)
    };
    Ok(Json(act(&state, auth, record, input).await?))
}
