//! The wish wall's API (心愿墙), for volunteers and partner units' members:
//! the approved wishes of their areas with only what choosing needs,
//! claiming one online (认领), checking in at the community (报到),
//! reporting it lit up, and their own wishes, points and leaderboards.
//!
//! What a volunteer may read and do is sync-core's (`Reader`, the event
//! table and the fold); this module asks it and appends events through the
//! volunteer's web device, as the dashboard does for supervisors.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use sync_core::doc::EventInput;
use sync_core::model::{Photo, WishCard};
use sync_core::store::{HeldCard, Leaderboards, LedgerEntry, WallCard};
use sync_core::workflow::{Reader, Sight, holds};
use sync_core::{
    Author, DeviceId, EventId, EventKind, PhotoRef, Record, RecordKind, Role, UnitId, UserId,
    WishId,
};

use super::names::{Names, names_in};
use super::openapi::{Authed, JsonBody};
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::state::{AppState, now_ms};
use crate::store::RelayStore;

/// The most wishes the wall lists at once.
const WALL_LIMIT: u32 = 200;

/// Who is looking at the wall.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Me {
    user: UserId,
    name: Option<String>,
    unit: Option<UnitId>,
}

/// Everything the wall page shows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct WallView {
    me: Me,
    /// Approved wishes of their areas, longest waiting first.
    wishes: Vec<WallCard>,
    /// The wishes they (or their unit) hold or held.
    mine: Vec<HeldCard>,
    /// Their points in total.
    points: u32,
    /// Their awards, latest first.
    awards: Vec<LedgerEntry>,
    /// Leaderboards of their areas.
    boards: Leaderboards,
    /// Display names of places, people and units.
    names: Names,
}

pub(super) fn volunteer(auth: &AuthUser) -> AppResult<Reader> {
    let reader = auth.user.reader();
    if reader.is_volunteer() {
        Ok(reader)
    } else {
        Err(AppError::Forbidden(format!(
            "the wish wall is for volunteers and partner units' members, not a {}",
            auth.user.role
        )))
    }
}

/// `GET /v1/wall`
#[utoipa::path(
    get,
    path = "/v1/wall",
    operation_id = "wall_view",
    tag = "wall",
    responses(
        (status = 200, description = "The wall: approved wishes of the volunteer's areas, theirs, their points and the leaderboards", body = WallView),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn view(
    State(state): State<AppState>,
    auth: AuthUser,
) -> AppResult<Json<WallView>> {
    let reader = volunteer(&auth)?;
    let rules = state.settings.points.clone();
    let scopes = auth.user.scopes.clone();
    let me = Me {
        user: auth.user.username.clone(),
        name: auth.user.display_name.clone(),
        unit: auth.user.unit.clone(),
    };
    let view = state
        .db
        .run(move |store| {
            let awards: Vec<LedgerEntry> = store
                .points_ledger(&scopes, &rules)?
                .into_iter()
                .filter(|e| e.user.as_ref() == Some(&reader.user))
                .collect();
            Ok(WallView {
                me,
                wishes: store.wall(&reader, &scopes, WALL_LIMIT)?,
                mine: store.held_by(&reader, &scopes)?,
                points: awards.iter().map(|a| a.points).sum(),
                awards,
                boards: store.leaderboards(&scopes, &rules)?,
                names: names_in(store, true)?,
            })
        })
        .await?;
    Ok(Json(view))
}

/// A claim from the wall.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub(super) struct Claim {
    /// The last event of the card as the page showed it.
    #[serde(default)]
    seen: Option<EventId>,
    /// Claim for the partner unit the volunteer belongs to.
    #[serde(default)]
    for_unit: bool,
}

/// A fulfilment report, with the photos the volunteer took of the wish lit
/// up (uploaded first, see `POST /v1/wall/{id}/photo`).
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub(super) struct Report {
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    photos: Vec<PhotoRef>,
}

/// What a wall action did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Outcome {
    status: sync_core::Status,
    /// The wish as the volunteer now holds it, if they do.
    held: Option<HeldCard>,
}

pub(super) fn parse_id(id: &str) -> AppResult<WishId> {
    id.parse()
        .map_err(|_| AppError::NotFound(format!("no wish {id}")))
}

/// The card, if the volunteer may act on it: in their scopes, and one they
/// may read now, or (for a claim) one they saw on the wall.
pub(super) fn card_for(
    store: &dyn RelayStore,
    auth: &AuthUser,
    reader: &Reader,
    id: WishId,
    seen: Option<EventId>,
) -> AppResult<WishCard> {
    let missing = || AppError::NotFound(format!("no wish {id} on your wall"));
    let Some(Record::Wish(card)) = store.record(id.record())? else {
        return Err(missing());
    };
    if !auth.may_see(card.meta.community.as_scope()) {
        return Err(missing());
    }
    let sight = Sight {
        status: card.state.status,
        holder: card.state.holder.as_ref(),
        took_part: reader.took_part(&card.events),
    };
    let visible = reader.reads(RecordKind::Wish, Some(sight))
        || seen.is_some_and(|s| card.events.iter().any(|e| e.id == s));
    if visible { Ok(card) } else { Err(missing()) }
}

/// The photos a volunteer took for a fulfilment, as stored: each must have
/// been taken through their own web device.
fn taken_by(store: &dyn RelayStore, device: DeviceId, shas: &[PhotoRef]) -> AppResult<Vec<Photo>> {
    shas.iter()
        .map(|sha| match store.stored_photo(sha)? {
            Some(stored) if stored.uploaded_by == device.to_string() => Ok(Photo {
                sha256: stored.sha256,
                bytes: stored.bytes,
                mime: sync_core::photo::JPEG.to_owned(),
                width: stored.width,
                height: stored.height,
            }),
            _ => Err(AppError::BadRequest(format!(
                "photo {sha} was not taken here; send it with POST /v1/wall/{{id}}/photo first"
            ))),
        })
        .collect()
}

/// Appends `input` to wish `id` as the volunteer's web device, with the
/// photos `photos` they took for it.
async fn wall_act(
    state: &AppState,
    auth: AuthUser,
    id: WishId,
    mut input: EventInput,
    photos: Vec<PhotoRef>,
) -> AppResult<Outcome> {
    let reader = volunteer(&auth)?;
    if input.unit.is_none() && input.kind != Some(EventKind::Claim) {
        // A unit's member acts for the unit that holds the wish.
        input.unit.clone_from(&auth.user.unit);
    }
    let keys = state.keys.clone();
    let claim = input.kind == Some(EventKind::Claim);
    let outcome = state
        .db
        .run(move |store| {
            card_for(store, &auth, &reader, id, input.seen)?;
            let user = &auth.user;
            // A refused action leaves no trace, not even a device row.
            store.check_event(&user.username, user.role, id, &input)?;
            let device = store.web_device(&user.username, &keys.device_secret(), now_ms())?;
            input.photos = taken_by(store, device, &photos)?;
            let author = Author {
                user: user.username.clone(),
                role: user.role,
                device,
            };
            store.append_event(&author, &keys.web_device_key(device), id, &input)?;
            let Some(Record::Wish(card)) = store.record(id.record())? else {
                return Err(AppError::NotFound(format!("no wish {id}")));
            };
            let theirs = holds(
                card.state.holder.as_ref(),
                &user.username,
                user.unit.as_ref(),
            );
            if claim && !theirs {
                return Err(AppError::ClaimLost);
            }
            let held = store
                .held_by(&reader, &user.scopes)?
                .into_iter()
                .find(|h| h.card.id == id);
            Ok(Outcome {
                status: card.state.status,
                held,
            })
        })
        .await?;
    state.live.notify();
    Ok(outcome)
}

/// `POST /v1/wall/{id}/claim`
#[utoipa::path(
    post,
    path = "/v1/wall/{id}/claim",
    operation_id = "wall_claim",
    tag = "wall",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body(content = Option<Claim>, description = "Optional: the last event the page showed, and whether to claim for the volunteer's unit"),
    responses(
        (status = 200, description = "The wish's status after the action, and the wish as the volunteer holds it", body = Outcome),
        (status = 404, description = "No such wish on the caller's wall (`not_found`)", body = ErrorBody),
        (status = 409, description = "Someone claimed it just before (`claim_lost`), or it cannot be claimed now (`conflict`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn claim(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    form: Option<Json<Claim>>,
) -> AppResult<Json<Outcome>> {
    let form = form.map(|f| f.0).unwrap_or_default();
    let unit = if form.for_unit {
        Some(auth.user.unit.clone().ok_or_else(|| {
            AppError::BadRequest("you are no partner unit's member; claim for yourself".into())
        })?)
    } else {
        None
    };
    let input = EventInput {
        seen: form.seen,
        unit,
        ..EventInput::new(EventKind::Claim)
    };
    Ok(Json(
        wall_act(&state, auth, parse_id(&id)?, input, Vec::new()).await?,
    ))
}

/// `POST /v1/wall/{id}/check-in`
#[utoipa::path(
    post,
    path = "/v1/wall/{id}/check-in",
    operation_id = "wall_check_in",
    tag = "wall",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    responses(
        (status = 200, description = "The wish's status after the action, and the wish as the volunteer holds it", body = Outcome),
        (status = 400, description = "The action is refused (`bad_request`)", body = ErrorBody),
        (status = 404, description = "No such wish on the caller's wall (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn check_in(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<Outcome>> {
    let input = EventInput::new(EventKind::CheckIn);
    Ok(Json(
        wall_act(&state, auth, parse_id(&id)?, input, Vec::new()).await?,
    ))
}

/// `POST /v1/wall/{id}/fulfil`
#[utoipa::path(
    post,
    path = "/v1/wall/{id}/fulfil",
    operation_id = "wall_fulfil",
    tag = "wall",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body(content = Option<Report>, description = "Optional: a note, and the photos taken for it with `POST /v1/wall/{id}/photo`"),
    responses(
        (status = 200, description = "The wish's status after the action, and the wish as the volunteer holds it", body = Outcome),
        (status = 404, description = "No such wish on the caller's wall (`not_found`)", body = ErrorBody),
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
    form: Option<Json<Report>>,
) -> AppResult<Json<Outcome>> {
    let form = form.map(|f| f.0).unwrap_or_default();
    let input = EventInput {
        note: form.note.filter(|n| !n.trim().is_empty()),
        ..EventInput::new(EventKind::Fulfil)
    };
    Ok(Json(
        wall_act(&state, auth, parse_id(&id)?, input, form.photos).await?,
    ))
}

/// `POST /v1/wall/{id}/release`
#[utoipa::path(
    post,
    path = "/v1/wall/{id}/release",
    operation_id = "wall_release",
    tag = "wall",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    responses(
        (status = 200, description = "The wish's status after the action, and the wish as the volunteer holds it", body = Outcome),
        (status = 400, description = "The action is refused (`bad_request`)", body = ErrorBody),
        (status = 404, description = "No such wish on the caller's wall (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn release(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Json<Outcome>> {
    let input = EventInput::new(EventKind::Release);
    Ok(Json(
        wall_act(&state, auth, parse_id(&id)?, input, Vec::new()).await?,
    ))
}

/// Checks a supervisor's dispatch to a registered volunteer or a unit: the
/// volunteer exists, may take wishes, and serves the wish's community; the
/// unit exists.
pub(super) fn check_dispatch(
    store: &dyn RelayStore,
    auth: &AuthUser,
    id: WishId,
    assignee: Option<UserId>,
    unit: Option<UnitId>,
) -> AppResult<()> {
    let card = super::wishes::wish_in_scope(store, auth, id)?;
    let place = card.meta.community.as_scope();
    if let Some(name) = assignee {
        let user = store
            .user(name.as_str())?
            .filter(|u| !u.disabled)
            .ok_or_else(|| AppError::BadRequest(format!("{name} is no active user")))?;
        if !matches!(user.role, Role::Volunteer | Role::Worker) {
            return Err(AppError::BadRequest(format!(
                "{name} is a {}; wishes go to volunteers, workers or partner units",
                user.role
            )));
        }
        if !user.scopes.iter().any(|s| s.contains(place)) {
            return Err(AppError::BadRequest(format!(
                "{name} does not serve {place}"
            )));
        }
    }
    if let Some(unit) = unit
        && !store.units()?.iter().any(|u| u.id == unit)
    {
        return Err(AppError::BadRequest(format!("no partner unit {unit}")));
    }
    Ok(())
}
