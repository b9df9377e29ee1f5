//! Work held for a supervisor. A lost (or stolen) device is cut off, but
//! changes it made may still reach the relay on other phones that met it.
//! They might be a thief's; they might be a worker's last day of visits.
//! The relay holds each such record, unapplied, until a supervisor looks at
//! the record and its authors and accepts or discards it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::messages::{RecordUpdate, RejectCode};
use super::policy::{Refusal, RelayPolicy};
use super::server::merged;
use crate::doc::RecordDoc;
use crate::error::{Error, Result};
use crate::ids::{DeviceId, RecordId, ScopePath, UserId};
use crate::model::{Record, RecordKind};
use crate::store::{Directory, Store};

/// A supervisor's decision about held work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Applied to the record, as if its device had never been lost.
    Accepted,
    /// Left out for good.
    Discarded,
}

/// A device whose changes are held, and whose it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldAuthor {
    /// The device.
    pub device: DeviceId,
    /// Its user, if the relay knows the device.
    pub user: Option<UserId>,
}

/// One record's held update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Held {
    /// Names the held update.
    pub id: i64,
    /// The record.
    pub record: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// Its community.
    pub community: String,
    /// What the record says with the held changes: a wish's text, a
    /// household's address, a visit's notes.
    pub preview: String,
    /// Who made the held changes (the lost devices).
    pub authors: Vec<HeldAuthor>,
    /// The device that delivered them.
    pub carrier: HeldAuthor,
    /// When they arrived (ms).
    pub received_at: i64,
    /// The decision, once made.
    pub decision: Option<Decision>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When (ms).
    pub decided_at: Option<i64>,
}

fn preview(record: &Record) -> String {
    let text = match record {
        Record::Wish(w) => w.text.clone(),
        Record::Household(h) => h.address.clone(),
        Record::Visit(v) => v.notes.clone(),
    };
    text.chars().take(200).collect()
}

impl Store {
    /// Held updates of records in `scopes`, newest first; decided ones too
    /// when `decided`.
    pub fn held(&self, scopes: &[ScopePath], decided: bool) -> Result<Vec<Held>> {
        type Row = (i64, String, String, String, Vec<u8>, String, String, i64);
        type Decided = (Option<String>, Option<String>, Option<i64>);
        let mut stmt = self.connection().prepare(
            "SELECT id, record_id, kind, community, payload, lost, carrier, received_at,
                    decision, decided_by, decided_at
               FROM quarantine WHERE (?1 OR decision IS NULL) ORDER BY received_at DESC, id DESC",
        )?;
        let rows = stmt
            .query_map([decided], |r| {
                let row: Row = (
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                );
                let decision: Decided = (r.get(8)?, r.get(9)?, r.get(10)?);
                Ok((row, decision))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let users = RefCell::new(HashMap::new());
        let author = |device: DeviceId| -> Result<HeldAuthor> {
            if let Some(user) = users.borrow().get(&device) {
                return Ok(HeldAuthor {
                    device,
                    user: Clone::clone(user),
                });
            }
            let user = self.device(device)?.map(|e| e.owner.user);
            users.borrow_mut().insert(device, user.clone());
            Ok(HeldAuthor { device, user })
        };
        let mut out = Vec::new();
        for ((id, record, kind, community, payload, lost, carrier, received_at), decided) in rows {
            let inside = ScopePath::new(community.as_str())
                .is_ok_and(|c| scopes.iter().any(|s| s.contains(&c)));
            if !inside {
                continue;
            }
            let record: RecordId = record.parse()?;
            let update: Option<RecordUpdate> = postcard::from_bytes(&payload).ok();
            let before = self
                .stored(record)?
                .map(|s| RecordDoc::load(&s.doc))
                .transpose()?;
            let preview = update
                .and_then(|u| merged(before.as_ref(), &u.payload).ok())
                .and_then(|doc| doc.read().ok())
                .map(|r| preview(&r))
                .unwrap_or_default();
            let authors = lost
                .split(',')
                .filter_map(|d| d.parse().ok())
                .map(author)
                .collect::<Result<Vec<_>>>()?;
            out.push(Held {
                id,
                record,
                kind: kind.parse()?,
                community,
                preview,
                authors,
                carrier: author(carrier.parse()?)?,
                received_at,
                decision: match decided.0.as_deref() {
                    Some("accepted") => Some(Decision::Accepted),
                    Some("discarded") => Some(Decision::Discarded),
                    _ => None,
                },
                decided_by: decided.1,
                decided_at: decided.2,
            });
        }
        Ok(out)
    }

    /// A supervisor's decision about a held update: accepted, it is applied
    /// (every other check still holds: signatures, scopes, roles, the
    /// workflow); discarded, it is left out for good. The inner error says
    /// why an accepted update could not be applied.
    pub fn decide_held(
        &mut self,
        id: i64,
        decision: Decision,
        by: &UserId,
        relay_secret: Option<Arc<[u8]>>,
        now: i64,
    ) -> Result<Result<(), Refusal>> {
        let row: Option<(Vec<u8>, String, Option<String>)> = self
            .connection()
            .query_row(
                "SELECT payload, carrier, decision FROM quarantine WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((payload, carrier, decided)) = row else {
            return Err(Error::NotFound(format!("held update {id}")));
        };
        if decided.is_some() {
            return Err(Error::NotAllowed(
                format!("held update {id} was decided already").into(),
            ));
        }
        if decision == Decision::Accepted {
            let update: RecordUpdate = postcard::from_bytes(&payload)
                .map_err(|e| Error::Wire(super::WireError::Malformed(e.to_string())))?;
            let mut policy = RelayPolicy::new(carrier.parse()?, Vec::new());
            policy.relay_secret = relay_secret;
            policy.accept_lost = true;
            let cache = crate::store::DeviceCache::default();
            if let Err(refusal) = super::server::accept(self, &policy, &cache, &update)? {
                return Ok(Err(refusal));
            }
        }
        let text = match decision {
            Decision::Accepted => "accepted",
            Decision::Discarded => "discarded",
        };
        self.connection().execute(
            "UPDATE quarantine SET decision = ?2, decided_by = ?3, decided_at = ?4 WHERE id = ?1",
            params![id, text, by.as_str(), now],
        )?;
        Ok(Ok(()))
    }
}

impl Refusal {
    /// Whether this refusal holds the record for a supervisor.
    pub fn is_held(&self) -> bool {
        self.code == RejectCode::Quarantine && !self.lost.is_empty()
    }
}
