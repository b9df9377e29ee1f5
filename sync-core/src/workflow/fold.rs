//! The deterministic fold from a card's events to its status and conflicts.
//!
//! Every replica sorts the same set of events by `(hlc, id)` and folds them in
//! that order, so all replicas agree on the status and on which events lost.
//! A losing event is never dropped: it stays in the document and is reported
//! as a [`Conflict`] until a supervisor resolves it.
//!
//! # Who wins a race, and what a wrong clock does to it
//!
//! This is the one rule that orders events, everywhere. An event's clock
//! (`hlc`) is above every event its author had seen, so an event always
//! comes after what it answers: causality never depends on clocks. Only
//! events made without seeing each other (two claims made offline) are
//! ordered by their authors' clocks, earlier first, and the later one loses.
//!
//! A phone's clock can be wrong. Each phone learns its error from the relay
//! at every sync (and at login) and corrects its own stamps from then on, so
//! a phone that has synced since its clock went wrong races fairly. A phone
//! whose error is not known yet (it has never synced, or its clock jumped
//! while offline) races with its wrong clock: running behind by a day, its
//! claim wins against claims made up to a day before it; running ahead, it
//! loses. Every replica still agrees on the winner, the loser is kept and
//! shown as a conflict, and the relay flags the device's clock and corrects
//! its times in statistics. Times people see and count (`submitted_at` and
//! the rest) come from each event's own time (`at`), never from `hlc`, which
//! may run ahead of real time after an event from a fast clock.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::event::{EventKind, Hlc, Status, WishEvent};
use super::rules::{holder_only, holds, next_status};
use crate::ids::{EventId, UnitId, UserId};

/// Why an event lost.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A workflow event arrived after a concurrent one had moved the card to a
    /// status where it no longer applies: two claims of one wish, a claim
    /// against a rejection.
    Superseded,
    /// An edit of the card's content raced a withdrawal, rejection or
    /// cancellation. The edited text is kept in the document.
    EditOverridden,
    /// A supervisor resolved the race the other way: the event this one
    /// had beaten wins instead. Resolved from the start.
    Overturned,
}

impl ConflictKind {
    /// The stable text form.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConflictKind::Superseded => "superseded",
            ConflictKind::EditOverridden => "edit_overridden",
            ConflictKind::Overturned => "overturned",
        }
    }
}

/// One event that lost to a concurrent one.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    /// The losing event, which also names the conflict.
    pub event: EventId,
    /// The losing event's kind.
    pub event_kind: EventKind,
    /// The event it lost to, if there was one.
    pub winner: Option<EventId>,
    /// Why it lost.
    pub kind: ConflictKind,
    /// The status the card had when the losing event was folded.
    pub status: Status,
    /// True once a supervisor has resolved it.
    pub resolved: bool,
}

/// Who holds a claimed wish: a registered volunteer (or worker), a partner
/// unit (through the member who claimed for it, or dispatched to the unit
/// as a whole), or a claimant named in free text, who has no account.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Holder {
    /// The registered user who holds it.
    pub user: Option<UserId>,
    /// The partner unit it is held for.
    pub unit: Option<UnitId>,
    /// A claimant with no account, as the supervisor typed them.
    pub name: Option<String>,
}

impl Holder {
    fn of(event: &WishEvent) -> Holder {
        match event.kind {
            EventKind::Claim => Holder {
                user: Some(event.actor.clone()),
                unit: event.unit.clone(),
                name: None,
            },
            _ => Holder {
                user: event.assignee.clone(),
                unit: event.unit.clone(),
                name: event
                    .claimant
                    .clone()
                    .filter(|_| event.assignee.is_none() && event.unit.is_none()),
            },
        }
    }

    /// How it is shown where no display name is known: the user's login,
    /// else the unit's id, else the free-text name.
    pub fn label(&self) -> String {
        self.user
            .as_ref()
            .map(|u| u.as_str().to_owned())
            .or_else(|| self.unit.as_ref().map(|u| u.as_str().to_owned()))
            .or_else(|| self.name.clone())
            .unwrap_or_default()
    }

    /// True for a claimant named in free text, who has no account.
    pub fn is_free_text(&self) -> bool {
        self.user.is_none() && self.unit.is_none()
    }
}

/// The outcome of folding a card's events.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Folded {
    /// The current status.
    pub status: Status,
    /// Who holds the wish from its claim on (kept once it is fulfilled and
    /// confirmed: who did it).
    pub holder: Option<Holder>,
    /// The holder as text ([`Holder::label`]).
    pub claimant: Option<String>,
    /// Wall time of the holder's check-in at the community (报到).
    pub checked_in_at: Option<i64>,
    /// Wall time of the first submission.
    pub submitted_at: Option<i64>,
    /// Wall time of the first review decision (approve, reject, request_info).
    pub reviewed_at: Option<i64>,
    /// Wall time the wish was fulfilled.
    pub fulfilled_at: Option<i64>,
    /// Wall time the resident confirmed.
    pub confirmed_at: Option<i64>,
    /// The resident's rating.
    pub rating: Option<u8>,
    /// The last event in fold order: a new event's `base`.
    pub last_event: Option<EventId>,
    /// The largest clock among the events: a new event's clock must exceed it.
    pub max_hlc: Option<Hlc>,
    /// Events that lost, in fold order.
    pub conflicts: Vec<Conflict>,
    /// What people wrote on the events that took effect: the latest note
    /// of each kind (a rejection's or a send-back's reason, a fulfilment's
    /// note, the resident's comment), in the order they were written.
    #[serde(default)]
    pub notes: Vec<Note>,
}

/// The note of an event that took effect.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Note {
    /// The event's kind: `reject`, `request_info`, `cancel`, `confirm`, …
    pub kind: EventKind,
    /// What its author wrote.
    pub text: String,
    /// When (wall time, corrected where the relay corrected it).
    pub at: i64,
}

impl Folded {
    /// Conflicts a supervisor has not resolved yet.
    pub fn open_conflicts(&self) -> impl Iterator<Item = &Conflict> {
        self.conflicts.iter().filter(|c| !c.resolved)
    }
}

/// Folds events (in any order, duplicates allowed) into the card's state.
pub fn fold(events: &[WishEvent]) -> Folded {
    fold_timed(events, &|e| e.at)
}

/// [`fold`], with the times recorded (submitted, reviewed, fulfilled,
/// confirmed) taken from `time`: a relay gives the times it corrected for
/// devices whose clocks were wrong. The order, and so the status and the
/// conflicts, are the same whatever `time` says.
pub fn fold_timed(events: &[WishEvent], time: &dyn Fn(&WishEvent) -> i64) -> Folded {
    let first = fold_once(events, time, &HashSet::new());
    // A resolution "the other way" makes the event a conflict names win: the
    // event it lost to is folded as a loser, and everything after it is
    // judged again (the first holder's fulfilment no longer counts).
    let reversing: Vec<EventId> = events
        .iter()
        .filter(|e| e.kind == EventKind::ResolveConflict && e.reverse)
        .filter_map(|e| e.target)
        .collect();
    if reversing.is_empty() {
        return first;
    }
    let overturned: HashSet<EventId> = first
        .conflicts
        .iter()
        .filter(|c| reversing.contains(&c.event) && c.kind == ConflictKind::Superseded)
        .filter(|c| matches!(c.event_kind, EventKind::Claim | EventKind::Assign))
        .filter_map(|c| c.winner)
        .collect();
    if overturned.is_empty() {
        return first;
    }
    fold_once(events, time, &overturned)
}

fn fold_once(
    events: &[WishEvent],
    time: &dyn Fn(&WishEvent) -> i64,
    overturned: &HashSet<EventId>,
) -> Folded {
    let mut order: Vec<&WishEvent> = events.iter().collect();
    order.sort_by_key(|e| (e.hlc, e.id));
    order.dedup_by_key(|e| e.id);
    let position: HashMap<EventId, usize> =
        order.iter().enumerate().map(|(i, e)| (e.id, i)).collect();

    let mut out = Folded::default();
    let mut resolved = HashSet::new();
    let mut status_event: Option<&WishEvent> = None;
    let mut applied_edits: Vec<usize> = Vec::new();

    for (i, event) in order.iter().enumerate() {
        out.last_event = Some(event.id);
        out.max_hlc = Some(event.hlc);
        if event.kind == EventKind::ResolveConflict {
            resolved.extend(event.target);
            continue;
        }
        if overturned.contains(&event.id) {
            out.conflicts.push(Conflict {
                event: event.id,
                event_kind: event.kind,
                winner: None,
                kind: ConflictKind::Overturned,
                status: out.status,
                resolved: false,
            });
            resolved.insert(event.id);
            continue;
        }
        let next = next_status(out.status, event.kind).filter(|_| holder_may_act(&out, event));
        let Some(next) = next else {
            out.conflicts.push(Conflict {
                event: event.id,
                event_kind: event.kind,
                winner: status_event.map(|w| w.id),
                kind: if event.kind == EventKind::Edit {
                    ConflictKind::EditOverridden
                } else {
                    ConflictKind::Superseded
                },
                status: out.status,
                resolved: false,
            });
            continue;
        };
        if event.kind == EventKind::Edit {
            applied_edits.push(i);
            continue;
        }
        if matches!(
            next,
            Status::Withdrawn | Status::Rejected | Status::Cancelled
        ) {
            // Edits its author had not seen when closing the card lost to it.
            let seen_up_to = event.base.and_then(|b| position.get(&b).copied());
            for &j in applied_edits
                .iter()
                .filter(|&&j| seen_up_to.is_none_or(|s| j > s))
            {
                out.conflicts.push(Conflict {
                    event: order[j].id,
                    event_kind: EventKind::Edit,
                    winner: Some(event.id),
                    kind: ConflictKind::EditOverridden,
                    status: next,
                    resolved: false,
                });
            }
        }
        apply(&mut out, event, next, time(event));
        status_event = Some(event);
    }
    for conflict in &mut out.conflicts {
        conflict.resolved = resolved.contains(&conflict.event);
    }
    out
}

/// A worker or volunteer may only check in for, release or fulfil a wish
/// they hold.
fn holder_may_act(state: &Folded, event: &WishEvent) -> bool {
    !holder_only(event.role, event.kind)
        || holds(state.holder.as_ref(), &event.actor, event.unit.as_ref())
}

fn apply(out: &mut Folded, event: &WishEvent, next: Status, at: i64) {
    match event.kind {
        EventKind::Submit => {
            out.submitted_at.get_or_insert(at);
        }
        EventKind::Approve | EventKind::Reject | EventKind::RequestInfo => {
            out.reviewed_at.get_or_insert(at);
        }
        EventKind::Claim | EventKind::Assign => {
            let holder = Holder::of(event);
            out.claimant = Some(holder.label());
            out.holder = Some(holder);
            out.checked_in_at = None;
        }
        EventKind::Release | EventKind::Cancel => {
            out.claimant = None;
            out.holder = None;
            out.checked_in_at = None;
        }
        EventKind::CheckIn => {
            out.checked_in_at.get_or_insert(at);
        }
        EventKind::Fulfil => out.fulfilled_at = Some(at),
        EventKind::Confirm => {
            out.confirmed_at = Some(at);
            out.rating = event.rating;
        }
        EventKind::Withdraw | EventKind::Edit | EventKind::ResolveConflict => {}
    }
    if let Some(text) = event
        .note
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        out.notes.retain(|n| n.kind != event.kind);
        out.notes.push(Note {
            kind: event.kind,
            text: text.to_owned(),
            at,
        });
    }
    out.status = next;
}

#[cfg(test)]
mod tests;
