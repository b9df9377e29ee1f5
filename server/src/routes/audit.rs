//! The audit log, for administrators: `GET /v1/audit` (newest first, with
//! filters) and `GET /v1/export/audit.csv` (the same filters, as a file,
//! itself recorded in the log).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::openapi::{Authed, BadQuery, Binary};
use super::params::{Bound, parse_time};
use super::stats::inert;
use crate::accounts;
use crate::audit::{self, Action, Entry, Filter, Peer, Stored};
use crate::auth::AuthUser;
use crate::dashboard::{Lang, negotiate};
use crate::error::{AppError, AppResult};
use crate::state::{AppState, now_ms};

/// The filters, as the query gives them: dates (`YYYY-MM-DD`) or ms.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditParams {
    /// Only this event (`login`, `login_failed`, `user_added`, …).
    action: Option<String>,
    /// Only entries by, or about, this user name or device id.
    who: Option<String>,
    /// From this day (`YYYY-MM-DD`, UTC) or time (ms).
    from: Option<String>,
    /// To this day, included, or before this time (ms).
    to: Option<String>,
    /// Entries older than this id: the next page.
    before: Option<i64>,
    /// At most this many (up to 1,000).
    limit: Option<u32>,
    /// The CSV's language: `zh` or `en` (else the browser's).
    lang: Option<String>,
}

impl AuditParams {
    fn filter(&self) -> AppResult<Filter> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Ok(Filter {
            action: text(&self.action).map(|a| a.parse()).transpose()?,
            who: text(&self.who),
            from: text(&self.from)
                .map(|v| parse_time("from", &v, Bound::Start))
                .transpose()?,
            to: text(&self.to)
                .map(|v| parse_time("to", &v, Bound::End))
                .transpose()?,
            before: self.before,
            limit: self.limit,
        })
    }
}

fn require_admin(auth: &AuthUser) -> AppResult<()> {
    accounts::require_manager(&auth.user, &[])
        .map_err(|_| AppError::Forbidden("only an administrator reads the audit log".into()))
}

/// `GET /v1/audit`
#[utoipa::path(
    get,
    path = "/v1/audit",
    operation_id = "audit_list",
    tag = "accounts",
    params(AuditParams),
    responses(
        (status = 200, description = "Audit entries, newest first (administrators)", body = Vec<Stored>),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<AuditParams>,
) -> AppResult<Json<Vec<Stored>>> {
    require_admin(&auth)?;
    let filter = params.filter()?;
    Ok(Json(
        state.db.run(move |store| store.audit_log(&filter)).await?,
    ))
}

/// `GET /v1/export/audit.csv`: UTF-8 with a byte-order mark, headers in
/// the asked language (`?lang=zh|en`, else the browser's), times as local
/// date-times of the relay's machine.
#[utoipa::path(
    get,
    path = "/v1/export/audit.csv",
    operation_id = "audit_export",
    tag = "accounts",
    params(AuditParams),
    responses(
        (status = 200, description = "The entries as CSV (UTF-8 with a byte-order mark, for Excel)", body = Binary, content_type = "text/csv; charset=utf-8"),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn export(
    State(state): State<AppState>,
    auth: AuthUser,
    Peer(peer): Peer,
    headers: axum::http::HeaderMap,
    Query(params): Query<AuditParams>,
) -> AppResult<impl IntoResponse> {
    require_admin(&auth)?;
    let mut filter = params.filter()?;
    filter.limit = Some(Filter::MAX);
    let (lang, _) = negotiate(&headers, params.lang.as_deref());
    let admin = auth.user.username.clone();
    let body = state
        .db
        .run(move |store| {
            let mut rows = Vec::new();
            loop {
                let page = store.audit_log(&filter)?;
                let last = page.last().map(|e| e.id);
                let full = page.len() == Filter::MAX as usize;
                rows.extend(page);
                match last {
                    Some(id) if full && rows.len() < 100_000 => filter.before = Some(id),
                    _ => break,
                }
            }
            let body = write_csv(&rows, lang)?;
            audit::record(
                store,
                &Entry::new(now_ms(), Some(admin.as_str()), Action::Export)
                    .on("audit.csv")
                    .detail(format!("{} entries", rows.len()))
                    .from_peer(peer),
            )?;
            Ok(body)
        })
        .await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        body,
    ))
}

fn write_csv(rows: &[Stored], lang: Lang) -> AppResult<Vec<u8>> {
    let header: [&str; 7] = match lang {
        Lang::Zh => ["编号", "时间", "操作人", "事件", "对象", "详情", "来源地址"],
        Lang::En => [
            "id", "time", "actor", "event", "subject", "detail", "address",
        ],
    };
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut csv = csv::Writer::from_writer(&mut out);
        let broken = |e: csv::Error| AppError::Internal(e.to_string());
        csv.write_record(header).map_err(broken)?;
        for e in rows {
            csv.write_record([
                e.id.to_string().as_str(),
                &crate::when::local(e.at),
                &inert(e.actor.as_deref().unwrap_or_default()),
                action_label(e.action, lang),
                &inert(e.target.as_deref().unwrap_or_default()),
                &inert(&e.detail),
                e.peer.as_deref().unwrap_or_default(),
            ])
            .map_err(broken)?;
        }
        csv.flush().map_err(|e| AppError::Internal(e.to_string()))?;
    }
    Ok(out)
}

/// What an action is called in `lang`.
pub(crate) fn action_label(action: Action, lang: Lang) -> &'static str {
    use Action as A;
    match lang {
        Lang::Zh => match action {
            A::Login => "登录",
            A::LoginFailed => "登录失败",
            A::RefreshFailed => "令牌刷新被拒",
            A::PasswordChanged => "修改密码",
            A::PasswordReset => "重置密码",
            A::UserAdded => "新增账号",
            A::UserChanged => "修改账号",
            A::UserDisabled => "停用账号",
            A::UserEnabled => "启用账号",
            A::DeviceRevoked => "吊销设备",
            A::Export => "导出",
            A::Restore => "从备份恢复",
            A::SettingsChanged => "配置变更",
        },
        Lang::En => match action {
            A::Login => "login",
            A::LoginFailed => "failed login",
            A::RefreshFailed => "refused token refresh",
            A::PasswordChanged => "password changed",
            A::PasswordReset => "password reset",
            A::UserAdded => "user added",
            A::UserChanged => "user changed",
            A::UserDisabled => "user disabled",
            A::UserEnabled => "user enabled",
            A::DeviceRevoked => "device revoked",
            A::Export => "export",
            A::Restore => "restore",
            A::SettingsChanged => "settings changed",
        },
    }
}
