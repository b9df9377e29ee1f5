//! Doorstep's field web app, on sync-core compiled to WebAssembly.
//!
//! The app runs in a phone's browser: the page draws screens, a dedicated
//! worker owns the database, and this crate, inside the worker, is sync-core
//! itself. The records, the workflow rules and the sync protocol are the
//! same as on native phones and on the relay; the worker script only moves
//! bytes between this crate and `fetch`.
//!
//! - [`FieldApp`] is the app over a store: households, visits, wish cards,
//!   the events a worker appends, search, the session, and the sync
//!   client's rounds as bytes, and photos taken for cards with their upload
//!   queue. It compiles natively too, and is tested so.
//! - On `wasm32`, `wasm` binds it for JavaScript (`Field`), over SQLite in
//!   the Origin Private File System.

mod app;
mod error;
mod photos;
mod session;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use app::FieldApp;
pub use error::{FieldError, Result};

#[cfg(test)]
mod tests;
