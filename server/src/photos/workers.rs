//! The threads photo files are worked on: a few, always the same ones.
//!
//! Decoding a photo takes a core and about 8 MB, and a thread's allocator
//! keeps what the thread freed. Run on the async runtime's blocking pool,
//! fifty uploads at once would grow the pool to fifty threads, each keeping
//! a decoded photo's worth of memory: hundreds of megabytes that stay. On
//! these few threads, photos are checked (and files synced, read and
//! removed) as fast as the cores allow, and memory stays flat.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{AppError, AppResult};

type Job = Box<dyn FnOnce() + Send>;

/// A handle to the photo threads. Cloning it is cheap.
#[derive(Clone)]
pub(super) struct Workers {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Workers(..)")
    }
}

impl Workers {
    /// Starts `count` threads (at least one).
    pub(super) fn start(count: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..count.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("doorstep-photos-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job.
                        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = job else { return };
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                            tracing::error!("a photo job panicked");
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(%e, "cannot start a photo thread");
            }
        }
        Self { jobs }
    }

    /// Runs `f` on a photo thread and awaits its result.
    pub(super) async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }
}

fn stopped() -> AppError {
    AppError::Internal("the photo threads have stopped".into())
}
