//! `GET /v1/changes?since=N&wait=S`: "did anything in my scopes change since
//! feed position N?", answered at once if so, or held up to S seconds until
//! something does (a long poll). The dashboard uses it to show new syncs
//! without a reload; it works through any proxy and holds no connection open
//! for longer than a normal request.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;
use serde::{Deserialize, Serialize};
use sync_core::ScopePath;

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::state::AppState;

/// The longest a poll is held, in seconds.
const MAX_WAIT_SECS: u64 = 25;

/// Poll options.
#[derive(Debug, Deserialize)]
pub(super) struct ChangesParams {
    since: Option<i64>,
    #[serde(default)]
    wait: u64,
}

/// Where the feed is, and how many records in the caller's scopes changed
/// after `since`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(super) struct Changes {
    seq: i64,
    changed: u64,
}

fn changes(conn: &rusqlite::Connection, scopes: &[ScopePath], since: i64) -> AppResult<Changes> {
    let seq: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM records", [], |r| {
        r.get(0)
    })?;
    if seq <= since || scopes.is_empty() {
        return Ok(Changes { seq, changed: 0 });
    }
    let mut args = vec![Sql::Integer(since)];
    let mut clauses = Vec::new();
    for scope in scopes {
        args.push(Sql::Text(scope.as_str().to_owned()));
        let n = args.len();
        clauses.push(format!(
            "community = ?{n} OR substr(community, 1, length(?{n}) + 1) = ?{n} || '/'"
        ));
    }
    let changed: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM records WHERE seq > ?1 AND ({})",
            clauses.join(" OR ")
        ),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    Ok(Changes {
        seq,
        changed: u64::try_from(changed).unwrap_or(0),
    })
}

/// `GET /v1/changes`
pub(super) async fn poll(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ChangesParams>,
) -> AppResult<Json<Changes>> {
    // Subscribe before looking, so a write between the look and the wait wakes us.
    let mut wake = state.live.subscribe();
    let limit = MAX_WAIT_SECS.min(state.settings.request_timeout_secs.saturating_sub(5));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(params.wait.min(limit));
    let since = params.since.unwrap_or(i64::MAX);
    loop {
        let scopes = auth.user.scopes.clone();
        let found = state
            .db
            .run(move |store| changes(store.connection(), &scopes, since))
            .await?;
        let since_now = params.since.is_none() || found.changed > 0;
        if since_now || state.live.is_closed() {
            return Ok(Json(found));
        }
        // Another process writing the same file does not wake us: look again
        // every few seconds anyway.
        let tick = tokio::time::Instant::now() + Duration::from_secs(5);
        tokio::select! {
            _ = wake.changed() => {}
            () = tokio::time::sleep_until(tick.min(deadline)) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            let scopes = auth.user.scopes.clone();
            return Ok(Json(
                state
                    .db
                    .run(move |store| changes(store.connection(), &scopes, since))
                    .await?,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_count_only_records_in_scope() {
        let store = sync_core::Store::open_in_memory().unwrap();
        let conn = store.connection();
        for (id, community, seq) in [
            ("a", "longgang/yuanshan/xikeng", 1),
            ("b", "longgang/yuanshan/hehua", 2),
            ("c", "longgang/buji/sanlian", 3),
            ("d", "longgang/yuanshanx/x", 4),
        ] {
            conn.execute(
                "INSERT INTO records (id, kind, community, doc, heads, seq, updated_at) VALUES (?1, 'wish', ?2, x'', x'', ?3, 0)",
                rusqlite::params![id, community, seq],
            )
            .unwrap();
        }
        let yuanshan = [ScopePath::new("longgang/yuanshan").unwrap()];
        let at = |since| changes(conn, &yuanshan, since).unwrap();
        assert_eq!(at(0), Changes { seq: 4, changed: 2 });
        assert_eq!(at(1), Changes { seq: 4, changed: 1 });
        assert_eq!(at(2), Changes { seq: 4, changed: 0 });
        assert_eq!(at(4), Changes { seq: 4, changed: 0 });
    }
}
