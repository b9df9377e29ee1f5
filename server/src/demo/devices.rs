//! The demo's devices, for the devices page: a worker's phone lost after it
//! met a colleague's (whose phone brings the lost one's last work in, for a
//! supervisor to accept or discard), a phone whose last report left work
//! unsynced days ago, and an old phone switched on with its clock a year
//! ahead.

use std::sync::Arc;

use rusqlite::params;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::store::{Clock, RevokeKind};
use sync_core::sync::{self, PeerSession};
use sync_core::{
    CommunityPath, EventKind, HouseholdId, NewHousehold, NewVisit, NewWish, Role, Store,
};

use super::{DAY, Phone, err};
use crate::error::AppResult;

/// The worker who lost their phone: a colleague of the first community's
/// worker.
pub(super) const LOST_PHONE_USER: &str = "xu";
/// What the lost phone recorded on its last day, offline.
const LOST_WISH: &str = "独居的刘奶奶想换一个带熄火保护的燃气灶";
const LOST_VISIT: &str = "回访刘奶奶：燃气灶打火困难，已拍照记录";

/// `workers` are the communities' workers' phones (with their street), in
/// the order of the demo's communities; `home` a household of the first.
pub(super) fn seed(
    relay: &mut Store,
    workers: &mut [(Phone, usize)],
    home: HouseholdId,
    clock: &Clock,
    advance: impl Fn(i64) -> i64,
) -> AppResult<()> {
    let [(wang, _), _, (sun, _), _, _, (zheng, _)] = workers else {
        return Err(err("six communities"));
    };
    lost_phone(relay, wang, home, clock, &advance)?;
    stranded_report(relay, sun)?;

    // zheng's old phone, switched on again with its clock set a year ahead,
    // records a household and a wish before its first sync: the relay learns
    // the clock's error at that sync and corrects their times.
    let ahead: Clock = {
        let clock = clock.clone();
        Arc::new(move || clock() + 365 * DAY)
    };
    let mut old = zheng.another(relay, "zheng's old phone", &ahead)?;
    let community = CommunityPath::new(old.scopes[0].as_str()).map_err(err)?;
    let author = old.author.clone();
    let household = old
        .store
        .create_household(
            &author,
            &community,
            &NewHousehold {
                address: FAST_CLOCK_ADDRESS.into(),
                head_name: "张建国".into(),
                members: 1,
                ..NewHousehold::default()
            },
        )
        .map_err(err)?;
    let wish = old
        .store
        .create_wish(
            &author,
            &NewWish {
                household,
                text: FAST_CLOCK_WISH.into(),
                category: Category::HomeRepair,
                urgency: Urgency::Normal,
                photos: vec![],
            },
        )
        .map_err(err)?;
    old.event(wish, EventInput::new(EventKind::Submit));
    old.sync(relay)
}

/// What the phone with the fast clock recorded before its first sync.
pub(super) const FAST_CLOCK_WISH: &str = "张爷爷家卫生间需要装一个扶手";
const FAST_CLOCK_ADDRESS: &str = "新村二巷7号";

/// xu joins the first community, syncs, works a day offline, meets wang's
/// phone, and loses the phone that evening. wang's next sync brings xu's
/// visit and wish card to the relay, which holds both.
fn lost_phone(
    relay: &mut Store,
    colleague: &mut Phone,
    home: HouseholdId,
    clock: &Clock,
    advance: &impl Fn(i64) -> i64,
) -> AppResult<()> {
    let scopes: Vec<&str> = colleague.scopes.iter().map(|s| s.as_str()).collect();
    let mut xu = Phone::new(relay, LOST_PHONE_USER, Role::Worker, &scopes, clock)?;
    xu.sync(relay)?;
    advance(20);
    let visit = NewVisit {
        household: home,
        visited_at: xu.store.now(),
        notes: LOST_VISIT.into(),
        needs: "更换燃气灶".into(),
        gps: None,
        follow_up: None,
    };
    xu.store.record_visit(&xu.author, &visit).map_err(err)?;
    let wish = xu
        .store
        .create_wish(
            &xu.author,
            &NewWish {
                household: home,
                text: LOST_WISH.into(),
                category: Category::HomeRepair,
                urgency: Urgency::High,
                photos: vec![],
            },
        )
        .map_err(err)?;
    if !xu.event(wish, EventInput::new(EventKind::Submit)) {
        return Err(err("the lost phone's wish is submitted"));
    }
    advance(2);
    meet(&mut xu, colleague)?;
    advance(4);
    let now = relay.now();
    relay
        .revoke(xu.author.device, RevokeKind::Lost, now)
        .map_err(err)?;
    advance(14);
    colleague.sync(relay)?;
    // The report a sync request carries is made before the request's
    // pushes are answered, so it still counts the held records; the next
    // morning's sync reports nothing left (what the relay holds is not the
    // phone's to send again).
    advance(12);
    colleague.sync(relay)
}

/// Two phones sync with each other, with no relay: `a` starts.
fn meet(a: &mut Phone, b: &mut Phone) -> AppResult<()> {
    let mut mine = PeerSession::new(a.scopes.clone());
    let mut theirs = PeerSession::new(b.scopes.clone());
    let mut message = mine.start(&a.store).map_err(err)?;
    for round in 0..sync::MAX_ROUNDS {
        let next = if round % 2 == 0 {
            theirs.receive(&mut b.store, &message)
        } else {
            mine.receive(&mut a.store, &message)
        }
        .map_err(err)?;
        match next {
            Some(m) => message = m,
            None => return Ok(()),
        }
    }
    Err(err("phone to phone did not finish"))
}

/// sun's phone's last report, four days before the demo's end, left three
/// records unsynced, the oldest written six days before the end. The demo
/// cannot stop a sync part way days ago, so it writes the report such a
/// sync leaves (the relay's `devices` row) directly.
fn stranded_report(relay: &mut Store, phone: &Phone) -> AppResult<()> {
    let now = relay.now();
    relay
        .connection()
        .execute(
            "UPDATE devices SET pending = 3, oldest_pending_at = ?2, reported_at = ?3,
                 last_seen = ?3 WHERE id = ?1",
            params![
                phone.author.device.to_string(),
                now - 6 * DAY,
                now - 4 * DAY
            ],
        )
        .map_err(err)?;
    Ok(())
}
