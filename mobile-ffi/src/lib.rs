//! # mobile-ffi
//!
//! Doorstep for Android and iOS apps: sync-core's records, workflow and sync
//! engine behind one object, [`FieldStore`], with an HTTP sync client built
//! in, exported through [UniFFI](https://mozilla.github.io/uniffi-rs/) (the
//! namespace is `doorstep`) to Kotlin, Swift and Python.
//!
//! This crate translates types and runs I/O; every rule about records,
//! workflow and permissions lives in sync-core. The app developer writes
//! screens: log in once, work offline, call `sync()` when there is a
//! network, refresh screens when the [`ChangeListener`] says so.
//!
//! ```
//! use mobile_ffi::{DoorstepError, FieldStore, HouseholdFilter};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("phone.db").to_string_lossy().into_owned();
//! let store = FieldStore::new(path, None)?;
//! assert!(store.account().is_none());
//! assert!(store.households(HouseholdFilter::default())?.is_empty());
//! // Records are written as the logged-in user: log in once, online.
//! let refused = store.create_household(mobile_ffi::NewHousehold {
//!     community: "longgang/yuanshan/xikeng".into(),
//!     address: "西坑村三巷5号".into(),
//!     head_name: "李秀英".into(),
//!     phone: String::new(),
//!     members: 1,
//!     tags: vec![],
//!     notes: String::new(),
//! });
//! assert!(matches!(refused, Err(DoorstepError::Unauthorized(_))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

uniffi::setup_scaffolding!("doorstep");

mod asyncify;
mod error;
mod listener;
mod open;
mod peer;
mod photos;
mod records;
mod relay;
mod relay_photos;
mod session;
mod store;
mod sync;
#[cfg(test)]
mod tests;
mod types;

pub use error::{DoorstepError, Result};
pub use listener::ChangeListener;
pub use open::KEY_BYTES;
pub use photos::{PhotoFetch, PhotoSyncReport};
pub use store::FieldStore;
pub use types::{
    Account, ChangeOrigin, Gps, Household, HouseholdFilter, HouseholdPatch, NewHousehold, NewVisit,
    NewWish, Photo, RecordsChanged, RejectedEdit, SyncOptions, SyncReport, Visit, Wish,
    WishConflict, WishEvent, WishFilter, WishPatch, WishSummary,
};

/// Whether this build can encrypt the database (it links SQLCipher).
#[uniffi::export]
pub fn encryption_available() -> bool {
    open::encryption_available()
}
