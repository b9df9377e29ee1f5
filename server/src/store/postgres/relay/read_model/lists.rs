//! The lists read from the materialized rows: wish cards, their extras for
//! an export, households, visits and conflicts, as sync-core's `query`
//! and `notes` read them on SQLite (same rows, order, paging and totals).
//!
//! Text is ordered `COLLATE "C"` (bytes, as SQLite compares): the
//! database's own collation may sort Chinese or punctuation otherwise.

use std::collections::HashMap;

use sync_core::store::{
    ConflictRow, HouseholdRow, Page, QueryPart, VisitRow, WishExtras, WishFilter, WishRow,
};
use sync_core::workflow::EventKind;
use sync_core::{HouseholdId, ScopePath};
use tokio_postgres::Row;
use uuid::Uuid;

use super::sql::{Filter, Search, matches, no_page, page_of, snapshot};
use crate::error::AppResult;
use crate::store::postgres::PgEngine;
use crate::store::postgres::engine::key;
use crate::store::postgres::error::{Error, Result as PgResult};

const WISH: &str = "w.id, w.household_id, w.community, w.status, w.category, w.urgency, w.text,
    w.created_by, w.created_at, w.submitted_at, w.reviewed_at, w.fulfilled_at, w.confirmed_at,
    w.claimant, w.holder_user, w.holder_unit, w.checked_in_at, w.rating, w.open_conflicts,
    w.updated_at";

fn wish_row(r: &Row) -> PgResult<WishRow> {
    Ok(WishRow {
        id: r.try_get::<_, Uuid>("id")?.to_string(),
        household: r.try_get::<_, Uuid>("household_id")?.to_string(),
        community: r.try_get("community")?,
        status: r.try_get("status")?,
        category: r.try_get("category")?,
        urgency: r.try_get("urgency")?,
        text: r.try_get("text")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        submitted_at: r.try_get("submitted_at")?,
        reviewed_at: r.try_get("reviewed_at")?,
        fulfilled_at: r.try_get("fulfilled_at")?,
        confirmed_at: r.try_get("confirmed_at")?,
        claimant: r.try_get("claimant")?,
        holder_user: r.try_get("holder_user")?,
        holder_unit: r.try_get("holder_unit")?,
        checked_in_at: r.try_get("checked_in_at")?,
        rating: r.try_get("rating")?,
        open_conflicts: r.try_get("open_conflicts")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The rows of a search query (with a column `terms`) that match every
/// one of `parts`, each made by `row`.
fn matching<T>(
    rows: &[Row],
    parts: &[QueryPart],
    row: fn(&Row) -> PgResult<T>,
) -> PgResult<Vec<T>> {
    let mut out = Vec::new();
    for r in rows {
        let terms: Vec<String> = r.try_get("terms")?;
        if matches(parts, &terms) {
            out.push(row(r)?);
        }
    }
    Ok(out)
}

pub(in crate::store::postgres::relay) fn list_wishes(
    pg: &PgEngine,
    filter: &WishFilter,
) -> AppResult<Page<WishRow>> {
    let search = Search::of(filter.q.as_deref());
    if let Search::Nothing = search {
        return Ok(no_page());
    }
    let mut f = Filter::default();
    f.scopes("w.community", &filter.scopes);
    if let Some(scope) = &filter.scope {
        f.scopes("w.community", std::slice::from_ref(scope));
    }
    f.eq("w.status", filter.status.map(|s| s.as_str().to_owned()));
    f.eq("w.category", filter.category.map(|c| c.as_str().to_owned()));
    f.eq("w.urgency", filter.urgency.map(|u| u.as_str().to_owned()));
    f.eq(
        "w.household_id",
        filter.household.map(|h| key(h.record().as_bytes())),
    );
    if let Some(from) = filter.created_from {
        let p = f.param(from);
        f.push(format!("w.created_at >= {p}"));
    }
    if let Some(to) = filter.created_to {
        let p = f.param(to);
        f.push(format!("w.created_at < {p}"));
    }
    let order = if filter.oldest_first {
        "coalesce(w.submitted_at, w.created_at) ASC, w.id"
    } else {
        "w.updated_at DESC, w.id"
    };
    let limit = filter.limit.unwrap_or(50).clamp(1, 500);
    let offset = filter.offset.unwrap_or(0);
    Ok(pg.block_on(async {
        let mut client = pg.store().client().await?;
        if let Search::Parts(parts) = &search {
            f.search("s", parts);
            let sql = format!(
                "SELECT {WISH}, s.terms FROM wishes w JOIN search s ON s.record_id = w.id
                 {} ORDER BY {order}",
                f.where_sql()
            );
            let rows = client.query(&sql, &f.params()).await?;
            return Ok::<_, Error>(page_of(matching(&rows, parts, wish_row)?, limit, offset));
        }
        let where_sql = f.where_sql();
        let tx = snapshot(&mut client).await?;
        let count = format!("SELECT count(*) FROM wishes w {where_sql}");
        let total: i64 = tx.query_one(&count, &f.params()).await?.try_get(0)?;
        let sql = format!(
            "SELECT {WISH} FROM wishes w {where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        );
        let rows = tx.query(&sql, &f.params()).await?;
        tx.commit().await?;
        Ok(Page {
            items: rows.iter().map(wish_row).collect::<PgResult<_>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
    })?)
}

pub(in crate::store::postgres::relay) fn wish_extras(
    pg: &PgEngine,
    ids: &[String],
) -> AppResult<HashMap<String, WishExtras>> {
    // A card is named by its id as stored; any other spelling names none.
    let keys: Vec<Uuid> = ids
        .iter()
        .filter_map(|id| Uuid::parse_str(id).ok().filter(|u| u.to_string() == *id))
        .collect();
    Ok(pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = snapshot(&mut client).await?;
        let cards = tx
            .query(
                "SELECT w.id, h.address FROM wishes w
                   LEFT JOIN households h ON h.id = w.household_id
                  WHERE w.id = ANY($1)",
                &[&keys],
            )
            .await?;
        let mut out = HashMap::new();
        for r in &cards {
            let extras = WishExtras {
                address: r.try_get(1)?,
                notes: Vec::new(),
            };
            out.insert(r.try_get::<_, Uuid>(0)?.to_string(), extras);
        }
        let notes = tx
            .query(
                "SELECT record_id, kind, note FROM wish_notes WHERE record_id = ANY($1)
                  ORDER BY record_id, at, kind COLLATE \"C\"",
                &[&keys],
            )
            .await?;
        tx.commit().await?;
        for r in &notes {
            let id = r.try_get::<_, Uuid>(0)?.to_string();
            let kind: String = r.try_get(1)?;
            // A kind this version does not know is no note it can label.
            if let (Some(extras), Ok(kind)) = (out.get_mut(&id), kind.parse::<EventKind>()) {
                extras.notes.push((kind, r.try_get(2)?));
            }
        }
        Ok::<_, Error>(out)
    })?)
}

const HOUSEHOLD: &str = "h.id, h.community, h.address, h.head_name, h.phone, h.members, h.tags,
    h.notes";

fn household_row(r: &Row) -> PgResult<HouseholdRow> {
    let tags: String = r.try_get("tags")?;
    Ok(HouseholdRow {
        id: r.try_get::<_, Uuid>("id")?.to_string(),
        community: r.try_get("community")?,
        address: r.try_get("address")?,
        head_name: r.try_get("head_name")?,
        phone: r.try_get("phone")?,
        members: r.try_get("members")?,
        tags: tags
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        notes: r.try_get("notes")?,
    })
}

pub(in crate::store::postgres::relay) fn households(
    pg: &PgEngine,
    scopes: &[ScopePath],
    q: Option<&str>,
    limit: u32,
    offset: u32,
) -> AppResult<Page<HouseholdRow>> {
    let search = Search::of(q);
    if let Search::Nothing = search {
        return Ok(no_page());
    }
    let mut f = Filter::default();
    f.scopes("h.community", scopes);
    let order = "h.community COLLATE \"C\", h.address COLLATE \"C\", h.id";
    let limit = limit.clamp(1, 500);
    Ok(pg.block_on(async {
        let mut client = pg.store().client().await?;
        if let Search::Parts(parts) = &search {
            f.search("s", parts);
            let sql = format!(
                "SELECT {HOUSEHOLD}, s.terms FROM households h JOIN search s ON s.record_id = h.id
                 {} ORDER BY {order}",
                f.where_sql()
            );
            let rows = client.query(&sql, &f.params()).await?;
            return Ok::<_, Error>(page_of(
                matching(&rows, parts, household_row)?,
                limit,
                offset,
            ));
        }
        let where_sql = f.where_sql();
        let tx = snapshot(&mut client).await?;
        let count = format!("SELECT count(*) FROM households h {where_sql}");
        let total: i64 = tx.query_one(&count, &f.params()).await?.try_get(0)?;
        let sql = format!(
            "SELECT {HOUSEHOLD} FROM households h {where_sql} ORDER BY {order}
             LIMIT {limit} OFFSET {offset}"
        );
        let rows = tx.query(&sql, &f.params()).await?;
        tx.commit().await?;
        Ok(Page {
            items: rows.iter().map(household_row).collect::<PgResult<_>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
    })?)
}

pub(in crate::store::postgres::relay) fn visits(
    pg: &PgEngine,
    household: HouseholdId,
) -> AppResult<Vec<VisitRow>> {
    Ok(pg.block_on(async {
        let client = pg.store().client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT id, household_id, community, worker, visited_at, notes, needs, follow_up
                   FROM visits WHERE household_id = $1 ORDER BY visited_at DESC, id",
            )
            .await?;
        let rows = client
            .query(&stmt, &[&key(household.record().as_bytes())])
            .await?;
        rows.iter()
            .map(|r| {
                Ok(VisitRow {
                    id: r.try_get::<_, Uuid>(0)?.to_string(),
                    household: r.try_get::<_, Uuid>(1)?.to_string(),
                    community: r.try_get(2)?,
                    worker: r.try_get(3)?,
                    visited_at: r.try_get(4)?,
                    notes: r.try_get(5)?,
                    needs: r.try_get(6)?,
                    follow_up: r.try_get(7)?,
                })
            })
            .collect::<PgResult<Vec<_>>>()
    })?)
}

pub(in crate::store::postgres::relay) fn conflicts(
    pg: &PgEngine,
    scopes: &[ScopePath],
    include_resolved: bool,
) -> AppResult<Vec<ConflictRow>> {
    let mut f = Filter::default();
    f.scopes("community", scopes);
    if !include_resolved {
        f.push("NOT resolved".to_owned());
    }
    Ok(pg.block_on(async {
        let client = pg.store().client().await?;
        let sql = format!(
            "SELECT record_id, event_id, community, event_kind, kind, winner, status, resolved
               FROM conflicts {} ORDER BY record_id, event_id COLLATE \"C\"",
            f.where_sql()
        );
        let rows = client.query(&sql, &f.params()).await?;
        rows.iter()
            .map(|r| {
                Ok(ConflictRow {
                    record_id: r.try_get::<_, Uuid>(0)?.to_string(),
                    event_id: r.try_get(1)?,
                    community: r.try_get(2)?,
                    event_kind: r.try_get(3)?,
                    kind: r.try_get(4)?,
                    winner: r.try_get(5)?,
                    status: r.try_get(6)?,
                    resolved: r.try_get(7)?,
                })
            })
            .collect::<PgResult<Vec<_>>>()
    })?)
}
