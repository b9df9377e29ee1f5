//! The wish wall's page (心愿墙): a phone-first page for volunteers and
//! partner units' members. The relay renders the shell; `wall.js` draws the
//! wall from `/v1/wall`, where the read rules are applied.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::lang::{Lang, negotiate};
use super::pages::{PageQuery, escape, fill, no_store, remember_lang, to_login};
use crate::session;
use crate::state::AppState;

const SHELL: &str = include_str!("templates/wall.html");

/// `GET /wall`: the wall for a volunteer's session; supervisors go to their
/// dashboard, anyone else to the login page.
pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<PageQuery>,
) -> Response {
    let session = match session::from_headers(&state, &headers).await {
        Ok(Some(s)) if s.auth.user.role == sync_core::Role::Volunteer => s,
        Ok(Some(_)) => return Redirect::to("/").into_response(),
        Ok(None) => return to_login(&uri),
        Err(e) => return e.into_response(),
    };
    let (lang, chosen) = negotiate(&headers, query.lang.as_deref());
    let user = &session.auth.user;
    let (title, loading, noscript) = match lang {
        Lang::Zh => (
            "心愿墙 · Doorstep",
            "正在加载…",
            "心愿墙需要启用 JavaScript。",
        ),
        Lang::En => (
            "Wish wall · Doorstep",
            "Loading…",
            "The wish wall needs JavaScript.",
        ),
    };
    let html = fill(
        SHELL,
        &[
            ("lang", lang.html().to_owned()),
            ("csrf", escape(&session.csrf)),
            ("user", escape(user.username.as_str())),
            ("role", escape(user.role.as_str())),
            ("title", escape(title)),
            ("loading", escape(loading)),
            ("noscript", escape(noscript)),
        ],
    );
    let mut response = Html(html).into_response();
    no_store(&mut response);
    remember_lang(&mut response, &headers, lang, chosen);
    response
}
