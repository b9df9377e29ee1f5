//! The fold's tests: races, conflicts, resolutions, holders.

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

#[test]
fn notes_are_kept_for_events_that_took_effect_the_latest_of_each_kind() {
    let submit = event(EventKind::Submit, "wang", Role::Worker, 1, None);
    let mut back = event(
        EventKind::RequestInfo,
        "chen",
        Role::Supervisor,
        2,
        Some(submit.id),
    );
    back.note = Some("请补充住址".into());
    let again = event(EventKind::Submit, "wang", Role::Worker, 3, Some(back.id));
    let mut reject = event(
        EventKind::Reject,
        "chen",
        Role::Supervisor,
        4,
        Some(again.id),
    );
    reject.note = Some("  不在帮扶范围内 ".into());
    // Concurrent with the rejection, and later: it loses, so its note is no note of the card.
    let mut approve = event(
        EventKind::Approve,
        "zhou",
        Role::Supervisor,
        5,
        Some(again.id),
    );
    approve.note = Some("同意".into());
    let folded = fold(&[submit, back, again, reject, approve]);
    assert_eq!(folded.status, Status::Rejected);
    let notes: Vec<(EventKind, &str, i64)> = folded
        .notes
        .iter()
        .map(|n| (n.kind, n.text.as_str(), n.at))
        .collect();
    assert_eq!(
        notes,
        [
            (EventKind::RequestInfo, "请补充住址", 2),
            (EventKind::Reject, "不在帮扶范围内", 4)
        ]
    );
}
