//! The SQLite store as the sync engine's storage ([`SyncStorage`]): each
//! operation over the store's one connection, a record written in one
//! transaction, a pull read in one (deferred) transaction.

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use super::query::scope_clause;
use super::{Feed, Store, StoredRecord, load_stored, write_corrections, write_record};
use crate::error::Result;
use crate::ids::{DeviceId, RecordId, ScopePath, UnitId, UserId};
use crate::sync::Decision;
use crate::sync::storage::{
    FeedHeads, HeldRow, HeldWrite, PullView, ReadFacts, RecordWrite, SyncStorage,
};
use crate::sync::{ClockReading, PendingReport};

impl SyncStorage for Store {
    fn store_id(&self) -> DeviceId {
        self.id()
    }

    fn now(&self) -> i64 {
        Store::now(self)
    }

    fn feed(&mut self) -> Result<Feed> {
        Store::feed(self)
    }

    fn feed_seq(&self) -> Result<i64> {
        Store::feed_seq(self)
    }

    fn new_feed_epoch(&mut self) -> Result<()> {
        Store::new_feed_epoch(self).map(|_| ())
    }

    fn record_clock(&mut self, device: DeviceId, clock: ClockReading, now: i64) -> Result<()> {
        Store::record_clock(self, device, Some(clock), now)
    }

    fn clock_offset(&self, device: DeviceId) -> Result<Option<i64>> {
        Store::clock_offset(self, device)
    }

    fn record_pending(
        &mut self,
        device: DeviceId,
        pending: Option<PendingReport>,
        now: i64,
    ) -> Result<()> {
        Store::record_pending(self, device, pending, now)
    }

    fn stored(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        Store::stored(self, id)
    }

    fn put_record(&mut self, write: &RecordWrite<'_>) -> Result<()> {
        if self.connection().is_autocommit() {
            let tx = self.conn_mut().transaction()?;
            put(&tx, write)?;
            tx.commit()?;
        } else {
            // Inside a group ([`SyncStorage::begin_group`]), in its
            // transaction: a record that fails here fails the group, which
            // is then dropped whole. (No savepoint per record: at each one
            // FTS5 would flush its index, which a group writes once.)
            put(self.connection(), write)?;
        }
        Ok(())
    }

    fn begin_group(&mut self) -> Result<()> {
        // Taken for writing now, so that no other writer (a CLI beside the
        // relay) can make the group's first write fail midway.
        self.connection().execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    fn finish_group(&mut self, keep: bool) -> Result<()> {
        if self.connection().is_autocommit() {
            return Ok(()); // no group open (SQLite ended it on an error)
        }
        let end = if keep { "COMMIT" } else { "ROLLBACK" };
        if let Err(e) = self.connection().execute_batch(end) {
            // A commit that failed leaves the transaction open: drop it, so
            // that the next call does not run inside it.
            let _ = self.connection().execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    fn hold(&mut self, held: &HeldWrite<'_>) -> Result<()> {
        let lost: Vec<String> = held.lost.iter().map(ToString::to_string).collect();
        self.connection()
            .prepare_cached(
                "INSERT OR IGNORE INTO quarantine
                   (record_id, kind, community, digest, payload, lost, carrier, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                held.record.to_string(),
                held.kind.as_str(),
                held.community.as_str(),
                held.digest,
                held.payload,
                lost.join(","),
                held.carrier.to_string(),
                held.now
            ])?;
        Ok(())
    }

    fn pull_view(&mut self) -> Result<Box<dyn PullView + '_>> {
        Ok(Box::new(SqlitePull {
            tx: self.conn_mut().transaction()?,
        }))
    }

    fn held_rows(&self, decided: bool) -> Result<Vec<HeldRow>> {
        let mut stmt = self.connection().prepare_cached(&format!(
            "SELECT {HELD} FROM quarantine WHERE (?1 OR decision IS NULL)
             ORDER BY received_at DESC, id DESC"
        ))?;
        let rows = stmt
            .query_map([decided], held_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().collect()
    }

    fn held_row(&self, id: i64) -> Result<Option<HeldRow>> {
        self.connection()
            .prepare_cached(&format!("SELECT {HELD} FROM quarantine WHERE id = ?1"))?
            .query_row([id], held_row)
            .optional()?
            .transpose()
    }

    fn decide(&mut self, id: i64, decision: Decision, by: &UserId, now: i64) -> Result<()> {
        self.connection()
            .prepare_cached(
                "UPDATE quarantine SET decision = ?2, decided_by = ?3, decided_at = ?4 WHERE id = ?1",
            )?
            .execute(params![id, decision.as_str(), by.as_str(), now])?;
        Ok(())
    }
}

const HELD: &str = "id, record_id, kind, community, payload, lost, carrier, received_at,
    decision, decided_by, decided_at";

/// A held update from a row of [`HELD`]; the outer error is SQLite's.
fn held_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<HeldRow>> {
    let record: String = r.get(1)?;
    let kind: String = r.get(2)?;
    let lost: String = r.get(5)?;
    let carrier: String = r.get(6)?;
    let decision: Option<String> = r.get(8)?;
    let (id, community, payload, received_at) = (r.get(0)?, r.get(3)?, r.get(4)?, r.get(7)?);
    let (decided_by, decided_at) = (r.get(9)?, r.get(10)?);
    Ok((|| {
        Ok(HeldRow {
            id,
            record: record.parse()?,
            kind: kind.parse()?,
            community,
            payload,
            lost: lost.split(',').filter_map(|d| d.parse().ok()).collect(),
            carrier: carrier.parse()?,
            received_at,
            decision: decision.as_deref().and_then(Decision::parse),
            decided_by,
            decided_at,
        })
    })())
}

/// A pull's snapshot: one read transaction.
struct SqlitePull<'a> {
    tx: Transaction<'a>,
}

/// `AND <scope clause>` for `readable`, with its arguments pushed; `None`
/// when nothing is readable.
fn scope_filter(readable: Option<&[ScopePath]>, args: &mut Vec<Sql>) -> Option<String> {
    match readable {
        Some([]) => None,
        Some(scopes) => {
            let scopes: Vec<&ScopePath> = scopes.iter().collect();
            Some(format!("AND {}", scope_clause("community", &scopes, args)))
        }
        None => Some(String::new()),
    }
}

impl PullView for SqlitePull<'_> {
    fn feed_seq(&self) -> Result<i64> {
        Ok(self
            .tx
            .query_row("SELECT coalesce(max(seq), 0) FROM records", [], |r| {
                r.get(0)
            })?)
    }

    fn stored(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        load_stored(&self.tx, id)
    }

    fn feed_after(
        &self,
        after: i64,
        readable: Option<&[ScopePath]>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>> {
        let mut args: Vec<Sql> = vec![Sql::Integer(after)];
        let Some(scope_sql) = scope_filter(readable, &mut args) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT id, kind, community, doc, heads, seq, sigs FROM records
              WHERE seq > ?1 {scope_sql} ORDER BY seq LIMIT {limit}"
        ))?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Vec<u8>>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, kind, community, doc, heads, seq, sigs)| {
                Ok(StoredRecord {
                    id: id.parse()?,
                    kind: kind.parse()?,
                    community,
                    doc,
                    heads,
                    seq,
                    sigs,
                })
            })
            .collect()
    }

    fn heads_at(&self, id: RecordId, seq: i64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT heads FROM record_versions WHERE record_id = ?1 AND seq <= ?2
                 ORDER BY seq DESC LIMIT 1",
            )?
            .query_row(params![id.to_string(), seq], |r| r.get::<_, Vec<u8>>(0))
            .optional()?)
    }

    fn read_facts(
        &self,
        id: RecordId,
        user: &UserId,
        unit: Option<&UnitId>,
    ) -> Result<Option<ReadFacts>> {
        read_facts(&self.tx, id, user, unit)
    }

    fn feed_heads(
        &self,
        after: i64,
        readable: Option<&[ScopePath]>,
        limit: usize,
    ) -> Result<Vec<FeedHeads>> {
        let mut args: Vec<Sql> = vec![Sql::Integer(after)];
        let Some(scope_sql) = scope_filter(readable, &mut args) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT id, heads, seq FROM records WHERE seq > ?1 {scope_sql} ORDER BY seq LIMIT {limit}"
        ))?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, heads, seq)| {
                Ok(FeedHeads {
                    id: id.parse()?,
                    heads,
                    seq,
                })
            })
            .collect()
    }

    fn finish(self: Box<Self>) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

/// A record's kind and, for a wish card, its status, holder and whether
/// `user` (or `unit`) took it on, from the materialized rows.
fn read_facts(
    conn: &rusqlite::Connection,
    id: RecordId,
    user: &UserId,
    unit: Option<&UnitId>,
) -> Result<Option<ReadFacts>> {
    type Row = (String, Option<String>, Option<String>, Option<String>, bool);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT r.kind, w.status, w.holder_user, w.holder_unit,
                    EXISTS (SELECT 1 FROM wish_takers t WHERE t.record_id = r.id
                             AND (t.user = ?2 OR (?3 IS NOT NULL AND t.unit = ?3)))
               FROM records r LEFT JOIN wishes w ON w.id = r.id WHERE r.id = ?1",
        )?
        .query_row(
            params![id.to_string(), user.as_str(), unit.map(UnitId::as_str)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((kind, status, holder_user, holder_unit, took_part)) = row else {
        return Ok(None);
    };
    Ok(Some(ReadFacts {
        kind: kind.parse()?,
        status: status.map(|s| s.parse()).transpose()?,
        holder_user: holder_user.map(UserId::new).transpose()?,
        holder_unit: holder_unit.map(UnitId::new).transpose()?,
        took_part,
    }))
}

/// Stores `write` through `conn`, inside a transaction the caller ends:
/// [`SyncStorage::put_record`]'s body. [`crate::Error::Contended`] comes
/// before anything is written.
fn put(conn: &Connection, write: &RecordWrite<'_>) -> Result<()> {
    let id = write.record.meta().id;
    // One connection writes, so this holds unless a caller read the
    // record, wrote it through another path, and then wrote this.
    let current: Option<Vec<u8>> = conn
        .prepare_cached("SELECT heads FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    if current.as_deref() != write.base {
        return Err(crate::Error::Contended(id));
    }
    write_corrections(conn, id, write.corrections)?;
    write_record(
        conn,
        write.record,
        write.doc,
        write.heads,
        write.sigs,
        write.is_new(),
        write.now,
    )?;
    Ok(())
}
