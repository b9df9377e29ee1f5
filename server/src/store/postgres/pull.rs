//! A pull's snapshot on PostgreSQL: one pooled connection in one
//! `REPEATABLE READ` transaction, begun and committed with plain statements
//! so that no `Transaction<'_>` borrow has to outlive a call.

use deadpool_postgres::Client;
use sync_core::ids::{RecordId, ScopePath, UnitId, UserId};
use sync_core::store::StoredRecord as CoreRecord;
use sync_core::sync::storage::{FeedHeads, PullView, ReadFacts};
use tokio_postgres::Row;
use uuid::Uuid;

use super::engine::{PgEngine, core_record, key};
use super::error::{Error, Result};
use super::feed::feed_head;
use super::records::stored_from_row;

/// The rows of a feed page, after `$1`, at most `$2`; `$3` the scopes.
const FEED: &str = "SELECT id, community, kind, doc, heads, sigs, seq, updated_at FROM records
    WHERE seq > $1 ORDER BY seq LIMIT $2";
const FEED_IN_SCOPES: &str = "SELECT id, community, kind, doc, heads, sigs, seq, updated_at
    FROM records WHERE seq > $1
      AND (community = ANY($3) OR street = ANY($3) OR district = ANY($3))
    ORDER BY seq LIMIT $2";
const HEADS: &str = "SELECT id, heads, seq FROM records WHERE seq > $1 ORDER BY seq LIMIT $2";
const HEADS_IN_SCOPES: &str = "SELECT id, heads, seq FROM records WHERE seq > $1
      AND (community = ANY($3) OR street = ANY($3) OR district = ANY($3))
    ORDER BY seq LIMIT $2";

/// One snapshot of the store; rolled back if dropped unfinished, so the
/// connection goes back to the pool outside any transaction.
pub(super) struct PgPull<'a> {
    engine: &'a PgEngine,
    client: Option<Client>,
}

impl<'a> PgPull<'a> {
    pub(super) fn begin(engine: &'a PgEngine) -> Result<PgPull<'a>> {
        let client = engine.block_on(async {
            let client = engine.store().client().await?;
            client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?;
            Ok::<_, Error>(client)
        })?;
        Ok(PgPull {
            engine,
            client: Some(client),
        })
    }

    fn client(&self) -> Result<&Client> {
        self.client
            .as_ref()
            .ok_or_else(|| Error::Corrupt("a pull's snapshot used after it ended".into()))
    }

    /// Rows of `plain` (every record) or `in_scopes` after `after`.
    fn page(
        &self,
        plain: &str,
        in_scopes: &str,
        after: i64,
        readable: Option<&[ScopePath]>,
        limit: usize,
    ) -> Result<Vec<Row>> {
        let client = self.client()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.engine.block_on(async {
            Ok(match readable {
                Some([]) => Vec::new(),
                None => {
                    let stmt = client.prepare_cached(plain).await?;
                    client.query(&stmt, &[&after, &limit]).await?
                }
                Some(scopes) => {
                    let scopes: Vec<&str> = scopes.iter().map(ScopePath::as_str).collect();
                    let stmt = client.prepare_cached(in_scopes).await?;
                    client.query(&stmt, &[&after, &limit, &scopes]).await?
                }
            })
        })
    }
}

impl Drop for PgPull<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // If the rollback fails the connection is broken, and the pool
            // drops it at its next check.
            let _ = self
                .engine
                .block_on(async { client.batch_execute("ROLLBACK").await });
        }
    }
}

impl PullView for PgPull<'_> {
    fn feed_seq(&self) -> sync_core::Result<i64> {
        let client = self.client()?;
        Ok(self.engine.block_on(feed_head(client))?)
    }

    fn stored(&self, id: RecordId) -> sync_core::Result<Option<CoreRecord>> {
        let client = self.client()?;
        Ok(self
            .engine
            .block_on(super::records::load_record(client, id))?
            .map(core_record))
    }

    fn feed_after(
        &self,
        after: i64,
        readable: Option<&[ScopePath]>,
        limit: usize,
    ) -> sync_core::Result<Vec<CoreRecord>> {
        let rows = self.page(FEED, FEED_IN_SCOPES, after, readable, limit)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(r) = stored_from_row(row)? {
                out.push(core_record(r));
            }
        }
        Ok(out)
    }

    fn heads_at(&self, id: RecordId, seq: i64) -> sync_core::Result<Option<Vec<u8>>> {
        let client = self.client()?;
        let row = self.engine.block_on(async {
            let stmt = client
                .prepare_cached(
                    "SELECT heads FROM record_versions WHERE record_id = $1 AND seq <= $2
                     ORDER BY seq DESC LIMIT 1",
                )
                .await?;
            Ok::<_, Error>(
                client
                    .query_opt(&stmt, &[&key(id.as_bytes()), &seq])
                    .await?,
            )
        })?;
        Ok(match row {
            Some(row) => Some(row.try_get::<_, Vec<u8>>(0).map_err(Error::from)?),
            None => None,
        })
    }

    fn read_facts(
        &self,
        id: RecordId,
        user: &UserId,
        unit: Option<&UnitId>,
    ) -> sync_core::Result<Option<ReadFacts>> {
        let client = self.client()?;
        let row = self.engine.block_on(async {
            let stmt = client
                .prepare_cached(
                    "SELECT r.kind, r.status, r.holder_user, r.holder_unit,
                            EXISTS (SELECT 1 FROM wish_takers t WHERE t.record_id = r.id
                                     AND (t.username = $2 OR ($3::text IS NOT NULL AND t.unit = $3)))
                       FROM records r WHERE r.id = $1 AND r.seq IS NOT NULL",
                )
                .await?;
            Ok::<_, Error>(
                client
                    .query_opt(
                        &stmt,
                        &[&key(id.as_bytes()), &user.as_str(), &unit.map(UnitId::as_str)],
                    )
                    .await?,
            )
        })?;
        let Some(row) = row else { return Ok(None) };
        let text = |i: usize| row.try_get::<_, Option<String>>(i).map_err(Error::from);
        let kind = text(0)?.unwrap_or_default();
        Ok(Some(ReadFacts {
            kind: kind.parse()?,
            status: text(1)?.map(|s| s.parse()).transpose()?,
            holder_user: text(2)?.map(UserId::new).transpose()?,
            holder_unit: text(3)?.map(UnitId::new).transpose()?,
            took_part: row.try_get::<_, bool>(4).map_err(Error::from)?,
        }))
    }

    fn feed_heads(
        &self,
        after: i64,
        readable: Option<&[ScopePath]>,
        limit: usize,
    ) -> sync_core::Result<Vec<FeedHeads>> {
        let rows = self.page(HEADS, HEADS_IN_SCOPES, after, readable, limit)?;
        rows.iter()
            .map(|row| {
                Ok(FeedHeads {
                    id: RecordId::from_bytes(
                        *row.try_get::<_, Uuid>(0).map_err(Error::from)?.as_bytes(),
                    ),
                    heads: row.try_get(1).map_err(Error::from)?,
                    seq: row.try_get(2).map_err(Error::from)?,
                })
            })
            .collect()
    }

    fn finish(mut self: Box<Self>) -> sync_core::Result<()> {
        if let Some(client) = self.client.take() {
            self.engine
                .block_on(async { client.batch_execute("COMMIT").await })
                .map_err(Error::from)?;
        }
        Ok(())
    }
}
