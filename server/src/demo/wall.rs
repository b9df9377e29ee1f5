//! The demo's wish wall: display names for the district's places and
//! people, a partner unit and its members, wishes dispatched to a
//! volunteer, to the unit and to someone with no account, check-ins, a
//! wish given back, and a claim race a supervisor resolved the other way,
//! so that every wall page, leaderboard and ledger row has something in it.

use sync_core::doc::EventInput;
use sync_core::store::Clock;
use sync_core::{EventKind, Role, ScopePath, Store, UnitId, UserId, WishId};

use super::{Phone, STREET_SUPERVISORS, STREETS, VOLUNTEERS, err, supervise};
use crate::auth::Keys;
use crate::error::AppResult;
use crate::store::People;

/// The demo's partner unit, and its members.
pub(super) const UNIT: (&str, &str) = ("shuiwu", "龙岗区水务局");
/// Members of [`UNIT`], with their display names.
pub(super) const UNIT_MEMBERS: &[(&str, &str)] = &[("zhangjg", "张建国"), ("linxf", "林晓芳")];

/// Display names of the demo's people, by login.
const PEOPLE: &[(&str, &str)] = &[
    ("admin", "系统管理员"),
    ("chen", "陈立新"),
    ("liu", "刘海峰"),
    ("zhou", "周文静"),
    ("wu", "吴国华"),
    ("wang", "王秀英"),
    ("zhao", "赵德明"),
    ("sun", "孙玉珍"),
    ("qian", "钱淑芬"),
    ("li", "李建军"),
    ("zheng", "郑丽娟"),
    ("xu", "徐小明"),
    ("hu", "胡志强"),
    ("ma", "马丽娟"),
];

/// Names the district's places and people.
pub(super) fn name_everything(relay: &mut Store) -> AppResult<()> {
    let place = |path: String| ScopePath::new(path).map_err(err);
    People::set_place_name(relay, &place("longgang".into())?, Some("龙岗区"))?;
    for (street, street_name, communities) in STREETS {
        People::set_place_name(
            relay,
            &place(format!("longgang/{street}"))?,
            Some(street_name),
        )?;
        for (community, name) in communities {
            let path = place(format!("longgang/{street}/{community}"))?;
            People::set_place_name(relay, &path, Some(name))?;
        }
    }
    for (login, name) in PEOPLE {
        let user = UserId::new(*login).map_err(err)?;
        let phone = format!("139{:08}", 10_000_000 + login.len() * 1_234_567);
        People::set_profile(relay, &user, Some(name), Some(&phone), None)?;
    }
    Ok(())
}

/// The supervisor of the street a card is in, who acts on it.
fn supervisor_of(relay: &Store, id: WishId) -> AppResult<&'static str> {
    let record = relay.record(id.record()).map_err(err)?;
    let street = record.meta().community.street();
    STREETS
        .iter()
        .position(|(s, _, _)| street.as_str() == format!("longgang/{s}"))
        .map(|i| STREET_SUPERVISORS[i])
        .ok_or_else(|| err(format!("no supervisor for {street}")))
}

/// The partner unit and its members' phones.
pub(super) fn unit_members(relay: &mut Store, clock: &Clock) -> AppResult<Vec<Phone>> {
    let unit = UnitId::new(UNIT.0).map_err(err)?;
    let now = relay.now();
    People::put_unit(relay, &unit, UNIT.1, now)?;
    let mut phones = Vec::new();
    for (login, name) in UNIT_MEMBERS {
        let phone = Phone::new(relay, login, Role::Volunteer, &["longgang"], clock)?;
        People::set_profile(
            relay,
            &phone.author.user,
            Some(name),
            None,
            Some(Some(&unit)),
        )?;
        phones.push(phone);
    }
    Ok(phones)
}

/// The approved wishes nobody claimed on their phone: some go to the unit
/// (a member claims for it, or a supervisor dispatches to it), some are
/// dispatched to a volunteer, one to a helper with no account. Returns the
/// wishes the unit's first member holds, to light up with the others.
pub(super) fn dispatch(
    relay: &mut Store,
    keys: &Keys,
    members: &mut [Phone],
    unclaimed: &[WishId],
) -> AppResult<Vec<WishId>> {
    let unit = UnitId::new(UNIT.0).map_err(err)?;
    let mut for_unit = Vec::new();
    for phone in members.iter_mut() {
        phone.sync(relay)?;
    }
    for (i, id) in unclaimed.iter().enumerate() {
        match i % 6 {
            0 | 1 => {
                let claim = EventInput {
                    unit: Some(unit.clone()),
                    ..EventInput::new(EventKind::Claim)
                };
                if members[0].event(*id, claim) {
                    for_unit.push(*id);
                }
            }
            2 => {
                let to_unit = EventInput {
                    unit: Some(unit.clone()),
                    ..EventInput::new(EventKind::Assign)
                };
                let by = supervisor_of(relay, *id)?;
                supervise(relay, keys, by, *id, to_unit)?;
            }
            3 => {
                let to_hu = EventInput {
                    assignee: Some(UserId::new(VOLUNTEERS[0]).map_err(err)?),
                    ..EventInput::new(EventKind::Assign)
                };
                let by = supervisor_of(relay, *id)?;
                supervise(relay, keys, by, *id, to_hu)?;
            }
            4 if i < 12 => {
                let free = EventInput {
                    claimant: Some("李师傅（社区电工）".into()),
                    ..EventInput::new(EventKind::Assign)
                };
                let by = supervisor_of(relay, *id)?;
                supervise(relay, keys, by, *id, free)?;
            }
            _ => {}
        }
    }
    for phone in members.iter_mut() {
        phone.sync(relay)?;
    }
    Ok(for_unit)
}

/// The holder checks in at the community before doing the work (every
/// other wish of `ids`), for `unit` if they hold it for one.
pub(super) fn check_in<'a>(
    phone: &mut Phone,
    unit: Option<&UnitId>,
    ids: impl Iterator<Item = &'a WishId>,
) {
    for id in ids.step_by(2) {
        let input = EventInput {
            unit: unit.cloned(),
            ..EventInput::new(EventKind::CheckIn)
        };
        phone.event(*id, input);
    }
}

/// The unit's id.
pub(super) fn unit_id() -> AppResult<UnitId> {
    UnitId::new(UNIT.0).map_err(err)
}

/// A supervisor resolves the first open claim race the other way (the
/// later claim wins; the first holder's fulfilment and points no longer
/// count), and the others the plain way; one volunteer gives a wish back.
pub(super) fn resolve(
    relay: &mut Store,
    keys: &Keys,
    volunteers: &mut [Phone],
    claimed: &[(usize, WishId)],
) -> AppResult<()> {
    let longgang = [ScopePath::new("longgang").map_err(err)?];
    let races: Vec<_> = relay
        .conflicts(&longgang, false)?
        .into_iter()
        .filter(|c| c.event_kind == "claim" && c.kind == "superseded")
        .collect();
    for (i, race) in races.iter().enumerate() {
        let id: WishId = race.record_id.parse().map_err(err)?;
        let input = EventInput {
            target: Some(race.event_id.parse().map_err(err)?),
            reverse: i == 0,
            ..EventInput::new(EventKind::ResolveConflict).with_note(if i == 0 {
                "经电话核实，由后一位志愿者负责"
            } else {
                "已电话确认由先认领者负责"
            })
        };
        // The rest stay open for the supervisor to see.
        if i < 2 {
            let by = supervisor_of(relay, id)?;
            supervise(relay, keys, by, id, input)?;
        }
    }
    // hu gives back one wish they hold but have not lit up.
    let hu = volunteers
        .iter_mut()
        .find(|p| p.author.user.as_str() == VOLUNTEERS[0])
        .ok_or_else(|| err("no volunteer hu"))?;
    hu.sync(relay)?;
    for (v, id) in claimed {
        if *v == 0
            && hu.event(
                *id,
                EventInput::new(EventKind::Release).with_note("临时出差，无法完成"),
            )
        {
            break;
        }
    }
    hu.sync(relay)
}

/// Who the demo's volunteers and unit members are, for the welcome text.
pub(super) fn welcome() -> String {
    let members: Vec<&str> = UNIT_MEMBERS.iter().map(|(login, _)| *login).collect();
    format!(
        "{} (on the wish wall at /wall); {} of partner unit {} ({})",
        VOLUNTEERS.join(", "),
        members.join(", "),
        UNIT.0,
        UNIT.1
    )
}
