//! The server side of the engine: accept a client's pushed records (each
//! checked by a [`Policy`], each refused alone) and answer with what changed
//! in the client's scopes since its cursor.

use std::collections::{HashMap, HashSet};

use automerge::{Change, ChangeHash};
use rusqlite::params_from_iter;
use rusqlite::types::Value as Sql;

use super::policy::{Incoming, Policy, Refusal};
use super::wire::{Payload, RecordUpdate, RejectCode, Rejected, SyncRequest, SyncResponse};
use super::{hashes_from_wire, hashes_to_wire};
use crate::doc::{RecordDoc, heads_from_bytes, heads_to_bytes, read_events};
use crate::error::Result;
use crate::ids::{RecordId, ScopePath};
use crate::model::Record;
use crate::store::query::scope_clause;
use crate::store::{Store, load_stored, write_record};

/// Record bytes one pull page carries before it stops and says `more`.
pub const PULL_PAGE_BYTES: usize = 2 << 20;
/// Rows read from the feed per query while filling a page.
const FEED_BATCH: usize = 500;

impl Store {
    /// Handles a client's request under `policy` and builds the response.
    ///
    /// Each pushed record is applied in its own transaction, or refused with a
    /// reason without touching the store. Applying the same request twice
    /// changes nothing the second time.
    pub fn serve_sync(
        &mut self,
        policy: &dyn Policy,
        request: &SyncRequest,
    ) -> Result<SyncResponse> {
        let mut response = SyncResponse {
            from: self.id(),
            ..SyncResponse::default()
        };
        let mut client_heads: HashMap<RecordId, Vec<ChangeHash>> = HashMap::new();
        for update in &request.push {
            match self.accept(policy, update)? {
                Ok(()) => {
                    response.accepted.push(update.id);
                    client_heads.insert(update.id, hashes_from_wire(&update.heads));
                }
                Err(refusal) => response.rejected.push(Rejected {
                    id: update.id,
                    code: refusal.code,
                    reason: refusal.reason,
                }),
            }
        }
        self.fill_pull(policy.readable(), request, &client_heads, &mut response)?;
        Ok(response)
    }

    /// Applies one pushed record if it passes every check. The outer error is
    /// a storage failure; the inner one a refusal of this record.
    fn accept(
        &mut self,
        policy: &dyn Policy,
        update: &RecordUpdate,
    ) -> Result<Result<(), Refusal>> {
        let stored = self.stored(update.id)?;
        let before_doc = match &stored {
            Some(s) => Some(RecordDoc::load(&s.doc)?),
            None => None,
        };
        let after_doc = match merged(before_doc.as_ref(), &update.payload) {
            Ok(doc) => doc,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let before_heads = before_doc
            .as_ref()
            .map(RecordDoc::heads)
            .unwrap_or_default();
        let new_changes = after_doc.changes_since(&before_heads);
        if new_changes.is_empty() {
            return Ok(Ok(())); // Nothing new: a duplicate or an echo.
        }
        let before = match before_doc.as_ref().map(RecordDoc::read).transpose() {
            Ok(before) => before,
            Err(e) => {
                return Ok(Err(Refusal::new(
                    RejectCode::Invalid,
                    format!("stored record unreadable: {e}"),
                )));
            }
        };
        let after = match after_doc.read() {
            Ok(after) => after,
            Err(e) => return Ok(Err(Refusal::new(RejectCode::Invalid, e.to_string()))),
        };
        if let Err(refusal) = structure(update.id, before.as_ref(), &after, &after_doc) {
            return Ok(Err(refusal));
        }
        let after_events = match read_events(after_doc.automerge()) {
            Ok(events) => events,
            Err(reason) => return Ok(Err(Refusal::new(RejectCode::Invalid, reason))),
        };
        let incoming = Incoming {
            id: update.id,
            before: before.as_ref(),
            after: &after,
            after_events: &after_events,
            new_changes: &new_changes,
        };
        if let Err(refusal) = policy.check(&incoming) {
            return Ok(Err(refusal));
        }
        // A new record sent whole is stored as sent: saving it again would
        // cost time and give the same document.
        let bytes = match (&before_doc, &update.payload) {
            (None, Payload::Full(bytes)) => bytes.clone(),
            _ => after_doc.save(),
        };
        let now = self.now();
        let tx = self.conn_mut().transaction()?;
        write_record(
            &tx,
            &after,
            &bytes,
            &after_doc.heads(),
            before_doc.is_none(),
            now,
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }

    fn fill_pull(
        &mut self,
        readable: Option<&[ScopePath]>,
        request: &SyncRequest,
        client_heads: &HashMap<RecordId, Vec<ChangeHash>>,
        response: &mut SyncResponse,
    ) -> Result<()> {
        // One read transaction: the feed position and the rows agree.
        let tx = self.conn_mut().transaction()?;
        let feed_seq: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM records", [], |r| {
            r.get(0)
        })?;
        let in_scope = |community: &str| {
            readable.is_none_or(|scopes| {
                ScopePath::new(community).is_ok_and(|c| scopes.iter().any(|s| s.contains(&c)))
            })
        };
        let mut budget = PULL_PAGE_BYTES;
        let mut sent: HashSet<RecordId> = HashSet::new();
        for id in &request.need_full {
            if let Some(stored) = load_stored(&tx, *id)?
                && in_scope(&stored.community)
                && sent.insert(*id)
            {
                {
                    budget = budget.saturating_sub(stored.doc.len());
                    response.pull.push(RecordUpdate {
                        id: *id,
                        heads: hashes_to_wire(&heads_from_bytes(&stored.heads)?),
                        payload: Payload::Full(stored.doc),
                    });
                }
            }
        }
        let cursor = i64::try_from(request.cursor).unwrap_or(i64::MAX);
        // Only a finished pull guarantees the client has every record as it
        // was then; a cursor in the middle of paging does not.
        let since = i64::try_from(request.since).unwrap_or(0).min(cursor);
        let mut after_seq = cursor;
        let mut more = false;
        'feed: loop {
            let mut args: Vec<Sql> = vec![Sql::Integer(after_seq)];
            let scope_sql = match readable {
                Some([]) => break 'feed,
                Some(scopes) => {
                    let scopes: Vec<&ScopePath> = scopes.iter().collect();
                    format!("AND {}", scope_clause("community", &scopes, &mut args))
                }
                None => String::new(),
            };
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT id, doc, heads, seq FROM records WHERE seq > ?1 {scope_sql} ORDER BY seq LIMIT {FEED_BATCH}"
            ))?;
            let rows = stmt
                .query_map(params_from_iter(args.iter()), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let exhausted = rows.len() < FEED_BATCH;
            for (id, doc, heads, seq) in rows {
                let id: RecordId = id.parse()?;
                if sent.contains(&id) {
                    after_seq = seq;
                    continue;
                }
                let known = match client_heads.get(&id) {
                    Some(h) => Some(h.clone()),
                    None => tx
                        .prepare_cached(
                            "SELECT heads FROM record_versions WHERE record_id = ?1 AND seq <= ?2
                             ORDER BY seq DESC LIMIT 1",
                        )?
                        .query_row(rusqlite::params![id.to_string(), since], |r| {
                            r.get::<_, Vec<u8>>(0)
                        })
                        .ok()
                        .map(|b| heads_from_bytes(&b))
                        .transpose()?,
                };
                let update = update_for(id, doc, &heads, known)?;
                if let Some(update) = update {
                    let size = update.payload.size();
                    if size > budget && !response.pull.is_empty() {
                        more = true;
                        break 'feed;
                    }
                    budget = budget.saturating_sub(size);
                    response.pull.push(update);
                }
                after_seq = seq;
            }
            if exhausted {
                break;
            }
        }
        response.cursor = u64::try_from(if more {
            after_seq
        } else {
            feed_seq.max(cursor)
        })
        .unwrap_or(0);
        response.more = more;
        tx.commit()?;
        Ok(())
    }
}

/// What to send for one record, given the heads the client is known to have.
fn update_for(
    id: RecordId,
    doc: Vec<u8>,
    heads: &[u8],
    known: Option<Vec<ChangeHash>>,
) -> Result<Option<RecordUpdate>> {
    let current = heads_from_bytes(heads)?;
    let wire_heads = hashes_to_wire(&current);
    let Some(known) = known else {
        return Ok(Some(RecordUpdate {
            id,
            heads: wire_heads,
            payload: Payload::Full(doc),
        }));
    };
    if heads_to_bytes(&known) == heads {
        return Ok(None);
    }
    let loaded = RecordDoc::load(&doc)?;
    let changes: Vec<Vec<u8>> = loaded
        .changes_since(&known)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    if changes.is_empty() {
        return Ok(None);
    }
    Ok(Some(RecordUpdate {
        id,
        heads: wire_heads,
        payload: Payload::Changes {
            base: hashes_to_wire(&known),
            changes,
        },
    }))
}

/// The stored document with an update applied, or why the update cannot apply.
pub(crate) fn merged(before: Option<&RecordDoc>, payload: &Payload) -> Result<RecordDoc, Refusal> {
    let invalid = |e: crate::Error| Refusal::new(RejectCode::Invalid, e.to_string());
    match payload {
        Payload::Full(bytes) => {
            // Automerge reads zero bytes as an empty document; for us it is no record.
            if bytes.is_empty() {
                return Err(Refusal::new(RejectCode::Invalid, "an empty document"));
            }
            let mut incoming = RecordDoc::load(bytes).map_err(invalid)?;
            match before {
                None => Ok(incoming),
                Some(before) => {
                    let mut doc = before.clone();
                    doc.merge(&mut incoming).map_err(invalid)?;
                    Ok(doc)
                }
            }
        }
        Payload::Changes { base, changes } => {
            let changes = changes
                .iter()
                .map(|bytes| {
                    Change::from_bytes(bytes.clone()).map_err(|e| {
                        Refusal::new(RejectCode::Invalid, format!("invalid change: {e}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut doc = match before {
                Some(before) => before.clone(),
                None if base.is_empty() => RecordDoc::empty(),
                None => {
                    return Err(Refusal::new(
                        RejectCode::NeedFull,
                        "this side does not have the record yet",
                    ));
                }
            };
            let missing = doc.apply_changes(changes).map_err(invalid)?;
            if missing.is_empty() {
                Ok(doc)
            } else {
                Err(Refusal::new(
                    RejectCode::NeedFull,
                    "the changes build on ones this side does not have",
                ))
            }
        }
    }
}

/// Checks every policy shares: the record is the one named, keeps its kind,
/// and no workflow event was altered or removed.
fn structure(
    id: RecordId,
    before: Option<&Record>,
    after: &Record,
    _doc: &RecordDoc,
) -> Result<(), Refusal> {
    if after.meta().id != id {
        return Err(Refusal::new(
            RejectCode::Invalid,
            format!("document is record {}, not {id}", after.meta().id),
        ));
    }
    let Some(before) = before else { return Ok(()) };
    if before.meta().kind != after.meta().kind {
        return Err(Refusal::new(
            RejectCode::Invalid,
            "a record cannot change its kind",
        ));
    }
    if let (Record::Wish(b), Record::Wish(a)) = (before, after) {
        let after_events: HashMap<_, _> = a.events.iter().map(|e| (e.id, e)).collect();
        for event in &b.events {
            if after_events.get(&event.id) != Some(&event) {
                return Err(Refusal::new(
                    RejectCode::History,
                    format!(
                        "workflow event {} was altered or removed; events are append-only",
                        event.id
                    ),
                ));
            }
        }
    }
    Ok(())
}
