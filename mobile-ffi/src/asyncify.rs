//! Async calls without an async runtime: the blocking work runs on a thread
//! of its own and the foreign side awaits its result, so neither the app's
//! main thread nor its event loop ever waits for the network.

use futures_channel::oneshot;

use crate::error::{DoorstepError, Result};

/// Runs `work` on a new thread named `name` and returns its result.
pub(crate) async fn on_thread<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            // The caller may have stopped waiting (a cancelled coroutine);
            // the work is done and kept all the same.
            let _ = tx.send(work());
        })
        .map_err(|e| DoorstepError::Storage(format!("cannot start a thread: {e}")))?;
    rx.await.map_err(|_| {
        DoorstepError::Storage(format!("the {name} thread stopped before it finished"))
    })?
}
