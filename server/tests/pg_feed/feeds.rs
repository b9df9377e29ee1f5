//! The two feeds the checker runs against: the store's (positions from the
//! counter row, taken last) and a naive one (positions from a sequence,
//! taken first), each through two relays over one database.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use server::store::postgres::testing::TestDatabase;
use server::store::postgres::{
    Client, PgOptions, PgStore, RecordWrite, WakeOptions, lock_record, store_record,
};
use sync_core::model::RecordKind;
use sync_core::{CommunityPath, RecordId};
use tokio_postgres::IsolationLevel;
use uuid::Uuid;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A feed behind two relays.
pub trait Feed: Clone + Send + Sync + 'static {
    /// Writes a new version of record `id` through relay `relay` (0 or 1),
    /// pausing `pause` inside the transaction; returns its position.
    fn write(
        &self,
        relay: usize,
        id: RecordId,
        pause: Duration,
    ) -> impl Future<Output = Result<i64>> + Send;

    /// Up to `limit` entries after `cursor` through relay `relay`, and the
    /// cursor to read after next.
    fn page(
        &self,
        relay: usize,
        cursor: i64,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<(i64, RecordId)>, i64)>> + Send;
}

pub fn write_of(id: RecordId, doc: Vec<u8>) -> RecordWrite {
    RecordWrite {
        community: CommunityPath::new("longgang/yuanshan/xikeng").unwrap(),
        kind: RecordKind::Household,
        heads: id.as_bytes().to_vec(),
        doc,
        sigs: Vec::new(),
        updated_at: 1_700_000_000_000,
    }
}

/// Two relays, each with a pool of `pool_size`, over `db`.
pub async fn two_relays(db: &TestDatabase, pool_size: usize, wake: [WakeOptions; 2]) -> Relays {
    let mut stores = Vec::new();
    for wake in wake {
        let mut options = PgOptions::new(db.config().clone());
        options.pool_size = pool_size;
        options.wake = wake;
        stores.push(PgStore::connect(options).await.unwrap());
    }
    let b = stores.pop().unwrap();
    let a = stores.pop().unwrap();
    Relays(Arc::new([a, b]))
}

/// The store's feed, through two relays.
#[derive(Clone)]
pub struct Relays(pub Arc<[PgStore; 2]>);

impl Relays {
    pub fn relay(&self, i: usize) -> &PgStore {
        &self.0[i % 2]
    }
}

impl Feed for Relays {
    async fn write(&self, relay: usize, id: RecordId, pause: Duration) -> Result<i64> {
        let mut client = self.relay(relay).client().await?;
        let tx = client.transaction().await?;
        let locked = lock_record(&tx, id).await?;
        let mut doc = locked.current().map(|r| r.doc.clone()).unwrap_or_default();
        doc.push(b'.');
        // Between the lock and the counter: other writers take positions
        // meanwhile.
        tokio::time::sleep(pause).await;
        let seq = store_record(&tx, locked, &write_of(id, doc)).await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn page(
        &self,
        relay: usize,
        cursor: i64,
        limit: usize,
    ) -> Result<(Vec<(i64, RecordId)>, i64)> {
        let page = self.relay(relay).feed_after(cursor, None, limit).await?;
        let entries = page.records.iter().map(|r| (r.seq, r.id)).collect();
        Ok((entries, page.next))
    }
}

/// The feed done naively: the position is `nextval` of a sequence, taken
/// when the write transaction starts. Two pools stand for two relays.
#[derive(Clone)]
pub struct Naive(Arc<[deadpool_postgres::Pool; 2]>);

impl Naive {
    pub async fn create(db: &TestDatabase, pool_size: usize) -> Naive {
        let pools = [db.pool(pool_size), db.pool(pool_size)];
        pools[0]
            .get()
            .await
            .unwrap()
            .batch_execute(
                "CREATE SEQUENCE naive_seq;
                 CREATE TABLE naive_records (id uuid PRIMARY KEY, seq bigint NOT NULL UNIQUE)",
            )
            .await
            .unwrap();
        Naive(Arc::new(pools))
    }

    async fn client(&self, relay: usize) -> Result<Client> {
        Ok(self.0[relay % 2].get().await?)
    }
}

impl Feed for Naive {
    async fn write(&self, relay: usize, id: RecordId, pause: Duration) -> Result<i64> {
        let mut client = self.client(relay).await?;
        let tx = client.transaction().await?;
        let seq: i64 = tx
            .query_one("SELECT nextval('naive_seq')", &[])
            .await?
            .get(0);
        tokio::time::sleep(pause).await;
        // A record keeps its highest position, as the store's do.
        tx.execute(
            "INSERT INTO naive_records (id, seq) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET seq = greatest(naive_records.seq, excluded.seq)",
            &[&Uuid::from_bytes(*id.as_bytes()), &seq],
        )
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn page(
        &self,
        relay: usize,
        cursor: i64,
        limit: usize,
    ) -> Result<(Vec<(i64, RecordId)>, i64)> {
        let mut client = self.client(relay).await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let rows = tx
            .query(
                "SELECT seq, id FROM naive_records WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&cursor, &(limit as i64)],
            )
            .await?;
        let entries: Vec<(i64, RecordId)> = rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    RecordId::from_bytes(*r.get::<_, Uuid>(1).as_bytes()),
                )
            })
            .collect();
        // As sync-core's SQLite feed does: a page that is not full ends at
        // the highest position stored.
        let next = if entries.len() == limit {
            entries.last().map_or(cursor, |e| e.0)
        } else {
            tx.query_one("SELECT coalesce(max(seq), 0) FROM naive_records", &[])
                .await?
                .get(0)
        };
        tx.commit().await?;
        Ok((entries, next))
    }
}
