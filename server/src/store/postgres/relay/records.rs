//! Records as documents on PostgreSQL: the sync engine, reads, history, a
//! supervisor's event or edit under the record's row lock, held updates,
//! and the feed's position.

use std::sync::Arc;

use sync_core::doc::{EventInput, HistoryEntry, RecordDoc, device_of, heads_from_bytes};
use sync_core::keys::{DeviceKey, SigSet};
use sync_core::model::WishPatch;
use sync_core::store::CorrectedTimes;
use sync_core::sync::storage::RecordWrite;
use sync_core::sync::{Decision, Held, Policy, Refusal, SyncRequest, SyncResponse};
use sync_core::{Author, DeviceId, Record, RecordId, Role, ScopePath, Status, UserId, WishId};

use crate::error::{AppError, AppResult};
use crate::store::Headroom;
use crate::store::postgres::engine::{self, write_locked};
use crate::store::postgres::error::Error;
use crate::store::postgres::records::lock_record;
use crate::store::postgres::{PgEngine, load_record};

pub(super) fn serve_sync(
    pg: &mut PgEngine,
    policy: &dyn Policy,
    request: &SyncRequest,
) -> AppResult<SyncResponse> {
    Ok(sync_core::sync::serve_sync(pg, policy, request)?)
}

/// The document of record `id`, if it is stored.
fn doc(pg: &PgEngine, id: RecordId) -> AppResult<Option<RecordDoc>> {
    let stored = pg.block_on(async { load_record(&pg.store().client().await?, id).await })?;
    Ok(stored.map(|s| RecordDoc::load(&s.doc)).transpose()?)
}

fn found(id: RecordId, doc: Option<RecordDoc>) -> AppResult<RecordDoc> {
    doc.ok_or_else(|| AppError::NotFound(format!("not found: record {id}")))
}

pub(super) fn record(pg: &PgEngine, id: RecordId) -> AppResult<Option<Record>> {
    let Some(doc) = doc(pg, id)? else {
        return Ok(None);
    };
    let record = doc.read()?;
    if record.meta().id != id {
        return Err(AppError::Internal(format!(
            "record {id}: its document says it is record {}",
            record.meta().id
        )));
    }
    Ok(Some(record))
}

pub(super) fn history(pg: &PgEngine, id: RecordId) -> AppResult<Vec<HistoryEntry>> {
    Ok(found(id, doc(pg, id)?)?.history())
}

pub(super) fn corrected_times(pg: &PgEngine, id: RecordId) -> AppResult<CorrectedTimes> {
    Ok(pg.block_on(async { engine::corrected_times(&pg.store().client().await?, id).await })?)
}

pub(super) fn check_event(
    pg: &PgEngine,
    user: &UserId,
    role: Role,
    id: WishId,
    input: &EventInput,
) -> AppResult<()> {
    // The device plays no part in the rules (see sync-core's Store::check_event).
    let author = Author {
        user: user.clone(),
        role,
        device: DeviceId::random(),
    };
    let now = sync_core::sync::storage::SyncStorage::now(pg);
    Ok(found(id.record(), doc(pg, id.record())?)?.check_event(&author, input, now)?)
}

pub(super) fn append_event(
    pg: &mut PgEngine,
    author: &Author,
    key: &DeviceKey,
    id: WishId,
    input: &EventInput,
) -> AppResult<Status> {
    edit(pg, key, id.record(), |doc, now| {
        doc.append_event(author, input, now)
    })
}

pub(super) fn edit_wish(
    pg: &mut PgEngine,
    author: &Author,
    key: &DeviceKey,
    id: WishId,
    patch: &WishPatch,
) -> AppResult<()> {
    edit(pg, key, id.record(), |doc, now| {
        doc.update_wish(author, patch, now)
    })
}

/// Changes record `id` as `f` says, written by the device of `key`: read,
/// changed and written under the record's row lock, so that no other
/// relay's write comes in between, with the new changes signed by `key`.
fn edit<T>(
    pg: &mut PgEngine,
    key: &DeviceKey,
    id: RecordId,
    f: impl FnOnce(&mut RecordDoc, i64) -> sync_core::Result<T>,
) -> AppResult<T> {
    let now = sync_core::sync::storage::SyncStorage::now(pg);
    pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = client.transaction().await.map_err(Error::from)?;
        let locked = lock_record(&tx, id).await?;
        let Some(current) = locked.current() else {
            return Err(AppError::NotFound(format!("not found: record {id}")));
        };
        let mut doc = RecordDoc::load(&current.doc)?;
        let before = heads_from_bytes(&current.heads).map_err(sync_core::Error::from)?;
        let mut sigs = SigSet::from_blob(&current.sigs);
        let base = current.heads.clone();
        let out = f(&mut doc, now)?;
        let signed = doc
            .changes_since(&before)
            .into_iter()
            .filter(|change| device_of(change.actor_id()) == Some(key.device()))
            .map(|change| key.sign_change(&change.hash()))
            .collect::<Vec<_>>();
        sigs.extend(signed);
        let record = doc.read()?;
        let bytes = doc.save();
        let write = RecordWrite {
            record: &record,
            doc: &bytes,
            heads: &doc.heads(),
            sigs: &sigs,
            base: Some(&base),
            corrections: &[],
            now,
        };
        write_locked(&tx, locked, &write).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    })
}

pub(super) fn feed_position(pg: &mut PgEngine) -> AppResult<(u64, i64)> {
    use sync_core::sync::storage::SyncStorage;
    let epoch = pg.feed()?.epoch();
    Ok((epoch, pg.feed_seq()?))
}

pub(super) fn probe_write(pg: &mut PgEngine) -> AppResult<()> {
    // A connection, and a database that takes writes (not a standby, not
    // set read-only). Nothing is written: every relay probes, and a write
    // would queue behind the phones' writes.
    let read_only: String = pg.block_on(async {
        let client = pg.store().client().await?;
        let row = client
            .query_one("SELECT current_setting('transaction_read_only')", &[])
            .await?;
        Ok::<_, Error>(row.try_get(0)?)
    })?;
    if read_only == "on" {
        return Err(AppError::Storage {
            fault: crate::error::StorageFault::ReadOnly,
            detail: "the PostgreSQL database takes no writes (a standby, or read-only)".into(),
        });
    }
    Ok(())
}

pub(super) fn set_size_limit(_pg: &mut PgEngine, bytes: Option<u64>) -> AppResult<()> {
    match bytes {
        None => Ok(()),
        // A database's size is its administrator's to limit (tablespaces,
        // quotas), not one relay's.
        Some(_) => Err(AppError::BadRequest(
            "a size limit applies to a SQLite file; on PostgreSQL, limit the database itself"
                .into(),
        )),
    }
}

pub(super) fn headroom(_pg: &PgEngine) -> AppResult<Headroom> {
    // The database's disk is on its own server, out of the relay's sight.
    Ok(Headroom::default())
}

pub(super) fn held(pg: &PgEngine, scopes: &[ScopePath], decided: bool) -> AppResult<Vec<Held>> {
    Ok(sync_core::sync::held(pg, scopes, decided)?)
}

pub(super) fn decide_held(
    pg: &mut PgEngine,
    id: i64,
    decision: Decision,
    by: &UserId,
    relay_secret: Arc<[u8]>,
    now: i64,
) -> AppResult<Result<(), Refusal>> {
    Ok(sync_core::sync::decide_held(
        pg,
        id,
        decision,
        by,
        Some(relay_secret),
        now,
    )?)
}
