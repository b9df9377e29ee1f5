//! The feed: the records changed after a position, in position order.
//!
//! A phone pulls "everything after my cursor", and moves its cursor to
//! where the page ended. That is only safe if no write can later commit at
//! a position at or below a cursor already handed out: the phone would
//! never look there again. Positions from a PostgreSQL sequence break this
//! (a transaction that took N−1 may commit after one that took N, and a
//! reader in between moves past N−1 with it still missing); `server/tests/
//! pg_feed.rs` shows a checker catching exactly that.
//!
//! Here the position comes from one counter row, taken as the last
//! statement of each write transaction ([`super::store_record`]). Its row
//! lock is held until commit, so the writer that took N commits before the
//! next writer can take N+1: positions are gapless (1, 2, 3, …) and in
//! commit order. A reader takes the counter and the records from one
//! snapshot, so the counter it sees is a position every write at or below
//! has committed at, and a cursor moved to it skips nothing.
//!
//! The price is that writers queue at the counter for the length of their
//! last statement and commit. On CockroachDB, whose transactions are
//! SERIALIZABLE, that queue shows up as retries (SQLSTATE 40001) instead.

use deadpool_postgres::{Client, GenericClient};
use sync_core::ScopePath;
use tokio_postgres::IsolationLevel;

use super::error::Result;
use super::records::{StoredRecord, stored_from_row};

/// One page of the feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedPage {
    /// Records changed after the cursor, in position order, each at the
    /// position of its last write.
    pub records: Vec<StoredRecord>,
    /// Where the next page starts: the last record's position if the page
    /// is full, else the feed's head when it was read.
    pub next: i64,
    /// Whether the page was full (there may be more right away).
    pub more: bool,
}

const HEAD: &str = "SELECT seq FROM feed_counter WHERE id = 1";
const PAGE: &str = "SELECT id, community, kind, doc, heads, sigs, seq, updated_at FROM records
    WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3";
const PAGE_IN_SCOPES: &str = "SELECT id, community, kind, doc, heads, sigs, seq, updated_at
    FROM records
    WHERE seq > $1 AND seq <= $2
      AND (community = ANY($4) OR street = ANY($4) OR district = ANY($4))
    ORDER BY seq LIMIT $3";

/// The feed's head: the position of the last committed write (0 for an
/// empty store).
pub async fn feed_head(client: &impl GenericClient) -> Result<i64> {
    let head = client.prepare_cached(HEAD).await?;
    Ok(client.query_one(&head, &[]).await?.try_get(0)?)
}

/// Up to `limit` records changed after `cursor` in `scopes` (every record
/// for `None`; a scope matches its communities, streets or district), read
/// from one snapshot.
pub async fn feed_after(
    client: &mut Client,
    cursor: i64,
    scopes: Option<&[ScopePath]>,
    limit: usize,
) -> Result<FeedPage> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let head = feed_head(&tx).await?;
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let rows = match scopes {
        Some([]) => Vec::new(),
        None => {
            let page = tx.prepare_cached(PAGE).await?;
            tx.query(&page, &[&cursor, &head, &limit]).await?
        }
        Some(scopes) => {
            let scopes: Vec<&str> = scopes.iter().map(ScopePath::as_str).collect();
            let page = tx.prepare_cached(PAGE_IN_SCOPES).await?;
            tx.query(&page, &[&cursor, &head, &limit, &scopes]).await?
        }
    };
    tx.commit().await?;
    let more = rows.len() as i64 == limit;
    let records = rows
        .iter()
        .filter_map(|row| stored_from_row(row).transpose())
        .collect::<Result<Vec<_>>>()?;
    let next = match records.last() {
        Some(last) if more => last.seq,
        _ => head,
    };
    Ok(FeedPage {
        records,
        next,
        more,
    })
}
