//! Photos through a record, the supervisor's list of photos still
//! pending, and purging (the uploads are in `photo_uploads`).
//!
//! `GET /v1/records/{id}/photos/{sha256}` (and `…/thumb`) serves a photo
//! to a reader of the record only: 409 `photo_pending` while its bytes have
//! not arrived, 404 for anything the caller may not see.

use std::io::Read;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sync_core::photo::JPEG;
use sync_core::store::{PendingPhoto, PhotoAccess};
use sync_core::{PhotoRef, RecordId};

use super::openapi::{Authed, BadQuery, Binary, JsonBody};
use super::photo_uploads::number;
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::photos::{PhotoProblem, Variant, storage_error};
use crate::state::{AppState, now_ms};

/// `GET /v1/records/{id}/photos/{sha256}`
#[utoipa::path(
    get,
    path = "/v1/records/{id}/photos/{sha}",
    operation_id = "photos_original",
    tag = "photos",
    params(
        ("id" = String, Path, format = Uuid, description = "The id of a record that refers to the photo"),
        ("sha" = String, Path, description = "The photo's SHA-256, in lowercase hex", pattern = "^[0-9a-f]{64}$"),
    ),
    responses(
        (status = 200, description = "The photo (JPEG); cached for good (content-addressed)", body = Binary, content_type = "image/jpeg"),
        (status = 404, description = "No such photo on a record the caller may read (`not_found`)", body = ErrorBody),
        (status = 409, description = "Its bytes have not reached the relay yet (`photo_pending`); see `Retry-After`", body = ErrorBody),
        (status = 410, description = "A supervisor purged it (`photo_purged`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn original(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, sha)): Path<(String, String)>,
) -> AppResult<Response> {
    fetch(&state, &auth, &id, &sha, Variant::Original).await
}

/// `GET /v1/records/{id}/photos/{sha256}/thumb`
#[utoipa::path(
    get,
    path = "/v1/records/{id}/photos/{sha}/thumb",
    operation_id = "photos_thumbnail",
    tag = "photos",
    params(
        ("id" = String, Path, format = Uuid, description = "The id of a record that refers to the photo"),
        ("sha" = String, Path, description = "The photo's SHA-256, in lowercase hex", pattern = "^[0-9a-f]{64}$"),
    ),
    responses(
        (status = 200, description = "Its thumbnail (JPEG); cached for good (content-addressed)", body = Binary, content_type = "image/jpeg"),
        (status = 404, description = "No such photo on a record the caller may read (`not_found`)", body = ErrorBody),
        (status = 409, description = "Its bytes have not reached the relay yet (`photo_pending`); see `Retry-After`", body = ErrorBody),
        (status = 410, description = "A supervisor purged it (`photo_purged`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn thumbnail(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, sha)): Path<(String, String)>,
) -> AppResult<Response> {
    fetch(&state, &auth, &id, &sha, Variant::Thumbnail).await
}

async fn fetch(
    state: &AppState,
    auth: &AuthUser,
    id: &str,
    sha: &str,
    variant: Variant,
) -> AppResult<Response> {
    auth.require_records(sync_core::RecordKind::Wish)?;
    let not_found = || AppError::NotFound("no such photo".into());
    let record: RecordId = id.parse().map_err(|_| not_found())?;
    let sha: PhotoRef = sha.parse().map_err(|_| not_found())?;
    let readable = auth.user.scopes.clone();
    let key = sha.clone();
    let access = state
        .db
        .run(move |store| {
            let access = store.photo_access(&readable, record, &key)?;
            // The pending photo's device, by the name its user gave it.
            let from = match &access {
                PhotoAccess::Pending {
                    from: Some(device), ..
                } => store.device(*device)?.map(|d| device_label(&d)),
                _ => None,
            };
            Ok((access, from))
        })
        .await?;
    match access {
        (PhotoAccess::NotFound, _) => Err(not_found()),
        (PhotoAccess::Purged, _) => Err(PhotoProblem::Purged.into()),
        (PhotoAccess::Pending { .. }, from) => Err(PhotoProblem::Pending { from }.into()),
        (PhotoAccess::Stored(_), _) => serve_file(state, &sha, variant).await,
    }
}

/// A device as people name it: "Redmi 9A (wang)", or its user's name and
/// id when it has no name.
pub(crate) fn device_label(device: &crate::accounts::Device) -> String {
    if device.name.trim().is_empty() {
        format!("{} ({})", device.id, device.username)
    } else {
        format!("{} ({})", device.name, device.username)
    }
}

/// Serves a photo file. Read whole on a photo thread: a thumbnail is a few
/// kilobytes and a photo at most 2 MB, and one read is cheaper to the small
/// machine than a stream of them.
async fn serve_file(state: &AppState, sha: &PhotoRef, variant: Variant) -> AppResult<Response> {
    let storage = state.photos.storage.clone();
    let key = sha.clone();
    let bytes = state
        .photos
        .run(move || -> std::io::Result<Option<Vec<u8>>> {
            let Some(mut file) = storage.open(&key, variant)? else {
                return Ok(None);
            };
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(Some(bytes))
        })
        .await?
        .map_err(storage_error)?
        .ok_or_else(|| AppError::Storage {
            fault: crate::error::StorageFault::Unavailable,
            detail: format!("photo {sha} is recorded as held but its file is missing"),
        })?;
    let tag = match variant {
        Variant::Original => format!("\"{sha}\""),
        Variant::Thumbnail => format!("\"{sha}-thumb\""),
    };
    let length = bytes.len() as u64;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JPEG));
    headers.insert(CONTENT_LENGTH, number(length));
    // Content-addressed: the bytes behind a name never change.
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        headers.insert(ETAG, tag);
    }
    Ok(response)
}

/// How old a pending photo must be to be listed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PendingParams {
    /// Days (default 3).
    days: Option<u32>,
}

/// A pending photo with its device by name and its card's text.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct PendingItem {
    #[serde(flatten)]
    photo: PendingPhoto,
    device_name: Option<String>,
    text: Option<String>,
}

/// `GET /v1/photos/pending?days=N`: photos of cards in the caller's scopes
/// whose bytes have not arrived N days after the card referred to them.
#[utoipa::path(
    get,
    path = "/v1/photos/pending",
    operation_id = "photos_pending",
    tag = "photos",
    params(
        PendingParams,
    ),
    responses(
        (status = 200, description = "Photos whose bytes have not arrived `days` after their card named them; supervisors and admins", body = Vec<PendingItem>),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn pending(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<PendingParams>,
) -> AppResult<Json<Vec<PendingItem>>> {
    auth.require_supervisor()?;
    let days = i64::from(params.days.unwrap_or(3).min(3650));
    let before = now_ms() - days * 86_400_000;
    let readable = auth.user.scopes.clone();
    let items = state
        .db
        .run(move |store| {
            store
                .photos_pending(&readable, before)?
                .into_iter()
                .map(|photo| {
                    let device_name = match photo.from {
                        Some(device) => store.device(device)?.map(|d| device_label(&d)),
                        None => None,
                    };
                    let text = match photo.record_id.parse::<RecordId>() {
                        Ok(id) => match store.record(id)? {
                            Some(sync_core::Record::Wish(card)) => Some(card.text),
                            _ => None,
                        },
                        Err(_) => None,
                    };
                    Ok(PendingItem {
                        photo,
                        device_name,
                        text,
                    })
                })
                .collect::<AppResult<Vec<_>>>()
        })
        .await?;
    Ok(Json(items))
}

/// Why a photo is purged.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct Purge {
    reason: String,
}

/// What a purge did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Purged {
    sha256: PhotoRef,
    /// The card no longer refers to it (an edit); false when the card's
    /// status allows no edit any more, and it shows the photo as removed.
    reference_removed: bool,
}

/// `POST /v1/records/{id}/photos/{sha256}/purge` `{reason}`: a supervisor
/// takes a photo away for good, for a resident's privacy.
#[utoipa::path(
    post,
    path = "/v1/records/{id}/photos/{sha}/purge",
    operation_id = "photos_purge",
    tag = "photos",
    params(
        ("id" = String, Path, format = Uuid, description = "The id of a record that refers to the photo"),
        ("sha" = String, Path, description = "The photo's SHA-256, in lowercase hex", pattern = "^[0-9a-f]{64}$"),
    ),
    request_body = Purge,
    responses(
        (status = 200, description = "The photo is gone for good; supervisors and admins", body = Purged),
        (status = 404, description = "No such photo on a record the caller may read (`not_found`)", body = ErrorBody),
        JsonBody,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn purge(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, sha)): Path<(String, String)>,
    Json(form): Json<Purge>,
) -> AppResult<Json<Purged>> {
    auth.require_supervisor()?;
    let reason = form.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(AppError::refused(
            crate::error::Reason::ReasonRequired,
            "a purge needs a reason: it is kept with the photo's tombstone",
        ));
    }
    sync_core::model::check_text("reason", &reason)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let not_found = || AppError::NotFound("no such photo".into());
    let record: RecordId = id.parse().map_err(|_| not_found())?;
    let sha: PhotoRef = sha.parse().map_err(|_| not_found())?;
    let readable = auth.user.scopes.clone();
    let key = sha.clone();
    let access = state
        .db
        .run(move |store| store.photo_access(&readable, record, &key))
        .await?;
    if access == PhotoAccess::NotFound {
        return Err(not_found());
    }
    let reference_removed =
        super::wishes::remove_photo(&state, auth.clone(), record, sha.clone()).await?;
    let (by, key) = (auth.user.username.clone(), sha.clone());
    state
        .db
        .run(move |store| store.purge_photo(&key, &by, &reason, now_ms()))
        .await?;
    let storage = Arc::clone(&state.photos.storage);
    let key = sha.clone();
    state
        .photos
        .run(move || storage.delete(&key))
        .await?
        .map_err(storage_error)?;
    tracing::warn!(user = %auth.user.username, %record, photo = %sha, "photo purged");
    state.live.notify();
    Ok(Json(Purged {
        sha256: sha,
        reference_removed,
    }))
}
