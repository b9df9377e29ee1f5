//! The types apps see: sync-core's vocabularies as they are, and records
//! translated to plain fields (ids as text, enums as enums).

mod enums;
mod household;
mod sync;
mod wish;

pub use household::{
    Gps, Household, HouseholdFilter, HouseholdPatch, NewHousehold, NewVisit, Visit,
};
pub use sync::{Account, ChangeOrigin, RecordsChanged, RejectedEdit, SyncOptions, SyncReport};
pub use wish::{NewWish, Photo, Wish, WishConflict, WishEvent, WishFilter, WishPatch, WishSummary};
