//! Work held for a supervisor. A lost (or stolen) device is cut off, but
//! changes it made may still reach the relay on other phones that met it.
//! They might be a thief's; they might be a worker's last day of visits.
//! The relay holds each such record, unapplied, until a supervisor looks at
//! the record and its authors and accepts or discards it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::messages::{RecordUpdate, RejectCode};
use super::policy::{Refusal, RelayPolicy};
use super::server::merged;
use super::storage::SyncStorage;
use crate::doc::RecordDoc;
use crate::error::{Error, Result};
use crate::ids::{DeviceId, RecordId, ScopePath, UserId};
use crate::model::{Record, RecordKind};
use crate::store::Store;

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

/// Held updates of records in `scopes`, newest first; decided ones too
/// when `decided`. Each shows what its record would say with it.
pub fn held(storage: &dyn SyncStorage, scopes: &[ScopePath], decided: bool) -> Result<Vec<Held>> {
    let users = RefCell::new(HashMap::new());
    let author = |device: DeviceId| -> Result<HeldAuthor> {
        if let Some(user) = users.borrow().get(&device) {
            return Ok(HeldAuthor {
                device,
                user: Clone::clone(user),
            });
        }
        let user = storage.device(device)?.map(|e| e.owner.user);
        users.borrow_mut().insert(device, user.clone());
        Ok(HeldAuthor { device, user })
    };
    let mut out = Vec::new();
    for row in storage.held_rows(decided)? {
        let inside = ScopePath::new(row.community.as_str())
            .is_ok_and(|c| scopes.iter().any(|s| s.contains(&c)));
        if !inside {
            continue;
        }
        let update: Option<RecordUpdate> = postcard::from_bytes(&row.payload).ok();
        let before = storage
            .stored(row.record)?
            .map(|s| RecordDoc::load(&s.doc))
            .transpose()?;
        let preview = update
            .and_then(|u| merged(before.as_ref(), &u.payload).ok())
            .and_then(|doc| doc.read().ok())
            .map(|r| preview(&r))
            .unwrap_or_default();
        let authors = row
            .lost
            .iter()
            .map(|d| author(*d))
            .collect::<Result<Vec<_>>>()?;
        out.push(Held {
            id: row.id,
            record: row.record,
            kind: row.kind,
            community: row.community,
            preview,
            authors,
            carrier: author(row.carrier)?,
            received_at: row.received_at,
            decision: row.decision,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
        });
    }
    Ok(out)
}

/// A supervisor's decision about a held update: accepted, it is applied
/// (every other check still holds: signatures, scopes, roles, the
/// workflow); discarded, it is left out for good. The inner error says
/// why an accepted update could not be applied.
pub fn decide_held(
    storage: &mut dyn SyncStorage,
    id: i64,
    decision: Decision,
    by: &UserId,
    relay_secret: Option<Arc<[u8]>>,
    now: i64,
) -> Result<Result<(), Refusal>> {
    let Some(row) = storage.held_row(id)? else {
        return Err(Error::NotFound(format!("held update {id}")));
    };
    if row.decision.is_some() {
        return Err(Error::NotAllowed(
            format!("held update {id} was decided already").into(),
        ));
    }
    if decision == Decision::Accepted {
        let update: RecordUpdate = postcard::from_bytes(&row.payload)
            .map_err(|e| Error::Wire(super::WireError::Malformed(e.to_string())))?;
        let mut policy = RelayPolicy::new(row.carrier, Vec::new());
        policy.relay_secret = relay_secret;
        policy.accept_lost = true;
        let cache = crate::store::DeviceCache::default();
        if let Err(refusal) =
            super::server::accept_again_if_contended(storage, &policy, &cache, &update)?
        {
            return Ok(Err(refusal));
        }
    }
    storage.decide(id, decision, by, now)?;
    Ok(Ok(()))
}

impl Store {
    /// [`held`] in this store.
    pub fn held(&self, scopes: &[ScopePath], decided: bool) -> Result<Vec<Held>> {
        held(self, scopes, decided)
    }

    /// [`decide_held`] in this store.
    pub fn decide_held(
        &mut self,
        id: i64,
        decision: Decision,
        by: &UserId,
        relay_secret: Option<Arc<[u8]>>,
        now: i64,
    ) -> Result<Result<(), Refusal>> {
        decide_held(self, id, decision, by, relay_secret, now)
    }
}

impl Decision {
    /// How it is stored: `accepted` or `discarded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accepted => "accepted",
            Decision::Discarded => "discarded",
        }
    }

    /// The decision stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<Decision> {
        match text {
            "accepted" => Some(Decision::Accepted),
            "discarded" => Some(Decision::Discarded),
            _ => None,
        }
    }
}

impl Refusal {
    /// Whether this refusal holds the record for a supervisor.
    pub fn is_held(&self) -> bool {
        self.code == RejectCode::Quarantine && !self.lost.is_empty()
    }
}
