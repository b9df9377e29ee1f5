//! `/password`: anyone with an account chooses a new password, knowing the
//! current one or the one-time code an administrator gave them. It is a
//! page of its own, outside the dashboard, because workers (who never use
//! the dashboard) need it too after a reset; a supervisor reaches it from
//! the dashboard's header. After the change every session of the user ends;
//! a dashboard user is logged in again with the new password.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::lang::{Lang, negotiate};
use super::pages::{
    escape, fill, may_log_in, no_store, percent_encode, random_nonce, remember_lang, safe_next,
    start_session,
};
use crate::audit::Peer;
use crate::error::AppError;
use crate::login;
use crate::session;
use crate::state::AppState;

/// The page's path.
pub(crate) const PASSWORD: &str = "/password";

/// The cookie holding the form's CSRF nonce.
const NONCE_COOKIE: &str = "doorstep_password";

const PAGE: &str = include_str!("templates/password.html");

/// What the page says, in one language.
struct Text {
    title: &'static str,
    brand: &'static str,
    heading: &'static str,
    intro: &'static str,
    intro_reset: &'static str,
    username: &'static str,
    current: &'static str,
    new: &'static str,
    again: &'static str,
    rule: &'static str,
    submit: &'static str,
    back: &'static str,
    done: &'static str,
}

fn text(lang: Lang) -> Text {
    match lang {
        Lang::Zh => Text {
            title: "修改密码 · Doorstep",
            brand: "入户走访 · 微心愿",
            heading: "修改密码",
            intro: "输入当前密码，再设置新密码。修改后，你在所有手机和电脑上的登录都会退出，需要用新密码重新登录。",
            intro_reset: "管理员为你重置了密码。请输入管理员给你的一次性验证码，再设置你自己的新密码。",
            username: "用户名",
            current: "当前密码或一次性验证码",
            new: "新密码",
            again: "再次输入新密码",
            rule: "至少 8 个字符。",
            submit: "修改密码",
            back: "返回登录",
            done: "密码已修改。请在手机应用中用新密码重新登录。",
        },
        Lang::En => Text {
            title: "Change password · Doorstep",
            brand: "Door-to-door visits · wish cards",
            heading: "Change your password",
            intro: "Enter your current password, then a new one. Afterwards you are logged out on every phone and computer, and log in again with the new password.",
            intro_reset: "An administrator reset your password. Enter the one-time code they gave you, then choose your own new password.",
            username: "User name",
            current: "Current password or one-time code",
            new: "New password",
            again: "New password again",
            rule: "At least 8 characters.",
            submit: "Change password",
            back: "Back to login",
            done: "Your password is changed. Log in again on your phone with the new password.",
        },
    }
}

/// Why a change did not go through, in the user's language.
fn refusal(lang: Lang, error: &AppError) -> String {
    let zh = lang == Lang::Zh;
    match error {
        AppError::Unauthorized(m) if m.contains("expired") => if zh {
            "这个一次性验证码已过期，请向管理员索取新的验证码。"
        } else {
            "This one-time code has expired. Ask an administrator for a new one."
        }
        .to_owned(),
        AppError::Unauthorized(_) => if zh {
            "用户名或当前密码不正确。"
        } else {
            "Wrong user name or current password."
        }
        .to_owned(),
        AppError::Forbidden(_) => if zh {
            "此账号已停用。"
        } else {
            "This account is disabled."
        }
        .to_owned(),
        AppError::TooManyAttempts { .. } => if zh {
            "此用户名的失败次数过多，请稍等几分钟再试。"
        } else {
            "Too many failed attempts for this user name. Please wait a few minutes."
        }
        .to_owned(),
        AppError::BadRequest(m) if m.contains("8 characters") => if zh {
            "新密码至少需要 8 个字符。"
        } else {
            "A new password has at least 8 characters."
        }
        .to_owned(),
        _ => if zh {
            "暂时无法修改密码，请稍后再试。"
        } else {
            "The password cannot be changed right now. Please try again."
        }
        .to_owned(),
    }
}

/// Query of the page.
#[derive(Debug, Deserialize, Default)]
pub(super) struct PasswordQuery {
    user: Option<String>,
    #[serde(default)]
    reset: Option<String>,
    next: Option<String>,
    lang: Option<String>,
}

/// The form.
#[derive(Debug, Deserialize)]
pub(super) struct PasswordForm {
    username: String,
    current: String,
    new: String,
    again: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reset: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

struct Shown<'a> {
    lang: Lang,
    username: &'a str,
    reset: bool,
    next: &'a str,
    message: Option<(bool, String)>,
    form: bool,
}

fn render(headers: &HeaderMap, shown: &Shown<'_>) -> Response {
    let nonce = match random_nonce() {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let t = text(shown.lang);
    let message = shown.message.as_ref().map_or_else(String::new, |(ok, m)| {
        let (class, id) = if *ok {
            ("alert ok", "password-done")
        } else {
            ("alert error", "password-error")
        };
        format!(
            r#"<p class="{class}" role="alert" id="{id}">{}</p>"#,
            escape(m)
        )
    });
    let form = if shown.form {
        fill(
            r#"<form method="post" action="/password" class="stack" id="password-form">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <input type="hidden" name="next" value="{{next}}">
    <input type="hidden" name="reset" value="{{reset}}">
    <label for="username">{{username_label}}</label>
    <input id="username" name="username" autocomplete="username" required value="{{username}}" autocapitalize="none" spellcheck="false">
    <label for="current">{{current_label}}</label>
    <input id="current" name="current" type="password" autocomplete="current-password" required>
    <label for="new">{{new_label}}</label>
    <input id="new" name="new" type="password" autocomplete="new-password" minlength="8" required aria-describedby="rule">
    <p class="muted small" id="rule">{{rule}}</p>
    <label for="again">{{again_label}}</label>
    <input id="again" name="again" type="password" autocomplete="new-password" minlength="8" required>
    <button type="submit" class="primary">{{submit}}</button>
  </form>"#,
            &[
                ("csrf", escape(&nonce)),
                ("next", escape(shown.next)),
                ("reset", if shown.reset { "1" } else { "" }.to_owned()),
                ("username_label", escape(t.username)),
                ("username", escape(shown.username)),
                ("current_label", escape(t.current)),
                ("new_label", escape(t.new)),
                ("rule", escape(t.rule)),
                ("again_label", escape(t.again)),
                ("submit", escape(t.submit)),
            ],
        )
    } else {
        String::new()
    };
    let switch_href = format!(
        "{PASSWORD}?lang={}&user={}{}",
        shown.lang.other().code(),
        percent_encode(shown.username),
        if shown.reset { "&reset=1" } else { "" }
    );
    let html = fill(
        PAGE,
        &[
            ("lang", shown.lang.html().to_owned()),
            ("title", escape(t.title)),
            ("brand", escape(t.brand)),
            ("heading", escape(t.heading)),
            (
                "intro",
                escape(if shown.reset { t.intro_reset } else { t.intro }),
            ),
            ("message", message),
            ("form", form),
            ("back", escape(t.back)),
            ("switch_href", escape(&switch_href)),
            ("switch_lang", shown.lang.other().html().to_owned()),
            ("switch_label", escape(shown.lang.other().name())),
        ],
    );
    let mut response = Html(html).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        session::set_cookie(
            NONCE_COOKIE,
            &nonce,
            PASSWORD,
            3600,
            session::is_https(headers),
        ),
    );
    no_store(&mut response);
    response
}

/// `GET /password`
pub(super) async fn form(headers: HeaderMap, Query(query): Query<PasswordQuery>) -> Response {
    let (lang, chosen) = negotiate(&headers, query.lang.as_deref());
    let username: String = query.user.unwrap_or_default().chars().take(64).collect();
    let next = safe_next(query.next.as_deref());
    let mut response = render(
        &headers,
        &Shown {
            lang,
            username: &username,
            reset: query.reset.is_some_and(|r| !r.is_empty()),
            next: &next,
            message: None,
            form: true,
        },
    );
    remember_lang(&mut response, &headers, lang, chosen);
    response
}

/// `POST /password`: checks the nonce, the current password (throttled like
/// a login) and the new one, sets it, and logs a dashboard user back in.
pub(super) async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    Peer(peer): Peer,
    Form(form): Form<PasswordForm>,
) -> Response {
    let (lang, _) = negotiate(&headers, None);
    let username: String = form.username.trim().chars().take(64).collect();
    let next = safe_next(form.next.as_deref());
    let reset = form.reset.as_deref().is_some_and(|r| !r.is_empty());
    let again = |message: String| {
        render(
            &headers,
            &Shown {
                lang,
                username: &username,
                reset,
                next: &next,
                message: Some((false, message)),
                form: true,
            },
        )
    };
    let nonce_ok = session::cookie(&headers, NONCE_COOKIE)
        .is_some_and(|nonce| session::tokens_match(nonce, &form.csrf));
    if !nonce_ok || !session::same_origin(&headers) {
        return again(match lang {
            Lang::Zh => "表单已过期，请重新填写。".to_owned(),
            Lang::En => "The form expired. Please fill it in again.".to_owned(),
        });
    }
    if form.new != form.again {
        return again(match lang {
            Lang::Zh => "两次输入的新密码不一致。".to_owned(),
            Lang::En => "The two new passwords differ.".to_owned(),
        });
    }
    let result = async {
        let user = login::authenticate(&state, &username, form.current, peer).await?;
        login::change_password(&state, &user, &form.new, peer).await?;
        Ok::<_, AppError>(user)
    }
    .await;
    let user = match result {
        Ok(user) => user,
        Err(e) => {
            if matches!(e, AppError::Internal(_) | AppError::Storage { .. }) {
                tracing::error!(user = %username, error = %e, "password change failed");
            }
            return again(refusal(lang, &e));
        }
    };
    if !may_log_in(user.role) {
        return render(
            &headers,
            &Shown {
                lang,
                username: &username,
                reset: false,
                next: &next,
                message: Some((true, text(lang).done.to_owned())),
                form: false,
            },
        );
    }
    // Every session ended with the change: this one starts afresh.
    let how = "dashboard, with the new password";
    start_session(
        &state,
        &headers,
        user,
        peer,
        how,
        &next,
        (NONCE_COOKIE, PASSWORD),
    )
    .await
    .unwrap_or_else(|e| {
        tracing::error!(user = %username, error = %e, "session after a password change");
        Redirect::to("/login").into_response()
    })
}
