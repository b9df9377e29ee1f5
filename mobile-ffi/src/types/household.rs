//! Households and visits as the app sees them, and their translation to and
//! from sync-core's types.

use std::collections::BTreeSet;

use sync_core::model::{self, Gps as CoreGps, VulnerabilityTag};
use sync_core::store::{HouseholdRow, VisitRow};
use sync_core::{CommunityPath, HouseholdId};

use crate::error::Result;

/// A new household.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewHousehold {
    /// Its community, `district/street/community`.
    pub community: String,
    /// Street address.
    pub address: String,
    /// The head of household or main resident.
    #[uniffi(default)]
    pub head_name: String,
    /// A contact phone number.
    #[uniffi(default)]
    pub phone: String,
    /// How many people live there.
    #[uniffi(default = 1)]
    pub members: u32,
    /// Why it needs attention.
    #[uniffi(default)]
    pub tags: Vec<VulnerabilityTag>,
    /// Free notes.
    #[uniffi(default)]
    pub notes: String,
}

impl NewHousehold {
    pub(crate) fn to_core(&self) -> Result<(CommunityPath, model::NewHousehold)> {
        Ok((
            CommunityPath::new(self.community.as_str())?,
            model::NewHousehold {
                address: self.address.clone(),
                head_name: self.head_name.clone(),
                phone: self.phone.clone(),
                members: self.members,
                tags: self.tags.iter().copied().collect::<BTreeSet<_>>(),
                notes: self.notes.clone(),
            },
        ))
    }
}

/// A change to some fields of a household. Fields left out are left alone,
/// so two phones editing different fields both keep their edits.
#[derive(Clone, Debug, Default, uniffi::Record)]
pub struct HouseholdPatch {
    /// New address.
    #[uniffi(default)]
    pub address: Option<String>,
    /// New head of household.
    #[uniffi(default)]
    pub head_name: Option<String>,
    /// New phone number.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// New member count.
    #[uniffi(default)]
    pub members: Option<u32>,
    /// New notes.
    #[uniffi(default)]
    pub notes: Option<String>,
    /// Tags to add.
    #[uniffi(default)]
    pub add_tags: Vec<VulnerabilityTag>,
    /// Tags to remove.
    #[uniffi(default)]
    pub remove_tags: Vec<VulnerabilityTag>,
}

impl From<HouseholdPatch> for model::HouseholdPatch {
    fn from(p: HouseholdPatch) -> Self {
        Self {
            address: p.address,
            head_name: p.head_name,
            phone: p.phone,
            members: p.members,
            notes: p.notes,
            add_tags: p.add_tags,
            remove_tags: p.remove_tags,
        }
    }
}

/// A household.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Household {
    /// Its id.
    pub id: String,
    /// Its community.
    pub community: String,
    /// Street address.
    pub address: String,
    /// The head of household or main resident.
    pub head_name: String,
    /// A contact phone number.
    pub phone: String,
    /// How many people live there.
    pub members: u32,
    /// Why it needs attention.
    pub tags: Vec<VulnerabilityTag>,
    /// Free notes.
    pub notes: String,
}

impl From<HouseholdRow> for Household {
    fn from(r: HouseholdRow) -> Self {
        Self {
            id: r.id,
            community: r.community,
            address: r.address,
            head_name: r.head_name,
            phone: r.phone,
            members: u32::try_from(r.members).unwrap_or(0),
            // A tag a newer app added is left out rather than failing the list.
            tags: r.tags.iter().filter_map(|t| t.parse().ok()).collect(),
            notes: r.notes,
        }
    }
}

impl From<model::Household> for Household {
    fn from(h: model::Household) -> Self {
        Self {
            id: h.meta.id.to_string(),
            community: h.meta.community.to_string(),
            address: h.address,
            head_name: h.head_name,
            phone: h.phone,
            members: h.members,
            tags: h.tags.into_iter().collect(),
            notes: h.notes,
        }
    }
}

/// Which households to list. Fields left out do not filter.
#[derive(Clone, Debug, Default, uniffi::Record)]
pub struct HouseholdFilter {
    /// Only households under this community (or street, or district).
    #[uniffi(default)]
    pub community: Option<String>,
    /// Only households whose address, name or notes contain this text
    /// (Chinese included).
    #[uniffi(default)]
    pub text: Option<String>,
    /// Page size (default 50, at most 500).
    #[uniffi(default)]
    pub limit: Option<u32>,
    /// Rows to skip.
    #[uniffi(default)]
    pub offset: Option<u32>,
}

/// A GPS fix.
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct Gps {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// A new visit to a household.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewVisit {
    /// The household visited.
    pub household_id: String,
    /// When the visit took place (ms since the epoch); now if left out.
    #[uniffi(default)]
    pub visited_at: Option<i64>,
    /// What the worker saw and heard.
    #[uniffi(default)]
    pub notes: String,
    /// Needs observed during the visit.
    #[uniffi(default)]
    pub needs: String,
    /// Where, if the phone had a fix.
    #[uniffi(default)]
    pub gps: Option<Gps>,
    /// When to come back (ms since the epoch), if a follow-up is planned.
    #[uniffi(default)]
    pub follow_up: Option<i64>,
}

impl NewVisit {
    pub(crate) fn to_core(&self, now: i64) -> Result<model::NewVisit> {
        Ok(model::NewVisit {
            household: self.household_id.parse::<HouseholdId>()?,
            visited_at: self.visited_at.unwrap_or(now),
            notes: self.notes.clone(),
            needs: self.needs.clone(),
            gps: self.gps.map(|g| CoreGps {
                lat: g.lat,
                lon: g.lon,
            }),
            follow_up: self.follow_up,
        })
    }
}

/// A visit.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Visit {
    /// Its id.
    pub id: String,
    /// The household visited.
    pub household_id: String,
    /// The household's community.
    pub community: String,
    /// The worker who visited.
    pub worker: String,
    /// When (ms since the epoch).
    pub visited_at: i64,
    /// What the worker saw and heard.
    pub notes: String,
    /// Needs observed.
    pub needs: String,
    /// When to come back, if planned.
    pub follow_up: Option<i64>,
}

impl From<VisitRow> for Visit {
    fn from(r: VisitRow) -> Self {
        Self {
            id: r.id,
            household_id: r.household,
            community: r.community,
            worker: r.worker,
            visited_at: r.visited_at,
            notes: r.notes,
            needs: r.needs,
            follow_up: r.follow_up,
        }
    }
}
