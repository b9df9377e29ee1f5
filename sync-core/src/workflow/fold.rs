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
    out.status = next;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DeviceId;
    use crate::workflow::Role;

    fn event(
        kind: EventKind,
        actor: &str,
        role: Role,
        wall_ms: i64,
        base: Option<EventId>,
    ) -> WishEvent {
        WishEvent {
            id: EventId::random(),
            kind,
            actor: UserId::new(actor).unwrap(),
            role,
            device: DeviceId::random(),
            hlc: Hlc {
                wall_ms,
                counter: 0,
            },
            at: wall_ms,
            base,
            note: None,
            claimant: None,
            assignee: None,
            unit: None,
            rating: None,
            target: None,
            reverse: false,
        }
    }

    fn approved() -> Vec<WishEvent> {
        let submit = event(EventKind::Submit, "wang", Role::Worker, 1, None);
        let approve = event(
            EventKind::Approve,
            "chen",
            Role::Supervisor,
            2,
            Some(submit.id),
        );
        vec![submit, approve]
    }

    #[test]
    fn two_concurrent_claims_keep_the_earlier_and_flag_the_later() {
        let mut events = approved();
        let base = events[1].id;
        let first = event(EventKind::Claim, "li", Role::Volunteer, 10, Some(base));
        let second = event(EventKind::Claim, "zhao", Role::Volunteer, 11, Some(base));
        events.extend([second.clone(), first.clone()]);
        let folded = fold(&events);
        assert_eq!(folded.status, Status::Claimed);
        assert_eq!(folded.claimant.as_deref(), Some("li"));
        assert_eq!(folded.conflicts.len(), 1);
        assert_eq!(folded.conflicts[0].event, second.id);
        assert_eq!(folded.conflicts[0].winner, Some(first.id));
        assert_eq!(folded.conflicts[0].kind, ConflictKind::Superseded);

        // Every delivery order gives the same result.
        events.reverse();
        assert_eq!(fold(&events), folded);
    }

    #[test]
    fn a_claim_racing_a_rejection_is_flagged_whichever_wins() {
        let mut events = approved();
        let base = events[1].id;
        let reject = event(EventKind::Reject, "chen", Role::Supervisor, 10, Some(base));
        let claim = event(EventKind::Claim, "li", Role::Volunteer, 12, Some(base));
        events.extend([reject.clone(), claim.clone()]);
        let folded = fold(&events);
        assert_eq!(folded.status, Status::Rejected);
        assert_eq!(folded.conflicts.len(), 1);
        assert_eq!(folded.conflicts[0].event, claim.id);
    }

    #[test]
    fn an_edit_racing_a_withdrawal_is_flagged_in_either_order() {
        let submit = event(EventKind::Submit, "wang", Role::Worker, 1, None);
        for (edit_at, withdraw_at) in [(5, 6), (6, 5)] {
            let edit = event(
                EventKind::Edit,
                "wang",
                Role::Worker,
                edit_at,
                Some(submit.id),
            );
            let withdraw = event(
                EventKind::Withdraw,
                "chen",
                Role::Supervisor,
                withdraw_at,
                Some(submit.id),
            );
            let folded = fold(&[submit.clone(), edit.clone(), withdraw]);
            assert_eq!(folded.status, Status::Withdrawn);
            assert_eq!(folded.conflicts.len(), 1, "edit at {edit_at}");
            assert_eq!(folded.conflicts[0].event, edit.id);
            assert_eq!(folded.conflicts[0].kind, ConflictKind::EditOverridden);
        }
    }

    #[test]
    fn an_edit_the_closer_had_seen_is_no_conflict() {
        let submit = event(EventKind::Submit, "wang", Role::Worker, 1, None);
        let edit = event(EventKind::Edit, "wang", Role::Worker, 2, Some(submit.id));
        let withdraw = event(EventKind::Withdraw, "wang", Role::Worker, 3, Some(edit.id));
        let folded = fold(&[submit, edit, withdraw]);
        assert_eq!(folded.status, Status::Withdrawn);
        assert!(folded.conflicts.is_empty());
    }

    #[test]
    fn resolving_a_conflict_keeps_it_but_marks_it_resolved() {
        let mut events = approved();
        let base = events[1].id;
        let first = event(EventKind::Claim, "li", Role::Volunteer, 10, Some(base));
        let second = event(EventKind::Claim, "zhao", Role::Volunteer, 11, Some(base));
        let mut resolve = event(
            EventKind::ResolveConflict,
            "chen",
            Role::Supervisor,
            20,
            Some(second.id),
        );
        resolve.target = Some(second.id);
        events.extend([first, second, resolve]);
        let folded = fold(&events);
        assert_eq!(folded.conflicts.len(), 1);
        assert!(folded.conflicts[0].resolved);
        assert_eq!(folded.open_conflicts().count(), 0);
    }

    #[test]
    fn a_race_resolved_the_other_way_hands_the_wish_to_the_loser() {
        let mut events = approved();
        let base = events[1].id;
        let first = event(EventKind::Claim, "li", Role::Volunteer, 10, Some(base));
        let second = event(EventKind::Claim, "zhao", Role::Volunteer, 11, Some(base));
        let check_in = event(
            EventKind::CheckIn,
            "li",
            Role::Volunteer,
            12,
            Some(second.id),
        );
        let fulfil = event(
            EventKind::Fulfil,
            "li",
            Role::Volunteer,
            13,
            Some(check_in.id),
        );
        let mut confirm = event(
            EventKind::Confirm,
            "wang",
            Role::Worker,
            14,
            Some(fulfil.id),
        );
        confirm.rating = Some(5);
        events.extend([
            first.clone(),
            second.clone(),
            check_in,
            fulfil.clone(),
            confirm,
        ]);
        let folded = fold(&events);
        assert_eq!(folded.status, Status::Confirmed);
        assert_eq!(
            folded
                .holder
                .as_ref()
                .and_then(|h| h.user.as_ref())
                .map(UserId::as_str),
            Some("li")
        );
        assert_eq!(folded.checked_in_at, Some(12));

        // A plain resolution keeps the first claim.
        let mut keep = event(
            EventKind::ResolveConflict,
            "chen",
            Role::Supervisor,
            20,
            None,
        );
        keep.target = Some(second.id);
        let mut kept = events.clone();
        kept.push(keep);
        assert_eq!(fold(&kept).status, Status::Confirmed);

        let mut reverse = event(
            EventKind::ResolveConflict,
            "chen",
            Role::Supervisor,
            20,
            None,
        );
        reverse.target = Some(second.id);
        reverse.reverse = true;
        events.push(reverse);
        let folded = fold(&events);
        assert_eq!(folded.status, Status::Claimed, "zhao holds it, not done");
        assert_eq!(folded.claimant.as_deref(), Some("zhao"));
        assert_eq!(folded.rating, None);
        let overturned = folded
            .conflicts
            .iter()
            .find(|c| c.event == first.id)
            .unwrap();
        assert_eq!(
            (overturned.kind, overturned.resolved),
            (ConflictKind::Overturned, true)
        );
        assert!(
            folded.open_conflicts().any(|c| c.event == fulfil.id),
            "li's fulfilment no longer counts, and the supervisor sees it"
        );
        events.reverse();
        assert_eq!(fold(&events), folded, "the same in any order");
    }

    #[test]
    fn a_unit_holds_what_its_member_claimed_for_it() {
        let mut events = approved();
        let unit = UnitId::new("shuiwu").unwrap();
        let mut claim = event(
            EventKind::Claim,
            "li",
            Role::Volunteer,
            10,
            Some(events[1].id),
        );
        claim.unit = Some(unit.clone());
        let stranger = event(
            EventKind::Fulfil,
            "zhao",
            Role::Volunteer,
            11,
            Some(claim.id),
        );
        let mut colleague = event(
            EventKind::Fulfil,
            "sun",
            Role::Volunteer,
            12,
            Some(stranger.id),
        );
        colleague.unit = Some(unit.clone());
        events.extend([claim, stranger.clone(), colleague]);
        let folded = fold(&events);
        assert_eq!(folded.status, Status::Fulfilled);
        assert_eq!(
            folded.holder.as_ref().and_then(|h| h.unit.clone()),
            Some(unit)
        );
        assert_eq!(folded.conflicts.len(), 1);
        assert_eq!(folded.conflicts[0].event, stranger.id);
    }

    #[test]
    fn an_assignment_names_a_volunteer_a_unit_or_free_text() {
        let mut events = approved();
        let mut assign = event(
            EventKind::Assign,
            "chen",
            Role::Supervisor,
            10,
            Some(events[1].id),
        );
        assign.claimant = Some("李师傅".into());
        events.push(assign.clone());
        let holder = fold(&events).holder.unwrap();
        assert!(holder.is_free_text());
        assert_eq!(holder.label(), "李师傅");
        assign.claimant = None;
        assign.assignee = Some(UserId::new("li").unwrap());
        events.pop();
        events.push(assign);
        let holder = fold(&events).holder.unwrap();
        assert!(!holder.is_free_text());
        assert_eq!(holder.label(), "li");
    }

    #[test]
    fn only_the_claimant_may_fulfil_unless_a_supervisor_does() {
        let mut events = approved();
        let claim = event(
            EventKind::Claim,
            "li",
            Role::Volunteer,
            10,
            Some(events[1].id),
        );
        let other = event(
            EventKind::Fulfil,
            "zhao",
            Role::Volunteer,
            11,
            Some(claim.id),
        );
        events.extend([claim, other]);
        assert_eq!(fold(&events).status, Status::Claimed);
        let sup = event(EventKind::Fulfil, "chen", Role::Supervisor, 12, None);
        events.push(sup);
        let folded = fold(&events);
        assert_eq!(folded.status, Status::Fulfilled);
        assert_eq!(folded.fulfilled_at, Some(12));
    }

    #[test]
    fn a_fast_clock_orders_events_but_does_not_date_them() {
        let mut events = approved();
        // A claim from a phone a year ahead: everything after it must sort
        // after it, so the supervisor's fulfil gets a clock a year ahead too.
        let year = 365 * 86_400_000;
        let mut claim = event(
            EventKind::Claim,
            "li",
            Role::Volunteer,
            10 + year,
            Some(events[1].id),
        );
        claim.at = 10 + year;
        let mut fulfil = event(
            EventKind::Fulfil,
            "chen",
            Role::Supervisor,
            10 + year,
            Some(claim.id),
        );
        fulfil.hlc.counter = 1;
        fulfil.at = 20; // the relay's own, honest time
        events.extend([claim.clone(), fulfil]);
        let folded = fold(&events);
        assert_eq!(folded.status, Status::Fulfilled);
        assert_eq!(folded.fulfilled_at, Some(20), "dated by its own time");
        // A relay's corrected time for the claim changes dates, never order.
        let corrected = fold_timed(&events, &|e| if e.id == claim.id { 11 } else { e.at });
        assert_eq!(
            (corrected.status, corrected.conflicts.len()),
            (Status::Fulfilled, 0)
        );
    }
}
