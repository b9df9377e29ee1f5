//! What the wish wall (心愿墙) shows a volunteer or a partner unit's member,
//! read from the materialized cards under the read rules of
//! [`Reader`]: the approved wishes of their areas with only what choosing
//! needs, and the wishes they hold, with the delivery fields of the
//! household while the wish is theirs to deliver.

use rusqlite::types::Value as Sql;
use rusqlite::{Row, params_from_iter};
use serde::{Deserialize, Serialize};

use super::Store;
use super::query::scope_clause;
use crate::error::Result;
use crate::ids::{CommunityPath, EventId, ScopePath, UnitId, UserId, WishId};
use crate::model::{Category, Urgency};
use crate::workflow::{Holder, Reader, Sight, Status, holds};

/// A wish on the wall: nothing that identifies the household.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WallCard {
    /// The wish.
    pub id: WishId,
    /// What the resident wishes for.
    pub text: String,
    /// Its category.
    pub category: Category,
    /// Its urgency.
    pub urgency: Urgency,
    /// Its community.
    pub community: CommunityPath,
    /// When it was approved (ms): how long it has waited.
    pub approved_at: Option<i64>,
    /// The last event the card had: a claim made from this view names it,
    /// so that a claim made since wins and this one is told it lost.
    pub seen: Option<EventId>,
}

/// Where to deliver a held wish, and whom to ask for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// The household's address.
    pub address: String,
    /// The contact's name.
    pub contact: String,
    /// The contact's phone.
    pub phone: String,
}

/// A wish a volunteer (or their unit) holds or held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldCard {
    /// The wish, as the wall shows it.
    #[serde(flatten)]
    pub card: WallCard,
    /// Its status now.
    pub status: Status,
    /// Who holds it.
    pub holder: Holder,
    /// Whether the reader (or their unit) holds it now; false for a claim
    /// of theirs that lost, or a wish given to someone else since.
    pub theirs: bool,
    /// When its holder checked in at the community.
    pub checked_in_at: Option<i64>,
    /// When it was lit up.
    pub fulfilled_at: Option<i64>,
    /// When the resident confirmed.
    pub confirmed_at: Option<i64>,
    /// The resident's rating.
    pub rating: Option<u8>,
    /// Where to deliver it, while it is theirs to deliver.
    pub delivery: Option<Delivery>,
}

const CARD_COLUMNS: &str =
    "w.id, w.text, w.category, w.urgency, w.community, w.reviewed_at, w.last_event";

fn wall_card(r: &Row<'_>) -> Result<WallCard> {
    Ok(WallCard {
        id: r.get::<_, String>(0)?.parse()?,
        text: r.get(1)?,
        category: r.get::<_, String>(2)?.parse()?,
        urgency: r.get::<_, String>(3)?.parse()?,
        community: CommunityPath::new(r.get::<_, String>(4)?)?,
        approved_at: r.get(5)?,
        seen: r
            .get::<_, Option<String>>(6)?
            .map(|e| e.parse())
            .transpose()?,
    })
}

/// Whether `reader` reads the wall at all: the approved wishes of their
/// scopes, which nobody holds yet.
pub fn reads_wall(reader: &Reader) -> bool {
    let on_wall = Sight {
        status: Status::Approved,
        holder: None,
        took_part: false,
    };
    reader.reads(crate::RecordKind::Wish, Some(on_wall))
}

impl HeldCard {
    /// What `reader` gets of a wish they (or their unit) hold or took on
    /// at some point, as a store read it: `delivery` is the household's
    /// (whatever `theirs` says). `None` if they may not read it; else the
    /// card with `theirs` set, and the delivery fields only while it is
    /// theirs to deliver.
    pub fn seen_by(self, reader: &Reader) -> Option<HeldCard> {
        let theirs = matches!(
            self.status,
            Status::Claimed | Status::Fulfilled | Status::Confirmed
        ) && holds(Some(&self.holder), &reader.user, reader.unit.as_ref());
        let sight = Sight {
            status: self.status,
            holder: Some(&self.holder),
            // A store reads only wishes they hold or took on.
            took_part: true,
        };
        if !reader.reads(crate::RecordKind::Wish, Some(sight)) {
            return None;
        }
        let delivery = self
            .delivery
            .filter(|_| reader.sees_delivery(self.status, Some(&self.holder)));
        Some(HeldCard {
            theirs,
            delivery,
            ..self
        })
    }
}

fn in_scopes(scopes: &[ScopePath], args: &mut Vec<Sql>) -> String {
    let refs: Vec<&ScopePath> = scopes.iter().collect();
    scope_clause("w.community", &refs, args)
}

impl Store {
    /// The approved wishes of `scopes` that `reader` may see on the wall,
    /// longest waiting first.
    pub fn wall(&self, reader: &Reader, scopes: &[ScopePath], limit: u32) -> Result<Vec<WallCard>> {
        if scopes.is_empty() || !reads_wall(reader) {
            return Ok(Vec::new());
        }
        let mut args = Vec::new();
        let clause = in_scopes(scopes, &mut args);
        let mut stmt = self.connection().prepare(&format!(
            "SELECT {CARD_COLUMNS} FROM wishes w
              WHERE w.status = 'approved' AND {clause}
              ORDER BY w.reviewed_at, w.id LIMIT {limit}"
        ))?;
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(wall_card(row)?);
        }
        Ok(out)
    }

    /// The wishes `reader` (or their unit) holds or took on at some point,
    /// in `scopes`, latest first: each with the delivery fields while they
    /// are to deliver it.
    pub fn held_by(&self, reader: &Reader, scopes: &[ScopePath]) -> Result<Vec<HeldCard>> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<Sql> = vec![
            Sql::Text(reader.user.as_str().to_owned()),
            reader
                .unit
                .as_ref()
                .map_or(Sql::Null, |u| Sql::Text(u.as_str().to_owned())),
        ];
        let clause = in_scopes(scopes, &mut args);
        let mut stmt = self.connection().prepare(&format!(
            "SELECT {CARD_COLUMNS}, w.status, w.holder_user, w.holder_unit, w.claimant,
                    w.checked_in_at, w.fulfilled_at, w.confirmed_at, w.rating,
                    h.address, h.head_name, h.phone
               FROM wishes w LEFT JOIN households h ON h.id = w.household_id
              WHERE (w.holder_user = ?1 OR (?2 IS NOT NULL AND w.holder_unit = ?2)
                     OR EXISTS (SELECT 1 FROM wish_takers t WHERE t.record_id = w.id
                                AND (t.user = ?1 OR (?2 IS NOT NULL AND t.unit = ?2))))
                AND {clause}
              ORDER BY w.updated_at DESC, w.id"
        ))?;
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let card = wall_card(row)?;
            let status: Status = row.get::<_, String>(7)?.parse()?;
            let user: Option<String> = row.get(8)?;
            let unit: Option<String> = row.get(9)?;
            let holder = Holder {
                user: user.map(UserId::new).transpose()?,
                unit: unit.map(UnitId::new).transpose()?,
                name: None,
            };
            let delivery = row
                .get::<_, Option<String>>(15)?
                .map(|address| -> Result<Delivery> {
                    Ok(Delivery {
                        address,
                        contact: row.get::<_, Option<String>>(16)?.unwrap_or_default(),
                        phone: row.get::<_, Option<String>>(17)?.unwrap_or_default(),
                    })
                })
                .transpose()?;
            let held = HeldCard {
                card,
                status,
                holder,
                theirs: false,
                checked_in_at: row.get(11)?,
                fulfilled_at: row.get(12)?,
                confirmed_at: row.get(13)?,
                rating: row
                    .get::<_, Option<i64>>(14)?
                    .and_then(|r| u8::try_from(r).ok()),
                delivery,
            };
            out.extend(held.seen_by(reader));
        }
        Ok(out)
    }
}
