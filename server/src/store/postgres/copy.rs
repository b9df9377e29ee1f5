//! `doorstep store copy`: moves a district from its SQLite file onto an
//! empty PostgreSQL database, and proves the copy.
//!
//! Accounts, devices (with their keys and standing), refresh tokens (so
//! phones stay logged in), the audit log, places, units, the photo index
//! and held updates are copied row for row. Records are written one by one
//! through the PostgreSQL store's own write path, so their materialized
//! rows, search terms and feed positions are made as any write makes them.
//! Then every record's heads are compared, and every table's rows counted.
//!
//! The feed starts a new epoch on PostgreSQL (its positions are new), so
//! every phone reconciles once at its next sync, sending nothing it does
//! not need to. The store keeps its identity, and the relay's signing
//! secret moves into the database, so tokens issued before stay good.

use std::path::Path;

use rusqlite::types::ValueRef;
use sync_core::doc::RecordDoc;
use sync_core::keys::SigSet;
use sync_core::sync::storage::{Correction, RecordWrite, SyncStorage};
use sync_core::{RecordId, Store};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{Error as PgError, PgEngine};
use crate::error::{AppError, AppResult};

/// How a column's SQLite value is written in PostgreSQL.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bool,
    Bytes,
    Uuid,
}

/// A table copied row for row: its name and columns (the same on both
/// sides), and which of them is its order.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    order: &'static str,
}

use Kind::{Bool, Bytes, Int, Text, Uuid as Id};

/// The tables copied row for row, in an order that keeps references whole.
const TABLES: &[Table] = &[
    Table {
        name: "units",
        columns: &[("id", Text), ("name", Text), ("created_at", Int)],
        order: "id",
    },
    Table {
        name: "places",
        columns: &[("path", Text), ("name", Text)],
        order: "path",
    },
    Table {
        name: "users",
        columns: &[
            ("username", Text),
            ("role", Text),
            ("password_hash", Text),
            ("created_at", Int),
            ("disabled_at", Int),
            ("display_name", Text),
            ("phone", Text),
            ("unit", Text),
            ("must_change_password", Bool),
            ("password_expires_at", Int),
        ],
        order: "username",
    },
    Table {
        name: "user_scopes",
        columns: &[("username", Text), ("scope", Text)],
        order: "username, scope",
    },
    Table {
        name: "devices",
        columns: &[
            ("id", Id),
            ("username", Text),
            ("name", Text),
            ("kind", Text),
            ("public_key", Bytes),
            ("created_at", Int),
            ("coalesce(last_seen, created_at) AS last_seen", Int),
            ("revoked_at", Int),
            ("revoke_kind", Text),
            ("clock_offset_ms", Int),
            ("pending", Int),
            ("oldest_pending_at", Int),
            ("reported_at", Int),
        ],
        order: "created_at, id",
    },
    Table {
        name: "refresh_tokens",
        columns: &[
            ("hash", Text),
            ("family", Text),
            ("device_id", Id),
            ("issued_at", Int),
            ("expires_at", Int),
            ("used_at", Int),
            ("revoked_at", Int),
        ],
        order: "issued_at, hash",
    },
    Table {
        name: "device_clock",
        columns: &[("device_id", Id), ("at", Int), ("offset_ms", Int)],
        order: "device_id, at",
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Int),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("target", Text),
            ("detail", Text),
            ("peer", Text),
        ],
        order: "id",
    },
    Table {
        name: "clock_corrections",
        columns: &[
            ("record_id", Id),
            ("item", Text),
            ("at", Int),
            ("offset_ms", Int),
        ],
        order: "record_id, item",
    },
    Table {
        name: "quarantine",
        columns: &[
            ("id", Int),
            ("record_id", Id),
            ("kind", Text),
            ("community", Text),
            ("digest", Bytes),
            ("payload", Bytes),
            ("lost", Text),
            ("carrier", Text),
            ("received_at", Int),
            ("decision", Text),
            ("decided_by", Text),
            ("decided_at", Int),
        ],
        order: "id",
    },
    Table {
        name: "stored_photos",
        columns: &[
            ("sha256", Text),
            ("bytes", Int),
            ("width", Int),
            ("height", Int),
            ("thumb_bytes", Int),
            ("stored_at", Int),
            ("uploaded_by", Text),
            ("unreferenced_since", Int),
        ],
        order: "sha256",
    },
    Table {
        name: "purged_photos",
        columns: &[
            ("sha256", Text),
            ("purged_at", Int),
            ("purged_by", Text),
            ("reason", Text),
        ],
        order: "sha256",
    },
];

/// What a copy moved, as the command reports it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Records copied, each with equal heads on both sides.
    pub records: u64,
    /// Rows copied per table, in copy order.
    pub tables: Vec<(&'static str, u64)>,
}

/// Copies the district in the SQLite file `from` (with the signing secret
/// `secret`, if the relay had one in a key file) onto the empty PostgreSQL
/// store `to`, then checks the copy.
pub fn copy_to_postgres(
    from: &Path,
    secret: Option<&[u8]>,
    to: &mut PgEngine,
) -> AppResult<CopyReport> {
    if !from.exists() {
        return Err(AppError::NotFound(format!(
            "{}: no such database; give the relay's SQLite file with --from",
            from.display()
        )));
    }
    let mut source = Store::open(from)
        .map_err(|e| AppError::Internal(format!("cannot open {}: {e}", from.display())))?;
    to.block_on(refuse_unless_empty(to))?;
    let feed = SyncStorage::feed(&mut source)?;
    let mut report = CopyReport::default();
    let rows: Vec<Vec<Vec<Cell>>> = TABLES
        .iter()
        .map(|t| read_table(source.connection(), t))
        .collect::<AppResult<_>>()?;
    let store_id = source.id();
    to.block_on(async {
        let mut client = to.store().client().await?;
        let tx = client.transaction().await?;
        for (table, rows) in TABLES.iter().zip(&rows) {
            write_table(&tx, table, rows).await?;
        }
        // The same store to phones, at a new epoch of its feed.
        tx.execute(
            "UPDATE feed_meta SET store_id = $1, epoch = $2 WHERE id = 1",
            &[
                &Uuid::from_bytes(*store_id.as_bytes()),
                &i64::from_le_bytes(new_epoch(feed.epoch())),
            ],
        )
        .await?;
        if let Some(secret) = secret {
            tx.execute(
                "INSERT INTO relay_secret (id, secret) VALUES (1, $1)
                 ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret",
                &[&secret],
            )
            .await?;
        }
        // Identity columns go on after the copied ids.
        for table in ["audit_log", "quarantine"] {
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                ),
                &[],
            )
            .await?;
        }
        tx.commit().await?;
        Ok::<_, PgError>(())
    })?;
    for (table, rows) in TABLES.iter().zip(&rows) {
        report.tables.push((table.name, rows.len() as u64));
    }
    report.records = copy_records(&source, to)?;
    verify(&source, to, &report)?;
    Ok(report)
}

/// An epoch other than `old`.
fn new_epoch(old: u64) -> [u8; 8] {
    loop {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() || u64::from_le_bytes(bytes) != old {
            return bytes;
        }
    }
}

async fn refuse_unless_empty(to: &PgEngine) -> AppResult<()> {
    let client = to.store().client().await?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM records WHERE seq IS NOT NULL),
                    (SELECT count(*) FROM users)",
            &[],
        )
        .await
        .map_err(PgError::from)?;
    let (records, users): (i64, i64) = (
        row.try_get(0).map_err(PgError::from)?,
        row.try_get(1).map_err(PgError::from)?,
    );
    if records > 0 || users > 0 {
        return Err(AppError::Conflict(format!(
            "the PostgreSQL database already holds a district ({records} records, {users} users): copy into a new, empty database"
        )));
    }
    Ok(())
}

/// One SQLite value, ready to be written.
#[derive(Debug)]
enum Cell {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    Uuid(Uuid),
}

/// A column's name where it is written: `expr AS name` is read as `expr`.
fn written_as(column: &str) -> &str {
    column.rsplit(" AS ").next().unwrap_or(column)
}

fn read_table(conn: &rusqlite::Connection, table: &Table) -> AppResult<Vec<Vec<Cell>>> {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns.join(", "),
        table.name,
        table.order
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(columns.len());
        for (i, (column, kind)) in table.columns.iter().enumerate() {
            let bad = |what: &str| {
                AppError::Internal(format!("{}.{}: {what}", table.name, written_as(column)))
            };
            let cell = match (row.get_ref(i)?, kind) {
                (ValueRef::Null, _) => Cell::Null,
                (ValueRef::Integer(n), Kind::Bool) => Cell::Bool(n != 0),
                (ValueRef::Integer(n), Kind::Int) => Cell::Int(n),
                (ValueRef::Text(t), Kind::Text) => {
                    Cell::Text(String::from_utf8(t.to_vec()).map_err(|_| bad("not UTF-8"))?)
                }
                (ValueRef::Text(t), Kind::Uuid) => Cell::Uuid(
                    std::str::from_utf8(t)
                        .ok()
                        .and_then(|t| Uuid::parse_str(t).ok())
                        .ok_or_else(|| bad("not an id"))?,
                ),
                (ValueRef::Blob(b), Kind::Bytes) => Cell::Bytes(b.to_vec()),
                (other, _) => return Err(bad(&format!("unexpected {:?}", other.data_type()))),
            };
            cells.push(cell);
        }
        out.push(cells);
    }
    Ok(out)
}

async fn write_table(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &Table,
    rows: &[Vec<Cell>],
) -> Result<(), PgError> {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| written_as(c)).collect();
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let insert = tx
        .prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            columns.join(", "),
            params.join(", ")
        ))
        .await?;
    for row in rows {
        let values: Vec<Box<dyn ToSql + Sync>> = row
            .iter()
            .zip(table.columns)
            .map(|(cell, (_, kind))| sql_value(cell, *kind))
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        tx.execute(&insert, &refs).await?;
    }
    Ok(())
}

/// A cell as PostgreSQL takes it (a NULL typed as its column).
fn sql_value(cell: &Cell, kind: Kind) -> Box<dyn ToSql + Sync> {
    match (cell, kind) {
        (Cell::Text(t), _) => Box::new(t.clone()),
        (Cell::Int(n), _) => Box::new(*n),
        (Cell::Bool(b), _) => Box::new(*b),
        (Cell::Bytes(b), _) => Box::new(b.clone()),
        (Cell::Uuid(u), _) => Box::new(*u),
        (Cell::Null, Kind::Text) => Box::new(None::<String>),
        (Cell::Null, Kind::Int) => Box::new(None::<i64>),
        (Cell::Null, Kind::Bool) => Box::new(None::<bool>),
        (Cell::Null, Kind::Bytes) => Box::new(None::<Vec<u8>>),
        (Cell::Null, Kind::Uuid) => Box::new(None::<Uuid>),
    }
}

/// Writes every record, in the source's feed order, through the
/// PostgreSQL store's write path.
fn copy_records(source: &Store, to: &mut PgEngine) -> AppResult<u64> {
    let ids = record_ids(source)?;
    for &id in &ids {
        let stored = source
            .stored(id)?
            .ok_or_else(|| AppError::Internal(format!("record {id} went missing")))?;
        let doc = RecordDoc::load(&stored.doc)?;
        let record = doc.read()?;
        let updated_at: i64 = source.connection().query_row(
            "SELECT updated_at FROM records WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )?;
        // The corrections were copied with the tables; the write reads them.
        let corrections: [Correction; 0] = [];
        to.put_record(&RecordWrite {
            record: &record,
            doc: &stored.doc,
            heads: &doc.heads(),
            sigs: &SigSet::from_blob(&stored.sigs),
            base: None,
            corrections: &corrections,
            now: updated_at,
        })?;
    }
    Ok(ids.len() as u64)
}

fn record_ids(source: &Store) -> AppResult<Vec<RecordId>> {
    let mut stmt = source
        .connection()
        .prepare("SELECT id FROM records ORDER BY seq")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids.iter()
        .map(|id| {
            id.parse()
                .map_err(|e| AppError::Internal(format!("record id {id}: {e}")))
        })
        .collect()
}

/// Every record's heads equal on both sides, and every table holds as many
/// rows as it was given.
fn verify(source: &Store, to: &PgEngine, report: &CopyReport) -> AppResult<()> {
    for id in record_ids(source)? {
        let theirs = to.stored(id)?.map(|s| s.heads);
        let ours = source.stored(id)?.map(|s| s.heads);
        if theirs != ours {
            return Err(AppError::Internal(format!(
                "the copy of record {id} differs from the original: its heads are not equal"
            )));
        }
    }
    let counted = to.block_on(async {
        let client = to.store().client().await?;
        let mut counted = Vec::new();
        for (table, _) in &report.tables {
            let row = client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?;
            counted.push(row.try_get::<_, i64>(0)? as u64);
        }
        let row = client
            .query_one("SELECT count(*) FROM records WHERE seq IS NOT NULL", &[])
            .await?;
        counted.push(row.try_get::<_, i64>(0)? as u64);
        Ok::<_, PgError>(counted)
    })?;
    let expected: Vec<u64> = report
        .tables
        .iter()
        .map(|(_, n)| *n)
        .chain([report.records])
        .collect();
    if counted != expected {
        return Err(AppError::Internal(format!(
            "the copy is not whole: rows per table {counted:?}, expected {expected:?}"
        )));
    }
    Ok(())
}
