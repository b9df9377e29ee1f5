//! The materialized rows and search terms on PostgreSQL, and the lists
//! and statistics read from them.
//!
//! A record's rows are replaced inside the transaction that stores it
//! ([`materialize`]), under its row lock, exactly as sync-core's SQLite
//! store replaces them: households, visits and wish cards (the card's
//! fold under the times the relay corrected), its conflicts, notes and
//! photo references, and its search terms.
//!
//! Search keeps each record's terms (sync-core's [`tokens`] of its
//! [`searchable_text`]) in text order in one array. A query's parts
//! ([`query_parts`]) narrow the candidates by array containment through
//! the inverted index (every term of every phrase, the first character of
//! a one-character query), and sync-core's [`QueryPart::matches`] then
//! keeps the candidates whose terms hold each phrase in order, as FTS5's
//! phrase query does on SQLite (see `lists`).

use deadpool_postgres::Transaction;
use sync_core::model::{Household, Visit, WishCard};
use sync_core::store::{searchable_text, tokens};
use sync_core::sync::storage::RecordWrite;
use sync_core::workflow::{Folded, fold_timed};
use sync_core::{Record, RecordKind};
use uuid::Uuid;

use crate::store::postgres::engine::{corrected_times, key};
use crate::store::postgres::error::Result as PgResult;

#[cfg(doc)]
use sync_core::store::{QueryPart, query_parts};

use std::collections::HashMap;

use sync_core::store::{
    ConflictRow, HouseholdRow, Page, StatsReport, VisitRow, WishExtras, WishFilter, WishRow,
};
use sync_core::{HouseholdId, ScopePath};

use crate::error::AppResult;
use crate::store::postgres::PgEngine;
use crate::store::{Changes, Usage};

pub(super) fn list_wishes(_pg: &PgEngine, _filter: &WishFilter) -> AppResult<Page<WishRow>> {
    todo!()
}

pub(super) fn wish_extras(
    _pg: &PgEngine,
    _ids: &[String],
) -> AppResult<HashMap<String, WishExtras>> {
    todo!()
}

pub(super) fn households(
    _pg: &PgEngine,
    _scopes: &[ScopePath],
    _q: Option<&str>,
    _limit: u32,
    _offset: u32,
) -> AppResult<Page<HouseholdRow>> {
    todo!()
}

pub(super) fn visits(_pg: &PgEngine, _household: HouseholdId) -> AppResult<Vec<VisitRow>> {
    todo!()
}

pub(super) fn conflicts(
    _pg: &PgEngine,
    _scopes: &[ScopePath],
    _include_resolved: bool,
) -> AppResult<Vec<ConflictRow>> {
    todo!()
}

pub(super) fn stats(_pg: &PgEngine, _scopes: &[ScopePath]) -> AppResult<StatsReport> {
    todo!()
}

pub(super) fn changes(_pg: &PgEngine, _scopes: &[ScopePath], _since: i64) -> AppResult<Changes> {
    todo!()
}

pub(super) fn usage(_pg: &PgEngine) -> AppResult<Usage> {
    todo!()
}

/// Replaces the materialized rows, search terms and photo references of
/// `write`'s record, inside the transaction that stores it (after its
/// clock corrections, before its row and feed position).
pub(in crate::store::postgres) async fn materialize(
    tx: &Transaction<'_>,
    write: &RecordWrite<'_>,
) -> PgResult<()> {
    let record = write.record;
    let meta = record.meta();
    let id = key(meta.id.as_bytes());
    // Times the relay corrected for devices whose clocks were wrong.
    let times = corrected_times(tx, meta.id).await?;
    let created_at = times.created(meta.created_at);
    match record {
        Record::Household(h) => household(tx, id, h, created_at, write.now).await?,
        Record::Visit(v) => visit(tx, id, v).await?,
        Record::Wish(w) => {
            let corrected = (!times.is_empty()).then(|| fold_timed(&w.events, &|e| times.event(e)));
            let state = corrected.as_ref().unwrap_or(&w.state);
            wish(tx, id, w, state, created_at, write.now).await?;
            write_notes(tx, id, state).await?;
            write_conflicts(tx, id, w, state).await?;
            photo_refs(tx, id, w, write.now).await?;
        }
    }
    search_terms(tx, id, record).await
}

async fn household(
    tx: &Transaction<'_>,
    id: Uuid,
    h: &Household,
    created_at: i64,
    now: i64,
) -> PgResult<()> {
    let tags: Vec<&str> = h.tags.iter().map(|t| t.as_str()).collect();
    let upsert = tx
        .prepare_cached(
            "INSERT INTO households
               (id, community, address, head_name, phone, members, tags, notes, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (id) DO UPDATE SET community = EXCLUDED.community,
                 address = EXCLUDED.address, head_name = EXCLUDED.head_name,
                 phone = EXCLUDED.phone, members = EXCLUDED.members, tags = EXCLUDED.tags,
                 notes = EXCLUDED.notes, created_at = EXCLUDED.created_at,
                 updated_at = EXCLUDED.updated_at",
        )
        .await?;
    tx.execute(
        &upsert,
        &[
            &id,
            &h.meta.community.as_str(),
            &h.address,
            &h.head_name,
            &h.phone,
            &i64::from(h.members),
            &tags.join(","),
            &h.notes,
            &created_at,
            &now,
        ],
    )
    .await?;
    Ok(())
}

async fn visit(tx: &Transaction<'_>, id: Uuid, v: &Visit) -> PgResult<()> {
    let upsert = tx
        .prepare_cached(
            "INSERT INTO visits
               (id, household_id, community, worker, visited_at, notes, needs, follow_up)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET household_id = EXCLUDED.household_id,
                 community = EXCLUDED.community, worker = EXCLUDED.worker,
                 visited_at = EXCLUDED.visited_at, notes = EXCLUDED.notes,
                 needs = EXCLUDED.needs, follow_up = EXCLUDED.follow_up",
        )
        .await?;
    tx.execute(
        &upsert,
        &[
            &id,
            &key(v.household.record().as_bytes()),
            &v.meta.community.as_str(),
            &v.meta.created_by.as_str(),
            &v.visited_at,
            &v.notes,
            &v.needs,
            &v.follow_up,
        ],
    )
    .await?;
    Ok(())
}

/// The card's row from its fold `s`. Its takers (and the status and
/// holder on `records` that the read rule uses) are the engine's, written
/// before this from the same fold.
async fn wish(
    tx: &Transaction<'_>,
    id: Uuid,
    w: &WishCard,
    s: &Folded,
    created_at: i64,
    now: i64,
) -> PgResult<()> {
    let upsert = tx
        .prepare_cached(
            "INSERT INTO wishes
               (id, household_id, community, status, category, urgency, text, created_by,
                created_at, submitted_at, reviewed_at, fulfilled_at, confirmed_at, claimant,
                rating, open_conflicts, updated_at, holder_user, holder_unit, checked_in_at,
                last_event)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19, $20, $21)
             ON CONFLICT (id) DO UPDATE SET household_id = EXCLUDED.household_id,
                 community = EXCLUDED.community, status = EXCLUDED.status,
                 category = EXCLUDED.category, urgency = EXCLUDED.urgency,
                 text = EXCLUDED.text, created_by = EXCLUDED.created_by,
                 created_at = EXCLUDED.created_at, submitted_at = EXCLUDED.submitted_at,
                 reviewed_at = EXCLUDED.reviewed_at, fulfilled_at = EXCLUDED.fulfilled_at,
                 confirmed_at = EXCLUDED.confirmed_at, claimant = EXCLUDED.claimant,
                 rating = EXCLUDED.rating, open_conflicts = EXCLUDED.open_conflicts,
                 updated_at = EXCLUDED.updated_at, holder_user = EXCLUDED.holder_user,
                 holder_unit = EXCLUDED.holder_unit, checked_in_at = EXCLUDED.checked_in_at,
                 last_event = EXCLUDED.last_event",
        )
        .await?;
    let holder = s.holder.as_ref();
    tx.execute(
        &upsert,
        &[
            &id,
            &key(w.household.record().as_bytes()),
            &w.meta.community.as_str(),
            &s.status.as_str(),
            &w.category.as_str(),
            &w.urgency.as_str(),
            &w.text,
            &w.meta.created_by.as_str(),
            &created_at,
            &s.submitted_at,
            &s.reviewed_at,
            &s.fulfilled_at,
            &s.confirmed_at,
            &s.claimant,
            &s.rating.map(i64::from),
            &i64::try_from(s.open_conflicts().count()).unwrap_or(i64::MAX),
            &now,
            &holder.and_then(|h| h.user.as_ref()).map(|u| u.as_str()),
            &holder.and_then(|h| h.unit.as_ref()).map(|u| u.as_str()),
            &s.checked_in_at,
            &s.last_event.map(|e| e.to_string()),
        ],
    )
    .await?;
    Ok(())
}

/// The card's notes, the latest of each kind (as sync-core's `notes`).
async fn write_notes(tx: &Transaction<'_>, id: Uuid, s: &Folded) -> PgResult<()> {
    tx.execute("DELETE FROM wish_notes WHERE record_id = $1", &[&id])
        .await?;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO wish_notes (record_id, kind, note, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (record_id, kind) DO UPDATE SET note = EXCLUDED.note, at = EXCLUDED.at",
        )
        .await?;
    for note in &s.notes {
        tx.execute(&upsert, &[&id, &note.kind.as_str(), &note.text, &note.at])
            .await?;
    }
    Ok(())
}

async fn write_conflicts(tx: &Transaction<'_>, id: Uuid, w: &WishCard, s: &Folded) -> PgResult<()> {
    tx.execute("DELETE FROM conflicts WHERE record_id = $1", &[&id])
        .await?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO conflicts
               (record_id, event_id, community, event_kind, kind, winner, status, resolved)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    for c in &s.conflicts {
        tx.execute(
            &insert,
            &[
                &id,
                &c.event.to_string(),
                &w.meta.community.as_str(),
                &c.event_kind.as_str(),
                &c.kind.as_str(),
                &c.winner.map(|e| e.to_string()),
                &c.status.as_str(),
                &c.resolved,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Keeps the card's rows in `photo_refs` in step with its photos (a
/// reference keeps the `since` it was first seen at), and tells the stored
/// photos whether anything still refers to them, as sync-core's
/// `photos::materialize_refs` does.
///
/// The stored photos concerned are locked first, in hash order: two relays
/// taking away the last two references to one photo at once would each
/// still see the other's, and neither would mark it unreferenced.
async fn photo_refs(tx: &Transaction<'_>, id: Uuid, card: &WishCard, now: i64) -> PgResult<()> {
    let before: Vec<String> = tx
        .query("SELECT sha256 FROM photo_refs WHERE record_id = $1", &[&id])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let gone: Vec<&String> = before
        .iter()
        .filter(|sha| {
            !card
                .photos
                .iter()
                .any(|p| p.sha256.as_str() == sha.as_str())
        })
        .collect();
    if gone.is_empty() && card.photos.is_empty() {
        return Ok(());
    }
    let mut touched: Vec<&str> = gone.iter().map(|s| s.as_str()).collect();
    touched.extend(card.photos.iter().map(|p| p.sha256.as_str()));
    touched.sort_unstable();
    touched.dedup();
    tx.query(
        "SELECT sha256 FROM stored_photos WHERE sha256 = ANY($1) ORDER BY sha256 FOR UPDATE",
        &[&touched],
    )
    .await?;
    for sha in gone {
        tx.execute(
            "DELETE FROM photo_refs WHERE record_id = $1 AND sha256 = $2",
            &[&id, sha],
        )
        .await?;
        // The last reference gone: cleanup may take it after the grace.
        tx.execute(
            "UPDATE stored_photos SET unreferenced_since = $2
             WHERE sha256 = $1 AND unreferenced_since IS NULL
               AND NOT EXISTS (SELECT 1 FROM photo_refs WHERE sha256 = $1)",
            &[sha, &now],
        )
        .await?;
    }
    let upsert = tx
        .prepare_cached(
            "INSERT INTO photo_refs (record_id, sha256, community, bytes, width, height, since)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (record_id, sha256) DO UPDATE SET community = EXCLUDED.community,
                 bytes = EXCLUDED.bytes, width = EXCLUDED.width, height = EXCLUDED.height",
        )
        .await?;
    let referenced = tx
        .prepare_cached(
            "UPDATE stored_photos SET unreferenced_since = NULL
             WHERE sha256 = $1 AND unreferenced_since IS NOT NULL",
        )
        .await?;
    for photo in &card.photos {
        tx.execute(
            &upsert,
            &[
                &id,
                &photo.sha256.as_str(),
                &card.meta.community.as_str(),
                &i64::try_from(photo.bytes).unwrap_or(i64::MAX),
                &i64::from(photo.width),
                &i64::from(photo.height),
                &now,
            ],
        )
        .await?;
        tx.execute(&referenced, &[&photo.sha256.as_str()]).await?;
    }
    Ok(())
}

/// The record's search terms, in text order, and their first characters.
async fn search_terms(tx: &Transaction<'_>, id: Uuid, record: &Record) -> PgResult<()> {
    let terms = tokens(&searchable_text(record));
    let mut initials: Vec<String> = terms
        .iter()
        .filter_map(|t| t.chars().next())
        .map(String::from)
        .collect();
    initials.sort_unstable();
    initials.dedup();
    let meta = record.meta();
    let kind: RecordKind = meta.kind;
    let upsert = tx
        .prepare_cached(
            "INSERT INTO search (record_id, kind, community, terms, initials)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (record_id) DO UPDATE SET kind = EXCLUDED.kind,
                 community = EXCLUDED.community, terms = EXCLUDED.terms,
                 initials = EXCLUDED.initials",
        )
        .await?;
    tx.execute(
        &upsert,
        &[
            &id,
            &kind.as_str(),
            &meta.community.as_str(),
            &terms,
            &initials,
        ],
    )
    .await?;
    Ok(())
}
