//! Validation of incoming record changes: the hook the server side of the
//! engine runs on every pushed record before anything is stored.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, Change};

use super::wire::RejectCode;
use crate::doc::actor_of;
use crate::ids::{DeviceId, EventId, RecordId, ScopePath, UserId};
use crate::model::Record;
use crate::workflow::{EventKind, Role, WishEvent, fold, may_append};

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
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// As a code.
    pub code: RejectCode,
    /// For a person.
    pub reason: String,
}

impl Refusal {
    /// A refusal.
    pub fn new(code: RejectCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Decides what a sync peer may read and write.
pub trait Policy {
    /// The scopes whose records the peer receives; `None` means all.
    fn readable(&self) -> Option<&[ScopePath]>;

    /// Checks one pushed record after the structural checks every policy shares.
    fn check(&self, incoming: &Incoming<'_>) -> Result<(), Refusal>;
}

/// The relay's policy for an authenticated user on a registered device.
#[derive(Debug, Clone)]
pub struct RelayPolicy {
    /// The user.
    pub user: UserId,
    /// Their role.
    pub role: Role,
    /// The device sending the sync.
    pub device: DeviceId,
    /// The scopes the user may read and write.
    pub scopes: Vec<ScopePath>,
}

fn within(scopes: &[ScopePath], path: &ScopePath) -> bool {
    scopes.iter().any(|s| s.contains(path))
}

impl Policy for RelayPolicy {
    fn readable(&self) -> Option<&[ScopePath]> {
        Some(&self.scopes)
    }

    fn check(&self, incoming: &Incoming<'_>) -> Result<(), Refusal> {
        let actor = actor_of(self.device);
        if let Some(change) = incoming.new_changes.iter().find(|c| c.actor_id() != &actor) {
            return Err(Refusal::new(
                RejectCode::Actor,
                format!(
                    "change {} was made by device {}, not by the device sending it; that device must sync it itself",
                    change.hash(),
                    change.actor_id()
                ),
            ));
        }
        let mut places = vec![incoming.after.meta().community.as_scope()];
        places.extend(incoming.before.map(|b| b.meta().community.as_scope()));
        for place in places {
            if !within(&self.scopes, place) {
                return Err(Refusal::new(
                    RejectCode::Scope,
                    format!(
                        "record is in {place}, outside the scopes {} may write",
                        self.user
                    ),
                ));
            }
        }
        let before_ids: HashSet<EventId> = match incoming.before {
            Some(Record::Wish(w)) => w.events.iter().map(|e| e.id).collect(),
            _ => HashSet::new(),
        };
        let new_events: Vec<&(WishEvent, Option<ActorId>)> = incoming
            .after_events
            .iter()
            .filter(|(e, _)| !before_ids.contains(&e.id))
            .collect();
        for (event, creator) in &new_events {
            if !may_append(self.role, event.kind) {
                return Err(Refusal::new(
                    RejectCode::Role,
                    format!("a {} may not {} a wish", self.role, event.kind),
                ));
            }
            if event.actor != self.user || event.device != self.device || event.role != self.role {
                return Err(Refusal::new(
                    RejectCode::Actor,
                    format!(
                        "event {} claims to be by {} ({}) on {}, but the sender is {} ({}) on {}",
                        event.id,
                        event.actor,
                        event.role,
                        event.device,
                        self.user,
                        self.role,
                        self.device
                    ),
                ));
            }
            if creator.as_ref() != Some(&actor) {
                return Err(Refusal::new(
                    RejectCode::Actor,
                    format!("event {} was written by another device", event.id),
                ));
            }
        }
        if let Record::Wish(after) = incoming.after {
            check_workflow(after, &new_events)?;
            if let Some(Record::Wish(before)) = incoming.before {
                let edited = before.text != after.text
                    || before.category != after.category
                    || before.urgency != after.urgency
                    || before.photos != after.photos
                    || before.household != after.household;
                if edited && !new_events.iter().any(|(e, _)| e.kind == EventKind::Edit) {
                    return Err(Refusal::new(
                        RejectCode::Workflow,
                        "a wish's content changed without an edit event",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A new event that loses in the fold is fine when it lost a race (the
/// winner is something its author had not seen) and refused when its author
/// could see it was not allowed.
fn check_workflow(
    after: &crate::model::WishCard,
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
/// serves the scopes the other asks for. The relay checks everything again.
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

    fn check(&self, incoming: &Incoming<'_>) -> Result<(), Refusal> {
        let place = incoming.after.meta().community.as_scope();
        if within(&self.own, place) {
            Ok(())
        } else {
            Err(Refusal::new(
                RejectCode::Scope,
                format!("this phone does not keep records of {place}"),
            ))
        }
    }
}
