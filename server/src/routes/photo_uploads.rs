//! Photo uploads that resume: `HEAD /v1/photos/{sha256}` says how far this
//! device's upload has come (`Upload-Offset`, and `Upload-Length` once
//! declared); if a record the caller may read refers to the photo and the
//! relay holds it, `Photo-Stored: true` says nothing needs sending, and
//! otherwise the answer is the same whether the relay holds it or not.
//! `PATCH /v1/photos/{sha256}` with `Upload-Offset` and `Upload-Length`
//! brings the bytes from that offset: 204 with the new `Upload-Offset`
//! while the upload is incomplete, 201 (200 if held already) once it is
//! whole, verified and stored.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Serialize;
use std::io::Write;
use sync_core::model::Photo;
use sync_core::photo::MAX_PHOTO_BYTES;
use sync_core::{DeviceId, PhotoRef, ScopePath};

use super::openapi::{Authed, Binary};
use crate::auth::{AuthUser, Delivery};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::photos::{PhotoProblem, staging::Refused, storage_error};
use crate::state::{AppState, now_ms};

fn parse_sha(text: &str) -> AppResult<PhotoRef> {
    text.parse()
        .map_err(|e: sync_core::InvalidInput| AppError::BadRequest(e.to_string()))
}

fn header_number(headers: &HeaderMap, name: &str) -> AppResult<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| AppError::BadRequest(format!("the {name} header (a number) is required")))
}

pub(super) fn number(value: u64) -> HeaderValue {
    HeaderValue::from(value)
}

/// The photo as the upload's answer names it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Stored {
    sha256: PhotoRef,
    bytes: u64,
    width: u32,
    height: u32,
}

impl From<&Photo> for Stored {
    fn from(p: &Photo) -> Self {
        Self {
            sha256: p.sha256.clone(),
            bytes: p.bytes,
            width: p.width,
            height: p.height,
        }
    }
}

/// Whether the caller may be told that the relay holds `sha256`: a record
/// they may read refers to it. A retired device reads nothing.
async fn stored_for(
    state: &AppState,
    auth: &AuthUser,
    sha256: &PhotoRef,
) -> AppResult<Option<Stored>> {
    let readable: Vec<ScopePath> = if auth.retired {
        Vec::new()
    } else {
        auth.user.scopes.clone()
    };
    let sha = sha256.clone();
    state
        .db
        .run(move |store| {
            if !store.photo_known_to(&readable, &sha)? {
                return Ok(None);
            }
            Ok(store.stored_photo(&sha)?.map(|p| Stored {
                sha256: p.sha256,
                bytes: p.bytes,
                width: p.width,
                height: p.height,
            }))
        })
        .await
}

async fn refuse_purged(state: &AppState, sha256: &PhotoRef) -> AppResult<()> {
    let sha = sha256.clone();
    if state.db.run(move |s| s.photo_is_purged(&sha)).await? {
        return Err(PhotoProblem::Purged.into());
    }
    Ok(())
}

/// `HEAD /v1/photos/{sha256}`
#[utoipa::path(
    head,
    path = "/v1/photos/{sha}",
    operation_id = "photo_uploads_progress",
    tag = "photos",
    params(
        ("sha" = String, Path, description = "The photo's SHA-256, in lowercase hex"),
    ),
    responses(
        (status = 200, description = "How far this device's upload has come", headers(("upload-offset" = u64, description = "Bytes received"), ("upload-length" = u64, description = "The length declared, once declared"), ("upload-limit" = u64, description = "The largest photo accepted"), ("photo-stored" = String, description = "`true` when the relay holds the photo and a record the caller reads refers to it"))),
        (status = 400, description = "The name is not a SHA-256 (`bad_request`)"),
        (status = 401, description = "No valid access token"),
        (status = 403, description = "The device was revoked"),
        (status = 410, description = "A supervisor purged this photo (`photo_purged`)"),
        (status = 503, description = "Storage failing"),
        (status = 507, description = "Storage full"),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn progress(
    State(state): State<AppState>,
    Delivery(auth): Delivery,
    Path(sha): Path<String>,
) -> AppResult<Response> {
    let sha = parse_sha(&sha)?;
    refuse_purged(&state, &sha).await?;
    let mut headers = HeaderMap::new();
    headers.insert("upload-limit", number(MAX_PHOTO_BYTES));
    if let Some(stored) = stored_for(&state, &auth, &sha).await? {
        headers.insert("upload-offset", number(stored.bytes));
        headers.insert("upload-length", number(stored.bytes));
        headers.insert("photo-stored", HeaderValue::from_static("true"));
        return Ok((StatusCode::OK, headers).into_response());
    }
    let _turn = state.photos.turn(auth.device, &sha).await;
    let staging = state.photos.staging.clone();
    let device = auth.device;
    let key = sha.clone();
    let progress = state
        .photos
        .run(move || staging.progress(device, &key))
        .await?
        .map_err(storage_error)?;
    headers.insert("upload-offset", number(progress.map_or(0, |p| p.offset)));
    if let Some(p) = progress {
        headers.insert("upload-length", number(p.length));
    }
    Ok((StatusCode::OK, headers).into_response())
}

/// `PATCH /v1/photos/{sha256}`
#[utoipa::path(
    patch,
    path = "/v1/photos/{sha}",
    operation_id = "photo_uploads_upload",
    tag = "photos",
    params(
        ("sha" = String, Path, description = "The photo's SHA-256, in lowercase hex"),
        ("upload-offset" = u64, Header, description = "Where these bytes start"),
        ("upload-length" = u64, Header, description = "The photo's whole length (at most 2 MiB)"),
    ),
    request_body(description = "The photo's bytes from `Upload-Offset` on", content((Binary = "application/offset+octet-stream"))),
    responses(
        (status = 200, description = "The relay held the photo already", body = Stored),
        (status = 201, description = "The photo is whole, verified and stored", body = Stored),
        (status = 204, description = "Received; the upload is not complete yet", headers(("upload-offset" = u64, description = "Bytes received"))),
        (status = 400, description = "The headers are missing or do not describe a photo, the name is not a SHA-256, or more bytes came than announced (`bad_request`)", body = ErrorBody),
        (status = 409, description = "The upload stands at another offset (`upload_offset`, with `offset`), was declared with another length, or was cut off", body = ErrorBody),
        (status = 410, description = "A supervisor purged this photo (`photo_purged`)", body = ErrorBody),
        (status = 413, description = "The photo is larger than the relay accepts (`photo_too_large`, with `limit`)", body = ErrorBody),
        (status = 422, description = "The bytes do not hash to the name (`photo_mismatch`), or are not a photo the relay accepts (`photo_refused`)", body = ErrorBody),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn upload(
    State(state): State<AppState>,
    Delivery(auth): Delivery,
    Path(sha): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let sha = parse_sha(&sha)?;
    let offset = header_number(&headers, "upload-offset")?;
    let length = header_number(&headers, "upload-length")?;
    if length > MAX_PHOTO_BYTES {
        return Err(PhotoProblem::TooLarge {
            bytes: length,
            limit: MAX_PHOTO_BYTES,
        }
        .into());
    }
    if length == 0 || offset > length {
        return Err(AppError::BadRequest(format!(
            "Upload-Offset {offset} and Upload-Length {length} do not describe a photo"
        )));
    }
    refuse_purged(&state, &sha).await?;
    if let Some(stored) = stored_for(&state, &auth, &sha).await? {
        return Ok((StatusCode::OK, Json(stored)).into_response());
    }
    let _turn = state.photos.turn(auth.device, &sha).await;
    let staging = state.photos.staging.clone();
    let (device, key) = (auth.device, sha.clone());
    let opened = state
        .photos
        .run(move || staging.append_at(device, &key, length, offset))
        .await?
        .map_err(storage_error)?;
    let (part, file) = match opened {
        Ok(opened) => opened,
        Err(Refused::Offset { current }) => return Err(PhotoProblem::Offset { current }.into()),
        Err(Refused::Length { declared }) => {
            return Err(AppError::Conflict(format!(
                "this upload was declared {declared} bytes long; start again from offset 0 to change that"
            )));
        }
    };
    let received = receive(&state, body, file, length - offset).await;
    let received = match received {
        Ok(n) => n,
        Err(e) => {
            if matches!(e, AppError::BadRequest(_)) {
                let staging = state.photos.staging.clone();
                let _ = state
                    .photos
                    .run(move || staging.discard(device, &sha))
                    .await;
            }
            return Err(e);
        }
    };
    let now_at = offset + received;
    if now_at < length {
        let mut headers = HeaderMap::new();
        headers.insert("upload-offset", number(now_at));
        return Ok((StatusCode::NO_CONTENT, headers).into_response());
    }
    finish(&state, auth.device, part, sha).await
}

/// Appends the body to `file` and syncs it, however the body ends; returns
/// how many bytes were written. More than `room` bytes is a bad request.
///
/// A frame (tens of kilobytes) goes into the page cache in microseconds, so
/// it is written here; the sync, which waits for the disk, runs on the
/// photo threads.
async fn receive(
    state: &AppState,
    mut body: Body,
    mut file: std::fs::File,
    room: u64,
) -> AppResult<u64> {
    let mut written = 0u64;
    let mut outcome = Ok(());
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                // The connection dropped: keep what arrived, to resume from.
                outcome = Err(AppError::Conflict(format!("the upload was cut off: {e}")));
                break;
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if written + data.len() as u64 > room {
            outcome = Err(AppError::BadRequest(
                "more bytes than Upload-Length announced".into(),
            ));
            break;
        }
        if let Err(e) = file.write_all(&data) {
            outcome = Err(storage_error(e));
            break;
        }
        written += data.len() as u64;
    }
    state.metrics.photo_bytes_in.inc_by(written);
    // Whatever happened, what was written is what the next HEAD reports.
    state
        .photos
        .run(move || file.sync_data())
        .await?
        .map_err(storage_error)?;
    outcome.map(|()| written)
}

/// A whole upload: verified, stored, recorded.
async fn finish(
    state: &AppState,
    device: DeviceId,
    part: std::path::PathBuf,
    sha: PhotoRef,
) -> AppResult<Response> {
    let key = sha.clone();
    if let Some(held) = state.db.run(move |s| s.stored_photo(&key)).await? {
        // Held already: no second copy.
        let _ = state.photos.run(move || std::fs::remove_file(part)).await;
        let stored = Stored {
            sha256: held.sha256,
            bytes: held.bytes,
            width: held.width,
            height: held.height,
        };
        return Ok((StatusCode::OK, Json(stored)).into_response());
    }
    let (photo, thumb_bytes) = match state.photos.accept(part, sha).await {
        Ok(accepted) => accepted,
        Err(e) => {
            state.metrics.photos_refused.inc();
            return Err(e);
        }
    };
    let recorded = photo.clone();
    let added = state
        .db
        .run(move |s| s.record_stored_photo(&recorded, thumb_bytes, &device.to_string(), now_ms()))
        .await?;
    if added {
        state.metrics.photos_stored.inc();
    }
    state.live.notify();
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(Stored::from(&photo))).into_response())
}
