//! The published figures (counted by sync-core's [`stats_report`] from the
//! cards' rows), the feed's changes in some scopes, and what the store
//! holds.

use std::collections::BTreeMap;

use sync_core::store::{StatsReport, StatsRow, stats_report};
use sync_core::{ScopePath, Status};

use super::sql::{Filter, snapshot};
use crate::error::AppResult;
use crate::store::postgres::PgEngine;
use crate::store::postgres::error::Error;
use crate::store::{Changes, Usage};

pub(in crate::store::postgres::relay) fn stats(
    pg: &PgEngine,
    scopes: &[ScopePath],
) -> AppResult<StatsReport> {
    let mut f = Filter::default();
    f.scopes("community", scopes);
    Ok(pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = snapshot(&mut client).await?;
        let sql = format!(
            "SELECT community, status, submitted_at, reviewed_at, fulfilled_at, confirmed_at, rating
               FROM wishes {}",
            f.where_sql()
        );
        let rows = tx.query(&sql, &f.params()).await?;
        let places = tx.query("SELECT path, name FROM places", &[]).await?;
        tx.commit().await?;
        let mut cards = Vec::with_capacity(rows.len());
        for r in &rows {
            let status: String = r.try_get(1)?;
            let Ok(status) = status.parse::<Status>() else {
                continue;
            };
            cards.push(StatsRow {
                community: r.try_get(0)?,
                status,
                submitted_at: r.try_get(2)?,
                reviewed_at: r.try_get(3)?,
                fulfilled_at: r.try_get(4)?,
                confirmed_at: r.try_get(5)?,
                rating: r.try_get(6)?,
            });
        }
        let names = places
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<BTreeMap<String, String>, Error>>()?;
        Ok::<_, Error>(stats_report(scopes, cards, &names))
    })?)
}

/// The feed's head and the records in `scopes` written after `since`, in
/// one statement (one snapshot). A record's community is in a scope when
/// the scope is the community, its street or its district: the paths of
/// one to three segments a scope can be, so the same rule as sync-core's
/// `scope_clause`, on the records' indexed path columns.
pub(in crate::store::postgres::relay) fn changes(
    pg: &PgEngine,
    scopes: &[ScopePath],
    since: i64,
) -> AppResult<Changes> {
    let paths: Vec<&str> = scopes.iter().map(ScopePath::as_str).collect();
    Ok(pg.block_on(async {
        let client = pg.store().client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT (SELECT seq FROM feed_counter WHERE id = 1),
                        (SELECT count(*) FROM records WHERE seq > $1
                           AND (community = ANY($2) OR street = ANY($2) OR district = ANY($2)))",
            )
            .await?;
        let row = client.query_one(&stmt, &[&since, &paths]).await?;
        let seq: i64 = row.try_get(0)?;
        let changed: i64 = row.try_get(1)?;
        Ok::<_, Error>(Changes {
            seq,
            changed: u64::try_from(changed).unwrap_or(0),
        })
    })?)
}

/// The records stored (placeholders of writes under way are none) and
/// the database's size.
pub(in crate::store::postgres::relay) fn usage(pg: &PgEngine) -> AppResult<Usage> {
    Ok(pg.block_on(async {
        let client = pg.store().client().await?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM records WHERE seq IS NOT NULL),
                        pg_database_size(current_database())",
                &[],
            )
            .await?;
        Ok::<_, Error>(Usage {
            records: row.try_get(0)?,
            bytes: row.try_get(1)?,
        })
    })?)
}
