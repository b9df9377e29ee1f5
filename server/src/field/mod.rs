//! The field web app at `/field/`: an installable, offline web app for
//! workers, on sync-core compiled to WebAssembly (the `web-ffi` crate). The
//! relay only serves its files, built by `scripts/build-web` and compiled
//! into the binary; the app talks to the relay through the same `/v1/auth`
//! and `/v1/sync` calls as a native phone.

use axum::Router;
use axum::extract::Path;
use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::dashboard::assets::revalidated;
use crate::error::AppError;
use crate::state::AppState;

/// The dashboard's policy, and WebAssembly compiled from the relay's own
/// module (`'wasm-unsafe-eval'` allows compiling, not `eval`).
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' blob:; connect-src 'self'; font-src 'self'; \
     manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

macro_rules! files {
    ($(($name:literal, $type:literal)),* $(,)?) => {
        &[$(($name, $type, include_bytes!(concat!("assets/", $name)) as &[u8])),*]
    };
}

/// Every file of the app: its name under `/field/`, type and bytes.
const FILES: &[(&str, &str, &[u8])] = files![
    ("index.html", "text/html; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("screens.js", "text/javascript; charset=utf-8"),
    ("store.js", "text/javascript; charset=utf-8"),
    ("text.js", "text/javascript; charset=utf-8"),
    ("worker.js", "text/javascript; charset=utf-8"),
    ("sw.js", "text/javascript; charset=utf-8"),
    ("field.css", "text/css; charset=utf-8"),
    ("icon.svg", "image/svg+xml"),
    ("icon-192.png", "image/png"),
    ("icon-512.png", "image/png"),
    ("manifest.webmanifest", "application/manifest+json"),
    ("pkg/web_ffi.js", "text/javascript; charset=utf-8"),
    ("pkg/web_ffi_bg.wasm", "application/wasm"),
];

/// The app's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/field", get(|| async { Redirect::permanent("/field/") }))
        .route("/field/", get(index))
        .route("/field/{*name}", get(file))
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some((_, kind, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return AppError::NotFound(format!("no file {name} in the field app")).into_response();
    };
    let mut response = revalidated(body, kind, headers);
    response
        .headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}

/// `GET /field/`
async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /field/{*name}`
async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_there_once_and_nothing_comes_from_outside() {
        for (i, (name, _, body)) in FILES.iter().enumerate() {
            assert!(!body.is_empty(), "{name} is empty");
            assert!(FILES[..i].iter().all(|(n, _, _)| n != name), "{name} twice");
            if name.ends_with(".wasm") || name.ends_with(".png") {
                continue;
            }
            let text = String::from_utf8_lossy(body).replace("http://www.w3.org/2000/svg", "");
            for needle in ["http://", "https://", "@import", "//cdn"] {
                assert!(!text.contains(needle), "{name} contains {needle}");
            }
        }
    }
}
