//! Requests the relay could not read get the API's error body too.
//!
//! axum's extractors and tower-http's layers answer a body that is not JSON,
//! a JSON body of the wrong shape, a query that does not parse, an oversized
//! body or a wrong method in plain text (or with no body at all). The API
//! promises `{"error": code, "message": text}` for every error, so this
//! layer rewrites those answers under `/v1/`, keeping their status and
//! their words. Answers the handlers make are JSON already and pass as they
//! are.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::json;

/// The most of a plain-text answer kept as the message.
const MAX_MESSAGE_BYTES: usize = 4096;

/// The error code for a status that axum or tower-http answered.
fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Rewrites a plain-text or empty error answer to an API path as the
/// API's JSON error body.
pub(super) async fn as_json(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/v1/");
    let head = request.method() == Method::HEAD;
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !api || head || json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Only plain text (or nothing) is rewritten: a sync answer or a photo
    // keeps its own media type.
    let plain = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !plain {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match body.collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let end = bytes.len().min(MAX_MESSAGE_BYTES);
            String::from_utf8_lossy(&bytes[..end]).trim().to_owned()
        }
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let body = json!({ "error": code(status), "message": message }).to_string();
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(body))
}
