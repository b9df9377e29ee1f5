//! Validation of incoming record changes: the hook the server side of the
//! engine runs on every pushed record before anything is stored.
//!
//! On a relay, every change is judged by its author, not by the device that
//! delivers it: the change must carry a signature that verifies against the
//! key its author device registered, and that author (their user, role and
//! scopes now, their device's standing) must be allowed to make it. So any
//! phone can carry anyone's work, and nobody can forge it.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, Change};

use super::messages::RejectCode;
use crate::doc::{ChangeNote, device_of};
use crate::error::Result;
use crate::ids::{DeviceId, EventId, RecordId, ScopePath};
use crate::keys::{ChangeSig, DeviceKey};
use crate::model::{Record, WishCard};
use crate::store::{DeviceEntry, Directory, Standing};
use crate::workflow::{EventKind, Reader, WishEvent, fold, may_append, may_write};

/// How far past its device's retirement a change's time may be and still
/// count as made before it: clocks differ a little.
pub const RETIREMENT_GRACE_MS: i64 = 5 * 60 * 1000;

/// A record as it is before and after applying a pushed update.
#[derive(Debug)]
pub struct Incoming<'a> {
    /// The record's id.
    pub id: RecordId,
    /// The stored record, if the server had it.
    pub before: Option<&'a Record>,
    /// The record with the update applied.
    pub after: &'a Record,
    /// The after-record's events with the actor whose change created each.
    pub after_events: &'a [(WishEvent, Option<ActorId>)],
    /// The changes the update adds to what the server had.
    pub new_changes: &'a [Change],
    /// The signatures that came with the update.
    pub sigs: &'a [ChangeSig],
    /// The actor whose change created the record.
    pub creator: &'a ActorId,
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// As a code.
    pub code: RejectCode,
    /// For a person.
    pub reason: String,
    /// For [`RejectCode::Quarantine`]: the lost devices whose changes it holds.
    pub lost: Vec<DeviceId>,
}

impl Refusal {
    /// A refusal.
    pub fn new(code: RejectCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            lost: Vec::new(),
        }
    }
}

/// Decides what a sync peer may read and write.
pub trait Policy {
    /// The scopes whose records the peer receives; `None` means all.
    fn readable(&self) -> Option<&[ScopePath]>;

    /// Who reads, when they may receive only some records of their scopes
    /// (a volunteer: see [`Reader::reads`]); `None`: every record of them.
    fn reader(&self) -> Option<&Reader> {
        None
    }

    /// Checks one pushed record after the structural checks every policy
    /// shares. `directory` is the server's device directory. The outer
    /// error is a storage failure; the inner one a refusal of this record.
    fn check(
        &self,
        incoming: &Incoming<'_>,
        directory: &dyn Directory,
    ) -> Result<Result<(), Refusal>>;

    /// Whether the server corrects the times of work from devices whose
    /// clocks it knows to be wrong (a relay does; a phone knows no clocks).
    fn corrects_clocks(&self) -> bool {
        false
    }
}

/// The relay's policy for a sync from one registered device.
#[derive(Clone)]
pub struct RelayPolicy {
    /// The device syncing, which may deliver anyone's changes.
    pub sender: DeviceId,
    /// The scopes it receives (none for a retired device: it may still
    /// deliver its work but receives nothing).
    pub readable: Vec<ScopePath>,
    /// The relay's secret, from which it derives the keys of the devices it
    /// writes as (see [`DeviceKey::derive`]), so it recognises their changes
    /// even when its directory has forgotten them (after a restore).
    pub relay_secret: Option<std::sync::Arc<[u8]>>,
    /// Accept lost devices' changes instead of holding them: a supervisor
    /// accepted them from the quarantine.
    pub accept_lost: bool,
    /// The user syncing, when their role reads only some records of their
    /// scopes (see [`Policy::reader`]).
    pub reader: Option<Reader>,
}

impl std::fmt::Debug for RelayPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayPolicy")
            .field("sender", &self.sender)
            .field("readable", &self.readable)
            .finish_non_exhaustive()
    }
}

impl RelayPolicy {
    /// A policy for `sender`, which receives the records of `readable`.
    pub fn new(sender: DeviceId, readable: Vec<ScopePath>) -> Self {
        Self {
            sender,
            readable,
            relay_secret: None,
            accept_lost: false,
            reader: None,
        }
    }

    /// The same, for a user whose role reads only some records of their
    /// scopes: they receive only those.
    pub fn with_reader(mut self, reader: Reader) -> Self {
        self.reader = Some(reader).filter(Reader::is_volunteer);
        self
    }

    /// The same, recognising the devices the relay derives keys for.
    pub fn with_relay_secret(mut self, secret: std::sync::Arc<[u8]>) -> Self {
        self.relay_secret = Some(secret);
        self
    }

    /// The author of one change, if its signature proves it.
    fn author(
        &self,
        change: &Change,
        sigs: &[ChangeSig],
        directory: &dyn Directory,
    ) -> Result<Result<DeviceEntry, Refusal>> {
        let hash = change.hash();
        let Some(device) = device_of(change.actor_id()) else {
            return Ok(Err(Refusal::new(
                RejectCode::Invalid,
                format!("change {hash} is by an actor that is no Doorstep device"),
            )));
        };
        let Some(sig) = sigs.iter().find(|s| s.names(&hash)) else {
            return Ok(Err(Refusal::new(
                RejectCode::Signature,
                format!("change {hash} by device {device} carries no signature"),
            )));
        };
        let entry = match directory.device(device)? {
            Some(entry) => entry,
            None => match self.derived_author(device, change, directory)? {
                Some(entry) => entry,
                None => {
                    return Ok(Err(Refusal::new(
                        RejectCode::UnknownAuthor,
                        format!(
                            "change {hash} is by device {device}, which this relay does not know (yet); it is accepted once that device logs in here"
                        ),
                    )));
                }
            },
        };
        let Some(key) = entry.key else {
            return Ok(Err(Refusal::new(
                RejectCode::Signature,
                format!(
                    "device {device} has registered no key; it must log in again with an up-to-date app"
                ),
            )));
        };
        if !key.verifies(&hash, sig) {
            return Ok(Err(Refusal::new(
                RejectCode::Signature,
                format!(
                    "the signature of change {hash} does not verify against device {device}'s key"
                ),
            )));
        }
        let note: Option<ChangeNote> = change.message().and_then(|m| serde_json::from_str(m).ok());
        if note.as_ref().is_none_or(|n| n.user != entry.owner.user) {
            return Ok(Err(Refusal::new(
                RejectCode::Actor,
                format!(
                    "change {hash} names another user than {}, whose device {device} made it",
                    entry.owner.user
                ),
            )));
        }
        Ok(Ok(entry))
    }

    /// A device the directory does not know may be one the relay writes as
    /// (a supervisor's web device made after a backup the relay was
    /// restored from): its key is derived from the relay's secret, and the
    /// user named in its change is the one it writes for.
    fn derived_author(
        &self,
        device: DeviceId,
        change: &Change,
        directory: &dyn Directory,
    ) -> Result<Option<DeviceEntry>> {
        let Some(secret) = &self.relay_secret else {
            return Ok(None);
        };
        let Some(note) = change
            .message()
            .and_then(|m| serde_json::from_str::<ChangeNote>(m).ok())
        else {
            return Ok(None);
        };
        let Some(owner) = directory.user(&note.user)? else {
            return Ok(None);
        };
        Ok(Some(DeviceEntry {
            device,
            standing: owner
                .disabled_at
                .map_or(Standing::Active, |at| Standing::Retired { at }),
            owner,
            key: Some(DeviceKey::derive(secret, device).public()),
            registered_at: 0,
        }))
    }
}

fn within(scopes: &[ScopePath], path: &ScopePath) -> bool {
    scopes.iter().any(|s| s.contains(path))
}

impl Policy for RelayPolicy {
    fn readable(&self) -> Option<&[ScopePath]> {
        Some(&self.readable)
    }

    fn reader(&self) -> Option<&Reader> {
        self.reader.as_ref()
    }

    fn corrects_clocks(&self) -> bool {
        true
    }

    fn check(
        &self,
        incoming: &Incoming<'_>,
        directory: &dyn Directory,
    ) -> Result<Result<(), Refusal>> {
        let place = incoming.after.meta().community.as_scope();
        let mut authors: HashMap<ActorId, DeviceEntry> = HashMap::new();
        let mut lost: Vec<DeviceEntry> = Vec::new();
        for change in incoming.new_changes {
            let entry = match self.author(change, incoming.sigs, directory)? {
                Ok(entry) => entry,
                Err(refusal) => return Ok(Err(refusal)),
            };
            match entry.standing {
                Standing::Active => {}
                Standing::Retired { at } if change.timestamp() <= at + RETIREMENT_GRACE_MS => {}
                Standing::Retired { .. } => {
                    return Ok(Err(Refusal::new(
                        RejectCode::Retired,
                        format!(
                            "change {} was made after device {} ({}) was retired",
                            change.hash(),
                            entry.device,
                            entry.owner.user
                        ),
                    )));
                }
                Standing::Lost { .. } => {
                    if !lost.iter().any(|l| l.device == entry.device) {
                        lost.push(entry.clone());
                    }
                }
            }
            if !within(&entry.owner.scopes, place) {
                return Ok(Err(Refusal::new(
                    RejectCode::Scope,
                    format!(
                        "record is in {place}, outside the scopes {} may write",
                        entry.owner.user
                    ),
                )));
            }
            authors.insert(change.actor_id().clone(), entry);
        }
        // Content is written by those whose role may write this kind of
        // record; a wish card's workflow events are judged one by one below.
        let kind = incoming.after.meta().kind;
        let writes_content = kind != crate::model::RecordKind::Wish || incoming.before.is_none();
        if writes_content
            && let Some(author) = authors.values().find(|a| !may_write(a.owner.role, kind))
        {
            return Ok(Err(Refusal::new(
                RejectCode::Role,
                format!(
                    "a {} may not {} a {kind}",
                    author.owner.role,
                    if incoming.before.is_none() {
                        "create"
                    } else {
                        "change"
                    }
                ),
            )));
        }
        if incoming.before.is_none() {
            let created_by = &incoming.after.meta().created_by;
            match authors.get(incoming.creator) {
                Some(creator) if creator.owner.user == *created_by => {}
                Some(creator) => {
                    return Ok(Err(Refusal::new(
                        RejectCode::Identity,
                        format!(
                            "the record says {created_by} created it, but it was created on {}'s device",
                            creator.owner.user
                        ),
                    )));
                }
                None => {
                    return Ok(Err(Refusal::new(
                        RejectCode::Invalid,
                        "a new record whose creating change is missing",
                    )));
                }
            }
        }
        if let Err(refusal) = check_events(incoming, &authors) {
            return Ok(Err(refusal));
        }
        if !lost.is_empty() && !self.accept_lost {
            let names: Vec<String> = lost
                .iter()
                .map(|e| format!("{} ({})", e.device, e.owner.user))
                .collect();
            return Ok(Err(Refusal {
                lost: lost.iter().map(|e| e.device).collect(),
                ..Refusal::new(
                    RejectCode::Quarantine,
                    format!(
                        "held for a supervisor: it carries changes by a device reported lost: {}",
                        names.join(", ")
                    ),
                )
            }));
        }
        Ok(Ok(()))
    }
}

/// New workflow events: each made by the device whose change wrote it, in
/// its user's name and role, of a kind that role may append, and allowed by
/// the workflow. Content edits come with an edit event.
fn check_events(
    incoming: &Incoming<'_>,
    authors: &HashMap<ActorId, DeviceEntry>,
) -> Result<(), Refusal> {
    let before_ids: HashSet<EventId> = match incoming.before {
        Some(Record::Wish(w)) => w.events.iter().map(|e| e.id).collect(),
        _ => HashSet::new(),
    };
    let new_events: Vec<&(WishEvent, Option<ActorId>)> = incoming
        .after_events
        .iter()
        .filter(|(e, _)| !before_ids.contains(&e.id))
        .collect();
    for (event, maker) in &new_events {
        let Some(author) = maker.as_ref().and_then(|m| authors.get(m)) else {
            return Err(Refusal::new(
                RejectCode::Actor,
                format!(
                    "event {} was not written by a change of this push",
                    event.id
                ),
            ));
        };
        let owner = &author.owner;
        // Judged by the role the author has, whatever the event claims.
        if !may_append(owner.role, event.kind) {
            return Err(Refusal::new(
                RejectCode::Role,
                format!("a {} may not {} a wish", owner.role, event.kind),
            ));
        }
        if event.kind != EventKind::Assign
            && let Some(unit) = &event.unit
            && owner.unit.as_ref() != Some(unit)
        {
            return Err(Refusal::new(
                RejectCode::Role,
                format!(
                    "event {} acts for partner unit {unit}, of which {} is no member",
                    event.id, owner.user
                ),
            ));
        }
        if event.device != author.device || event.actor != owner.user || event.role != owner.role {
            return Err(Refusal::new(
                RejectCode::Actor,
                format!(
                    "event {} claims to be by {} ({}) on {}, but device {} belongs to {} ({})",
                    event.id,
                    event.actor,
                    event.role,
                    event.device,
                    author.device,
                    owner.user,
                    owner.role
                ),
            ));
        }
    }
    if let Record::Wish(after) = incoming.after {
        check_workflow(after, &new_events)?;
        if let Some(Record::Wish(before)) = incoming.before {
            let has = |kind: EventKind| new_events.iter().any(|(e, _)| e.kind == kind);
            // A fulfilment may bring photos of the wish lit up, and take
            // none away.
            let photos_added_only = after.photos.len() > before.photos.len()
                && before.photos.iter().all(|p| after.photos.contains(p));
            let photos_edited =
                before.photos != after.photos && !(photos_added_only && has(EventKind::Fulfil));
            let edited = before.text != after.text
                || before.category != after.category
                || before.urgency != after.urgency
                || photos_edited
                || before.household != after.household;
            if edited && !has(EventKind::Edit) {
                return Err(Refusal::new(
                    RejectCode::Workflow,
                    "a wish's content changed without an edit event",
                ));
            }
        }
    }
    Ok(())
}

/// A new event that loses in the fold is fine when it lost a race (the
/// winner is something its author had not seen) and refused when its author
/// could see it was not allowed.
fn check_workflow(
    after: &WishCard,
    new_events: &[&(WishEvent, Option<ActorId>)],
) -> Result<(), Refusal> {
    let new_ids: HashSet<EventId> = new_events.iter().map(|(e, _)| e.id).collect();
    let mut sorted: Vec<&WishEvent> = after.events.iter().collect();
    sorted.sort_by_key(|e| (e.hlc, e.id));
    let position: HashMap<EventId, usize> =
        sorted.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    let folded = fold(&after.events);
    for conflict in folded
        .conflicts
        .iter()
        .filter(|c| new_ids.contains(&c.event))
    {
        let Some(event) = after.events.iter().find(|e| e.id == conflict.event) else {
            continue;
        };
        let seen = event.base.and_then(|b| position.get(&b).copied());
        let winner = conflict.winner.and_then(|w| position.get(&w).copied());
        let author_saw_winner = match (winner, seen) {
            (None, _) => true,
            (Some(w), Some(s)) => w <= s,
            (Some(_), None) => false,
        };
        if author_saw_winner {
            return Err(Refusal::new(
                RejectCode::Workflow,
                format!("cannot {} a wish that is {}", event.kind, conflict.status),
            ));
        }
    }
    Ok(())
}

/// The policy between two phones: each accepts records of its own scopes and
/// serves the scopes the other asks for. Phones cannot check signatures
/// (they hold no directory); they keep them, and the relay checks
/// everything again.
#[derive(Debug, Clone)]
pub struct PeerPolicy {
    /// The scopes this phone keeps; pushed records outside them are refused.
    pub own: Vec<ScopePath>,
    /// The scopes the other phone asked for, within `own`.
    pub requested: Vec<ScopePath>,
}

impl PeerPolicy {
    /// A policy for a phone with scopes `own` serving a peer that asks for `requested`.
    pub fn new(own: Vec<ScopePath>, requested: &[ScopePath]) -> Self {
        let requested = requested
            .iter()
            .flat_map(|r| {
                if within(&own, r) {
                    vec![r.clone()]
                } else {
                    own.iter().filter(|o| r.contains(o)).cloned().collect()
                }
            })
            .collect();
        Self { own, requested }
    }
}

impl Policy for PeerPolicy {
    fn readable(&self) -> Option<&[ScopePath]> {
        Some(&self.requested)
    }

    fn check(
        &self,
        incoming: &Incoming<'_>,
        _directory: &dyn Directory,
    ) -> Result<Result<(), Refusal>> {
        let place = incoming.after.meta().community.as_scope();
        Ok(if within(&self.own, place) {
            Ok(())
        } else {
            Err(Refusal::new(
                RejectCode::Scope,
                format!("this phone does not keep records of {place}"),
            ))
        })
    }
}
