//! The client side of the engine: build a request from what this store
//! changed since the peer last acknowledged it, and apply the response.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use super::server::merged;
use super::wire::{Payload, RecordUpdate, RejectCode, Rejected, SyncRequest, SyncResponse};
use super::{hashes_from_wire, hashes_to_wire};
use crate::doc::{RecordDoc, actor_of, heads_from_bytes, heads_to_bytes};
use crate::error::Result;
use crate::ids::{RecordId, ScopePath};
use crate::model::Record;
use crate::store::{PeerId, Store, load_stored, write_record};

/// Record bytes one push carries; the rest goes in the next round.
pub const PUSH_PAGE_BYTES: usize = 4 << 20;

/// A record that may need pushing: id, community, document, heads, feed
/// position and the heads the peer is known to share.
type Candidate = (String, String, Vec<u8>, Vec<u8>, i64, Option<Vec<u8>>);

/// How to build a request.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// The scopes this store wants to receive.
    pub scopes: Vec<ScopePath>,
    /// The scopes the peer keeps; records outside them are not sent. `None`
    /// sends everything (the relay checks scopes itself).
    pub peer_scopes: Option<Vec<ScopePath>>,
    /// Send changes other devices made too. Between phones, yes: that is how
    /// work travels without a relay. To a relay, no: it accepts a change only
    /// from the device that made it, so each device delivers its own, and a
    /// change that builds on another device's waits until that one is there.
    pub include_others_changes: bool,
}

/// What part of a record's unacknowledged changes this device may send.
enum OwnChanges {
    /// All of them are its own.
    All(Payload),
    /// Only some: the rest are other devices' (or build on them).
    Some(Payload),
    /// None can be sent yet.
    None,
}

/// The changes of `doc` the peer lacks (beyond `shared`) that this device
/// made and that build only on what the peer has or is being sent.
fn own_changes(doc: &[u8], shared: Option<&[u8]>, own: &automerge::ActorId) -> Result<OwnChanges> {
    let loaded = RecordDoc::load(doc)?;
    let base = shared
        .map(heads_from_bytes)
        .transpose()?
        .unwrap_or_default();
    let missing = loaded.changes_since(&base);
    if missing.iter().all(|c| c.actor_id() == own) {
        return Ok(OwnChanges::All(match shared {
            None => Payload::Full(doc.to_vec()),
            Some(_) => Payload::Changes {
                base: hashes_to_wire(&base),
                changes: missing.iter().map(|c| c.raw_bytes().to_vec()).collect(),
            },
        }));
    }
    // Changes come in causal order: keep an own change when every change it
    // depends on is already shared or kept.
    let unshared: std::collections::HashSet<automerge::ChangeHash> =
        missing.iter().map(|c| c.hash()).collect();
    let mut kept = std::collections::HashSet::new();
    let mut changes = Vec::new();
    for change in &missing {
        let ready = change
            .deps()
            .iter()
            .all(|d| !unshared.contains(d) || kept.contains(d));
        if change.actor_id() == own && ready {
            kept.insert(change.hash());
            changes.push(change.raw_bytes().to_vec());
        }
    }
    if changes.is_empty() {
        return Ok(OwnChanges::None);
    }
    Ok(OwnChanges::Some(Payload::Changes {
        base: hashes_to_wire(&base),
        changes,
    }))
}

/// What a request pushed, kept until its response arrives.
#[derive(Debug, Clone)]
pub struct PendingSync {
    peer: PeerId,
    pushed: Vec<(RecordId, Vec<u8>)>,
    push_upto: i64,
    push_complete: bool,
}

/// What one sync round (or a whole sync) did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Records sent.
    pub sent: usize,
    /// Records the peer accepted.
    pub accepted: usize,
    /// Records received and applied.
    pub received: usize,
    /// Records the peer refused, with reasons.
    pub rejected: Vec<Rejected>,
    /// Received records that could not be applied here, with reasons.
    pub skipped: Vec<Rejected>,
    /// Received wish cards that now have unresolved conflicts.
    pub conflicts: Vec<RecordId>,
    /// True when another round is needed to finish.
    pub more: bool,
}

impl SyncReport {
    /// Adds another round's figures to this report.
    pub fn absorb(&mut self, round: SyncReport) {
        self.sent += round.sent;
        self.accepted += round.accepted;
        self.received += round.received;
        for r in round.rejected {
            if !self.rejected.iter().any(|x| x.id == r.id) {
                self.rejected.push(r);
            }
        }
        self.skipped.extend(round.skipped);
        for c in round.conflicts {
            if !self.conflicts.contains(&c) {
                self.conflicts.push(c);
            }
        }
        self.more = round.more;
    }
}

impl Store {
    /// Builds the next request to the relay: the changes this device made
    /// since the relay last acknowledged them, and where it is in the relay's
    /// feed. See [`Store::begin_sync_with`].
    pub fn begin_sync(
        &mut self,
        peer: &PeerId,
        scopes: &[ScopePath],
    ) -> Result<(SyncRequest, PendingSync)> {
        self.begin_sync_with(
            peer,
            &SyncOptions {
                scopes: scopes.to_vec(),
                ..SyncOptions::default()
            },
        )
    }

    /// Builds the next request to `peer` as `options` say.
    pub fn begin_sync_with(
        &mut self,
        peer: &PeerId,
        options: &SyncOptions,
    ) -> Result<(SyncRequest, PendingSync)> {
        let scopes = &options.scopes;
        let own = actor_of(self.id());
        let state = self.peer_state(peer)?;
        let key = peer.as_str();
        let mut candidates: Vec<Candidate> = {
            let mut stmt = self.connection().prepare_cached(
                // Two index-driven halves: records written since the peer's
                // acknowledgement, and records queued to be sent again.
                "SELECT r.id, r.community, r.doc, r.heads, r.seq, ph.heads FROM records r
                 LEFT JOIN peer_heads ph ON ph.peer = ?1 AND ph.record_id = r.id
                 WHERE r.seq > ?2 AND (ph.heads IS NULL OR ph.heads != r.heads)
                   AND NOT EXISTS (SELECT 1 FROM rejections x WHERE x.peer = ?1 AND x.record_id = r.id)
                 UNION ALL
                 SELECT r.id, r.community, r.doc, r.heads, r.seq, ph.heads FROM sync_todo t
                 JOIN records r ON r.id = t.record_id
                 LEFT JOIN peer_heads ph ON ph.peer = ?1 AND ph.record_id = r.id
                 WHERE t.peer = ?1 AND t.what = 'push' AND r.seq <= ?2
                   AND (ph.heads IS NULL OR ph.heads != r.heads)
                   AND NOT EXISTS (SELECT 1 FROM rejections x WHERE x.peer = ?1 AND x.record_id = r.id)
                 ORDER BY 5",
            )?;
            stmt.query_map(params![key, state.push_cursor], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let mut push = Vec::new();
        let mut pushed = Vec::new();
        let mut bytes = 0usize;
        let mut push_upto = state.push_cursor;
        let mut push_complete = true;
        let mut held_back = Vec::new();
        for (id, community, doc, heads, seq, shared) in candidates.drain(..) {
            let id: RecordId = id.parse()?;
            if let Some(wanted) = &options.peer_scopes {
                let inside =
                    ScopePath::new(community).is_ok_and(|c| wanted.iter().any(|w| w.contains(&c)));
                if !inside {
                    push_upto = push_upto.max(seq);
                    continue; // The peer does not keep this community.
                }
            }
            let payload = if options.include_others_changes {
                match shared {
                    None => Payload::Full(doc),
                    Some(shared) => {
                        let base = heads_from_bytes(&shared)?;
                        let changes = RecordDoc::load(&doc)?
                            .changes_since(&base)
                            .iter()
                            .map(|c| c.raw_bytes().to_vec())
                            .collect();
                        Payload::Changes {
                            base: hashes_to_wire(&base),
                            changes,
                        }
                    }
                }
            } else {
                match own_changes(&doc, shared.as_deref(), &own)? {
                    OwnChanges::All(payload) => payload,
                    OwnChanges::Some(payload) => {
                        // The rest waits for the devices that made it.
                        held_back.push(id);
                        payload
                    }
                    OwnChanges::None => {
                        held_back.push(id);
                        push_upto = push_upto.max(seq);
                        continue;
                    }
                }
            };
            if bytes + payload.size() > PUSH_PAGE_BYTES && !push.is_empty() {
                push_complete = false;
                break;
            }
            bytes += payload.size();
            push.push(RecordUpdate {
                id,
                heads: hashes_to_wire(&heads_from_bytes(&heads)?),
                payload,
            });
            let complete = !held_back.contains(&id);
            pushed.push((id, if complete { heads } else { Vec::new() }));
            push_upto = push_upto.max(seq);
        }
        if !held_back.is_empty() {
            // Try these again at the next sync: the other devices may have
            // delivered their part by then.
            let tx = self.conn_mut().transaction()?;
            for id in &held_back {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO sync_todo (peer, record_id, what) VALUES (?1, ?2, 'push')",
                )?
                .execute(params![key, id.to_string()])?;
            }
            tx.commit()?;
        }
        if push_complete {
            push_upto = push_upto.max(self.feed_seq()?);
        }
        let need_full = {
            let mut stmt = self.connection().prepare_cached(
                "SELECT record_id FROM sync_todo WHERE peer = ?1 AND what = 'fetch'",
            )?;
            stmt.query_map([key], |r| r.get::<_, String>(0))?
                .map(|id| Ok(id?.parse()?))
                .collect::<Result<Vec<RecordId>>>()?
        };
        let request = SyncRequest {
            from: self.id(),
            cursor: u64::try_from(state.pull_cursor).unwrap_or(0),
            since: u64::try_from(state.pull_since).unwrap_or(0),
            push,
            need_full,
            scopes: scopes.to_vec(),
        };
        Ok((
            request,
            PendingSync {
                peer: peer.clone(),
                pushed,
                push_upto,
                push_complete,
            },
        ))
    }

    /// Applies a peer's response in one transaction: acknowledgements,
    /// refusals (kept, flagged, not resent until the user retries) and the
    /// pulled records. A crash before the commit leaves the store as it was,
    /// and the next sync does the same work again.
    pub fn finish_sync(
        &mut self,
        pending: PendingSync,
        response: &SyncResponse,
    ) -> Result<SyncReport> {
        let peer = pending.peer.as_str().to_owned();
        let now = self.now();
        let mut report = SyncReport {
            sent: pending.pushed.len(),
            ..SyncReport::default()
        };
        let tx = self.conn_mut().transaction()?;
        let known_remote: Option<Option<String>> = tx
            .query_row(
                "SELECT remote_id FROM peers WHERE peer = ?1",
                [&peer],
                |r| r.get(0),
            )
            .optional()?;
        let remote = response.from.to_string();
        if let Some(Some(known)) = &known_remote
            && *known != remote
        {
            {
                // The peer is a different store now (a relay rebuilt from
                // scratch): start over so nothing is assumed to be there.
                tx.prepare_cached("DELETE FROM peer_heads WHERE peer = ?1")?
                    .execute([&peer])?;
                tx.prepare_cached("DELETE FROM sync_todo WHERE peer = ?1")?
                    .execute([&peer])?;
                tx.prepare_cached("UPDATE peers SET pull_cursor = 0, pull_since = 0, push_cursor = 0, remote_id = ?2 WHERE peer = ?1")?.execute(params![peer, remote])?;
                tx.commit()?;
                report.sent = 0;
                report.more = true;
                return Ok(report);
            }
        }
        let accepted: HashSet<RecordId> = response.accepted.iter().copied().collect();
        for (id, heads) in &pending.pushed {
            let id_text = id.to_string();
            if accepted.contains(id) {
                report.accepted += 1;
                if heads.is_empty() {
                    // Only this device's part went; the rest is still to go.
                    continue;
                }
                set_shared(&tx, &peer, &id_text, heads)?;
                tx.prepare_cached("DELETE FROM rejections WHERE peer = ?1 AND record_id = ?2")?
                    .execute(params![peer, id_text])?;
                tx.prepare_cached(
                    "DELETE FROM sync_todo WHERE peer = ?1 AND record_id = ?2 AND what = 'push'",
                )?
                .execute(params![peer, id_text])?;
            } else if let Some(refusal) = response.rejected.iter().find(|r| r.id == *id) {
                if refusal.code.is_retryable() {
                    // Not the user's doing: try again at the next sync.
                    if refusal.code == RejectCode::NeedFull {
                        tx.prepare_cached(
                            "DELETE FROM peer_heads WHERE peer = ?1 AND record_id = ?2",
                        )?
                        .execute(params![peer, id_text])?;
                    }
                    todo(&tx, &peer, &id_text, "push")?;
                } else {
                    tx.prepare_cached("INSERT OR REPLACE INTO rejections (peer, record_id, code, reason, heads, at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(params![peer, id_text, refusal.code.as_str(), refusal.reason, heads, now])?;
                }
                report.rejected.push(refusal.clone());
            } else {
                todo(&tx, &peer, &id_text, "push")?;
            }
        }
        // Usually nothing waits to be fetched whole; then no per-record cleanup.
        let fetches_pending: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM sync_todo WHERE peer = ?1 AND what = 'fetch')",
            )?
            .query_row([&peer], |r| r.get(0))?;
        for update in &response.pull {
            apply_remote(&tx, &peer, update, fetches_pending, now, &mut report)?;
        }
        let push_cursor = pending.push_upto;
        let cursor = i64::try_from(response.cursor).unwrap_or(i64::MAX);
        tx.prepare_cached("INSERT INTO peers (peer, pull_cursor, pull_since, push_cursor, remote_id) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (peer) DO UPDATE SET pull_cursor = excluded.pull_cursor,
                 pull_since = CASE WHEN ?6 THEN pull_since ELSE excluded.pull_since END,
                 push_cursor = max(push_cursor, excluded.push_cursor), remote_id = excluded.remote_id")?.execute(params![peer, cursor, if response.more { 0 } else { cursor }, push_cursor, remote, response.more])?;
        tx.commit()?;
        report.more = response.more || !pending.push_complete;
        Ok(report)
    }
}

fn set_shared(tx: &Transaction<'_>, peer: &str, id: &str, heads: &[u8]) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO peer_heads (peer, record_id, heads) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![peer, id, heads])?;
    Ok(())
}

fn todo(tx: &Transaction<'_>, peer: &str, id: &str, what: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO sync_todo (peer, record_id, what) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![peer, id, what])?;
    Ok(())
}

/// Merges one received record into the store.
fn apply_remote(
    tx: &Transaction<'_>,
    peer: &str,
    update: &RecordUpdate,
    fetches_pending: bool,
    now: i64,
    report: &mut SyncReport,
) -> Result<()> {
    let id_text = update.id.to_string();
    let stored = load_stored(tx, update.id)?;
    let before = match &stored {
        Some(s) => Some(RecordDoc::load(&s.doc)?),
        None => None,
    };
    let skip = |report: &mut SyncReport, code, reason: String| {
        report.skipped.push(Rejected {
            id: update.id,
            code,
            reason,
        });
    };
    let doc = match merged(before.as_ref(), &update.payload) {
        Ok(doc) => doc,
        Err(refusal) if refusal.code == RejectCode::NeedFull => {
            todo(tx, peer, &id_text, "fetch")?;
            return Ok(());
        }
        Err(refusal) => {
            skip(report, refusal.code, refusal.reason);
            return Ok(());
        }
    };
    if fetches_pending {
        tx.prepare_cached(
            "DELETE FROM sync_todo WHERE peer = ?1 AND record_id = ?2 AND what = 'fetch'",
        )?
        .execute(params![peer, id_text])?;
    }
    let their_heads = heads_to_bytes(&hashes_from_wire(&update.heads));
    let heads = doc.heads();
    let changed = before.as_ref().is_none_or(|b| b.heads() != heads);
    if changed {
        let record = match doc.read() {
            Ok(record) if record.meta().id == update.id => record,
            Ok(record) => {
                skip(
                    report,
                    RejectCode::Invalid,
                    format!("document is record {}", record.meta().id),
                );
                return Ok(());
            }
            Err(e) => {
                skip(report, RejectCode::Invalid, e.to_string());
                return Ok(());
            }
        };
        let bytes = match (&update.payload, &before) {
            (Payload::Full(bytes), None) => bytes.clone(),
            _ => doc.save(),
        };
        write_record(tx, &record, &bytes, &heads, before.is_none(), now)?;
        if let Record::Wish(card) = &record
            && card.state.open_conflicts().next().is_some()
        {
            report.conflicts.push(update.id);
        }
    }
    report.received += 1;
    set_shared(tx, peer, &id_text, &their_heads)?;
    if before.is_some() && heads_to_bytes(&heads) == their_heads {
        // The peer has everything this store has for the record: any
        // earlier refusal no longer holds anything back.
        tx.prepare_cached("DELETE FROM rejections WHERE peer = ?1 AND record_id = ?2")?
            .execute(params![peer, id_text])?;
    }
    Ok(())
}
