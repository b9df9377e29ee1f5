//! The dashboard's static files, compiled into the binary: no CDN, no web
//! fonts, nothing fetched from outside the relay. Plain ES modules and CSS,
//! with no build step.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::AppError;

macro_rules! assets {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("assets/", $name)) as &[u8])),*]
    };
}

/// Every file under `/assets/`.
const ASSETS: &[(&str, &[u8])] = assets![
    "app.css",
    "favicon.svg",
    "app.js",
    "api.js",
    "i18n.js",
    "errors.js",
    "ui.js",
    "charts.js",
    "live.js",
    "actions.js",
    "photos.js",
    "pages/queue.js",
    "pages/dispatch.js",
    "pages/wishes.js",
    "pages/card.js",
    "pages/conflicts.js",
    "pages/households.js",
    "pages/household.js",
    "pages/stats.js",
    "pages/devices.js",
    "pages/users.js",
    "pages/audit.js",
    "admin-text.js",
    "wall.css",
    "wall.js",
    "wall-text.js",
];

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    if name == "labels.js" {
        return revalidated(super::labels::script(), content_type(name), headers);
    }
    let Some((_, body)) = ASSETS.iter().find(|(n, _)| *n == name) else {
        return AppError::NotFound(format!("no asset {name}")).into_response();
    };
    revalidated(body, content_type(name), headers)
}

/// A static file with an ETag, revalidated on each use (`no-cache`), so
/// that an upgraded relay never serves stale code.
pub(crate) fn revalidated(
    body: &'static [u8],
    content_type: &'static str,
    headers: &HeaderMap,
) -> Response {
    let digest = Sha256::digest(body);
    let etag = format!(
        "\"{}\"",
        digest[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, v);
    }
    response
}

/// `GET /assets/{*name}`
pub(super) async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

/// `GET /favicon.ico`, for browsers that ask before reading the page.
pub(super) async fn favicon(headers: HeaderMap) -> Response {
    serve("favicon.svg", &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_named_once_and_typed() {
        for (i, (name, body)) in ASSETS.iter().enumerate() {
            assert!(!body.is_empty(), "{name} is empty");
            assert_ne!(content_type(name), "application/octet-stream", "{name}");
            assert!(ASSETS[..i].iter().all(|(n, _)| n != name), "{name} twice");
        }
    }

    #[test]
    fn nothing_is_loaded_from_outside() {
        for (name, body) in ASSETS {
            // The SVG namespace is a name, not an address that is fetched.
            let text = String::from_utf8_lossy(body).replace("http://www.w3.org/2000/svg", "");
            for needle in ["http://", "https://", "@import", "url(", "//cdn"] {
                assert!(!text.contains(needle), "{name} contains {needle}");
            }
        }
    }
}
