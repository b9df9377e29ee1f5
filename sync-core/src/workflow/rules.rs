//! The rules, written once: who may write which record, who may append
//! which event, which status each event leads to, who acts for a wish's
//! holder, and what a volunteer may read.

use super::event::{EventKind, Role, Status, WishEvent};
use super::fold::Holder;
use crate::ids::{ScopePath, UnitId, UserId};
use crate::model::RecordKind;

/// Who may create or change records by their content (a wish card's
/// workflow is the event table below). Columns are worker, volunteer,
/// supervisor, admin.
const RECORD_WRITES: &[(RecordKind, [bool; 4])] = &[
    //                           worker volunteer supervisor admin
    (RecordKind::Household, [true, false, true, true]),
    (RecordKind::Visit, [true, false, true, true]),
    (RecordKind::Wish, [true, false, true, true]),
];

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
    (EventKind::CheckIn, [true, true, true, true]),
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

/// May `role` create a record of this kind, or change its content? A wish
/// card's events are [`may_append`]'s.
pub fn may_write(role: Role, kind: RecordKind) -> bool {
    RECORD_WRITES
        .iter()
        .find(|(k, _)| *k == kind)
        .is_some_and(|(_, roles)| roles[column(role)])
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
        (E::CheckIn, S::Claimed) => Some(S::Claimed),
        (E::Fulfil, S::Claimed) => Some(S::Fulfilled),
        (E::Cancel, S::Approved | S::Claimed) => Some(S::Cancelled),
        (E::Confirm, S::Fulfilled) => Some(S::Confirmed),
        (E::Edit, S::Draft | S::Submitted | S::NeedsInfo) => Some(from),
        (E::ResolveConflict, _) => Some(from),
        _ => None,
    }
}

/// Events a worker or volunteer may append only while they hold the wish
/// (a supervisor may append them for anyone).
pub fn holder_only(role: Role, kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Release | EventKind::Fulfil | EventKind::CheckIn
    ) && matches!(role, Role::Worker | Role::Volunteer)
}

/// Does `user`, acting for `unit`, hold the wish? The holder themselves, or
/// any member of the partner unit that holds it.
pub fn holds(holder: Option<&Holder>, user: &UserId, unit: Option<&UnitId>) -> bool {
    holder.is_some_and(|h| {
        h.user.as_ref() == Some(user) || (h.unit.is_some() && h.unit.as_ref() == unit)
    })
}

/// Who took a wish on at some point, won or lost: each claim's author (and
/// the unit they claimed for), each assignment's volunteer or unit. They
/// may follow the wish from then on, to see how their claim came out.
pub fn takers(events: &[WishEvent]) -> impl Iterator<Item = (Option<&UserId>, Option<&UnitId>)> {
    events.iter().filter_map(|e| match e.kind {
        EventKind::Claim => Some((Some(&e.actor), e.unit.as_ref())),
        EventKind::Assign if e.assignee.is_some() || e.unit.is_some() => {
            Some((e.assignee.as_ref(), e.unit.as_ref()))
        }
        _ => None,
    })
}

/// Whether a user of `role` with `scopes` may manage the account of someone
/// whose scopes are `account`: only an administrator, and only for accounts
/// that lie wholly within their own scopes (a street's administrator manages
/// that street's people, not the district's). An account with no scopes yet
/// is anyone's to set up.
pub fn may_manage_account(role: Role, scopes: &[ScopePath], account: &[ScopePath]) -> bool {
    role == Role::Admin && account.iter().all(|a| scopes.iter().any(|s| s.contains(a)))
}

/// What a reader's rule needs to know of a wish card.
#[derive(Clone, Copy, Debug)]
pub struct Sight<'a> {
    /// Its status.
    pub status: Status,
    /// Who holds it.
    pub holder: Option<&'a Holder>,
    /// Whether the reader (or their unit) took it on at some point (see
    /// [`takers`]).
    pub took_part: bool,
}

/// Who reads: the user, their role and the partner unit they belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    /// The user.
    pub user: UserId,
    /// Their role.
    pub role: Role,
    /// Their partner unit, if they are a unit's member.
    pub unit: Option<UnitId>,
}

impl Reader {
    /// Reads only what the wish wall shows (a volunteer or a unit's
    /// member), not whole records of their scopes.
    pub fn is_volunteer(&self) -> bool {
        self.role == Role::Volunteer
    }

    /// May they receive this record whole, within their scopes? Workers,
    /// supervisors and admins read every record of their scopes. A
    /// volunteer reads no household or visit, and a wish card only while it
    /// is on the wall (approved), while they hold it, or once they took it
    /// on (a claim of theirs that lost, a wish taken back): their history.
    pub fn reads(&self, kind: RecordKind, wish: Option<Sight<'_>>) -> bool {
        if !self.is_volunteer() {
            return true;
        }
        match (kind, wish) {
            (RecordKind::Wish, Some(sight)) => {
                sight.status == Status::Approved
                    || sight.took_part
                    || holds(sight.holder, &self.user, self.unit.as_ref())
            }
            _ => false,
        }
    }

    /// Whether they (or their unit) took this wish on at some point.
    pub fn took_part(&self, events: &[WishEvent]) -> bool {
        takers(events).any(|(user, unit)| {
            user == Some(&self.user) || (unit.is_some() && unit == self.unit.as_ref())
        })
    }

    /// May they see the delivery fields (address, contact name and phone)
    /// of the household a wish came from? Everyone who reads households
    /// may; a volunteer only while they hold the wish and it is not done.
    pub fn sees_delivery(&self, status: Status, holder: Option<&Holder>) -> bool {
        !self.is_volunteer()
            || (matches!(status, Status::Claimed) && holds(holder, &self.user, self.unit.as_ref()))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_an_admin_manages_accounts_and_only_within_their_scopes() {
        let scope = |s: &str| ScopePath::new(s).unwrap();
        let street = [scope("longgang/yuanshan")];
        let community = [scope("longgang/yuanshan/xikeng")];
        let other = [scope("longgang/buji")];
        assert!(may_manage_account(Role::Admin, &street, &community));
        assert!(may_manage_account(Role::Admin, &street, &street));
        assert!(!may_manage_account(Role::Admin, &community, &street));
        assert!(!may_manage_account(Role::Admin, &street, &other));
        assert!(!may_manage_account(
            Role::Admin,
            &street,
            &[community[0].clone(), other[0].clone()]
        ));
        assert!(!may_manage_account(Role::Supervisor, &street, &community));
    }
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
    fn every_record_kind_has_a_write_row_and_volunteers_write_none() {
        for kind in RecordKind::ALL {
            assert!(RECORD_WRITES.iter().any(|(k, _)| k == kind), "{kind}");
            assert!(!may_write(Role::Volunteer, *kind), "{kind}");
            assert!(may_write(Role::Worker, *kind), "{kind}");
        }
    }

    #[test]
    fn a_volunteer_reads_the_wall_and_what_they_hold_only() {
        let li = UserId::new("li").unwrap();
        let unit = UnitId::new("shuiwu").unwrap();
        let volunteer = Reader {
            user: li.clone(),
            role: Role::Volunteer,
            unit: Some(unit.clone()),
        };
        let theirs = Holder {
            user: Some(li.clone()),
            ..Holder::default()
        };
        let units = Holder {
            user: Some(UserId::new("zhao").unwrap()),
            unit: Some(unit.clone()),
            ..Holder::default()
        };
        let others = Holder {
            user: Some(UserId::new("zhao").unwrap()),
            ..Holder::default()
        };
        let sight = |status, holder, took_part| {
            Some(Sight {
                status,
                holder,
                took_part,
            })
        };
        assert!(!volunteer.reads(RecordKind::Household, None));
        assert!(!volunteer.reads(RecordKind::Visit, None));
        assert!(volunteer.reads(RecordKind::Wish, sight(Status::Approved, None, false)));
        assert!(!volunteer.reads(RecordKind::Wish, sight(Status::Submitted, None, false)));
        assert!(!volunteer.reads(
            RecordKind::Wish,
            sight(Status::Claimed, Some(&others), false)
        ));
        assert!(volunteer.reads(
            RecordKind::Wish,
            sight(Status::Claimed, Some(&others), true)
        ));
        assert!(volunteer.reads(
            RecordKind::Wish,
            sight(Status::Claimed, Some(&theirs), false)
        ));
        assert!(volunteer.reads(
            RecordKind::Wish,
            sight(Status::Fulfilled, Some(&units), false)
        ));
        assert!(volunteer.sees_delivery(Status::Claimed, Some(&theirs)));
        assert!(!volunteer.sees_delivery(Status::Claimed, Some(&others)));
        assert!(!volunteer.sees_delivery(Status::Approved, None));
        assert!(!volunteer.sees_delivery(Status::Confirmed, Some(&theirs)));
        let worker = Reader {
            role: Role::Worker,
            ..volunteer
        };
        assert!(worker.reads(RecordKind::Household, None));
        assert!(worker.sees_delivery(Status::Submitted, None));
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
