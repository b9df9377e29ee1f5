//! The relay's store behind a blocking-pool boundary.
//!
//! SQLite calls never run on the async runtime: every call goes through
//! [`Db::run`], which takes the store on a blocking thread. Documents are not
//! kept in memory between calls; the store loads a record only to change it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use sync_core::Store;

use crate::error::{AppError, AppResult};

/// A shared handle to the relay's store.
#[derive(Clone)]
pub struct Db {
    store: Arc<Mutex<Store>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db(..)")
    }
}

impl Db {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> sync_core::Result<Self> {
        Ok(Self::from_store(Store::open(path)?))
    }

    /// Wraps an open store.
    pub fn from_store(store: Store) -> Self {
        Self {
            store: Arc::new(Mutex::new(store)),
        }
    }

    /// Runs `f` with the store on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> AppResult<T> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = store
                .lock()
                .map_err(|_| AppError::Internal("store lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?
    }

    /// Runs `f` with the store on the current thread (for the CLI and setup).
    pub fn blocking<T>(&self, f: impl FnOnce(&mut Store) -> AppResult<T>) -> AppResult<T> {
        let mut guard = self
            .store
            .lock()
            .map_err(|_| AppError::Internal("store lock poisoned".into()))?;
        f(&mut guard)
    }
}
