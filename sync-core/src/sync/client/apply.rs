//! Applying what a peer sent: pulled records, and the pages of a
//! reconciliation with a peer that went back in time.

use rusqlite::{Transaction, params};

use super::super::hashes_from_wire;
use super::super::messages::{ReconcilePage, RecordUpdate, RejectCode, Rejected};
use super::super::server::{merged, naming};
use super::{SyncReport, set_shared, todo};
use crate::doc::{RecordDoc, heads_to_bytes};
use crate::error::Result;
use crate::keys::SigSet;
use crate::model::Record;
use crate::store::{load_stored, write_record};

/// Merges one received record into the store, with the signatures of the
/// changes it brings. Returns true when this store has changes to the
/// record that the peer lacks.
pub(super) fn apply_remote(
    tx: &Transaction<'_>,
    peer: &str,
    update: &RecordUpdate,
    fetches_pending: bool,
    now: i64,
    report: &mut SyncReport,
) -> Result<bool> {
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
            return Ok(false);
        }
        Err(refusal) => {
            skip(report, refusal.code, refusal.reason);
            return Ok(false);
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
    let before_heads = before.as_ref().map(RecordDoc::heads).unwrap_or_default();
    let changed = before.is_none() || before_heads != heads;
    if changed {
        let record = match doc.read() {
            Ok(record) if record.meta().id == update.id => record,
            Ok(record) => {
                skip(
                    report,
                    RejectCode::Invalid,
                    format!("document is record {}", record.meta().id),
                );
                return Ok(false);
            }
            Err(e) => {
                skip(report, RejectCode::Invalid, e.to_string());
                return Ok(false);
            }
        };
        let mut sigs = stored
            .as_ref()
            .map(|s| SigSet::from_blob(&s.sigs))
            .unwrap_or_default();
        sigs.extend(naming(&update.sigs, &doc.changes_since(&before_heads)));
        let bytes = match (&update.payload, &before) {
            (crate::sync::Payload::Full(bytes), None) => bytes.clone(),
            _ => doc.save(),
        };
        write_record(tx, &record, &bytes, &heads, &sigs, before.is_none(), now)?;
        if let Record::Wish(card) = &record
            && card.state.open_conflicts().next().is_some()
        {
            report.conflicts.push(update.id);
        }
    }
    report.received += 1;
    set_shared(tx, peer, &id_text, &their_heads)?;
    let ours = heads_to_bytes(&heads);
    if before.is_some() && ours == their_heads {
        // The peer has everything this store has for the record: any
        // earlier refusal no longer holds anything back.
        tx.prepare_cached("DELETE FROM rejections WHERE peer = ?1 AND record_id = ?2")?
            .execute(params![peer, id_text])?;
    }
    if ours == their_heads {
        return Ok(false);
    }
    let refused: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM rejections WHERE peer = ?1 AND record_id = ?2)",
        )?
        .query_row(params![peer, id_text], |r| r.get(0))?;
    Ok(!refused)
}

/// One page of what the peer holds, while reconciling: records whose heads
/// this store has (all of them) are shared from now on; records the peer
/// has more of are fetched whole; records this store alone has are pushed
/// once the listing is done. After the last page, pulling resumes from
/// where the listing ended.
pub(super) fn apply_reconcile(
    tx: &Transaction<'_>,
    peer: &str,
    page: &ReconcilePage,
) -> Result<()> {
    for listed in &page.records {
        let theirs = hashes_from_wire(&listed.heads);
        let their_bytes = heads_to_bytes(&theirs);
        let id_text = listed.id.to_string();
        let have_all = match load_stored(tx, listed.id)? {
            Some(stored) if stored.heads == their_bytes => true,
            Some(stored) => {
                let doc = RecordDoc::load(&stored.doc)?;
                theirs.iter().all(|h| doc.has_change(h))
            }
            None => false,
        };
        if have_all {
            set_shared(tx, peer, &id_text, &their_bytes)?;
        } else {
            todo(tx, peer, &id_text, "fetch")?;
        }
    }
    match page.next {
        Some(next) => {
            tx.prepare_cached("UPDATE peers SET reconcile_from = ?2 WHERE peer = ?1")?
                .execute(params![peer, next as i64])?;
        }
        None => {
            // Everything the peer had when the listing ended is known; what
            // it writes later comes by the feed from there. Every record
            // this store holds that the peer lacks is now a push candidate.
            let upto = page.upto as i64;
            tx.prepare_cached(
                "UPDATE peers SET reconcile_from = NULL, pull_cursor = ?2, pull_since = ?2,
                     push_cursor = 0 WHERE peer = ?1",
            )?
            .execute(params![peer, upto])?;
        }
    }
    Ok(())
}
