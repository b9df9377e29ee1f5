//! The audit log on PostgreSQL: appended to, and read newest first (by
//! id) with the filters of SQLite's store.

use tokio_postgres::types::ToSql;

use crate::audit::{Entry, Filter, Stored};
use crate::error::{AppError, AppResult};
use crate::store::postgres::PgEngine;
use crate::store::postgres::error::Error;

pub(in crate::store::postgres::relay) fn append_audit(
    pg: &mut PgEngine,
    entry: &Entry,
) -> AppResult<()> {
    pg.block_on(async {
        let client = pg.store().client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO audit_log (at, actor, action, target, detail, peer)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await?;
        client
            .execute(
                &stmt,
                &[
                    &entry.at,
                    &entry.actor,
                    &entry.action.as_str(),
                    &entry.target,
                    &entry.detail,
                    &entry.peer,
                ],
            )
            .await?;
        Ok::<_, Error>(())
    })?;
    Ok(())
}

/// A query's text and its arguments, numbered as they are added.
#[derive(Default)]
struct Query {
    sql: String,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Query {
    /// The placeholder of a new argument `value`.
    fn arg(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.args.push(Box::new(value));
        format!("${}", self.args.len())
    }
}

pub(in crate::store::postgres::relay) fn audit_log(
    pg: &PgEngine,
    filter: &Filter,
) -> AppResult<Vec<Stored>> {
    let mut q = Query {
        sql: "SELECT id, at, actor, action, target, detail, peer FROM audit_log WHERE true".into(),
        ..Query::default()
    };
    if let Some(action) = filter.action {
        let p = q.arg(action.as_str());
        q.sql.push_str(&format!(" AND action = {p}"));
    }
    if let Some(who) = filter
        .who
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        let p = q.arg(who.to_owned());
        q.sql
            .push_str(&format!(" AND (actor = {p} OR target = {p})"));
    }
    if let Some(from) = filter.from {
        let p = q.arg(from);
        q.sql.push_str(&format!(" AND at >= {p}"));
    }
    if let Some(to) = filter.to {
        let p = q.arg(to);
        q.sql.push_str(&format!(" AND at < {p}"));
    }
    if let Some(before) = filter.before {
        let p = q.arg(before);
        q.sql.push_str(&format!(" AND id < {p}"));
    }
    let p = q.arg(i64::from(filter.limit()));
    q.sql.push_str(&format!(" ORDER BY id DESC LIMIT {p}"));
    let rows = pg.block_on(async {
        let client = pg.store().client().await?;
        let args: Vec<&(dyn ToSql + Sync)> =
            q.args.iter().map(|a| &**a as &(dyn ToSql + Sync)).collect();
        Ok::<_, Error>(client.query(&q.sql, &args).await?)
    })?;
    rows.iter()
        .map(|r| {
            let get = |e: tokio_postgres::Error| AppError::from(Error::from(e));
            let action: String = r.try_get(3).map_err(get)?;
            Ok(Stored {
                id: r.try_get(0).map_err(get)?,
                at: r.try_get(1).map_err(get)?,
                actor: r.try_get(2).map_err(get)?,
                action: action
                    .parse()
                    .map_err(|_| AppError::Internal(format!("unknown audit action {action}")))?,
                target: r.try_get(4).map_err(get)?,
                detail: r.try_get(5).map_err(get)?,
                peer: r.try_get(6).map_err(get)?,
            })
        })
        .collect()
}
