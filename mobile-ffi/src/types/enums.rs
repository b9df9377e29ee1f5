//! sync-core's vocabularies, exposed as they are: UniFFI mirrors each enum
//! (a variant sync-core adds or renames breaks this build, not an app).

use sync_core::model::{Category, Urgency, VulnerabilityTag};
use sync_core::sync::RejectCode;
use sync_core::workflow::ConflictKind;
use sync_core::{EventKind, RecordKind, Role, Status};

/// What a user is allowed to do.
#[uniffi::remote(Enum)]
pub enum Role {
    /// Visits households and fills in wish cards.
    Worker,
    /// Claims and fulfils approved wishes.
    Volunteer,
    /// Reviews, dispatches and resolves conflicts.
    Supervisor,
    /// Everything a supervisor does, plus running the relay.
    Admin,
}

/// Where a wish card is in its life.
#[uniffi::remote(Enum)]
pub enum Status {
    /// Being written; not yet sent for review.
    Draft,
    /// Waiting for a supervisor's review.
    Submitted,
    /// Sent back for more information.
    NeedsInfo,
    /// Approved; waiting for someone to claim it.
    Approved,
    /// Refused by a supervisor.
    Rejected,
    /// Withdrawn.
    Withdrawn,
    /// Someone has taken it on.
    Claimed,
    /// Done ("lit up"), waiting for the resident's confirmation.
    Fulfilled,
    /// The resident confirmed it.
    Confirmed,
    /// Called off.
    Cancelled,
}

/// The kinds of workflow event.
#[uniffi::remote(Enum)]
pub enum EventKind {
    /// Sent for review.
    Submit,
    /// Approved by a supervisor.
    Approve,
    /// Refused by a supervisor.
    Reject,
    /// Sent back for more information.
    RequestInfo,
    /// Withdrawn.
    Withdraw,
    /// Taken on by a volunteer or worker.
    Claim,
    /// Dispatched by a supervisor to a volunteer, a partner unit or a
    /// claimant named in free text.
    Assign,
    /// The claimant reported at the community (报到).
    CheckIn,
    /// Given back by the claimant.
    Release,
    /// Reported done.
    Fulfil,
    /// Called off by a supervisor.
    Cancel,
    /// Confirmed by the resident.
    Confirm,
    /// The card's content was edited.
    Edit,
    /// A supervisor marked a conflict as dealt with.
    ResolveConflict,
}

/// What kind of help a wish asks for.
#[uniffi::remote(Enum)]
pub enum Category {
    /// Wheelchairs, walkers, hearing aids.
    MobilityAid,
    /// Repairs inside the home.
    HomeRepair,
    /// Street lights, ramps, benches.
    PublicFacility,
    /// Food, clothes, bedding.
    DailyNecessities,
    /// Check-ups, medicine, care.
    Medical,
    /// School supplies, tutoring.
    Education,
    /// Visits, company, a phone call.
    Companionship,
    /// Anything else.
    Other,
}

/// How soon a wish should be met.
#[uniffi::remote(Enum)]
pub enum Urgency {
    /// Whenever possible.
    Low,
    /// Within weeks.
    Normal,
    /// Within days.
    High,
    /// Someone is at risk now.
    Critical,
}

/// Why a household needs attention.
#[uniffi::remote(Enum)]
pub enum VulnerabilityTag {
    /// An elderly person living alone.
    LivingAlone,
    /// A low-income family on the minimum-living allowance.
    LowIncome,
    /// A household with a disabled member.
    Disability,
    /// A left-behind child.
    LeftBehindChild,
    /// Serious illness.
    Illness,
    /// A veteran's or martyr's family.
    Veteran,
}

/// Why a workflow event lost to a concurrent one.
#[uniffi::remote(Enum)]
pub enum ConflictKind {
    /// Another event had already moved the card on (two claims of one wish).
    Superseded,
    /// An edit raced a withdrawal, rejection or cancellation.
    EditOverridden,
    /// A supervisor resolved the race the other way: this event had won.
    Overturned,
}

/// The three kinds of record.
#[uniffi::remote(Enum)]
pub enum RecordKind {
    /// A household.
    Household,
    /// A visit.
    Visit,
    /// A wish card.
    Wish,
}

/// Why the relay (or another phone) refused a record.
#[uniffi::remote(Enum)]
pub enum RejectCode {
    /// The record lies outside the user's communities.
    Scope,
    /// The user's role may not do this.
    Role,
    /// The card's state did not allow it.
    Workflow,
    /// A change was made on another device than the one sending it.
    Actor,
    /// An existing workflow event was altered or removed.
    History,
    /// Not a valid Doorstep record.
    Invalid,
    /// Over a size limit.
    TooLarge,
    /// The relay needed the whole record; it is sent again by itself.
    NeedFull,
    /// A change carried no valid signature of its author's device.
    Signature,
    /// A change's author device is not known to the relay yet (after a
    /// restore); it is sent again by itself.
    UnknownAuthor,
    /// A change altered what is fixed at the record's creation.
    Identity,
    /// A change was made after its device was retired.
    Retired,
    /// Changes by a lost device: held for a supervisor to accept or discard.
    Quarantine,
}
