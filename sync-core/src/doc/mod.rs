//! One Automerge document per record.
//!
//! [`RecordDoc`] is the only place that writes record documents. Every change
//! it makes is committed with the author's device as the Automerge actor and
//! the author's user and role in the change message, so a record's history
//! says who changed what from which device.

mod codec;
mod events;
mod history;
mod photos;

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, Change, ChangeHash, ObjType, ROOT, ReadDoc};
use serde::{Deserialize, Serialize};

pub use events::EventInput;
pub use history::{FieldChange, HistoryEntry};

use crate::error::{Error, InvalidInput, Result};
use crate::ids::{CommunityPath, DeviceId, RecordId, UserId};
use crate::model::{
    HouseholdPatch, MAX_PHOTOS, NewHousehold, NewVisit, NewWish, Photo, Record, RecordKind,
    WishPatch, check_text,
};
use crate::workflow::{EventKind, Role};

pub(crate) use codec::read_events;

/// Who is making a change: the user, their role and the device they use.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Author {
    /// The user.
    pub user: UserId,
    /// The user's role.
    pub role: Role,
    /// The device the change is made on.
    pub device: DeviceId,
}

impl Author {
    /// The Automerge actor id of the author's device.
    pub fn actor(&self) -> ActorId {
        actor_of(self.device)
    }
}

/// The Automerge actor id bound to a device.
pub fn actor_of(device: DeviceId) -> ActorId {
    ActorId::from(device.as_bytes())
}

/// The device an actor id is bound to, if it is one of ours.
pub fn device_of(actor: &ActorId) -> Option<DeviceId> {
    <[u8; 16]>::try_from(actor.to_bytes())
        .ok()
        .map(DeviceId::from_bytes)
}

/// The message stored with every change.
#[derive(Serialize, Deserialize)]
pub(crate) struct ChangeNote {
    pub(crate) user: UserId,
    pub(crate) role: Role,
}

/// A record's CRDT document.
#[derive(Debug, Clone)]
pub struct RecordDoc {
    doc: Automerge,
}

impl RecordDoc {
    /// Creates a household document.
    pub fn new_household(
        author: &Author,
        id: RecordId,
        community: &CommunityPath,
        fields: &NewHousehold,
        now_ms: i64,
    ) -> Result<Self> {
        for (name, text) in [
            ("address", &fields.address),
            ("head_name", &fields.head_name),
            ("phone", &fields.phone),
            ("notes", &fields.notes),
        ] {
            check_text(name, text)?;
        }
        Self::create(author, id, RecordKind::Household, community, now_ms, |tx| {
            tx.put(ROOT, "address", fields.address.as_str())?;
            tx.put(ROOT, "head_name", fields.head_name.as_str())?;
            tx.put(ROOT, "phone", fields.phone.as_str())?;
            tx.put(ROOT, "members", i64::from(fields.members))?;
            tx.put(ROOT, "notes", fields.notes.as_str())?;
            let tags = tx.put_object(ROOT, "tags", ObjType::Map)?;
            for tag in &fields.tags {
                tx.put(&tags, tag.as_str(), true)?;
            }
            Ok(())
        })
    }

    /// Creates a visit document.
    pub fn new_visit(
        author: &Author,
        id: RecordId,
        community: &CommunityPath,
        fields: &NewVisit,
        now_ms: i64,
    ) -> Result<Self> {
        check_text("notes", &fields.notes)?;
        check_text("needs", &fields.needs)?;
        if let Some(gps) = fields.gps
            && (!(-90.0..=90.0).contains(&gps.lat) || !(-180.0..=180.0).contains(&gps.lon))
        {
            return Err(InvalidInput::new("GPS fix out of range", &format!("{gps:?}")).into());
        }
        Self::create(author, id, RecordKind::Visit, community, now_ms, |tx| {
            tx.put(ROOT, "household", fields.household.to_string())?;
            tx.put(ROOT, "visited_at", fields.visited_at)?;
            tx.put(ROOT, "notes", fields.notes.as_str())?;
            tx.put(ROOT, "needs", fields.needs.as_str())?;
            if let Some(gps) = fields.gps {
                tx.put(ROOT, "lat", gps.lat)?;
                tx.put(ROOT, "lon", gps.lon)?;
            }
            if let Some(at) = fields.follow_up {
                tx.put(ROOT, "follow_up", at)?;
            }
            Ok(())
        })
    }

    /// Creates a wish card document, as a draft.
    pub fn new_wish(
        author: &Author,
        id: RecordId,
        community: &CommunityPath,
        fields: &NewWish,
        now_ms: i64,
    ) -> Result<Self> {
        check_wish_text(&fields.text)?;
        check_photos(&fields.photos, 0)?;
        Self::create(author, id, RecordKind::Wish, community, now_ms, |tx| {
            tx.put(ROOT, "household", fields.household.to_string())?;
            tx.put(ROOT, "text", fields.text.as_str())?;
            tx.put(ROOT, "category", fields.category.as_str())?;
            tx.put(ROOT, "urgency", fields.urgency.as_str())?;
            tx.put_object(ROOT, "photos", ObjType::List)?;
            photos::add(tx, &fields.photos)?;
            tx.put_object(ROOT, "events", ObjType::List)?;
            Ok(())
        })
    }

    fn create(
        author: &Author,
        id: RecordId,
        kind: RecordKind,
        community: &CommunityPath,
        now_ms: i64,
        fields: impl FnOnce(&mut Transaction<'_>) -> Result<(), automerge::AutomergeError>,
    ) -> Result<Self> {
        let mut doc = Self {
            doc: Automerge::new(),
        };
        doc.change(author, now_ms, |tx| {
            tx.put(ROOT, "v", codec::LAYOUT_VERSION)?;
            tx.put(ROOT, "kind", kind.as_str())?;
            tx.put(ROOT, "id", id.to_string())?;
            tx.put(ROOT, "community", community.as_str())?;
            tx.put(ROOT, "created_at", now_ms)?;
            tx.put(ROOT, "created_by", author.user.as_str())?;
            fields(tx)?;
            Ok(())
        })?;
        Ok(doc)
    }

    /// An empty document, for changes to be applied to.
    pub(crate) fn empty() -> Self {
        Self {
            doc: Automerge::new(),
        }
    }

    /// Loads a saved document, checking its hashes. Untrusted bytes give an error, never a panic.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            doc: Automerge::load(bytes)?,
        })
    }

    /// The whole document, compacted.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// The document's heads.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Decodes the record.
    pub fn read(&self) -> Result<Record> {
        codec::read_record(&self.doc).map_err(|reason| self.corrupt(reason))
    }

    /// The record's kind, without decoding the rest.
    pub fn kind(&self) -> Result<RecordKind> {
        codec::read_kind(&self.doc).map_err(|reason| self.corrupt(reason))
    }

    fn corrupt(&self, reason: String) -> Error {
        let id = codec::opt_str(&self.doc, &ROOT, "id")
            .ok()
            .flatten()
            .unwrap_or_else(|| "?".to_owned());
        Error::CorruptRecord { id, reason }
    }

    /// The underlying Automerge document, read-only.
    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// Applies a patch to a household's fields.
    pub fn update_household(
        &mut self,
        author: &Author,
        patch: &HouseholdPatch,
        now_ms: i64,
    ) -> Result<()> {
        self.expect_kind(RecordKind::Household)?;
        let texts = [
            ("address", &patch.address),
            ("head_name", &patch.head_name),
            ("phone", &patch.phone),
            ("notes", &patch.notes),
        ];
        for (name, text) in texts {
            if let Some(text) = text {
                check_text(name, text)?;
            }
        }
        self.change(author, now_ms, |tx| {
            for (name, text) in texts {
                if let Some(text) = text {
                    codec::put_if_changed(tx, name, text.as_str())?;
                }
            }
            if let Some(members) = patch.members {
                codec::put_if_changed(tx, "members", i64::from(members))?;
            }
            if !patch.add_tags.is_empty() || !patch.remove_tags.is_empty() {
                let tags = match codec::object(tx, &ROOT, "tags", ObjType::Map) {
                    Ok(Some(tags)) => tags,
                    _ => tx.put_object(ROOT, "tags", ObjType::Map)?,
                };
                for tag in &patch.add_tags {
                    if tx.get(&tags, tag.as_str())?.is_none() {
                        tx.put(&tags, tag.as_str(), true)?;
                    }
                }
                for tag in &patch.remove_tags {
                    if tx.get(&tags, tag.as_str())?.is_some() {
                        tx.delete(&tags, tag.as_str())?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Applies a patch to a wish card's content and appends an `edit` event,
    /// which the workflow checks like any other event.
    pub fn update_wish(&mut self, author: &Author, patch: &WishPatch, now_ms: i64) -> Result<()> {
        if let Some(text) = &patch.text {
            check_wish_text(text)?;
        }
        let card = self.wish()?;
        let kept = card
            .photos
            .iter()
            .filter(|p| !patch.remove_photos.contains(&p.sha256))
            .count();
        check_photos(&patch.add_photos, kept)?;
        let event = self.prepare_event(author, &EventInput::new(EventKind::Edit), now_ms)?;
        self.change(author, now_ms, |tx| {
            if let Some(text) = &patch.text {
                codec::put_if_changed(tx, "text", text.as_str())?;
            }
            if let Some(category) = patch.category {
                codec::put_if_changed(tx, "category", category.as_str())?;
            }
            if let Some(urgency) = patch.urgency {
                codec::put_if_changed(tx, "urgency", urgency.as_str())?;
            }
            photos::remove(tx, &patch.remove_photos)?;
            photos::add(tx, &patch.add_photos)?;
            codec::write_event(tx, &event)
        })
    }

    pub(crate) fn wish(&self) -> Result<crate::model::WishCard> {
        match self.read()? {
            Record::Wish(card) => Ok(card),
            other => Err(InvalidInput::new("not a wish card", other.meta().kind.as_str()).into()),
        }
    }

    fn expect_kind(&self, kind: RecordKind) -> Result<()> {
        let actual = self.kind()?;
        if actual == kind {
            Ok(())
        } else {
            Err(InvalidInput::new(format!("not a {kind}"), actual.as_str()).into())
        }
    }

    /// Runs `f` in one Automerge transaction committed as `author` at `now_ms`.
    pub(crate) fn change(
        &mut self,
        author: &Author,
        now_ms: i64,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<(), automerge::AutomergeError>,
    ) -> Result<()> {
        self.doc.set_actor(author.actor());
        let note = ChangeNote {
            user: author.user.clone(),
            role: author.role,
        };
        let message = serde_json::to_string(&note).unwrap_or_default();
        self.doc
            .transact_with(
                |_| {
                    CommitOptions::default()
                        .with_message(message)
                        .with_time(now_ms)
                },
                f,
            )
            .map_err(|failure| Error::Automerge(failure.error))?;
        Ok(())
    }

    /// The changes this document has beyond `heads`.
    pub fn changes_since(&self, heads: &[ChangeHash]) -> Vec<Change> {
        self.doc.get_changes(heads)
    }

    /// Applies changes received from elsewhere. Returns the hashes of
    /// dependencies still missing (the changes wait until those arrive).
    pub fn apply_changes(&mut self, changes: Vec<Change>) -> Result<Vec<ChangeHash>> {
        self.doc.apply_changes(changes)?;
        Ok(self.doc.get_missing_deps(&[]))
    }

    /// True when the document holds the change with this hash.
    pub fn has_change(&self, hash: &ChangeHash) -> bool {
        self.doc.get_change_by_hash(hash).is_some()
    }

    /// Merges another copy of the same record.
    pub fn merge(&mut self, other: &mut RecordDoc) -> Result<()> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// A copy of the document as it was at `heads`.
    pub fn fork_at(&self, heads: &[ChangeHash]) -> Result<RecordDoc> {
        Ok(RecordDoc {
            doc: self.doc.fork_at(heads)?,
        })
    }

    /// A wish card's photos, each with the device whose change added it
    /// (none for a bare hash of old).
    pub fn photo_adders(&self) -> Result<Vec<(Photo, Option<DeviceId>)>> {
        let photos = photos::read(&self.doc).map_err(|reason| Error::CorruptRecord {
            id: String::new(),
            reason,
        })?;
        Ok(photos
            .into_iter()
            .map(|(photo, actor)| (photo, actor.as_ref().and_then(device_of)))
            .collect())
    }

    /// Who changed which field, when, from what to what.
    pub fn history(&self) -> Vec<HistoryEntry> {
        history::history(&self.doc)
    }
}

/// New photo references, `kept` already on the card: each a possible
/// processed photo, at most [`MAX_PHOTOS`] in all.
fn check_photos(new: &[Photo], kept: usize) -> Result<(), InvalidInput> {
    for photo in new {
        photo.check()?;
    }
    if kept + new.len() > MAX_PHOTOS {
        return Err(InvalidInput::new(
            format!("more than {MAX_PHOTOS} photos"),
            "",
        ));
    }
    Ok(())
}

fn check_wish_text(text: &str) -> Result<(), InvalidInput> {
    if text.trim().is_empty() {
        return Err(InvalidInput::new("a wish needs some text", ""));
    }
    check_text("text", text)
}

/// Heads as bytes: 32 bytes per hash, sorted.
pub fn heads_to_bytes(heads: &[ChangeHash]) -> Vec<u8> {
    let mut sorted = heads.to_vec();
    sorted.sort_unstable();
    sorted.iter().flat_map(|h| h.0).collect()
}

/// Heads from bytes written by [`heads_to_bytes`].
pub fn heads_from_bytes(bytes: &[u8]) -> Result<Vec<ChangeHash>, InvalidInput> {
    if !bytes.len().is_multiple_of(32) {
        return Err(InvalidInput::new("heads are a multiple of 32 bytes", ""));
    }
    Ok(bytes
        .chunks_exact(32)
        .filter_map(|c| <[u8; 32]>::try_from(c).ok().map(ChangeHash))
        .collect())
}
