//! `POST /v1/sync`: the engine's binary messages over HTTP.
//!
//! Each pushed record is checked by sync-core's relay policy for the
//! authenticated user and device; a refused record is named in the response
//! with its reason and the rest of the sync goes through.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use sync_core::sync::{Message, RelayPolicy, WireError};

use super::openapi::{Binary, Storage};
use crate::auth::Delivery;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::metrics::CodeLabel;
use crate::state::AppState;

/// The media type of sync messages.
pub const SYNC_MEDIA_TYPE: &str = "application/vnd.doorstep.sync";

/// Serves one sync round.
#[utoipa::path(
    post,
    path = "/v1/sync",
    operation_id = "sync",
    tag = "sync",
    request_body(
        description = "A sync request: the engine's versioned binary message (see sync-core's `sync::wire`)",
        content((Binary = "application/vnd.doorstep.sync")),
    ),
    responses(
        (status = 200, description = "The engine's sync response: something went through, or nothing was pushed", body = Binary, content_type = "application/vnd.doorstep.sync"),
        (status = 400, description = "The body is not a sync request (`bad_message`)", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Every pushed record was refused, one for permissions (the engine's response, naming each refusal); or, as JSON, the request names another device than the token, or the device was lost", content(
            (Binary = "application/vnd.doorstep.sync"),
            (ErrorBody = "application/json"),
        )),
        (status = 413, description = "The message is larger than the protocol allows (`too_large`)", body = ErrorBody),
        (status = 422, description = "Every pushed record was refused as invalid (the engine's response, naming each refusal)", body = Binary, content_type = "application/vnd.doorstep.sync"),
        (status = 426, description = "The app speaks an older protocol than the relay accepts (`update_required`)", body = ErrorBody),
        Storage,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn sync(
    State(state): State<AppState>,
    Delivery(auth): Delivery,
    body: Bytes,
) -> AppResult<impl IntoResponse> {
    let started = Instant::now();
    let metrics = state.metrics.clone();
    metrics.bytes_in.inc_by(body.len() as u64);
    let request = match Message::decode(&body) {
        Ok(Message::Request(request)) => request,
        Ok(_) => return Err(AppError::BadMessage("expected a sync request".into())),
        Err(WireError::UnsupportedVersion { got, min, .. }) if got < min => {
            return Err(AppError::UpdateRequired(format!(
                "this app speaks sync protocol {got}; the relay needs {min} or newer. Update Doorstep on this phone: nothing on it is lost, it syncs once updated"
            )));
        }
        Err(e) => return Err(AppError::BadMessage(e.to_string())),
    };
    if request.from != auth.device {
        return Err(AppError::Forbidden(
            "the request names another device than the token".into(),
        ));
    }
    // A retired device delivers what it made before; it receives nothing.
    let readable = if auth.retired {
        Vec::new()
    } else {
        auth.user.scopes.clone()
    };
    // A volunteer receives only the wall's wishes and their own.
    let policy = RelayPolicy::new(auth.device, readable)
        .with_relay_secret(state.keys.device_secret())
        .with_reader(auth.user.reader());
    let response = state
        .db
        .run(move |store| store.serve_sync(&policy, &request))
        .await?;
    if !response.accepted.is_empty() {
        state.live.notify();
    }
    metrics.syncs.inc();
    metrics.accepted.inc_by(response.accepted.len() as u64);
    metrics.pulled.inc_by(response.pull.len() as u64);
    for refused in &response.rejected {
        metrics
            .rejected
            .get_or_create(&CodeLabel {
                code: refused.code.as_str().to_owned(),
            })
            .inc();
        tracing::warn!(user = %auth.user.username, record = %refused.id, code = refused.code.as_str(), reason = %refused.reason, "record refused");
    }
    let status = status_of(&response);
    let bytes = Message::Response(response)
        .encode()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    metrics.bytes_out.inc_by(bytes.len() as u64);
    metrics
        .sync_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok((status, [(CONTENT_TYPE, SYNC_MEDIA_TYPE)], bytes))
}

/// The HTTP status of a sync answer. The body is always the engine's
/// response, so the phone learns why each record was refused; the status
/// tells plain HTTP tooling what happened: 200 when anything went through
/// (or nothing was pushed), 403 when every pushed record was refused and one
/// was refused for permissions, 422 when every one was refused as invalid.
fn status_of(response: &sync_core::sync::SyncResponse) -> StatusCode {
    use sync_core::sync::RejectCode as C;
    let refused: Vec<C> = response
        .rejected
        .iter()
        .map(|r| r.code)
        .filter(|c| !c.is_retryable())
        .collect();
    if refused.is_empty()
        || !response.accepted.is_empty()
        || refused.len() < response.rejected.len()
    {
        StatusCode::OK
    } else if refused.iter().any(|c| {
        matches!(
            c,
            C::Scope
                | C::Role
                | C::Actor
                | C::History
                | C::Workflow
                | C::Signature
                | C::Identity
                | C::Retired
                | C::Quarantine
        )
    }) {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}
