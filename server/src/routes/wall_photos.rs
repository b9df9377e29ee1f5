//! `POST /v1/wall/{id}/photo`: a volunteer's photo of a wish lit up, taken
//! on the wall. The relay makes the camera's picture a photo as a phone
//! would (upright, at most 1600 px, no metadata, named by its hash), keeps
//! it with its thumbnail, and answers its reference; the fulfilment then
//! names it (`POST /v1/wall/{id}/fulfil` `{photos: [sha256]}`) and it joins
//! the card's photos.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sync_core::EventKind;
use sync_core::doc::EventInput;
use sync_core::model::Photo;
use sync_core::photo::MAX_CAPTURE_BYTES;

use super::openapi::{Authed, Binary};
use super::wall::{card_for, parse_id, volunteer};
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::photos::PhotoProblem;
use crate::state::{AppState, now_ms};

/// `POST /v1/wall/{id}/photo` with the picture (JPEG or PNG) as the body.
#[utoipa::path(
    post,
    path = "/v1/wall/{id}/photo",
    operation_id = "wall_photos_take",
    tag = "wall",
    params(
        ("id" = String, Path, format = Uuid, description = "The wish card's id"),
    ),
    request_body(description = "The camera's picture (JPEG or PNG), at most 12 MiB", content((Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "application/octet-stream"))),
    responses(
        (status = 201, description = "The photo as the relay made it (upright, at most 1600 px, no metadata), to name in the fulfilment", body = Photo),
        (status = 400, description = "No picture in the body (`bad_request`)", body = ErrorBody),
        (status = 404, description = "No such wish on the caller's wall (`not_found`)", body = ErrorBody),
        (status = 409, description = "The action does not fit the card now (`conflict`)", body = ErrorBody),
        (status = 413, description = "The picture is too large (`photo_too_large`)", body = ErrorBody),
        (status = 422, description = "The body is not a picture the relay can read (`photo_refused`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn take(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    picture: Bytes,
) -> AppResult<(StatusCode, Json<Photo>)> {
    let reader = volunteer(&auth)?;
    let id = parse_id(&id)?;
    let size = picture.len() as u64;
    if size > MAX_CAPTURE_BYTES {
        return Err(PhotoProblem::TooLarge {
            bytes: size,
            limit: MAX_CAPTURE_BYTES,
        }
        .into());
    }
    if picture.is_empty() {
        return Err(AppError::BadRequest("send the picture as the body".into()));
    }
    // Only a volunteer who may light the wish up now may take its photo:
    // refused before any decoding.
    let check = auth.clone();
    state
        .db
        .run(move |store| {
            card_for(store, &check, &reader, id, None)?;
            let fulfil = EventInput {
                unit: check.user.unit.clone(),
                ..EventInput::new(EventKind::Fulfil)
            };
            store.check_event(&check.user.username, check.user.role, id, &fulfil)
        })
        .await?;
    let (photo, thumb_bytes) = state.photos.take(picture.to_vec()).await?;
    let keys = state.keys.clone();
    let stored = photo.clone();
    state
        .db
        .run(move |store| {
            let now = now_ms();
            let device = store.web_device(&auth.user.username, &keys.device_secret(), now)?;
            store.record_stored_photo(&stored, thumb_bytes, &device.to_string(), now)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(photo)))
}
