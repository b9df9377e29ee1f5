//! The records a field worker keeps: households, visits and wish cards, as
//! plain Rust values read from (and written to) their CRDT documents.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;
use crate::ids::{CommunityPath, HouseholdId, PhotoRef, RecordId, UserId, VisitId, WishId};

mod photo;

use crate::workflow::{Folded, WishEvent, text_enum};
pub use photo::Photo;

text_enum!(
    /// Which of the three record types a document holds.
    RecordKind {
        /// A household.
        Household => "household",
        /// A visit to a household.
        Visit => "visit",
        /// A wish card.
        Wish => "wish",
    }
);

text_enum!(
    /// Why a household needs attention.
    VulnerabilityTag {
        /// An elderly person living alone.
        LivingAlone => "living_alone",
        /// A low-income family on the minimum-living allowance.
        LowIncome => "low_income",
        /// A household with a disabled member.
        Disability => "disability",
        /// A left-behind child.
        LeftBehindChild => "left_behind_child",
        /// Serious illness.
        Illness => "illness",
        /// A veteran's or martyr's family.
        Veteran => "veteran",
    }
);

text_enum!(
    /// What kind of help a wish asks for.
    Category {
        /// Wheelchairs, walkers, hearing aids.
        MobilityAid => "mobility_aid",
        /// Repairs inside the home.
        HomeRepair => "home_repair",
        /// Street lights, ramps, benches: shared facilities.
        PublicFacility => "public_facility",
        /// Food, clothes, bedding.
        DailyNecessities => "daily_necessities",
        /// Check-ups, medicine, care.
        Medical => "medical",
        /// School supplies, tutoring.
        Education => "education",
        /// Visits, company, a phone call.
        Companionship => "companionship",
        /// Anything else.
        Other => "other",
    }
);

text_enum!(
    /// How soon a wish should be met.
    Urgency {
        /// Whenever possible.
        Low => "low",
        /// Within weeks.
        Normal => "normal",
        /// Within days.
        High => "high",
        /// Someone is at risk now.
        Critical => "critical",
    }
);

/// The longest free text (a wish, a note) accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// The most photos one wish card refers to.
pub const MAX_PHOTOS: usize = 20;

/// Checks free text: not longer than [`MAX_TEXT_CHARS`], no control characters
/// other than newlines and tabs.
pub fn check_text(field: &str, text: &str) -> Result<(), InvalidInput> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(InvalidInput::new(
            format!("{field} is longer than {MAX_TEXT_CHARS} characters"),
            text,
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(InvalidInput::new(
            format!("{field} contains control characters"),
            text,
        ));
    }
    Ok(())
}

/// The longest name accepted (a claimant, a device), in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Checks a one-line name, such as a claimant or a device's name: 1 to
/// [`MAX_NAME_CHARS`] characters once trimmed, and none that would change
/// how a screen or a log shows what comes after it: control characters
/// (NUL, newlines, the escape that starts ANSI sequences) and the Unicode
/// marks that reorder text (bidirectional embeddings, overrides and
/// isolates). Returns the name trimmed.
pub fn check_name<'a>(field: &str, name: &'a str) -> Result<&'a str, InvalidInput> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(InvalidInput::new(
            format!("{field} must be 1 to {MAX_NAME_CHARS} characters"),
            name,
        ));
    }
    let reorders = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if name.chars().any(|c| c.is_control() || reorders(c)) {
        return Err(InvalidInput::new(
            format!("{field} contains control characters"),
            name,
        ));
    }
    Ok(name)
}

/// Who made the record and when: common to every kind.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Meta {
    /// The record's id.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The community it belongs to.
    pub community: CommunityPath,
    /// Milliseconds since the epoch when it was created.
    pub created_at: i64,
    /// Who created it.
    pub created_by: UserId,
}

/// An address and the people living there.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Household {
    /// Common record fields.
    #[serde(flatten)]
    pub meta: Meta,
    /// Street address.
    pub address: String,
    /// The head of household or main resident.
    pub head_name: String,
    /// A contact phone number.
    pub phone: String,
    /// How many people live there.
    pub members: u32,
    /// Vulnerability tags.
    pub tags: BTreeSet<VulnerabilityTag>,
    /// Free notes.
    pub notes: String,
}

impl Household {
    /// The household's typed id.
    pub fn id(&self) -> HouseholdId {
        HouseholdId::from_record(self.meta.id)
    }
}

/// A GPS fix.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Gps {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// One worker's visit to one household.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Visit {
    /// Common record fields.
    #[serde(flatten)]
    pub meta: Meta,
    /// The household visited.
    pub household: HouseholdId,
    /// When the visit took place (ms since epoch).
    pub visited_at: i64,
    /// What the worker saw and heard.
    pub notes: String,
    /// Needs observed during the visit.
    pub needs: String,
    /// Where, if the phone had a fix.
    pub gps: Option<Gps>,
    /// When to come back (ms since epoch), if a follow-up is planned.
    pub follow_up: Option<i64>,
}

impl Visit {
    /// The visit's typed id.
    pub fn id(&self) -> VisitId {
        VisitId::from_record(self.meta.id)
    }
}

/// A resident's wish, with its workflow events and the state they fold to.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WishCard {
    /// Common record fields.
    #[serde(flatten)]
    pub meta: Meta,
    /// The household the wish came from.
    pub household: HouseholdId,
    /// The wish in the resident's words.
    pub text: String,
    /// What kind of help.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// Its photos.
    pub photos: Vec<Photo>,
    /// Every workflow event, in document order.
    pub events: Vec<WishEvent>,
    /// The fold of the events: status, claimant, conflicts.
    pub state: Folded,
}

impl WishCard {
    /// The card's typed id.
    pub fn id(&self) -> WishId {
        WishId::from_record(self.meta.id)
    }
}

/// Any record, as read from its document.
#[derive(Clone, PartialEq, Debug)]
// Large only where pointers are 64 bits (not on wasm32).
#[cfg_attr(
    target_pointer_width = "64",
    expect(
        clippy::large_enum_variant,
        reason = "records are read one at a time; boxing the card buys nothing"
    )
)]
pub enum Record {
    /// A household.
    Household(Household),
    /// A visit.
    Visit(Visit),
    /// A wish card.
    Wish(WishCard),
}

impl Record {
    /// The fields every record has.
    pub fn meta(&self) -> &Meta {
        match self {
            Record::Household(h) => &h.meta,
            Record::Visit(v) => &v.meta,
            Record::Wish(w) => &w.meta,
        }
    }

    /// Checks what this record holds and `before` (the same record as it
    /// was) did not, by the rules its fields are written with: text by
    /// [`check_text`] and [`check_name`], photo references by
    /// [`Photo::check`]. A document that came from elsewhere is held to
    /// what this library lets a user enter.
    pub fn check_new_content(&self, before: Option<&Record>) -> Result<(), InvalidInput> {
        let fields = |record: &Record| -> Vec<(&'static str, String)> {
            match record {
                Record::Household(h) => vec![
                    ("address", h.address.clone()),
                    ("head_name", h.head_name.clone()),
                    ("phone", h.phone.clone()),
                    ("notes", h.notes.clone()),
                ],
                Record::Visit(v) => vec![("notes", v.notes.clone()), ("needs", v.needs.clone())],
                Record::Wish(w) => vec![("text", w.text.clone())],
            }
        };
        let old = before.map(fields).unwrap_or_default();
        for (field, text) in fields(self) {
            if !old.iter().any(|(f, t)| *f == field && *t == text) {
                check_text(field, &text)?;
            }
        }
        let Record::Wish(card) = self else {
            return Ok(());
        };
        let known = |id| match before {
            Some(Record::Wish(b)) => b.events.iter().any(|e| e.id == id),
            _ => false,
        };
        let old_photos = match before {
            Some(Record::Wish(b)) => b.photos.as_slice(),
            _ => &[],
        };
        for photo in card.photos.iter().filter(|p| !old_photos.contains(p)) {
            photo.check()?;
        }
        for event in card.events.iter().filter(|e| !known(e.id)) {
            if let Some(note) = &event.note {
                check_text("note", note)?;
            }
            if let Some(claimant) = &event.claimant {
                check_name("the claimant", claimant)?;
            }
        }
        Ok(())
    }
}

/// The fields of a new household.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct NewHousehold {
    /// Street address.
    pub address: String,
    /// The head of household or main resident.
    pub head_name: String,
    /// A contact phone number.
    pub phone: String,
    /// How many people live there.
    pub members: u32,
    /// Vulnerability tags.
    pub tags: BTreeSet<VulnerabilityTag>,
    /// Free notes.
    pub notes: String,
}

/// A change to some fields of a household; `None` leaves a field alone, so
/// two phones editing different fields both keep their edits.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HouseholdPatch {
    /// New address.
    pub address: Option<String>,
    /// New head of household.
    pub head_name: Option<String>,
    /// New phone number.
    pub phone: Option<String>,
    /// New member count.
    pub members: Option<u32>,
    /// New notes.
    pub notes: Option<String>,
    /// Tags to add.
    pub add_tags: Vec<VulnerabilityTag>,
    /// Tags to remove.
    pub remove_tags: Vec<VulnerabilityTag>,
}

/// The fields of a new visit.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct NewVisit {
    /// The household visited.
    pub household: HouseholdId,
    /// When the visit took place (ms since epoch).
    pub visited_at: i64,
    /// What the worker saw and heard.
    pub notes: String,
    /// Needs observed.
    pub needs: String,
    /// Where, if known.
    pub gps: Option<Gps>,
    /// When to come back, if planned.
    pub follow_up: Option<i64>,
}

/// The fields of a new wish card (which starts as a draft).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct NewWish {
    /// The household the wish came from.
    pub household: HouseholdId,
    /// The wish in the resident's words.
    pub text: String,
    /// What kind of help.
    pub category: Category,
    /// How urgent.
    pub urgency: Urgency,
    /// Its photos (see [`crate::store::Store::add_photo`] to take one).
    pub photos: Vec<Photo>,
}

/// A change to some fields of a wish card.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WishPatch {
    /// New text.
    pub text: Option<String>,
    /// New category.
    pub category: Option<Category>,
    /// New urgency.
    pub urgency: Option<Urgency>,
    /// Photos to add (one already on the card is not added twice).
    pub add_photos: Vec<Photo>,
    /// Photos to take off the card, by hash.
    pub remove_photos: Vec<PhotoRef>,
}

impl WishPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.text.is_none()
            && self.category.is_none()
            && self.urgency.is_none()
            && self.add_photos.is_empty()
            && self.remove_photos.is_empty()
    }
}
