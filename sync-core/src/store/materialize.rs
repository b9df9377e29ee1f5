//! Keeps the materialized rows (and the search index) in step with documents.

use rusqlite::{Connection, params};

use super::clock::corrected_times;
use super::search::{index_body, searchable_text};
use crate::error::Result;
use crate::model::{Household, Record, Visit, WishCard};
use crate::workflow::fold_timed;

/// Replaces the materialized rows of `record`. Runs inside the transaction
/// that stores the document.
pub(crate) fn materialize(tx: &Connection, record: &Record, is_new: bool, now: i64) -> Result<()> {
    let id = record.meta().id.to_string();
    let rowid: i64 = tx
        .prepare_cached("SELECT rowid FROM records WHERE id = ?1")?
        .query_row([&id], |r| r.get(0))?;
    if !is_new {
        tx.prepare_cached("DELETE FROM search WHERE rowid = ?1")?
            .execute([rowid])?;
    }
    // Times the relay corrected for devices whose clocks were wrong.
    let times = corrected_times(tx, record.meta().id)?;
    let created_at = times.created(record.meta().created_at);
    match record {
        Record::Household(h) => household(tx, h, created_at, rowid, now)?,
        Record::Visit(v) => visit(tx, v)?,
        Record::Wish(w) => {
            let corrected = (!times.is_empty()).then(|| fold_timed(&w.events, &|e| times.event(e)));
            let state = corrected.as_ref().unwrap_or(&w.state);
            wish(tx, w, state, created_at, rowid, is_new, now)?;
            super::photos::materialize_refs(tx, w, is_new, now)?;
        }
    }
    tx.prepare_cached("INSERT INTO search (rowid, body) VALUES (?1, ?2)")?
        .execute(params![rowid, index_body(&searchable_text(record))])?;
    Ok(())
}

/// Materializes every wish card again from its document: a migration that
/// adds columns derived from the fold runs it, so that cards stored before
/// read as new ones do. Each keeps its `updated_at`.
pub(crate) fn rematerialize_wishes(tx: &Connection) -> Result<()> {
    let rows: Vec<(Vec<u8>, i64)> = tx
        .prepare("SELECT doc, updated_at FROM records WHERE kind = 'wish' ORDER BY seq")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (doc, updated_at) in rows {
        let record = crate::doc::RecordDoc::load(&doc)?.read()?;
        materialize(tx, &record, false, updated_at)?;
    }
    Ok(())
}

fn household(tx: &Connection, h: &Household, created_at: i64, rid: i64, now: i64) -> Result<()> {
    let tags: Vec<&str> = h.tags.iter().map(|t| t.as_str()).collect();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO households
           (id, community, address, head_name, phone, members, tags, notes, created_at, updated_at, rid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        h.meta.id.to_string(),
        h.meta.community.as_str(),
        h.address,
        h.head_name,
        h.phone,
        h.members,
        tags.join(","),
        h.notes,
        created_at,
        now,
        rid
    ])?;
    Ok(())
}

fn visit(tx: &Connection, v: &Visit) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO visits
           (id, household_id, community, worker, visited_at, notes, needs, follow_up)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        v.meta.id.to_string(),
        v.household.to_string(),
        v.meta.community.as_str(),
        v.meta.created_by.as_str(),
        v.visited_at,
        v.notes,
        v.needs,
        v.follow_up
    ])?;
    Ok(())
}

fn wish(
    tx: &Connection,
    w: &WishCard,
    s: &crate::workflow::Folded,
    created_at: i64,
    rid: i64,
    is_new: bool,
    now: i64,
) -> Result<()> {
    let id = w.meta.id.to_string();
    tx.prepare_cached("INSERT OR REPLACE INTO wishes
           (id, household_id, community, status, category, urgency, text, created_by, created_at,
            submitted_at, reviewed_at, fulfilled_at, confirmed_at, claimant, rating, open_conflicts, updated_at, rid,
            holder_user, holder_unit, checked_in_at, last_event)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)")?.execute(params![
            id,
            w.household.to_string(),
            w.meta.community.as_str(),
            s.status.as_str(),
            w.category.as_str(),
            w.urgency.as_str(),
            w.text,
            w.meta.created_by.as_str(),
            created_at,
            s.submitted_at,
            s.reviewed_at,
            s.fulfilled_at,
            s.confirmed_at,
            s.claimant,
            s.rating,
            i64::try_from(s.open_conflicts().count()).unwrap_or(i64::MAX),
            now,
            rid,
            s.holder.as_ref().and_then(|h| h.user.as_ref()).map(|u| u.as_str()),
            s.holder.as_ref().and_then(|h| h.unit.as_ref()).map(|u| u.as_str()),
            s.checked_in_at,
            s.last_event.map(|e| e.to_string())
        ])?;
    if !is_new {
        tx.prepare_cached("DELETE FROM conflicts WHERE record_id = ?1")?
            .execute([&id])?;
        tx.prepare_cached("DELETE FROM wish_takers WHERE record_id = ?1")?
            .execute([&id])?;
    }
    super::notes::materialize_notes(tx, &id, &s.notes, is_new)?;
    let mut takers: Vec<_> = crate::workflow::takers(&w.events).collect();
    takers.sort();
    takers.dedup();
    for (user, unit) in takers {
        tx.prepare_cached("INSERT INTO wish_takers (record_id, user, unit) VALUES (?1, ?2, ?3)")?
            .execute(params![
                id,
                user.map(|u| u.as_str()),
                unit.map(|u| u.as_str())
            ])?;
    }
    for c in &s.conflicts {
        tx.prepare_cached("INSERT INTO conflicts (record_id, event_id, community, event_kind, kind, winner, status, resolved)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?.execute(params![
                id,
                c.event.to_string(),
                w.meta.community.as_str(),
                c.event_kind.as_str(),
                c.kind.as_str(),
                c.winner.map(|e| e.to_string()),
                c.status.as_str(),
                c.resolved
            ])?;
    }
    Ok(())
}
