//! Prometheus metrics: syncs, records accepted and refused, bytes, latency,
//! and the size of the database.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label of a refused record.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    /// The refusal code.
    pub code: String,
}

/// Label of a storage fault.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabel {
    /// `storage_full`, `storage_read_only` or `storage_unavailable`.
    pub code: String,
}

/// The relay's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Sync requests served.
    pub syncs: Counter,
    /// Pushed records accepted.
    pub accepted: Counter,
    /// Pushed records refused, by code.
    pub rejected: Family<CodeLabel, Counter>,
    /// Records sent to phones.
    pub pulled: Counter,
    /// Sync request bytes received.
    pub bytes_in: Counter,
    /// Sync response bytes sent.
    pub bytes_out: Counter,
    /// Time to serve a sync request.
    pub sync_seconds: Histogram,
    /// Size of the database file in bytes (set when scraped).
    pub db_bytes: Gauge,
    /// Records stored (set when scraped).
    pub records: Gauge,
    /// Database connections the pool holds open (a PostgreSQL store; set when scraped).
    pub pool_connections: Gauge,
    /// Of those, the idle ones.
    pub pool_idle: Gauge,
    /// Requests waiting for a connection.
    pub pool_waiting: Gauge,
    /// The most connections the pool opens.
    pub pool_max: Gauge,
    /// Logins refused for a wrong user name or password.
    pub login_failures: Counter,
    /// Logins refused unchecked, after too many failures for the name.
    pub logins_throttled: Counter,
    /// Requests that failed on a storage fault, by fault.
    pub storage_errors: Family<FaultLabel, Counter>,
    /// Sync requests that failed (answered with an error, not a sync answer).
    pub syncs_failed: Counter,
    /// Connections being served.
    pub connections: Gauge,
    /// Photos taken into storage (verified, new).
    pub photos_stored: Counter,
    /// Uploads refused once whole (a hash mismatch, not a photo).
    pub photos_refused: Counter,
    /// Photo bytes received in uploads.
    pub photo_bytes_in: Counter,
    /// Photos held (set when scraped).
    pub photos_held: Gauge,
    /// Bytes of photos and thumbnails held (set when scraped).
    pub photo_bytes: Gauge,
    /// Photos referred to whose bytes have not arrived (set when scraped).
    pub photos_pending: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("doorstep");
        let metrics = Self {
            syncs: Counter::default(),
            accepted: Counter::default(),
            rejected: Family::default(),
            pulled: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            sync_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            db_bytes: Gauge::default(),
            pool_connections: Gauge::default(),
            pool_idle: Gauge::default(),
            pool_waiting: Gauge::default(),
            pool_max: Gauge::default(),
            records: Gauge::default(),
            login_failures: Counter::default(),
            logins_throttled: Counter::default(),
            storage_errors: Family::default(),
            syncs_failed: Counter::default(),
            connections: Gauge::default(),
            photos_stored: Counter::default(),
            photos_refused: Counter::default(),
            photo_bytes_in: Counter::default(),
            photos_held: Gauge::default(),
            photo_bytes: Gauge::default(),
            photos_pending: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("syncs", "Sync requests served", metrics.syncs.clone());
        registry.register(
            "records_accepted",
            "Pushed records accepted",
            metrics.accepted.clone(),
        );
        registry.register(
            "records_rejected",
            "Pushed records refused, by code",
            metrics.rejected.clone(),
        );
        registry.register(
            "records_pulled",
            "Records sent to phones",
            metrics.pulled.clone(),
        );
        registry.register(
            "sync_request_bytes",
            "Sync request bytes received",
            metrics.bytes_in.clone(),
        );
        registry.register(
            "sync_response_bytes",
            "Sync response bytes sent",
            metrics.bytes_out.clone(),
        );
        registry.register(
            "sync_duration_seconds",
            "Time to serve a sync request",
            metrics.sync_seconds.clone(),
        );
        registry.register(
            "db_size_bytes",
            "Size of the database",
            metrics.db_bytes.clone(),
        );
        registry.register("records_stored", "Records stored", metrics.records.clone());
        registry.register(
            "store_pool_connections",
            "Database connections open (PostgreSQL store)",
            metrics.pool_connections.clone(),
        );
        registry.register(
            "store_pool_idle",
            "Database connections open and idle (PostgreSQL store)",
            metrics.pool_idle.clone(),
        );
        registry.register(
            "store_pool_waiting",
            "Requests waiting for a database connection (PostgreSQL store)",
            metrics.pool_waiting.clone(),
        );
        registry.register(
            "store_pool_max",
            "The most database connections the pool opens (PostgreSQL store)",
            metrics.pool_max.clone(),
        );
        registry.register(
            "login_failures",
            "Logins refused for a wrong user name or password",
            metrics.login_failures.clone(),
        );
        registry.register(
            "logins_throttled",
            "Logins refused unchecked after too many failures for the name",
            metrics.logins_throttled.clone(),
        );
        registry.register(
            "storage_errors",
            "Requests that failed on a storage fault (full, read-only, failing)",
            metrics.storage_errors.clone(),
        );
        registry.register(
            "syncs_failed",
            "Sync requests answered with an error",
            metrics.syncs_failed.clone(),
        );
        registry.register(
            "connections_open",
            "Connections being served",
            metrics.connections.clone(),
        );
        registry.register(
            "photos_stored",
            "Photos taken into storage, verified",
            metrics.photos_stored.clone(),
        );
        registry.register(
            "photos_refused",
            "Whole uploads refused (hash mismatch, not a photo)",
            metrics.photos_refused.clone(),
        );
        registry.register(
            "photo_upload_bytes",
            "Photo bytes received in uploads",
            metrics.photo_bytes_in.clone(),
        );
        registry.register("photos_held", "Photos held", metrics.photos_held.clone());
        registry.register(
            "photo_bytes",
            "Bytes of photos and thumbnails held",
            metrics.photo_bytes.clone(),
        );
        registry.register(
            "photos_pending",
            "Photos referred to whose bytes have not arrived",
            metrics.photos_pending.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
