//! The rules, written once: which role may append which event, and which
//! status each event leads to.

use super::event::{EventKind, Role, Status};

/// Who may append what. One row per event kind; columns are
/// worker, volunteer, supervisor, admin.
const PERMISSIONS: &[(EventKind, [bool; 4])] = &[
    //                           worker volunteer supervisor admin
    (EventKind::Submit, [true, false, false, true]),
    (EventKind::Approve, [false, false, true, true]),
    (EventKind::Reject, [false, false, true, true]),
    (EventKind::RequestInfo, [false, false, true, true]),
    (EventKind::Withdraw, [true, false, true, true]),
    (EventKind::Claim, [true, true, false, true]),
    (EventKind::Assign, [false, false, true, true]),
    (EventKind::Release, [true, true, true, true]),
    (EventKind::Fulfil, [true, true, true, true]),
    (EventKind::Cancel, [false, false, true, true]),
    (EventKind::Confirm, [true, false, true, true]),
    (EventKind::Edit, [true, false, true, true]),
    (EventKind::ResolveConflict, [false, false, true, true]),
];

fn column(role: Role) -> usize {
    match role {
        Role::Worker => 0,
        Role::Volunteer => 1,
        Role::Supervisor => 2,
        Role::Admin => 3,
    }
}

/// May `role` append an event of this kind at all (whatever the card's status)?
pub fn may_append(role: Role, kind: EventKind) -> bool {
    PERMISSIONS
        .iter()
        .find(|(k, _)| *k == kind)
        .is_some_and(|(_, roles)| roles[column(role)])
}

/// The status after `kind` in status `from`, or `None` if the workflow does not
/// allow it. Edits and conflict resolutions keep the status.
pub fn next_status(from: Status, kind: EventKind) -> Option<Status> {
    use EventKind as E;
    use Status as S;
    match (kind, from) {
        (E::Submit, S::Draft | S::NeedsInfo) => Some(S::Submitted),
        (E::Approve, S::Submitted) => Some(S::Approved),
        (E::Reject, S::Submitted | S::NeedsInfo | S::Approved) => Some(S::Rejected),
        (E::RequestInfo, S::Submitted) => Some(S::NeedsInfo),
        (E::Withdraw, S::Draft | S::Submitted | S::NeedsInfo | S::Approved) => Some(S::Withdrawn),
        (E::Claim | E::Assign, S::Approved) => Some(S::Claimed),
        (E::Release, S::Claimed) => Some(S::Approved),
        (E::Fulfil, S::Claimed) => Some(S::Fulfilled),
        (E::Cancel, S::Approved | S::Claimed) => Some(S::Cancelled),
        (E::Confirm, S::Fulfilled) => Some(S::Confirmed),
        (E::Edit, S::Draft | S::Submitted | S::NeedsInfo) => Some(from),
        (E::ResolveConflict, _) => Some(from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_has_a_permission_row() {
        for kind in EventKind::ALL {
            assert!(
                PERMISSIONS.iter().any(|(k, _)| k == kind),
                "{kind} has no row"
            );
        }
    }

    #[test]
    fn a_worker_cannot_review_and_a_volunteer_cannot_submit() {
        assert!(!may_append(Role::Worker, EventKind::Approve));
        assert!(!may_append(Role::Worker, EventKind::Reject));
        assert!(!may_append(Role::Volunteer, EventKind::Submit));
        assert!(may_append(Role::Supervisor, EventKind::Approve));
        assert!(may_append(Role::Worker, EventKind::Claim));
    }

    #[test]
    fn the_happy_path_reaches_confirmed() {
        let path = [
            EventKind::Submit,
            EventKind::Approve,
            EventKind::Claim,
            EventKind::Fulfil,
            EventKind::Confirm,
        ];
        let end = path
            .iter()
            .try_fold(Status::Draft, |s, k| next_status(s, *k));
        assert_eq!(end, Some(Status::Confirmed));
    }

    #[test]
    fn closed_cards_accept_no_further_transitions() {
        for status in Status::ALL.iter().filter(|s| s.is_closed()) {
            for kind in EventKind::ALL {
                if *kind != EventKind::ResolveConflict {
                    assert_eq!(next_status(*status, *kind), None, "{kind} from {status}");
                }
            }
        }
    }
}
