//! The relay's store, owned by one dedicated thread.
//!
//! Store calls (SQLite, in the store the relay ships with) never run on the async runtime: handlers send closures to the
//! store's thread and await the answer. One thread owning the store keeps
//! writes serialized (as SQLite would anyway) and keeps memory flat under
//! hundreds of concurrent syncs: no pile of blocking threads each holding
//! its own allocator heap. Documents are not kept between calls; the store
//! loads a record only to change it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc;

use sync_core::Store;

use crate::error::{AppError, AppResult};
use crate::store::RelayStore;

type Job = Box<dyn FnOnce(&mut dyn RelayStore) + Send>;

/// A handle to the relay's store thread. Cloning it is cheap.
#[derive(Clone)]
pub struct Db {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db(..)")
    }
}

fn stopped() -> AppError {
    AppError::Internal("the store thread has stopped".into())
}

impl Db {
    /// Opens (creating if needed) the SQLite store at `path`.
    pub fn open(path: &Path) -> sync_core::Result<Self> {
        Ok(Self::from_store(Store::open(path)?))
    }

    /// Moves an open store to its own thread.
    pub fn from_store(store: impl RelayStore) -> Self {
        let mut store: Box<dyn RelayStore> = Box::new(store);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("doorstep-store".into())
            .spawn(move || {
                for job in queue {
                    // A bug in one request must not take the store down with it.
                    if catch_unwind(AssertUnwindSafe(|| job(store.as_mut()))).is_err() {
                        tracing::error!("a store job panicked");
                    }
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(%e, "cannot start the store thread"));
        Self { jobs }
    }

    /// Runs `f` on the store's thread and awaits its result.
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn RelayStore) -> AppResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |store| {
                let _ = tx.send(f(store));
            }))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Runs `f` on the store's thread and blocks until it is done (for the
    /// CLI, setup and tests; never from async code).
    pub fn blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn RelayStore) -> AppResult<T> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Box::new(move |store| {
                let _ = tx.send(f(store));
            }))
            .map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }
}
