//! The server side of the engine: accept a client's pushed records (each
//! checked by a [`Policy`], each refused alone) and answer with what changed
//! in the client's scopes since its cursor; notice when the client's cursor
//! belongs to another history than this store's feed, and help it
//! reconcile.

use std::collections::{HashMap, HashSet};

use automerge::{Change, ChangeHash};
use sha2::{Digest, Sha256};

use super::messages::{
    Payload, PendingReport, ReconcilePage, RecordHeads, RecordUpdate, RejectCode, Rejected,
    SyncRequest, SyncResponse,
};
use super::policy::{Incoming, Policy, Refusal};
use super::storage::{HeldWrite, PullView, RecordWrite, SyncStorage, in_one_commit};
use super::wire::MAX_RECONCILE;
use super::{hashes_from_wire, hashes_to_wire, structure};
use crate::doc::{RecordDoc, device_of, heads_from_bytes, heads_to_bytes, read_events};
use crate::error::Result;
use crate::ids::{DeviceId, EventId, RecordId, ScopePath};
use crate::keys::{ChangeSig, SigSet};
use crate::model::Record;
use crate::store::{CachedDirectory, DeviceCache, Feed, Store, corrections};
use crate::workflow::{Holder, Reader, Sight, WishEvent};

/// Record bytes one pull page carries before it stops and says `more`.
pub const PULL_PAGE_BYTES: usize = 2 << 20;
/// Rows read from the feed per query while filling a page.
const FEED_BATCH: usize = 500;

impl Store {
    /// Handles a client's request under `policy` and builds the response:
    /// [`serve_sync`] over this store.
    pub fn serve_sync(
        &mut self,
        policy: &dyn Policy,
        request: &SyncRequest,
    ) -> Result<SyncResponse> {
        serve_sync(self, policy, request)
    }
}

/// Handles a client's request under `policy` and builds the response, over
/// any [`SyncStorage`].
///
/// Each pushed record is applied on its own (atomically, in a savepoint
/// of its own where the store groups a request's records into one
/// commit), or refused with a reason without touching the store. Applying the same request twice
/// changes nothing the second time. A client whose cursor belongs to
/// another history of this store (another epoch, or a position the feed
/// does not reach) is told to reconcile, and nothing it pushed is looked
/// at.
pub fn serve_sync(
    storage: &mut dyn SyncStorage,
    policy: &dyn Policy,
    request: &SyncRequest,
) -> Result<SyncResponse> {
    let feed = storage.feed()?;
    let feed_seq = u64::try_from(storage.feed_seq()?).unwrap_or(0);
    let now = storage.now();
    if let Some(clock) = request.clock {
        storage.record_clock(request.from, clock, now)?;
    }
    let mut response = SyncResponse {
        from: storage.store_id(),
        epoch: feed.epoch(),
        now_ms: now,
        ..SyncResponse::default()
    };
    if let Some(current) = went_back(storage, &feed, feed_seq, request)? {
        response.epoch = current.epoch();
        response.reset = true;
        return Ok(response);
    }
    if let Some(after) = request.reconcile {
        response.reconcile = Some(reconcile_page(storage, policy, after, feed_seq)?);
        return Ok(response);
    }
    let cache = DeviceCache::default();
    let mut client_heads: HashMap<RecordId, Vec<ChangeHash>> = HashMap::new();
    // Each record is accepted or refused alone; what is accepted commits
    // together, before anything is acknowledged.
    in_one_commit(storage, |storage| {
        for update in &request.push {
            match accept_again_if_contended(storage, policy, &cache, update)? {
                Ok(()) => {
                    response.accepted.push(update.id);
                    client_heads.insert(update.id, hashes_from_wire(&update.heads));
                }
                Err(refusal) => {
                    if refusal.is_held() {
                        hold(storage, update, &refusal.lost, request.from, now)?;
                    }
                    response.rejected.push(Rejected {
                        id: update.id,
                        code: refusal.code,
                        reason: refusal.reason,
                    });
                }
            }
        }
        Ok(())
    })?;
    // What the client will still hold unsynced once it has this answer:
    // not what was accepted, nor what was refused for good (the phone
    // keeps that aside, flagged, for its user).
    let done = response.accepted.len()
        + response
            .rejected
            .iter()
            .filter(|r| !r.code.is_retryable())
            .count();
    let left = request.pending.map(|p| {
        let records = p.records.saturating_sub(done as u64);
        PendingReport {
            records,
            oldest_ms: p.oldest_ms.filter(|_| records > 0),
        }
    });
    storage.record_pending(request.from, left, now)?;
    fill_pull(storage, policy, request, &client_heads, &mut response)?;
    response.cursor_tag = feed.tag(response.cursor);
    Ok(response)
}

/// Whether the client's cursor belongs to another history than this
/// feed. If so, the feed to answer with: a client showing this store's
/// own tag for a position past the feed proves the store went back in
/// time, and a new epoch starts for everyone.
fn went_back(
    storage: &mut dyn SyncStorage,
    feed: &Feed,
    feed_seq: u64,
    request: &SyncRequest,
) -> Result<Option<Feed>> {
    if request.epoch.is_some_and(|epoch| epoch != feed.epoch()) {
        return Ok(Some(feed.clone()));
    }
    if request.cursor <= feed_seq {
        return Ok(None);
    }
    if request.epoch == Some(feed.epoch()) && request.cursor_tag == feed.tag(request.cursor) {
        storage.new_feed_epoch()?;
        return Ok(Some(storage.feed()?));
    }
    // Not proven (a client from before epochs, or a made-up position):
    // only this client starts over.
    Ok(Some(feed.clone()))
}

/// Keeps a pushed update that carries lost devices' changes (once, if it
/// is pushed again), unapplied.
fn hold(
    storage: &mut dyn SyncStorage,
    update: &RecordUpdate,
    lost: &[DeviceId],
    carrier: DeviceId,
    now: i64,
) -> Result<()> {
    let before = match storage.stored(update.id)? {
        Some(s) => Some(RecordDoc::load(&s.doc)?),
        None => None,
    };
    // It merged when the policy looked at it; it still does.
    let Ok(after) = merged(before.as_ref(), &update.payload) else {
        return Ok(());
    };
    let record = after.read()?;
    let payload = postcard::to_stdvec(update)
        .map_err(|e| crate::Error::Wire(super::WireError::Malformed(e.to_string())))?;
    let digest = Sha256::digest(&payload).to_vec();
    storage.hold(&HeldWrite {
        record: update.id,
        kind: record.meta().kind,
        community: record.meta().community.as_scope(),
        digest: &digest,
        payload: &payload,
        lost,
        carrier,
        now,
    })
}

/// How many times a pushed record is merged and checked again when other
/// writers (relays over the same database) store it meanwhile, before
/// the sync fails and the phone, which keeps its work, tries again later.
const CONTENDED_RETRIES: usize = 16;

/// [`accept`], done again from what is stored now each time another
/// writer stored the record between the read and the write: every check
/// runs on the record as it will be stored, and nothing the other writer
/// stored is lost.
pub(crate) fn accept_again_if_contended(
    storage: &mut dyn SyncStorage,
    policy: &dyn Policy,
    cache: &DeviceCache,
    update: &RecordUpdate,
) -> Result<Result<(), Refusal>> {
    let mut tries = 0;
    loop {
        match accept(storage, policy, cache, update) {
            Err(crate::Error::Contended(_)) if tries < CONTENDED_RETRIES => tries += 1,
            done => return done,
        }
    }
}

/// Applies one pushed record if it passes every check. The outer error is
/// a storage failure; the inner one a refusal of this record.
fn accept(
    storage: &mut dyn SyncStorage,
    policy: &dyn Policy,
    cache: &DeviceCache,
    update: &RecordUpdate,
) -> Result<Result<(), Refusal>> {
    let stored = storage.stored(update.id)?;
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
    let creator =
        match structure::check(update.id, before.as_ref(), &after_doc, &after, &new_changes) {
            Ok(creator) => creator,
            Err(refusal) => return Ok(Err(refusal)),
        };
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
        sigs: &update.sigs,
        creator: &creator,
    };
    let directory = CachedDirectory {
        inner: &*storage,
        cache,
    };
    if let Err(refusal) = policy.check(&incoming, &directory)? {
        return Ok(Err(refusal));
    }
    let now = storage.now();
    let corrections = if policy.corrects_clocks() {
        let known: HashSet<EventId> = match &before {
            Some(Record::Wish(w)) => w.events.iter().map(|e| e.id).collect(),
            _ => HashSet::new(),
        };
        let new_events: Vec<&WishEvent> = after_events
            .iter()
            .map(|(e, _)| e)
            .filter(|e| !known.contains(&e.id))
            .collect();
        let creator = before.is_none().then(|| device_of(&creator)).flatten();
        corrections(&*storage, &after, &new_events, creator, now)?
    } else {
        Vec::new()
    };
    let mut sigs = stored
        .as_ref()
        .map(|s| SigSet::from_blob(&s.sigs))
        .unwrap_or_default();
    sigs.extend(naming(&update.sigs, &new_changes));
    // A new record sent whole is stored as sent: saving it again would
    // cost time and give the same document.
    let bytes = match (&before_doc, &update.payload) {
        (None, Payload::Full(bytes)) => bytes.clone(),
        _ => after_doc.save(),
    };
    storage.put_record(&RecordWrite {
        record: &after,
        doc: &bytes,
        heads: &after_doc.heads(),
        sigs: &sigs,
        base: stored.as_ref().map(|s| s.heads.as_slice()),
        corrections: &corrections,
        now,
    })?;
    Ok(Ok(()))
}

/// One page of the records in `readable` with their heads, in feed order
/// after position `after`.
fn reconcile_page(
    storage: &mut dyn SyncStorage,
    policy: &dyn Policy,
    after: u64,
    feed_seq: u64,
) -> Result<ReconcilePage> {
    let mut page = ReconcilePage {
        upto: feed_seq,
        ..ReconcilePage::default()
    };
    let view = storage.pull_view()?;
    let mut rows = view.feed_heads(
        i64::try_from(after).unwrap_or(i64::MAX),
        policy.readable(),
        MAX_RECONCILE + 1,
    )?;
    let more = rows.len() > MAX_RECONCILE;
    rows.truncate(MAX_RECONCILE);
    if more {
        page.next = rows.last().map(|r| u64::try_from(r.seq).unwrap_or(0));
    }
    for row in rows {
        if let Some(reader) = policy.reader()
            && !reads(&*view, reader, row.id)?
        {
            continue;
        }
        page.records.push(RecordHeads {
            id: row.id,
            heads: hashes_to_wire(&heads_from_bytes(&row.heads)?),
        });
    }
    view.finish()?;
    Ok(page)
}

fn fill_pull(
    storage: &mut dyn SyncStorage,
    policy: &dyn Policy,
    request: &SyncRequest,
    client_heads: &HashMap<RecordId, Vec<ChangeHash>>,
    response: &mut SyncResponse,
) -> Result<()> {
    let readable = policy.readable();
    let reader = policy.reader();
    // One snapshot: the feed position and the rows agree.
    let view = storage.pull_view()?;
    let sees = |id: RecordId| -> Result<bool> {
        reader.map_or(Ok(true), |reader| reads(&*view, reader, id))
    };
    let feed_seq = view.feed_seq()?;
    let in_scope = |community: &str| {
        readable.is_none_or(|scopes| {
            ScopePath::new(community).is_ok_and(|c| scopes.iter().any(|s| s.contains(&c)))
        })
    };
    let mut budget = PULL_PAGE_BYTES;
    let mut more = false;
    let mut sent: HashSet<RecordId> = HashSet::new();
    for id in &request.need_full {
        if budget == 0 {
            // The rest are asked for again in the next round.
            more = true;
            break;
        }
        if let Some(stored) = view.stored(*id)?
            && in_scope(&stored.community)
            && sees(*id)?
            && sent.insert(*id)
        {
            budget = budget.saturating_sub(stored.doc.len());
            response.pull.push(RecordUpdate {
                id: *id,
                heads: hashes_to_wire(&heads_from_bytes(&stored.heads)?),
                payload: Payload::Full(stored.doc),
                sigs: SigSet::from_blob(&stored.sigs).all().to_vec(),
            });
        }
    }
    let cursor = i64::try_from(request.cursor).unwrap_or(i64::MAX);
    // Only a finished pull guarantees the client has every record as it
    // was then; a cursor in the middle of paging does not.
    let since = i64::try_from(request.since).unwrap_or(0).min(cursor);
    let mut after_seq = cursor;
    'feed: while !more {
        if readable.is_some_and(<[ScopePath]>::is_empty) {
            break;
        }
        let rows = view.feed_after(after_seq, readable, FEED_BATCH)?;
        let exhausted = rows.len() < FEED_BATCH;
        for row in rows {
            let id = row.id;
            if sent.contains(&id) || !sees(id)? {
                after_seq = row.seq;
                continue;
            }
            let known = match client_heads.get(&id) {
                Some(h) => Some(h.clone()),
                // A reader of some records may not have had this one
                // at their last pull: they get it whole.
                None if reader.is_some() => None,
                None => view
                    .heads_at(id, since)?
                    .map(|b| heads_from_bytes(&b))
                    .transpose()?,
            };
            let update = update_for(
                id,
                row.doc,
                &row.heads,
                &SigSet::from_blob(&row.sigs),
                known,
            )?;
            if let Some(update) = update {
                let size = update.payload.size();
                if size > budget && !response.pull.is_empty() {
                    more = true;
                    break 'feed;
                }
                budget = budget.saturating_sub(size);
                response.pull.push(update);
            }
            after_seq = row.seq;
        }
        if exhausted {
            break;
        }
    }
    response.cursor = u64::try_from(if more { after_seq } else { feed_seq }).unwrap_or(0);
    response.more = more;
    view.finish()?;
    Ok(())
}

/// Whether `reader` receives record `id` (its kind, and for a wish card
/// its status, who holds it and whether the reader took it on, from the
/// materialized rows): sync-core's read rule over the store's facts.
fn reads(view: &dyn PullView, reader: &Reader, id: RecordId) -> Result<bool> {
    let Some(facts) = view.read_facts(id, &reader.user, reader.unit.as_ref())? else {
        return Ok(false);
    };
    let holder = Holder {
        user: facts.holder_user,
        unit: facts.holder_unit,
        name: None,
    };
    Ok(reader.reads(
        facts.kind,
        facts.status.map(|status| Sight {
            status,
            holder: Some(&holder),
            took_part: facts.took_part,
        }),
    ))
}

/// The signatures among `sigs` of the given changes.
pub(crate) fn naming<'a>(
    sigs: &'a [ChangeSig],
    changes: &'a [Change],
) -> impl Iterator<Item = ChangeSig> + 'a {
    sigs.iter()
        .filter(|s| changes.iter().any(|c| s.names(&c.hash())))
        .copied()
}

/// What to send for one record, given the heads the client is known to have.
fn update_for(
    id: RecordId,
    doc: Vec<u8>,
    heads: &[u8],
    sigs: &SigSet,
    known: Option<Vec<ChangeHash>>,
) -> Result<Option<RecordUpdate>> {
    let current = heads_from_bytes(heads)?;
    let wire_heads = hashes_to_wire(&current);
    let Some(known) = known else {
        return Ok(Some(RecordUpdate {
            id,
            heads: wire_heads,
            payload: Payload::Full(doc),
            sigs: sigs.all().to_vec(),
        }));
    };
    if heads_to_bytes(&known) == heads {
        return Ok(None);
    }
    let changes = RecordDoc::load(&doc)?.changes_since(&known);
    if changes.is_empty() {
        return Ok(None);
    }
    Ok(Some(RecordUpdate {
        id,
        heads: wire_heads,
        sigs: changes
            .iter()
            .filter_map(|c| sigs.get(&c.hash()).copied())
            .collect(),
        payload: Payload::Changes {
            base: hashes_to_wire(&known),
            changes: changes.iter().map(|c| c.raw_bytes().to_vec()).collect(),
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
