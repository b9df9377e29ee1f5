//! The client side of the engine: build a request from what this store
//! changed since the peer last acknowledged it, and apply the response.

mod apply;
mod deliver;

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use self::apply::{apply_reconcile, apply_remote};
use self::deliver::{Deliverable, Held, deliverable};
use super::hashes_to_wire;
use super::messages::{
    ClockReading, PendingReport, RecordUpdate, RejectCode, Rejected, SyncRequest, SyncResponse,
};
use crate::doc::{actor_of, heads_from_bytes};
use crate::error::Result;
use crate::ids::{RecordId, ScopePath};
use crate::keys::SigSet;
use crate::store::{PeerId, Store};

/// Record bytes one push carries; the rest goes in the next round.
pub const PUSH_PAGE_BYTES: usize = 4 << 20;

/// The smallest change of a device's clock correction worth keeping (ms).
const CLOCK_STEP_MS: i64 = 1000;

/// A record that may need pushing: id, community, document, heads, feed
/// position, the heads the peer is known to share, its signatures, and when
/// it was last written.
type Candidate = (
    String,
    String,
    Vec<u8>,
    Vec<u8>,
    i64,
    Option<Vec<u8>>,
    Vec<u8>,
    i64,
);

/// How to build a request.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// The scopes this store wants to receive.
    pub scopes: Vec<ScopePath>,
    /// The scopes the peer keeps; records outside them are not sent. `None`
    /// sends everything (the relay checks scopes itself).
    pub peer_scopes: Option<Vec<ScopePath>>,
    /// Send changes this store holds no signature for too. Between phones,
    /// yes: that is how work travels without a relay. To a relay, no: it
    /// accepts a change only with its author's signature, so such a change
    /// (and what builds on it) waits for a device that has one.
    pub unsigned_too: bool,
    /// Correct this device's clock by the peer's (a relay's; never another
    /// phone's).
    pub learn_clock: bool,
}

/// What a request pushed, kept until its response arrives.
#[derive(Debug, Clone)]
pub struct PendingSync {
    peer: PeerId,
    pushed: Vec<(RecordId, Vec<u8>)>,
    push_upto: i64,
    push_complete: bool,
    reconciling: bool,
    /// The device's own clock when the request was built, if the answer's
    /// clock is to correct it.
    sent_at: Option<i64>,
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
    /// True when the peer turned out to have gone back in time (a relay
    /// restored from a backup) and this store reconciled with it.
    pub reconciled: bool,
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
        self.reconciled |= round.reconciled;
    }
}

impl Store {
    /// Builds the next request to the relay: the changes this store holds
    /// signed since the relay last acknowledged them, and where it is in the
    /// relay's feed. See [`Store::begin_sync_with`].
    pub fn begin_sync(
        &mut self,
        peer: &PeerId,
        scopes: &[ScopePath],
    ) -> Result<(SyncRequest, PendingSync)> {
        self.begin_sync_with(
            peer,
            &SyncOptions {
                scopes: scopes.to_vec(),
                learn_clock: true,
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
        let state = self.peer_state(peer)?;
        let mut request = SyncRequest {
            from: self.id(),
            epoch: state.epoch,
            cursor: u64::try_from(state.pull_cursor).unwrap_or(0),
            cursor_tag: state.cursor_tag,
            since: u64::try_from(state.pull_since).unwrap_or(0),
            scopes: options.scopes.clone(),
            clock: Some(ClockReading {
                now_ms: self.now(),
                skew_ms: self.clock_skew(),
            }),
            ..SyncRequest::default()
        };
        if let Some(after) = state.reconcile_from {
            // First learn what the peer holds; push nothing until then.
            request.reconcile = Some(u64::try_from(after).unwrap_or(0));
            request.cursor = 0;
            request.since = 0;
            let pending = PendingSync {
                peer: peer.clone(),
                pushed: Vec::new(),
                push_upto: state.push_cursor,
                push_complete: true,
                reconciling: true,
                sent_at: options.learn_clock.then(|| self.device_clock()),
            };
            return Ok((request, pending));
        }
        let (push, mut pending, unsynced) = self.build_push(peer, options, state.push_cursor)?;
        pending.sent_at = options.learn_clock.then(|| self.device_clock());
        request.push = push;
        request.pending = Some(unsynced);
        request.need_full = {
            let mut stmt = self.connection().prepare_cached(
                "SELECT record_id FROM sync_todo WHERE peer = ?1 AND what = 'fetch'",
            )?;
            stmt.query_map([peer.as_str()], |r| r.get::<_, String>(0))?
                .map(|id| Ok(id?.parse()?))
                .collect::<Result<Vec<RecordId>>>()?
        };
        Ok((request, pending))
    }

    /// The records to push, what to remember of them until the answer, and
    /// how much is unsynced (every candidate, sent in this round or not).
    fn build_push(
        &mut self,
        peer: &PeerId,
        options: &SyncOptions,
        push_cursor: i64,
    ) -> Result<(Vec<RecordUpdate>, PendingSync, PendingReport)> {
        let own = self.device_key()?;
        let own_actor = actor_of(self.id());
        let key = peer.as_str();
        let mut candidates: Vec<Candidate> = {
            let mut stmt = self.connection().prepare_cached(
                // Two index-driven halves: records written since the peer's
                // acknowledgement, and records queued to be sent again.
                // Records waiting to be fetched whole are sent after that.
                "SELECT r.id, r.community, r.doc, r.heads, r.seq, ph.heads, r.sigs, r.updated_at FROM records r
                 LEFT JOIN peer_heads ph ON ph.peer = ?1 AND ph.record_id = r.id
                 WHERE r.seq > ?2 AND (ph.heads IS NULL OR ph.heads != r.heads)
                   AND NOT EXISTS (SELECT 1 FROM rejections x WHERE x.peer = ?1 AND x.record_id = r.id)
                   AND NOT EXISTS (SELECT 1 FROM sync_todo f WHERE f.peer = ?1 AND f.record_id = r.id AND f.what = 'fetch')
                 UNION ALL
                 SELECT r.id, r.community, r.doc, r.heads, r.seq, ph.heads, r.sigs, r.updated_at FROM sync_todo t
                 JOIN records r ON r.id = t.record_id
                 LEFT JOIN peer_heads ph ON ph.peer = ?1 AND ph.record_id = r.id
                 WHERE t.peer = ?1 AND t.what = 'push' AND r.seq <= ?2
                   AND (ph.heads IS NULL OR ph.heads != r.heads)
                   AND NOT EXISTS (SELECT 1 FROM rejections x WHERE x.peer = ?1 AND x.record_id = r.id)
                   AND NOT EXISTS (SELECT 1 FROM sync_todo f WHERE f.peer = ?1 AND f.record_id = r.id AND f.what = 'fetch')
                 ORDER BY 5",
            )?;
            stmt.query_map(params![key, push_cursor], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let mut unsynced = PendingReport::default();
        let mut push = Vec::new();
        let mut pushed = Vec::new();
        let mut bytes = 0usize;
        let mut push_upto = push_cursor;
        let mut push_complete = true;
        let mut held_back = Vec::new();
        let mut newly_signed: Vec<(RecordId, Vec<u8>)> = Vec::new();
        let mut counted = HashSet::new();
        for (id, community, doc, heads, seq, shared, sigs, updated_at) in candidates.drain(..) {
            let id: RecordId = id.parse()?;
            if let Some(wanted) = &options.peer_scopes {
                let inside =
                    ScopePath::new(community).is_ok_and(|c| wanted.iter().any(|w| w.contains(&c)));
                if !inside {
                    push_upto = push_upto.max(seq);
                    continue; // The peer does not keep this community.
                }
            }
            if counted.insert(id) {
                unsynced.records += 1;
                unsynced.oldest_ms =
                    Some(unsynced.oldest_ms.map_or(updated_at, |o| o.min(updated_at)));
            }
            if !push_complete {
                continue; // Counted; it goes in a later round.
            }
            let mut sigs_now = SigSet::from_blob(&sigs);
            let before = sigs_now.len();
            let held = Held {
                doc: &doc,
                shared: shared.as_deref(),
                sigs: &mut sigs_now,
            };
            let choice = deliverable(held, &own, &own_actor, options.unsigned_too)?;
            if sigs_now.len() != before {
                newly_signed.push((id, sigs_now.to_blob()));
            }
            let (payload, carried) = match choice {
                Deliverable::All(payload, sigs) => (payload, sigs),
                Deliverable::Some(payload, sigs) => {
                    // The rest waits for a device that can deliver it.
                    held_back.push(id);
                    (payload, sigs)
                }
                Deliverable::None => {
                    held_back.push(id);
                    push_upto = push_upto.max(seq);
                    continue;
                }
            };
            if bytes + payload.size() > PUSH_PAGE_BYTES && !push.is_empty() {
                push_complete = false;
                continue;
            }
            bytes += payload.size();
            push.push(RecordUpdate {
                id,
                heads: hashes_to_wire(&heads_from_bytes(&heads)?),
                payload,
                sigs: carried,
            });
            let complete = !held_back.contains(&id);
            pushed.push((id, if complete { heads } else { Vec::new() }));
            push_upto = push_upto.max(seq);
        }
        if !held_back.is_empty() || !newly_signed.is_empty() {
            let tx = self.conn_mut().transaction()?;
            for id in &held_back {
                // Try these again at the next sync: a device that can
                // deliver the rest may have done so by then.
                todo(&tx, key, &id.to_string(), "push")?;
            }
            for (id, sigs) in &newly_signed {
                tx.prepare_cached("UPDATE records SET sigs = ?2 WHERE id = ?1")?
                    .execute(params![id.to_string(), sigs])?;
            }
            tx.commit()?;
        }
        if push_complete {
            push_upto = push_upto.max(self.feed_seq()?);
        }
        Ok((
            push,
            PendingSync {
                peer: peer.clone(),
                pushed,
                push_upto,
                push_complete,
                reconciling: false,
                sent_at: None,
            },
            unsynced,
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
        if let Some(sent_at) = pending.sent_at {
            self.learn_clock(sent_at, response.now_ms)?;
        }
        let now = self.now();
        let mut report = SyncReport {
            sent: pending.pushed.len(),
            ..SyncReport::default()
        };
        let tx = self.conn_mut().transaction()?;
        let known: Option<(Option<String>, Option<i64>)> = tx
            .query_row(
                "SELECT remote_id, epoch FROM peers WHERE peer = ?1",
                [&peer],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let remote = response.from.to_string();
        let epoch = response.epoch as i64;
        let other_store = matches!(&known, Some((Some(id), _)) if *id != remote);
        let other_epoch = matches!(known, Some((_, Some(e))) if e != epoch);
        if response.reset || other_store || other_epoch {
            // The peer is another store now (rebuilt from scratch) or went
            // back in time (restored from a backup): nothing it acknowledged
            // can be assumed. List what it holds, then send what it lacks.
            start_reconcile(&tx, &peer, &remote, epoch)?;
            // Nor that it holds the photos it confirmed: ask about each again.
            crate::store::requeue_photo_uploads(&tx)?;
            tx.commit()?;
            report.sent = 0;
            report.more = true;
            report.reconciled = true;
            return Ok(report);
        }
        if pending.reconciling {
            let Some(page) = &response.reconcile else {
                // An answer to something else: ask again.
                tx.commit()?;
                report.more = true;
                return Ok(report);
            };
            apply_reconcile(&tx, &peer, page)?;
            tx.commit()?;
            report.more = true;
            report.reconciled = true;
            return Ok(report);
        }
        let accepted: HashSet<RecordId> = response.accepted.iter().copied().collect();
        for (id, heads) in &pending.pushed {
            let id_text = id.to_string();
            if accepted.contains(id) {
                report.accepted += 1;
                if heads.is_empty() {
                    // Only part of it went; the rest is still to go.
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
        let mut local_ahead = false;
        for update in &response.pull {
            local_ahead |= apply_remote(&tx, &peer, update, fetches_pending, now, &mut report)?;
        }
        let push_cursor = pending.push_upto;
        let cursor = i64::try_from(response.cursor).unwrap_or(i64::MAX);
        tx.prepare_cached("INSERT INTO peers (peer, pull_cursor, pull_since, push_cursor, remote_id, epoch, cursor_tag)
             VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?8)
             ON CONFLICT (peer) DO UPDATE SET pull_cursor = excluded.pull_cursor,
                 pull_since = CASE WHEN ?6 THEN pull_since ELSE excluded.pull_since END,
                 push_cursor = max(push_cursor, excluded.push_cursor), remote_id = excluded.remote_id,
                 epoch = excluded.epoch, cursor_tag = excluded.cursor_tag")?
            .execute(params![
                peer,
                cursor,
                if response.more { 0 } else { cursor },
                push_cursor,
                remote,
                response.more,
                epoch,
                response.cursor_tag as i64
            ])?;
        tx.commit()?;
        // Something received met local changes the peer lacks: they go in
        // one more round rather than wait for the next sync.
        report.more = response.more || !pending.push_complete || local_ahead;
        Ok(report)
    }

    /// Corrects this device's clock by the relay's: the relay read its
    /// clock about halfway between the request's start (`sent_at`, by the
    /// device's own clock, see [`Store::device_clock`]) and its answer.
    /// Changes under a second are not worth a write. A sync does this by
    /// itself; an app calls it with the relay's time at login.
    pub fn learn_clock(&mut self, sent_at: i64, relay_now: i64) -> Result<()> {
        if relay_now <= 0 {
            return Ok(());
        }
        let midway = sent_at + (self.device_clock() - sent_at) / 2;
        let skew = relay_now - midway;
        if (skew - self.clock_skew()).abs() >= CLOCK_STEP_MS {
            self.set_clock_skew(skew)?;
        }
        Ok(())
    }
}

/// Forgets everything assumed about `peer` and starts listing what it holds.
fn start_reconcile(tx: &Transaction<'_>, peer: &str, remote: &str, epoch: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM peer_heads WHERE peer = ?1")?
        .execute([peer])?;
    tx.prepare_cached("DELETE FROM sync_todo WHERE peer = ?1")?
        .execute([peer])?;
    tx.prepare_cached(
        "INSERT INTO peers (peer, pull_cursor, pull_since, push_cursor, remote_id, epoch, cursor_tag, reconcile_from)
         VALUES (?1, 0, 0, 0, ?2, ?3, 0, 0)
         ON CONFLICT (peer) DO UPDATE SET pull_cursor = 0, pull_since = 0, push_cursor = 0,
             remote_id = excluded.remote_id, epoch = excluded.epoch, cursor_tag = 0, reconcile_from = 0",
    )?
    .execute(params![peer, remote, epoch])?;
    Ok(())
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
