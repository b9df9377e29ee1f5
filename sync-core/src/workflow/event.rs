//! Workflow vocabulary: roles, statuses, event kinds and the event itself.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, EventId, UnitId, UserId};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable text form used in documents, SQL and JSON.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                // `pad`, so that `{:<10}` lines up tables.
                f.pad(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::InvalidInput;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::error::InvalidInput::new(concat!("unknown ", stringify!($name)), s)),
                }
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    /// What a user is allowed to do.
    Role {
        /// Visits households and fills in wish cards.
        Worker => "worker",
        /// Claims and fulfils approved wishes (a volunteer or a partner unit).
        Volunteer => "volunteer",
        /// Reviews, dispatches and resolves conflicts in their scopes.
        Supervisor => "supervisor",
        /// Everything a supervisor does, plus running the relay.
        Admin => "admin",
    }
);

text_enum!(
    /// Where a wish card is in its life.
    Status {
        /// Being written on the phone; not yet sent for review.
        Draft => "draft",
        /// Waiting for a supervisor's review.
        Submitted => "submitted",
        /// Sent back to the worker for more information.
        NeedsInfo => "needs_info",
        /// Approved; waiting for someone to claim it.
        Approved => "approved",
        /// Refused by a supervisor, with a reason.
        Rejected => "rejected",
        /// Withdrawn (the resident no longer needs it).
        Withdrawn => "withdrawn",
        /// A volunteer or partner unit has taken it on.
        Claimed => "claimed",
        /// Done ("lit up"), waiting for the resident's confirmation.
        Fulfilled => "fulfilled",
        /// The resident confirmed it; the loop is closed.
        Confirmed => "confirmed",
        /// Called off after it was approved or claimed.
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// The kinds of workflow event.
    EventKind {
        /// The worker sends the card (or resends it after needs_info) for review.
        Submit => "submit",
        /// A supervisor approves the card.
        Approve => "approve",
        /// A supervisor refuses the card, with a reason.
        Reject => "reject",
        /// A supervisor sends the card back for more information.
        RequestInfo => "request_info",
        /// The card is withdrawn.
        Withdraw => "withdraw",
        /// A volunteer or worker takes the wish on themselves.
        Claim => "claim",
        /// A supervisor dispatches the wish to a volunteer, a partner unit
        /// or (marked as such) a claimant named in free text.
        Assign => "assign",
        /// The claimant reports at the community before doing the work
        /// (线下报到).
        CheckIn => "check_in",
        /// The claimant gives the wish back; it is approved again.
        Release => "release",
        /// The claimant reports the wish done ("lit up").
        Fulfil => "fulfil",
        /// A supervisor calls the wish off.
        Cancel => "cancel",
        /// The resident confirms, with a rating.
        Confirm => "confirm",
        /// The card's content was edited.
        Edit => "edit",
        /// A supervisor marks a conflict as dealt with.
        ResolveConflict => "resolve_conflict",
    }
);

// The macro cannot derive `Default` for only some of its enums.
#[allow(clippy::derivable_impls)]
impl Default for Status {
    fn default() -> Self {
        Status::Draft
    }
}

impl Status {
    /// True for statuses that end the card's life.
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            Status::Rejected | Status::Withdrawn | Status::Confirmed | Status::Cancelled
        )
    }
}

/// A hybrid logical clock reading: wall time, then a counter for events in the
/// same millisecond. A new event's clock is above every event its author has
/// seen, so the fold's order respects causality.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hlc {
    /// Milliseconds since the Unix epoch.
    pub wall_ms: i64,
    /// Tie-breaker within one millisecond.
    pub counter: u32,
}

impl Hlc {
    /// The clock for a new event, given the wall time now and the largest clock seen.
    pub fn next(now_ms: i64, seen: Option<Hlc>) -> Hlc {
        match seen {
            Some(seen) if seen.wall_ms >= now_ms => Hlc {
                wall_ms: seen.wall_ms,
                counter: seen.counter.saturating_add(1),
            },
            _ => Hlc {
                wall_ms: now_ms,
                counter: 0,
            },
        }
    }
}

/// One append-only workflow event of a wish card.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WishEvent {
    /// Unique id; a conflict is named by its losing event's id.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// Who did it.
    pub actor: UserId,
    /// In which role.
    pub role: Role,
    /// On which device.
    pub device: DeviceId,
    /// Hybrid logical clock; the fold orders events by (clock, id). It is
    /// above every event its author had seen, so it can run ahead of real
    /// time after an event from a fast clock: it orders, it does not date.
    pub hlc: Hlc,
    /// When it happened by its author's clock (ms), as corrected by the
    /// offset the device learned from the relay: what statistics and
    /// people see. Never raised to keep order.
    pub at: i64,
    /// The last event its author had seen, in fold order; events after it and
    /// before this one happened concurrently.
    pub base: Option<EventId>,
    /// Reason for reject, request_info, withdraw or cancel; note for fulfil; comment for confirm.
    pub note: Option<String>,
    /// For assign: a claimant named in free text, who has no account.
    pub claimant: Option<String>,
    /// For assign: the registered volunteer the wish is dispatched to.
    pub assignee: Option<UserId>,
    /// The partner unit: for claim, the unit its author claims for; for
    /// assign, the unit the wish is dispatched to; for the holder's later
    /// events, the unit they act for.
    pub unit: Option<UnitId>,
    /// The resident's rating (1–5), with confirm.
    pub rating: Option<u8>,
    /// The conflict (losing event) a resolve_conflict event closes.
    pub target: Option<EventId>,
    /// For resolve_conflict: the losing event wins instead, and the event
    /// it lost to loses (a claim race resolved the other way).
    pub reverse: bool,
}
