//! Dashboard sessions: a random secret in an `HttpOnly`, `SameSite=Strict`
//! cookie, stored hashed beside the phones' refresh tokens (see
//! [`crate::store::RelayStore::start_web_session`]). The browser never sees a bearer token.
//!
//! Requests that change state and are authenticated by the cookie must also
//! carry the session's CSRF token (in the `X-CSRF-Token` header, or the
//! `csrf` field of a form), come from the relay's own origin, and not be
//! marked cross-site by the browser. The CSRF token is derived from the
//! session secret, so it needs no storage and dies with the session.

use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, Method};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::auth::{self, AuthUser};
use crate::error::{AppError, AppResult};
use crate::state::{AppState, now_ms};

/// The session cookie.
pub const SESSION_COOKIE: &str = "doorstep_session";
/// The header a dashboard sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A live dashboard session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who, as the database has them now, on their web device.
    pub auth: AuthUser,
    /// The CSRF token of this session.
    pub csrf: String,
    /// The session's secret (the cookie value).
    pub secret: String,
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The CSRF token of the session with this secret.
pub fn csrf_token(secret: &str) -> String {
    let digest = Sha256::digest(format!("doorstep-csrf\0{secret}").as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn tokens_match(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when the request reached us over HTTPS through a proxy that says so;
/// cookies are then marked `Secure`.
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Secure` over HTTPS.
/// `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    // Names and values are ours (base64url, ASCII), never the client's.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// False when the browser says the request comes from another site, or its
/// `Origin` is not this relay.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return false;
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => {
            let bare = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            bare == Some(host)
        }
        _ => false,
    }
}

/// True for methods that change nothing.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks a state-changing request made with the session cookie: same
/// origin, and the session's CSRF token given.
pub fn check_csrf(headers: &HeaderMap, session_csrf: &str, given: Option<&str>) -> AppResult<()> {
    let forbidden = |m: &str| AppError::Forbidden(m.to_owned());
    if !same_origin(headers) {
        return Err(forbidden("cross-site requests are refused"));
    }
    let given = given.or_else(|| headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()));
    match given {
        Some(token) if tokens_match(session_csrf, token) => Ok(()),
        Some(_) => Err(AppError::refused(
            crate::error::Reason::SessionChanged,
            "the CSRF token does not match this session; reload the page",
        )),
        None => Err(forbidden("a CSRF token is required")),
    }
}

/// The session of the request's cookie, if it names a live one whose user
/// may still use it. `Ok(None)` when there is no cookie or it is stale.
pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> AppResult<Option<Session>> {
    let Some(secret) = cookie(headers, SESSION_COOKIE).map(str::to_owned) else {
        return Ok(None);
    };
    let lookup = secret.clone();
    let found = state
        .db
        .run(move |store| {
            let Some(session) = store.web_session(&lookup, now_ms())? else {
                return Ok(None);
            };
            match auth::authorize_in(store, &session.username, session.device, false) {
                Ok(auth) => Ok(Some(auth)),
                Err(
                    AppError::Forbidden(_) | AppError::InvalidToken(_) | AppError::DeviceRevoked,
                ) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
    Ok(found.map(|auth| Session {
        auth,
        csrf: csrf_token(&secret),
        secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[("cookie", "a=1; doorstep_session=abc"), ("cookie", "b=2")]);
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "doorstep"), None);
    }

    #[test]
    fn csrf_needs_the_token_and_the_same_origin() {
        let token = csrf_token("secret");
        assert_ne!(token, csrf_token("other secret"));
        let same = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(check_csrf(&same, &token, Some(&token)).is_ok());
        assert!(check_csrf(&same, &token, None).is_err());
        assert!(check_csrf(&same, &token, Some("forged")).is_err());
        let other = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(check_csrf(&other, &token, Some(&token)).is_err());
        let cross = headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]);
        assert!(check_csrf(&cross, &token, Some(&token)).is_err());
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let v = set_cookie(SESSION_COOKIE, "x", "/", 60, false);
        let v = v.to_str().unwrap_or_default();
        assert!(v.contains("HttpOnly") && v.contains("SameSite=Strict") && !v.contains("Secure"));
        let v = set_cookie(SESSION_COOKIE, "x", "/", 60, true);
        assert!(v.to_str().unwrap_or_default().ends_with("; Secure"));
    }
}
