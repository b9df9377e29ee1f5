//! The state every handler shares.

use std::sync::Arc;

use crate::auth::Keys;
use crate::config::Settings;
use crate::db::Db;
use crate::metrics::Metrics;

/// Shared state: the store, the signing keys, the settings and the metrics.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The store.
    pub db: Db,
    /// Signing keys.
    pub keys: Arc<Keys>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State over an open store.
    pub fn new(db: Db, keys: Keys, settings: Settings) -> Self {
        Self {
            db,
            keys: Arc::new(keys),
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    (sync_core::store::system_clock())()
}
