//! Records, one read-merge-write at a time.
//!
//! A relay that merges a pushed change into a record reads the record,
//! merges, and writes the result. Two relays doing that to one record at
//! once would each write a merge without the other's change, and one would
//! be lost. So the read takes the record's row lock ([`lock_record`],
//! `SELECT … FOR UPDATE`) and holds it until the transaction ends: the
//! second relay's read waits for the first relay's write.
//!
//! A write transaction is:
//!
//! 1. [`lock_record`] for every record it will write (all locks first);
//! 2. the merge, in the relay's memory;
//! 3. [`store_record`] for each, whose feed position is taken last;
//! 4. commit.
//!
//! Transactions run at PostgreSQL's default isolation, READ COMMITTED:
//! a lock that waited reads the row as the transaction it waited for left
//! it, which is what makes the merge see the other relay's change.

use std::marker::PhantomData;
use std::str::FromStr;

use deadpool_postgres::{GenericClient, Transaction};
use sync_core::model::RecordKind;
use sync_core::{CommunityPath, RecordId};
use tokio_postgres::Row;
use uuid::Uuid;

use super::error::{Error, Result};

/// A record as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record.
    pub id: RecordId,
    /// The community it belongs to.
    pub community: CommunityPath,
    /// Household, visit or wish card.
    pub kind: RecordKind,
    /// Its Automerge document, saved whole.
    pub doc: Vec<u8>,
    /// The document's heads, encoded as sync-core stores them.
    pub heads: Vec<u8>,
    /// The signatures of its changes, encoded as sync-core stores them.
    pub sigs: Vec<u8>,
    /// Its place in the feed: the position of its last write.
    pub seq: i64,
    /// When it was last written, in milliseconds since the epoch.
    pub updated_at: i64,
}

/// What [`store_record`] writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordWrite {
    /// The community the record belongs to.
    pub community: CommunityPath,
    /// Household, visit or wish card.
    pub kind: RecordKind,
    /// The merged document, saved whole.
    pub doc: Vec<u8>,
    /// Its heads.
    pub heads: Vec<u8>,
    /// The signatures of its changes.
    pub sigs: Vec<u8>,
    /// Now, in milliseconds since the epoch.
    pub updated_at: i64,
}

/// A record locked by a transaction, with what it held when locked; no
/// other transaction can lock or write it until this one ends. It borrows
/// the transaction, so it cannot outlive it.
#[derive(Debug)]
pub struct Locked<'t> {
    id: RecordId,
    current: Option<StoredRecord>,
    _tx: PhantomData<&'t ()>,
}

impl Locked<'_> {
    /// The locked record's id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The record as stored when it was locked; `None` for a new one.
    pub fn current(&self) -> Option<&StoredRecord> {
        self.current.as_ref()
    }
}

const COLUMNS: &str = "id, community, kind, doc, heads, sigs, seq, updated_at";

/// Locks record `id` for the rest of `tx` and reads it.
///
/// A record that is not stored yet has no row to lock, so a placeholder
/// row is inserted (`INSERT … ON CONFLICT DO NOTHING`) and locked: two
/// transactions creating one record queue on it like on any other row.
/// Readers never see a placeholder; one left by a transaction that rolled
/// back is gone with it.
pub async fn lock_record<'t>(tx: &'t Transaction<'_>, id: RecordId) -> Result<Locked<'t>> {
    let key = Uuid::from_bytes(*id.as_bytes());
    let lock = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records WHERE id = $1 FOR UPDATE"
        ))
        .await?;
    let row = match tx.query_opt(&lock, &[&key]).await? {
        Some(row) => row,
        None => {
            let placeholder = tx
                .prepare_cached("INSERT INTO records (id) VALUES ($1) ON CONFLICT (id) DO NOTHING")
                .await?;
            tx.execute(&placeholder, &[&key]).await?;
            // If another transaction made the row first, the insert waited
            // for it to commit, and this lock reads what it stored.
            tx.query_opt(&lock, &[&key]).await?.ok_or_else(|| {
                Error::Corrupt(format!(
                    "record {id}: no row to lock after inserting one (write transactions must run at READ COMMITTED)"
                ))
            })?
        }
    };
    Ok(Locked {
        id,
        current: stored_from_row(&row)?,
        _tx: PhantomData,
    })
}

/// The feed position and the row in one statement, the transaction's last:
/// the counter row's lock is held from here to the commit, so positions
/// are handed out in commit order and none is skipped (see the module
/// `feed`). The same statement logs the version and sends the wake-up
/// hint, which PostgreSQL delivers only if the transaction commits.
const STORE: &str = "WITH next AS (
        UPDATE feed_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq
    ), stored AS (
        UPDATE records
        SET district = $2, street = $3, community = $4, kind = $5,
            doc = $6, heads = $7, sigs = $8, updated_at = $9, seq = next.seq
        FROM next
        WHERE records.id = $1
        RETURNING records.seq
    ), logged AS (
        INSERT INTO record_versions (seq, record_id, heads) SELECT seq, $1, $7 FROM next
    )
    SELECT seq, pg_notify('doorstep_feed', seq::text) FROM stored";

/// Stores the merged record `locked` was taken for, and returns its feed
/// position. Call it after every lock of the transaction, right before the
/// commit: from here on the transaction holds the feed's counter, and every
/// other writer waits at this step until it commits.
pub async fn store_record(
    tx: &Transaction<'_>,
    locked: Locked<'_>,
    write: &RecordWrite,
) -> Result<i64> {
    let key = Uuid::from_bytes(*locked.id.as_bytes());
    let street = write.community.street();
    let district = street.parent().unwrap_or_else(|| street.clone());
    let store = tx.prepare_cached(STORE).await?;
    let row = tx
        .query_opt(
            &store,
            &[
                &key,
                &district.as_str(),
                &street.as_str(),
                &write.community.as_str(),
                &write.kind.as_str(),
                &write.doc,
                &write.heads,
                &write.sigs,
                &write.updated_at,
            ],
        )
        .await?
        .ok_or_else(|| Error::Corrupt(format!("record {}: its locked row is gone", locked.id)))?;
    Ok(row.try_get(0)?)
}

/// Reads a stored record without locking it (what a pull or a page of the
/// dashboard reads).
pub async fn load_record(
    client: &impl GenericClient,
    id: RecordId,
) -> Result<Option<StoredRecord>> {
    let key = Uuid::from_bytes(*id.as_bytes());
    let load = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records WHERE id = $1 AND seq IS NOT NULL"
        ))
        .await?;
    match client.query_opt(&load, &[&key]).await? {
        Some(row) => stored_from_row(&row),
        None => Ok(None),
    }
}

/// A row of [`COLUMNS`]: `None` for a placeholder.
pub(super) fn stored_from_row(row: &Row) -> Result<Option<StoredRecord>> {
    let Some(seq) = row.try_get::<_, Option<i64>>("seq")? else {
        return Ok(None);
    };
    let id = RecordId::from_bytes(*row.try_get::<_, Uuid>("id")?.as_bytes());
    let text = |column: &str| -> Result<String> {
        row.try_get::<_, Option<String>>(column)?
            .ok_or_else(|| Error::Corrupt(format!("record {id}: no {column}")))
    };
    let bytes = |column: &str| -> Result<Vec<u8>> {
        row.try_get::<_, Option<Vec<u8>>>(column)?
            .ok_or_else(|| Error::Corrupt(format!("record {id}: no {column}")))
    };
    let community = CommunityPath::new(text("community")?)
        .map_err(|e| Error::Corrupt(format!("record {id}: {e}")))?;
    let kind = RecordKind::from_str(&text("kind")?)
        .map_err(|e| Error::Corrupt(format!("record {id}: {e}")))?;
    Ok(Some(StoredRecord {
        id,
        community,
        kind,
        doc: bytes("doc")?,
        heads: bytes("heads")?,
        sigs: bytes("sigs")?,
        seq,
        updated_at: row
            .try_get::<_, Option<i64>>("updated_at")?
            .ok_or_else(|| Error::Corrupt(format!("record {id}: no updated_at")))?,
    }))
}
