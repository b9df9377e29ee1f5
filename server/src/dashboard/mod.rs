//! The supervisor dashboard, served by the relay itself: a login page, the
//! pages' shell and their static files. The pages call the relay's `/v1`
//! API with the session cookie; the workflow and its rules stay in
//! sync-core, behind that API.

pub(crate) mod assets;
pub(crate) mod labels;
mod lang;
mod pages;
mod password;
mod wall;

pub(crate) use lang::{Lang, for_file, negotiate};
pub(crate) use pages::escape;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

/// Scripts, styles and images come from the relay alone; no inline script,
/// no inline style, no framing.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages a supervisor works in. Each serves the same shell; without a
/// supervisor's session each redirects to the login page.
pub(crate) const PAGES: &[&str] = &[
    "/queue",
    "/dispatch",
    "/wishes",
    "/wishes/{id}",
    "/conflicts",
    "/households",
    "/households/{id}",
    "/stats",
    "/devices",
    "/users",
    "/audit",
];

/// The dashboard's routes.
pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/", get(pages::root))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", axum::routing::post(pages::logout))
        .route(
            password::PASSWORD,
            get(password::form).post(password::change),
        )
        .route(pages::WALL, get(wall::page))
        .route("/assets/{*name}", get(assets::asset))
        .route("/favicon.ico", get(assets::favicon));
    for path in PAGES {
        router = router.route(path, get(pages::page));
    }
    router
}

/// Adds the security headers to every response of `router` (the API's too)
/// unless a handler set its own.
pub(crate) fn with_security_headers<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
) -> Router<S> {
    let header = |name, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router
        .layer(header(CONTENT_SECURITY_POLICY, CSP))
        .layer(header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // `same-origin`, not `no-referrer`: with no referrer at all, browsers send
        // `Origin: null` on form posts, and the origin check refuses them.
        .layer(header(REFERRER_POLICY, "same-origin"))
        .layer(header(X_FRAME_OPTIONS, "DENY"))
        .layer(header(
            axum::http::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .layer(header(
            axum::http::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ))
        // Answers carry personal data: no cache keeps them unless told otherwise.
        .layer(header(CACHE_CONTROL, "no-store"))
}
