//! The wish-card workflow: roles, statuses, events, who may append what, and
//! the deterministic fold from events to the current status and conflicts.
//!
//! ```text
//! draft → submitted → approved → claimed → fulfilled → confirmed
//!           │   ↑        │ ↘ rejected      │ ↘ released (back to approved)
//!           ↓   │        ↘ withdrawn       ↘ cancelled
//!        needs_info ─────┘
//! ```

mod event;
mod fold;
mod rules;

pub(crate) use event::text_enum;
pub use event::{EventKind, Hlc, Role, Status, WishEvent};
pub use fold::{Conflict, ConflictKind, Folded, Holder, Note, fold, fold_timed};
pub use rules::{
    Reader, Sight, holder_only, holds, may_append, may_manage_account, may_write, next_status,
    takers,
};
