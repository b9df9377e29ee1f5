//! The PostgreSQL store as the sync engine's storage ([`SyncStorage`]):
//! sync-core's engine keeps every decision, and this store reads and writes
//! what it asks for, over the pool.
//!
//! The trait is synchronous and tokio-postgres is not, so a [`PgEngine`]
//! owns a small runtime and blocks on it for each operation. The relay
//! calls its store from a dedicated thread, never from a runtime's worker,
//! where blocking would be wrong.
//!
//! A record is written in one transaction: its row lock first
//! ([`lock_record`]), then its corrections, read facts and takers, and its
//! feed position last ([`store_record`]), so the feed stays gapless and in
//! commit order across relays.

use deadpool_postgres::{GenericClient, Transaction};
use sync_core::ids::{DeviceId, UserId};
use sync_core::store::{Clock, CorrectedTimes, system_clock};
use sync_core::store::{Feed, StoredRecord as CoreRecord};
use sync_core::sync::storage::{
    Correction, HeldRow, HeldWrite, PullView, RecordWrite, SyncStorage,
};
use sync_core::sync::{ClockReading, Decision, PendingReport};
use sync_core::workflow::{fold_timed, takers};
use sync_core::{Record, RecordId};
use tokio::runtime::Runtime;
use uuid::Uuid;

use super::error::{Error, Result};
use super::pull::PgPull;
use super::records::{self, StoredRecord, lock_record, store_record};
use super::{PgOptions, PgStore};

/// The PostgreSQL store as sync-core's [`SyncStorage`], for one relay;
/// several relays each open one over the same database.
pub struct PgEngine {
    rt: Runtime,
    store: PgStore,
    id: DeviceId,
    clock: Clock,
}

impl From<Error> for sync_core::Error {
    fn from(e: Error) -> Self {
        sync_core::Error::Backend(Box::new(e))
    }
}

/// `id` as the database keys it.
pub(super) fn key(id: &[u8; 16]) -> Uuid {
    Uuid::from_bytes(*id)
}

impl PgEngine {
    /// Connects (see [`PgStore::connect`]) on a runtime of its own, and
    /// reads or makes the store's identity and feed.
    pub fn open(options: PgOptions) -> Result<PgEngine> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("doorstep-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start a runtime: {e}")))?;
        let store = rt.block_on(PgStore::connect(options))?;
        let (id, _) = rt.block_on(feed_meta(&store))?;
        Ok(PgEngine {
            rt,
            store,
            id,
            clock: system_clock(),
        })
    }

    /// The secret the relays sign access tokens with (see the table
    /// `relay_secret`), made by the first relay to ask.
    pub fn relay_secret(&self) -> Result<Vec<u8>> {
        self.block_on(async {
            let client = self.store.client().await?;
            client
                .execute(
                    "INSERT INTO relay_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                    &[&random::<32>()?.to_vec()],
                )
                .await?;
            let row = client
                .query_one("SELECT secret FROM relay_secret WHERE id = 1", &[])
                .await?;
            Ok(row.try_get(0)?)
        })
    }

    /// Replaces the clock (tests use a clock of their own, as with
    /// sync-core's `Store::with_clock`).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store underneath, for what is not the engine's (long polls, pool figures).
    pub fn store(&self) -> &PgStore {
        &self.store
    }

    /// Runs `f` to completion on this store's runtime.
    pub(super) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Config(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// The store's id and feed, made on first use by whichever relay comes first.
async fn feed_meta(store: &PgStore) -> Result<(DeviceId, Feed)> {
    let client = store.client().await?;
    let make = client
        .prepare_cached(
            "INSERT INTO feed_meta (id, store_id, epoch, secret) VALUES (1, $1, $2, $3)
             ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    client
        .execute(
            &make,
            &[
                &Uuid::from_bytes(random::<16>()?),
                &i64::from_le_bytes(random::<8>()?),
                &random::<32>()?.to_vec(),
            ],
        )
        .await?;
    let row = client
        .query_one(
            "SELECT store_id, epoch, secret FROM feed_meta WHERE id = 1",
            &[],
        )
        .await?;
    let id = DeviceId::from_bytes(*row.try_get::<_, Uuid>(0)?.as_bytes());
    let epoch = u64::from_le_bytes(row.try_get::<_, i64>(1)?.to_le_bytes());
    let secret: [u8; 32] = row
        .try_get::<_, Vec<u8>>(2)?
        .try_into()
        .map_err(|_| Error::Corrupt("feed_meta: a secret not of 32 bytes".into()))?;
    Ok((id, Feed::new(epoch, secret)))
}

/// A record as sync-core reads it.
pub(super) fn core_record(r: StoredRecord) -> CoreRecord {
    CoreRecord {
        id: r.id,
        kind: r.kind,
        community: r.community.as_str().to_owned(),
        doc: r.doc,
        heads: r.heads,
        seq: r.seq,
        sigs: r.sigs,
    }
}

impl SyncStorage for PgEngine {
    fn store_id(&self) -> DeviceId {
        self.id
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    fn feed(&mut self) -> sync_core::Result<Feed> {
        Ok(self.block_on(feed_meta(&self.store))?.1)
    }

    fn feed_seq(&self) -> sync_core::Result<i64> {
        Ok(self.block_on(self.store.feed_head())?)
    }

    fn new_feed_epoch(&mut self) -> sync_core::Result<()> {
        self.block_on(async {
            feed_meta(&self.store).await?;
            let client = self.store.client().await?;
            client
                .execute(
                    "UPDATE feed_meta SET epoch = $1 WHERE id = 1",
                    &[&i64::from_le_bytes(random::<8>()?)],
                )
                .await?;
            Ok::<_, Error>(())
        })?;
        Ok(())
    }

    fn record_clock(
        &mut self,
        device: DeviceId,
        clock: ClockReading,
        now: i64,
    ) -> sync_core::Result<()> {
        let offset = clock.now_ms.saturating_sub(now);
        self.block_on(async {
            let client = self.store.client().await?;
            client
                .execute(
                    "UPDATE devices SET clock_offset_ms = $2 WHERE id = $1",
                    &[&key(device.as_bytes()), &offset],
                )
                .await?;
            Ok::<_, Error>(())
        })?;
        Ok(())
    }

    fn clock_offset(&self, device: DeviceId) -> sync_core::Result<Option<i64>> {
        Ok(self.block_on(async {
            let client = self.store.client().await?;
            let row = client
                .query_opt(
                    "SELECT clock_offset_ms FROM devices WHERE id = $1",
                    &[&key(device.as_bytes())],
                )
                .await?;
            Ok::<_, Error>(match row {
                Some(row) => row.try_get::<_, Option<i64>>(0)?,
                None => None,
            })
        })?)
    }

    fn record_pending(
        &mut self,
        device: DeviceId,
        pending: Option<PendingReport>,
        now: i64,
    ) -> sync_core::Result<()> {
        let records = pending.map(|p| i64::try_from(p.records).unwrap_or(i64::MAX));
        let oldest = pending.and_then(|p| p.oldest_ms);
        self.block_on(async {
            let client = self.store.client().await?;
            client
                .execute(
                    "UPDATE devices SET pending = $2, oldest_pending_at = $3, reported_at = $4,
                         last_seen = $4
                     WHERE id = $1",
                    &[&key(device.as_bytes()), &records, &oldest, &now],
                )
                .await?;
            Ok::<_, Error>(())
        })?;
        Ok(())
    }

    fn stored(&self, id: RecordId) -> sync_core::Result<Option<CoreRecord>> {
        Ok(self.block_on(self.store.load_record(id))?.map(core_record))
    }

    fn put_record(&mut self, write: &RecordWrite<'_>) -> sync_core::Result<()> {
        self.block_on(put_record(&self.store, write))
    }

    fn hold(&mut self, held: &HeldWrite<'_>) -> sync_core::Result<()> {
        let lost: Vec<String> = held.lost.iter().map(ToString::to_string).collect();
        self.block_on(async {
            let client = self.store.client().await?;
            client
                .execute(
                    "INSERT INTO quarantine
                       (record_id, digest, kind, community, payload, lost, carrier, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (record_id, digest) DO NOTHING",
                    &[
                        &key(held.record.as_bytes()),
                        &held.digest,
                        &held.kind.as_str(),
                        &held.community.as_str(),
                        &held.payload,
                        &lost.join(","),
                        &held.carrier.to_string(),
                        &held.now,
                    ],
                )
                .await?;
            Ok::<_, Error>(())
        })?;
        Ok(())
    }

    fn pull_view(&mut self) -> sync_core::Result<Box<dyn PullView + '_>> {
        Ok(Box::new(PgPull::begin(self)?))
    }

    fn held_rows(&self, decided: bool) -> sync_core::Result<Vec<HeldRow>> {
        let rows = self.block_on(async {
            let client = self.store.client().await?;
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {HELD} FROM quarantine WHERE ($1 OR decision IS NULL)
                     ORDER BY received_at DESC, id DESC"
                ))
                .await?;
            Ok::<_, Error>(client.query(&stmt, &[&decided]).await?)
        })?;
        rows.iter().map(held_row).collect()
    }

    fn held_row(&self, id: i64) -> sync_core::Result<Option<HeldRow>> {
        let row = self.block_on(async {
            let client = self.store.client().await?;
            let stmt = client
                .prepare_cached(&format!("SELECT {HELD} FROM quarantine WHERE id = $1"))
                .await?;
            Ok::<_, Error>(client.query_opt(&stmt, &[&id]).await?)
        })?;
        row.as_ref().map(held_row).transpose()
    }

    fn decide(
        &mut self,
        id: i64,
        decision: Decision,
        by: &UserId,
        now: i64,
    ) -> sync_core::Result<()> {
        self.block_on(async {
            let client = self.store.client().await?;
            client
                .execute(
                    "UPDATE quarantine SET decision = $2, decided_by = $3, decided_at = $4
                     WHERE id = $1",
                    &[&id, &decision.as_str(), &by.as_str(), &now],
                )
                .await?;
            Ok::<_, Error>(())
        })?;
        Ok(())
    }
}

const HELD: &str = "id, record_id, kind, community, payload, lost, carrier, received_at,
    decision, decided_by, decided_at";

/// A held update from a row of [`HELD`].
fn held_row(r: &tokio_postgres::Row) -> sync_core::Result<HeldRow> {
    let get = |e: tokio_postgres::Error| sync_core::Error::from(Error::from(e));
    let record: Uuid = r.try_get(1).map_err(get)?;
    let kind: String = r.try_get(2).map_err(get)?;
    let lost: String = r.try_get(5).map_err(get)?;
    let carrier: String = r.try_get(6).map_err(get)?;
    let decision: Option<String> = r.try_get(8).map_err(get)?;
    Ok(HeldRow {
        id: r.try_get(0).map_err(get)?,
        record: RecordId::from_bytes(*record.as_bytes()),
        kind: kind.parse()?,
        community: r.try_get(3).map_err(get)?,
        payload: r.try_get(4).map_err(get)?,
        lost: lost.split(',').filter_map(|d| d.parse().ok()).collect(),
        carrier: carrier.parse()?,
        received_at: r.try_get(7).map_err(get)?,
        decision: decision.as_deref().and_then(Decision::parse),
        decided_by: r.try_get(9).map_err(get)?,
        decided_at: r.try_get(10).map_err(get)?,
    })
}

/// Writes `write` in one transaction, if the record is still the version
/// the write was made from (another relay may have stored it since the
/// engine read it: then the engine merges again).
async fn put_record(store: &PgStore, write: &RecordWrite<'_>) -> sync_core::Result<()> {
    let id = write.record.meta().id;
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(Error::from)?;
    let locked = lock_record(&tx, id).await?;
    if locked.current().map(|c| c.heads.as_slice()) != write.base {
        return Err(sync_core::Error::Contended(id));
    }
    write_locked(&tx, locked, write).await?;
    tx.commit().await.map_err(Error::from)?;
    Ok(())
}

/// Writes a record whose row `locked` holds, inside its transaction:
/// corrections, read facts, takers, materialized rows, and the record with
/// its feed position last. Returns the position.
pub(super) async fn write_locked(
    tx: &Transaction<'_>,
    locked: records::Locked<'_>,
    write: &RecordWrite<'_>,
) -> Result<i64> {
    let record = write.record;
    let id = record.meta().id;
    write_corrections(tx, id, write.corrections).await?;
    write_facts(tx, record).await?;
    super::relay::read_model::materialize(tx, write).await?;
    let stored = records::RecordWrite {
        community: record.meta().community.clone(),
        kind: record.meta().kind,
        doc: write.doc.to_vec(),
        heads: write.heads_bytes(),
        sigs: write.sigs.to_blob(),
        updated_at: write.now,
    };
    store_record(tx, locked, &stored).await
}

async fn write_corrections(tx: &Transaction<'_>, id: RecordId, list: &[Correction]) -> Result<()> {
    let upsert = tx
        .prepare_cached(
            "INSERT INTO clock_corrections (record_id, item, at, offset_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (record_id, item) DO UPDATE SET at = EXCLUDED.at, offset_ms = EXCLUDED.offset_ms",
        )
        .await?;
    for c in list {
        tx.execute(&upsert, &[&key(id.as_bytes()), &c.item, &c.at, &c.offset])
            .await?;
    }
    Ok(())
}

/// The times the relay corrected in record `id` for devices with wrong clocks.
pub(super) async fn corrected_times(
    client: &impl GenericClient,
    id: RecordId,
) -> Result<CorrectedTimes> {
    let rows = client
        .query(
            "SELECT item, at, offset_ms FROM clock_corrections WHERE record_id = $1",
            &[&key(id.as_bytes())],
        )
        .await?;
    let corrections = rows
        .iter()
        .map(|r| {
            Ok(Correction {
                item: r.try_get(0)?,
                at: r.try_get(1)?,
                offset: r.try_get(2)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CorrectedTimes::from_corrections(&corrections))
}

/// The wish card's status, holder and takers, folded by sync-core under
/// the corrected times the record has (all of them, kept before this).
async fn write_facts(tx: &Transaction<'_>, record: &Record) -> Result<()> {
    let id = key(record.meta().id.as_bytes());
    let Record::Wish(w) = record else {
        return Ok(());
    };
    let times = corrected_times(tx, record.meta().id).await?;
    let corrected = (!times.is_empty()).then(|| fold_timed(&w.events, &|e| times.event(e)));
    let state = corrected.as_ref().unwrap_or(&w.state);
    let holder = state.holder.as_ref();
    tx.execute(
        "UPDATE records SET status = $2, holder_user = $3, holder_unit = $4 WHERE id = $1",
        &[
            &id,
            &state.status.as_str(),
            &holder.and_then(|h| h.user.as_ref()).map(|u| u.as_str()),
            &holder.and_then(|h| h.unit.as_ref()).map(|u| u.as_str()),
        ],
    )
    .await?;
    tx.execute("DELETE FROM wish_takers WHERE record_id = $1", &[&id])
        .await?;
    let mut all: Vec<_> = takers(&w.events).collect();
    all.sort();
    all.dedup();
    for (user, unit) in all {
        tx.execute(
            "INSERT INTO wish_takers (record_id, username, unit) VALUES ($1, $2, $3)",
            &[&id, &user.map(|u| u.as_str()), &unit.map(|u| u.as_str())],
        )
        .await?;
    }
    Ok(())
}
