//! Wish cards as the app sees them: new cards, edits, filters, list rows and
//! a card with its events and open conflicts.

use sync_core::model::{self, Category, Urgency, WishCard};
use sync_core::store::{WishFilter as CoreFilter, WishRow};
use sync_core::workflow::{ConflictKind, WishEvent as CoreEvent};
use sync_core::{EventKind, HouseholdId, Role, ScopePath, Status};

use crate::error::{DoorstepError, Result};

/// A new wish card; it starts as a draft.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewWish {
    /// The household the wish came from.
    pub household_id: String,
    /// The wish in the resident's words.
    pub text: String,
    /// What kind of help.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
}

impl NewWish {
    pub(crate) fn to_core(&self) -> Result<model::NewWish> {
        Ok(model::NewWish {
            household: self.household_id.parse::<HouseholdId>()?,
            text: self.text.clone(),
            category: self.category,
            urgency: self.urgency,
            photos: Vec::new(),
        })
    }
}

/// A photo on a card: the SHA-256 of its bytes (lowercase hex) and what
/// they are.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Photo {
    /// The SHA-256 of the bytes, which names the photo everywhere.
    pub sha256: String,
    /// How many bytes.
    pub bytes: u64,
    /// `image/jpeg`.
    pub mime: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl From<model::Photo> for Photo {
    fn from(p: model::Photo) -> Self {
        Self {
            sha256: p.sha256.to_string(),
            bytes: p.bytes,
            mime: p.mime,
            width: p.width,
            height: p.height,
        }
    }
}

/// A change to a wish card's content. Fields left out are left alone.
#[derive(Clone, Debug, Default, uniffi::Record)]
pub struct WishPatch {
    /// New text.
    #[uniffi(default)]
    pub text: Option<String>,
    /// New category.
    #[uniffi(default)]
    pub category: Option<Category>,
    /// New urgency.
    #[uniffi(default)]
    pub urgency: Option<Urgency>,
}

impl WishPatch {
    pub(crate) fn to_core(&self) -> Result<model::WishPatch> {
        Ok(model::WishPatch {
            text: self.text.clone(),
            category: self.category,
            urgency: self.urgency,
            ..model::WishPatch::default()
        })
    }
}

/// Which wish cards to list. Fields left out do not filter.
#[derive(Clone, Debug, Default, uniffi::Record)]
pub struct WishFilter {
    /// Only cards with this status.
    #[uniffi(default)]
    pub status: Option<Status>,
    /// Only cards whose text contains this (Chinese included).
    #[uniffi(default)]
    pub text: Option<String>,
    /// Only cards under this community (or street, or district).
    #[uniffi(default)]
    pub community: Option<String>,
    /// Only cards of this household.
    #[uniffi(default)]
    pub household_id: Option<String>,
    /// Only this category.
    #[uniffi(default)]
    pub category: Option<Category>,
    /// Only this urgency.
    #[uniffi(default)]
    pub urgency: Option<Urgency>,
    /// Oldest submission first instead of most recently changed first.
    #[uniffi(default)]
    pub oldest_first: bool,
    /// Page size (default 50, at most 500).
    #[uniffi(default)]
    pub limit: Option<u32>,
    /// Rows to skip.
    #[uniffi(default)]
    pub offset: Option<u32>,
}

impl WishFilter {
    pub(crate) fn to_core(&self) -> Result<CoreFilter> {
        Ok(CoreFilter {
            scope: self.community.as_deref().map(ScopePath::new).transpose()?,
            status: self.status,
            category: self.category,
            urgency: self.urgency,
            household: self
                .household_id
                .as_deref()
                .map(str::parse::<HouseholdId>)
                .transpose()?,
            q: self.text.clone(),
            oldest_first: self.oldest_first,
            limit: self.limit,
            offset: self.offset,
            ..CoreFilter::default()
        })
    }
}

/// A wish card in a list.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct WishSummary {
    /// Its id.
    pub id: String,
    /// The household it came from.
    pub household_id: String,
    /// Its community.
    pub community: String,
    /// Where it is in its life.
    pub status: Status,
    /// What kind of help.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// The wish.
    pub text: String,
    /// Who wrote it.
    pub created_by: String,
    /// When (ms since the epoch).
    pub created_at: i64,
    /// Who holds it while claimed or fulfilled.
    pub claimant: Option<String>,
    /// Unresolved conflicts.
    pub open_conflicts: u32,
    /// Last change on this phone (ms since the epoch).
    pub updated_at: i64,
}

impl TryFrom<WishRow> for WishSummary {
    type Error = DoorstepError;

    fn try_from(r: WishRow) -> Result<Self> {
        Ok(Self {
            status: r.status.parse()?,
            category: r.category.parse()?,
            urgency: r.urgency.parse()?,
            id: r.id,
            household_id: r.household,
            community: r.community,
            text: r.text,
            created_by: r.created_by,
            created_at: r.created_at,
            claimant: r.claimant,
            open_conflicts: u32::try_from(r.open_conflicts).unwrap_or(0),
            updated_at: r.updated_at,
        })
    }
}

/// One workflow event of a card.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct WishEvent {
    /// Its id (a conflict is named by its losing event).
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// Who did it.
    pub actor: String,
    /// In which role.
    pub role: Role,
    /// On which device.
    pub device_id: String,
    /// When, by the author's clock (ms since the epoch).
    pub at: i64,
    /// A reason, note or comment.
    pub note: Option<String>,
    /// The claimant named by a claim or an assignment.
    pub claimant: Option<String>,
    /// The resident's rating, with a confirmation.
    pub rating: Option<u8>,
}

impl From<&CoreEvent> for WishEvent {
    fn from(e: &CoreEvent) -> Self {
        Self {
            id: e.id.to_string(),
            kind: e.kind,
            actor: e.actor.to_string(),
            role: e.role,
            device_id: e.device.to_string(),
            at: e.at,
            note: e.note.clone(),
            claimant: e.claimant.clone(),
            rating: e.rating,
        }
    }
}

/// An event that lost to a concurrent one. It is kept; a supervisor
/// resolves it.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct WishConflict {
    /// The losing event, which also names the conflict.
    pub event_id: String,
    /// What the losing event was.
    pub event_kind: EventKind,
    /// Who made the losing event.
    pub actor: Option<String>,
    /// The event it lost to.
    pub winner_event_id: Option<String>,
    /// Why it lost.
    pub kind: ConflictKind,
    /// The card's status when it lost.
    pub status: Status,
}

/// A wish card with its whole workflow: status, events and open conflicts.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Wish {
    /// Its id.
    pub id: String,
    /// The household it came from.
    pub household_id: String,
    /// Its community.
    pub community: String,
    /// The wish in the resident's words.
    pub text: String,
    /// What kind of help.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// Its photos (see `add_photo`; the bytes come with `photo`).
    pub photos: Vec<Photo>,
    /// Where it is in its life.
    pub status: Status,
    /// Who holds it, from its claim on: a login, a partner unit's id, or a
    /// name typed by a supervisor.
    pub claimant: Option<String>,
    /// The registered volunteer (or worker) who holds it.
    pub holder_user: Option<String>,
    /// The partner unit that holds it.
    pub holder_unit: Option<String>,
    /// When its holder checked in at the community.
    pub checked_in_at: Option<i64>,
    /// The resident's rating, once confirmed.
    pub rating: Option<u8>,
    /// Who wrote it.
    pub created_by: String,
    /// When (ms since the epoch).
    pub created_at: i64,
    /// First submission.
    pub submitted_at: Option<i64>,
    /// First review decision.
    pub reviewed_at: Option<i64>,
    /// When it was fulfilled.
    pub fulfilled_at: Option<i64>,
    /// When the resident confirmed.
    pub confirmed_at: Option<i64>,
    /// Every workflow event, oldest first.
    pub events: Vec<WishEvent>,
    /// Events that lost to concurrent ones and no supervisor resolved yet.
    pub conflicts: Vec<WishConflict>,
}

impl From<WishCard> for Wish {
    fn from(card: WishCard) -> Self {
        let mut ordered: Vec<&CoreEvent> = card.events.iter().collect();
        ordered.sort_by_key(|e| (e.hlc, e.id));
        let conflicts = card
            .state
            .open_conflicts()
            .map(|c| WishConflict {
                event_id: c.event.to_string(),
                event_kind: c.event_kind,
                actor: card
                    .events
                    .iter()
                    .find(|e| e.id == c.event)
                    .map(|e| e.actor.to_string()),
                winner_event_id: c.winner.map(|w| w.to_string()),
                kind: c.kind,
                status: c.status,
            })
            .collect();
        Self {
            id: card.meta.id.to_string(),
            household_id: card.household.to_string(),
            community: card.meta.community.to_string(),
            text: card.text,
            category: card.category,
            urgency: card.urgency,
            photos: card.photos.into_iter().map(Photo::from).collect(),
            status: card.state.status,
            holder_user: card
                .state
                .holder
                .as_ref()
                .and_then(|h| h.user.as_ref())
                .map(|u| u.to_string()),
            holder_unit: card
                .state
                .holder
                .as_ref()
                .and_then(|h| h.unit.as_ref())
                .map(|u| u.to_string()),
            checked_in_at: card.state.checked_in_at,
            claimant: card.state.claimant,
            rating: card.state.rating,
            created_by: card.meta.created_by.to_string(),
            created_at: card.meta.created_at,
            submitted_at: card.state.submitted_at,
            reviewed_at: card.state.reviewed_at,
            fulfilled_at: card.state.fulfilled_at,
            confirmed_at: card.state.confirmed_at,
            events: ordered.into_iter().map(WishEvent::from).collect(),
            conflicts,
        }
    }
}
