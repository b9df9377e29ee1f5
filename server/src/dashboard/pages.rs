//! The dashboard's HTML: the login page (rendered here, so it works without
//! script), logging in and out, and the shell every supervisor page shares
//! (the front end draws the page from the `/v1` API).

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::lang::{LANG_COOKIE, Lang, negotiate};
use super::password::PASSWORD;
use crate::accounts::User;
use crate::audit::{self, Action, Entry, Peer};
use crate::error::AppError;
use crate::login;
use crate::session::{self, SESSION_COOKIE};
use crate::state::{AppState, now_ms};

/// The cookie holding the login form's CSRF nonce.
const LOGIN_COOKIE: &str = "doorstep_login";
/// Where a supervisor lands after logging in.
const HOME: &str = "/queue";
/// Where a volunteer lands: the wish wall.
pub(super) const WALL: &str = "/wall";

/// Where `role` goes after logging in, given where they were going: a
/// volunteer to the wall, anyone else to the dashboard.
pub(super) fn landing(role: sync_core::Role, next: &str) -> String {
    let to_wall = next == WALL || next.starts_with("/wall?") || next.starts_with("/wall/");
    match role {
        sync_core::Role::Volunteer if to_wall => next.to_owned(),
        sync_core::Role::Volunteer => WALL.to_owned(),
        _ if to_wall => HOME.to_owned(),
        _ => next.to_owned(),
    }
}

/// True for a session that may use the dashboard or the wall.
pub(super) fn may_log_in(role: sync_core::Role) -> bool {
    matches!(
        role,
        sync_core::Role::Supervisor | sync_core::Role::Admin | sync_core::Role::Volunteer
    )
}

const SHELL: &str = include_str!("templates/shell.html");
const LOGIN: &str = include_str!("templates/login.html");

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `{{name}}` slots with already escaped values, in one pass (a value
/// is never read as a template).
pub(super) fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                match values.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A path inside the dashboard to go to after logging in; anything else
/// (another host, a scheme, the login page itself) goes home.
pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/login")
                && !n.starts_with("/logout")
                && !n.starts_with("/password")
                && n.len() <= 1024
                && n.chars().all(|c| c.is_ascii_graphic() && c != '\\') =>
        {
            n.to_owned()
        }
        _ => HOME.to_owned(),
    }
}

pub(super) fn random_nonce() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub(super) fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store, private"));
}

/// Why a login did not go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    WrongPassword,
    NotSupervisor,
    Disabled,
    Expired,
    TooManyAttempts,
    Broken,
}

struct LoginText {
    title: &'static str,
    brand: &'static str,
    heading: &'static str,
    intro: &'static str,
    username: &'static str,
    password: &'static str,
    submit: &'static str,
    api: &'static str,
}

fn login_text(lang: Lang) -> LoginText {
    match lang {
        Lang::Zh => LoginText {
            title: "登录 · Doorstep 督导工作台",
            brand: "入户走访 · 微心愿督导工作台",
            heading: "登录",
            intro: "督导：审核心愿卡、派单跟进、查看统计。志愿者和结对单位成员：登录后进入心愿墙认领心愿。社区工作者请使用手机应用。",
            username: "用户名",
            password: "密码",
            submit: "登录",
            api: "接口说明",
        },
        Lang::En => LoginText {
            title: "Log in · Doorstep supervisor dashboard",
            brand: "Door-to-door visits · wish cards",
            heading: "Log in",
            intro: "Supervisors review wish cards, dispatch them and follow them up. Volunteers and partner units' members land on the wish wall to claim wishes. Field workers use the phone app.",
            username: "User name",
            password: "Password",
            submit: "Log in",
            api: "API",
        },
    }
}

fn refusal_text(lang: Lang, refusal: Refusal) -> &'static str {
    match (lang, refusal) {
        (Lang::Zh, Refusal::WrongPassword) => "用户名或密码不正确。",
        (Lang::Zh, Refusal::NotSupervisor) => {
            "网页仅供督导、管理员和志愿者使用。社区工作者请使用手机应用。"
        }
        (Lang::Zh, Refusal::Disabled) => "此账号已停用。",
        (Lang::Zh, Refusal::Expired) => "登录表单已过期，请重新登录。",
        (Lang::Zh, Refusal::TooManyAttempts) => "此用户名的登录失败次数过多，请稍等几分钟再试。",
        (Lang::Zh, Refusal::Broken) => "暂时无法登录，请稍后再试。",
        (Lang::En, Refusal::WrongPassword) => "Wrong user name or password.",
        (Lang::En, Refusal::NotSupervisor) => {
            "The web pages are for supervisors, administrators and volunteers. Field workers use the phone app."
        }
        (Lang::En, Refusal::Disabled) => "This account is disabled.",
        (Lang::En, Refusal::Expired) => "The login form expired. Please log in again.",
        (Lang::En, Refusal::TooManyAttempts) => {
            "Too many failed logins for this user name. Please wait a few minutes and try again."
        }
        (Lang::En, Refusal::Broken) => "Logging in is not possible right now. Please try again.",
    }
}

/// Renders the login page with a fresh form nonce.
fn login_page(
    headers: &HeaderMap,
    lang: Lang,
    next: &str,
    username: &str,
    refusal: Option<Refusal>,
) -> Response {
    let nonce = match random_nonce() {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let text = login_text(lang);
    let error = refusal.map_or_else(String::new, |r| {
        format!(
            r#"<p class="alert error" role="alert" id="login-error">{}</p>"#,
            escape(refusal_text(lang, r))
        )
    });
    let switch_href = format!(
        "/login?lang={}&next={}",
        lang.other().code(),
        percent_encode(next)
    );
    let html = fill(
        LOGIN,
        &[
            ("lang", lang.html().to_owned()),
            ("title", escape(text.title)),
            ("brand", escape(text.brand)),
            ("heading", escape(text.heading)),
            ("intro", escape(text.intro)),
            ("error", error),
            ("csrf", escape(&nonce)),
            ("next", escape(next)),
            ("username_label", escape(text.username)),
            ("password_label", escape(text.password)),
            ("username", escape(username)),
            ("submit", escape(text.submit)),
            ("switch_href", escape(&switch_href)),
            ("switch_lang", lang.other().html().to_owned()),
            ("switch_label", escape(lang.other().name())),
            ("api_label", escape(text.api)),
        ],
    );
    let mut response = Html(html).into_response();
    let secure = session::is_https(headers);
    response.headers_mut().append(
        SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, &nonce, "/login", 3600, secure),
    );
    no_store(&mut response);
    response
}

pub(super) fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sets the language cookie when the language was chosen explicitly.
pub(super) fn remember_lang(
    response: &mut Response,
    headers: &HeaderMap,
    lang: Lang,
    chosen: bool,
) {
    if chosen {
        response.headers_mut().append(
            SET_COOKIE,
            session::set_cookie(
                LANG_COOKIE,
                lang.code(),
                "/",
                365 * 86_400,
                session::is_https(headers),
            ),
        );
    }
}

/// Query of the login page.
#[derive(Debug, Deserialize, Default)]
pub(super) struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
}

/// `GET /login`
pub(super) async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    let (lang, chosen) = negotiate(&headers, query.lang.as_deref());
    let mut response = match session::from_headers(&state, &headers).await {
        Ok(Some(s)) if may_log_in(s.auth.user.role) => {
            Redirect::to(&landing(s.auth.user.role, &next)).into_response()
        }
        _ => login_page(&headers, lang, &next, "", None),
    };
    remember_lang(&mut response, &headers, lang, chosen);
    response
}

/// The login form.
#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login`: checks the form nonce and the password, refuses anyone
/// but supervisors and admins, and starts a session.
pub(super) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Peer(peer): Peer,
    Form(form): Form<LoginForm>,
) -> Response {
    let (lang, _) = negotiate(&headers, None);
    let next = safe_next(form.next.as_deref());
    let username = form.username.trim().chars().take(64).collect::<String>();
    let nonce_ok = session::cookie(&headers, LOGIN_COOKIE)
        .is_some_and(|nonce| session::tokens_match(nonce, &form.csrf));
    if !nonce_ok || !session::same_origin(&headers) {
        return login_page(&headers, lang, &next, &username, Some(Refusal::Expired));
    }
    let name = username.clone();
    let result = async {
        let user = login::authenticate(&state, &name, form.password, peer).await?;
        if user.must_change_password {
            // A one-time code: it serves only to choose a new password.
            let location = format!(
                "{PASSWORD}?user={}&reset=1&next={}",
                percent_encode(&name),
                percent_encode(&next)
            );
            let mut response = Redirect::to(&location).into_response();
            no_store(&mut response);
            return Ok(response);
        }
        if !may_log_in(user.role) {
            return Err(AppError::Forbidden(format!(
                "a {} may not use the dashboard",
                user.role
            )));
        }
        start_session(
            &state,
            &headers,
            user,
            peer,
            "dashboard",
            &next,
            LOGIN_COOKIE_AT,
        )
        .await
    }
    .await;
    let refusal = match result {
        Ok(response) => {
            tracing::info!(user = %username, "dashboard login");
            return response;
        }
        Err(AppError::Unauthorized(_)) => Refusal::WrongPassword,
        Err(AppError::TooManyAttempts { .. }) => Refusal::TooManyAttempts,
        Err(AppError::Forbidden(m)) if m.contains("disabled") => Refusal::Disabled,
        Err(AppError::Forbidden(m)) => {
            tracing::info!(user = %username, reason = %m, "dashboard login refused");
            login::note(
                &state,
                Entry::new(now_ms(), None, Action::LoginFailed)
                    .on(username.as_str())
                    .detail(format!("dashboard: {m}"))
                    .from_peer(peer),
            )
            .await;
            Refusal::NotSupervisor
        }
        Err(e) => {
            tracing::error!(user = %username, error = %e, "dashboard login failed");
            Refusal::Broken
        }
    };
    // The form comes back with the reason, as a page (200) like any form
    // shown again; what tells the refusal is that no session cookie is set.
    login_page(&headers, lang, &next, &username, Some(refusal))
}

/// The login form's nonce cookie: its name and path.
const LOGIN_COOKIE_AT: (&str, &str) = (LOGIN_COOKIE, "/login");

/// Starts a dashboard session for `user` (recorded as a login, `how`) and
/// sends them on to `next`, clearing the form's nonce cookie `nonce` (its
/// name and path).
pub(super) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: User,
    peer: Option<SocketAddr>,
    how: &'static str,
    next: &str,
    nonce: (&str, &str),
) -> Result<Response, AppError> {
    let ttl_secs = state.settings.session_ttl_secs();
    let secret = state.keys.device_secret();
    let role = user.role;
    let secret = state
        .db
        .run(move |store| {
            let now = now_ms();
            let secret = store.start_web_session(&user.username, &secret, ttl_secs * 1000, now)?;
            audit::record(
                store,
                &Entry::new(now, Some(user.username.as_str()), Action::Login)
                    .on(user.username.as_str())
                    .detail(how)
                    .from_peer(peer),
            )?;
            Ok(secret)
        })
        .await?;
    let secure = session::is_https(headers);
    let mut response = Redirect::to(&landing(role, next)).into_response();
    let cookies = response.headers_mut();
    cookies.append(
        SET_COOKIE,
        session::set_cookie(SESSION_COOKIE, &secret, "/", ttl_secs, secure),
    );
    cookies.append(
        SET_COOKIE,
        session::set_cookie(nonce.0, "", nonce.1, 0, secure),
    );
    no_store(&mut response);
    Ok(response)
}

/// The logout form.
#[derive(Debug, Deserialize)]
pub(super) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (with its CSRF token) and clears the cookie.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    match session::from_headers(&state, &headers).await {
        Ok(Some(s)) => {
            if let Err(e) = session::check_csrf(&headers, &s.csrf, Some(&form.csrf)) {
                return e.into_response();
            }
            let secret = s.secret.clone();
            if let Err(e) = state
                .db
                .run(move |store| store.end_web_session(&secret, now_ms()))
                .await
            {
                return e.into_response();
            }
            tracing::info!(user = %s.auth.user.username, "dashboard logout");
        }
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        SET_COOKIE,
        session::set_cookie(SESSION_COOKIE, "", "/", 0, session::is_https(&headers)),
    );
    response
}

/// Query of every page: only the language switch.
#[derive(Debug, Deserialize, Default)]
pub(super) struct PageQuery {
    pub(super) lang: Option<String>,
}

pub(super) fn to_login(uri: &Uri) -> Response {
    let next = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let location = format!("/login?next={}", percent_encode(&safe_next(Some(&next))));
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    no_store(&mut response);
    response
}

/// Every supervisor page: the shell, for a supervisor's session; the login
/// page for anyone else.
pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<PageQuery>,
) -> Response {
    let session = match session::from_headers(&state, &headers).await {
        Ok(Some(s)) if s.auth.require_supervisor().is_ok() => s,
        // A volunteer's pages are the wall's.
        Ok(Some(s)) if s.auth.user.role == sync_core::Role::Volunteer => {
            return Redirect::to(WALL).into_response();
        }
        Ok(_) => return to_login(&uri),
        Err(e) => return e.into_response(),
    };
    let (lang, chosen) = negotiate(&headers, query.lang.as_deref());
    let user = &session.auth.user;
    let scopes: Vec<&str> = user.scopes.iter().map(|s| s.as_str()).collect();
    let (title, skip, loading, noscript) = match lang {
        Lang::Zh => (
            "Doorstep 督导工作台",
            "跳到主要内容",
            "正在加载…",
            "督导工作台需要启用 JavaScript。",
        ),
        Lang::En => (
            "Doorstep supervisor dashboard",
            "Skip to the content",
            "Loading…",
            "The dashboard needs JavaScript.",
        ),
    };
    let html = fill(
        SHELL,
        &[
            ("lang", lang.html().to_owned()),
            ("csrf", escape(&session.csrf)),
            ("user", escape(user.username.as_str())),
            ("role", escape(user.role.as_str())),
            ("scopes", escape(&scopes.join(","))),
            ("title", escape(title)),
            ("skip", escape(skip)),
            ("loading", escape(loading)),
            ("noscript", escape(noscript)),
        ],
    );
    let mut response = Html(html).into_response();
    no_store(&mut response);
    remember_lang(&mut response, &headers, lang, chosen);
    response
}

/// `GET /`: the review queue for a supervisor, the login page for anyone else.
pub(super) async fn root(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session::from_headers(&state, &headers).await {
        Ok(Some(s)) if may_log_in(s.auth.user.role) => {
            Redirect::to(&landing(s.auth.user.role, HOME)).into_response()
        }
        _ => Redirect::to("/login").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/wishes/1?x=2")), "/wishes/1?x=2");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "/login",
            "/logout",
            "",
            "/a b",
        ] {
            assert_eq!(safe_next(Some(bad)), HOME, "{bad}");
        }
        assert_eq!(safe_next(None), HOME);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(fill("a {{x}} b {{x}}", &[("x", "1".into())]), "a 1 b 1");
        assert_eq!(
            fill(
                "{{x}}{{y}} {{z",
                &[("x", "{{y}}".into()), ("y", "2".into())]
            ),
            "{{y}}2 {{z"
        );
    }
}
