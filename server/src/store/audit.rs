//! The audit log in the SQLite store: appended to, and read newest first
//! with filters.

use rusqlite::{Connection, params, params_from_iter, types::Value as Sql};

use crate::audit::{Entry, Filter, Stored};
use crate::error::{AppError, AppResult};

pub(super) fn append(conn: &Connection, entry: &Entry) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor, action, target, detail, peer)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        entry.at,
        entry.actor,
        entry.action.as_str(),
        entry.target,
        entry.detail,
        entry.peer
    ])?;
    Ok(())
}

pub(super) fn query(conn: &Connection, filter: &Filter) -> AppResult<Vec<Stored>> {
    let mut sql = String::from(
        "SELECT id, at, actor, action, target, detail, peer FROM audit_log WHERE 1 = 1",
    );
    let mut args: Vec<Sql> = Vec::new();
    if let Some(action) = filter.action {
        sql.push_str(" AND action = ?");
        args.push(Sql::Text(action.as_str().to_owned()));
    }
    if let Some(who) = filter
        .who
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        sql.push_str(" AND (actor = ? OR target = ?)");
        args.push(Sql::Text(who.to_owned()));
        args.push(Sql::Text(who.to_owned()));
    }
    if let Some(from) = filter.from {
        sql.push_str(" AND at >= ?");
        args.push(Sql::Integer(from));
    }
    if let Some(to) = filter.to {
        sql.push_str(" AND at < ?");
        args.push(Sql::Integer(to));
    }
    if let Some(before) = filter.before {
        sql.push_str(" AND id < ?");
        args.push(Sql::Integer(before));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(Sql::Integer(i64::from(filter.limit())));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, at, actor, action, target, detail, peer) = row?;
        let action = action
            .parse()
            .map_err(|_| AppError::Internal(format!("unknown audit action {action}")))?;
        out.push(Stored {
            id,
            at,
            actor,
            action,
            target,
            detail,
            peer,
        });
    }
    Ok(out)
}
