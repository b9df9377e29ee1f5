//! The state every handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

use crate::auth::Keys;
use crate::config::Settings;
use crate::db::Db;
use crate::login::Logins;
use crate::metrics::Metrics;
use crate::photos::Photos;
use crate::restore::{HighWater, ServingLock};

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
    /// Wakes dashboards waiting for changes.
    pub live: Arc<Live>,
    /// Password logins: the failed-login throttle.
    pub logins: Arc<Logins>,
    /// Photo files: storage and uploads in progress.
    pub photos: Arc<Photos>,
    /// Present when serving a database file: its lock and high-water mark.
    pub serving: Option<Arc<Serving>>,
    /// The certificate, when the relay serves HTTPS itself.
    pub tls: Option<crate::tls::Tls>,
}

/// What a relay serving a database file holds for as long as it runs.
#[derive(Debug)]
pub struct Serving {
    /// No second relay, and no restore, while this is held.
    pub(crate) _lock: ServingLock,
    /// Where the feed's furthest position is recorded.
    pub(crate) high_water: HighWater,
}

impl AppState {
    /// State over an open store and photo folder.
    pub fn new(db: Db, keys: Keys, settings: Settings, photos: Photos) -> Self {
        Self {
            db,
            keys: Arc::new(keys),
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
            live: Arc::new(Live::default()),
            logins: Arc::new(Logins::default()),
            photos: Arc::new(photos),
            serving: None,
            tls: None,
        }
    }
}

/// A signal that records changed, for dashboards waiting on
/// `GET /v1/changes`. It carries no data: a woken waiter asks the store.
#[derive(Debug)]
pub struct Live {
    tx: watch::Sender<u64>,
    closed: AtomicBool,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(0),
            closed: AtomicBool::new(false),
        }
    }
}

impl Live {
    /// Records were written: wake every waiter.
    pub fn notify(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every later [`Live::notify`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// The relay is shutting down: waiters answer at once instead of
    /// holding up the graceful stop.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// True once [`Live::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    (sync_core::store::system_clock())()
}
