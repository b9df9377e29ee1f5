//! # sync-core
//!
//! Doorstep's domain and sync engine: households, visits and wish cards, each
//! kept as one Automerge document; the wish-card workflow as an append-only
//! list of events folded deterministically; a SQLite store with materialized
//! rows for queries; and a sans-IO sync engine that turns messages into
//! messages. It does no network I/O and starts no threads: the relay and the
//! phone bindings move its messages.
//!
//! ```
//! use sync_core::{Author, CommunityPath, EventKind, NewHousehold, NewWish, Role, Status, Store, UserId};
//! use sync_core::model::{Category, Urgency};
//! use sync_core::doc::EventInput;
//!
//! # fn main() -> sync_core::Result<()> {
//! let mut phone = Store::open_in_memory()?;
//! // The store is the phone's device: its changes are signed with its key.
//! let worker = Author { user: UserId::new("wang")?, role: Role::Worker, device: phone.id() };
//! let community = CommunityPath::new("longgang/yuanshan/xikeng")?;
//! let home = phone.create_household(&worker, &community, &NewHousehold { address: "3 Lane 5".into(), ..Default::default() })?;
//! let wish = phone.create_wish(&worker, &NewWish {
//!     household: home, text: "给李大爷一台轮椅".into(), category: Category::MobilityAid,
//!     urgency: Urgency::High, photos: vec![],
//! })?;
//! assert_eq!(phone.append_event(&worker, wish, &EventInput::new(EventKind::Submit))?, Status::Submitted);
//! assert_eq!(phone.search_wishes("轮椅")?.len(), 1);
//! # Ok(()) }
//! ```

pub mod doc;
pub mod error;
pub mod ids;
pub mod keys;
pub mod model;
pub mod photo;
pub mod points;
pub mod store;
pub mod sync;
pub mod workflow;

pub use doc::{Author, RecordDoc};
pub use error::{Denied, Error, InvalidInput, RefusalCode, Result};
pub use ids::{
    CommunityPath, DeviceId, EventId, HouseholdId, PhotoRef, RecordId, ScopePath, UnitId, UserId,
    VisitId, WishId,
};
pub use model::{NewHousehold, NewVisit, NewWish, Record, RecordKind};
pub use store::Store;
pub use workflow::{EventKind, Role, Status};

/// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
