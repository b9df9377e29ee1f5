//! Contract checks of accounts beyond the first ones (see the parent
//! module): passwords and one-time codes, roles, disabling, the rules of
//! device registration, web devices, the audit log and failed logins; and
//! the snapshot
//! two stores given the same steps must agree on.

use std::fmt::Write as _;

use sync_core::keys::DeviceKey;
use sync_core::model::MAX_NAME_CHARS;
use sync_core::store::RevokeKind;
use sync_core::{DeviceId, Role};

use super::{DAY, SECRET, name, scope, with_users};
use crate::accounts::Device;
use crate::audit::{Action, Entry, Filter};
use crate::error::AppError;
use crate::store::{LoginFailures, RelayStore};

/// What a store shows of its accounts: users with their passwords, devices
/// (without their ids, which are random, and sorted, since devices made in
/// the same millisecond list in the order of their random ids), and the
/// whole audit log.
pub(super) fn snapshot(store: &mut dyn RelayStore) -> String {
    let mut out = String::new();
    for user in store.list_users().unwrap() {
        let c = store.credentials(user.username.as_str()).unwrap().unwrap();
        writeln!(
            out,
            "{user:?} password {} until {:?}",
            c.password_hash, c.password_expires_at
        )
        .unwrap();
    }
    let mut devices: Vec<String> = store
        .list_devices()
        .unwrap()
        .into_iter()
        .map(|d| {
            format!(
                "{:?}",
                Device {
                    id: DeviceId::from_bytes([0; 16]),
                    ..d
                }
            )
        })
        .collect();
    devices.sort();
    for device in devices {
        writeln!(out, "{device}").unwrap();
    }
    for entry in store.audit_log(&Filter::default()).unwrap() {
        writeln!(out, "{entry:?}").unwrap();
    }
    out
}

fn phone_of(store: &mut dyn RelayStore, user: &str, at: i64) -> DeviceId {
    let phone = DeviceId::random();
    store
        .register_device(&name(user), phone, "phone", "phone", None, at)
        .unwrap();
    phone
}

pub(super) fn passwords(store: &mut dyn RelayStore) {
    with_users(store);
    let wang = name("wang");
    let phone = phone_of(store, "wang", 0);
    let chain = store.issue_refresh(phone, DAY, 0).unwrap();
    let session = store.start_web_session(&wang, SECRET, DAY, 0).unwrap();
    let chens = store
        .start_web_session(&name("chen"), SECRET, DAY, 0)
        .unwrap();

    // An administrator's one-time code: good only to choose a password,
    // until it expires; every session of the user ends.
    store
        .set_password(&wang, "hash-of-a-code", Some(100 + DAY), 100)
        .unwrap();
    let code = store.credentials("wang").unwrap().unwrap();
    assert_eq!(code.password_hash, "hash-of-a-code");
    assert_eq!(code.password_expires_at, Some(100 + DAY));
    assert!(code.user.must_change_password);
    assert!(store.user("wang").unwrap().unwrap().must_change_password);
    let ended = store.rotate_refresh(&chain, DAY, 101);
    assert!(
        matches!(&ended, Err(AppError::InvalidToken(m)) if m == "refresh token is not valid"),
        "a revoked chain is not valid, and not a replay: {ended:?}"
    );
    assert_eq!(store.web_session(&session, 101).unwrap(), None);
    assert!(
        store.web_session(&chens, 101).unwrap().is_some(),
        "other users' sessions go on"
    );

    // Their own new password ends the code, and whatever began with it.
    let during = store.start_web_session(&wang, SECRET, DAY, 110).unwrap();
    store
        .set_password(&wang, "hash-of-wang-2", None, 120)
        .unwrap();
    let chosen = store.credentials("wang").unwrap().unwrap();
    assert_eq!(
        (chosen.password_hash.as_str(), chosen.password_expires_at),
        ("hash-of-wang-2", None)
    );
    assert!(!chosen.user.must_change_password);
    assert_eq!(store.web_session(&during, 121).unwrap(), None);
    let next = store.issue_refresh(phone, DAY, 130).unwrap();
    store.rotate_refresh(&next, DAY, 131).unwrap();

    let nobody = store.set_password(&name("nobody"), "x", None, 140);
    assert!(matches!(nobody, Err(AppError::NotFound(_))), "{nobody:?}");
    assert!(store.credentials("nobody").unwrap().is_none());
}

pub(super) fn roles(store: &mut dyn RelayStore) {
    with_users(store);
    let wang = name("wang");
    let before = store.user("wang").unwrap().unwrap();

    // A role alone keeps the scopes.
    store.set_role(&wang, Some(Role::Supervisor), &[]).unwrap();
    let promoted = store.user("wang").unwrap().unwrap();
    assert_eq!(promoted.role, Role::Supervisor);
    assert_eq!(promoted.scopes, before.scopes);

    // Scopes alone keep the role, replace the old ones, come back sorted by
    // their bytes (`-` before letters), each once.
    let scopes = [
        scope("longgang/ab"),
        scope("longgang/a-c"),
        scope("longgang/ab"),
    ];
    store.set_role(&wang, None, &scopes).unwrap();
    let moved = store.user("wang").unwrap().unwrap();
    assert_eq!(moved.role, Role::Supervisor);
    assert_eq!(moved.scopes, [scope("longgang/a-c"), scope("longgang/ab")]);
    assert_eq!(store.credentials("wang").unwrap().unwrap().user, moved);

    store.set_role(&wang, Some(Role::Volunteer), &[]).unwrap();
    assert_eq!(store.user("wang").unwrap().unwrap().role, Role::Volunteer);
    let nobody = store.set_role(&name("nobody"), Some(Role::Admin), &[]);
    assert!(matches!(nobody, Err(AppError::NotFound(_))), "{nobody:?}");

    // Users list by the bytes of their names: capitals first.
    store
        .insert_user(&name("Zhao"), Role::Admin, &[], "hash-of-zhao", 2)
        .unwrap();
    store
        .insert_user(&name("a.li"), Role::Worker, &[], "hash-of-li", 2)
        .unwrap();
    let names: Vec<String> = store
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.username.to_string())
        .collect();
    assert_eq!(names, ["Zhao", "a.li", "chen", "wang"]);
    let zhao = store.user("Zhao").unwrap().unwrap();
    assert!(zhao.scopes.is_empty());
    assert_eq!(store.user("zhao").unwrap(), None, "names are exact");
}

pub(super) fn disabling(store: &mut dyn RelayStore) {
    with_users(store);
    let wang = name("wang");
    let phone = phone_of(store, "wang", 0);
    let chain = store.issue_refresh(phone, DAY, 0).unwrap();
    let session = store.start_web_session(&wang, SECRET, DAY, 0).unwrap();
    let web = store.web_session(&session, 1).unwrap().unwrap().device;

    store.disable_user("wang", 50).unwrap();
    assert!(store.user("wang").unwrap().unwrap().disabled);
    assert!(store.credentials("wang").unwrap().unwrap().user.disabled);
    assert_eq!(store.device(phone).unwrap().unwrap().standing, "retired");
    assert_eq!(store.device(phone).unwrap().unwrap().revoked_at, None);
    assert_eq!(store.web_session(&session, 51).unwrap(), None);
    let (_, _, chain) = store.rotate_refresh(&chain, DAY, 52).unwrap();
    // Disabling again is no error.
    store.disable_user("wang", 60).unwrap();

    store.enable_user("wang").unwrap();
    assert!(!store.user("wang").unwrap().unwrap().disabled);
    assert_eq!(store.device(phone).unwrap().unwrap().standing, "active");
    assert_eq!(
        store.web_session(&session, 61).unwrap(),
        None,
        "an ended session stays ended"
    );
    let again = store.start_web_session(&wang, SECRET, DAY, 70).unwrap();
    assert_eq!(store.web_session(&again, 71).unwrap().unwrap().device, web);
    store.rotate_refresh(&chain, DAY, 72).unwrap();

    // A lost device of a disabled user is lost; a retired one retired.
    let lost = phone_of(store, "wang", 80);
    let retired = phone_of(store, "wang", 81);
    store.revoke_device(lost, RevokeKind::Lost, 82).unwrap();
    store
        .revoke_device(retired, RevokeKind::Retired, 83)
        .unwrap();
    store.disable_user("wang", 84).unwrap();
    assert_eq!(store.device(lost).unwrap().unwrap().standing, "lost");
    assert_eq!(store.device(retired).unwrap().unwrap().standing, "retired");
    assert!(
        !store.user("chen").unwrap().unwrap().disabled,
        "only the one user"
    );
    assert!(matches!(
        store.disable_user("nobody", 90),
        Err(AppError::NotFound(_))
    ));
}

pub(super) fn device_rules(store: &mut dyn RelayStore) {
    with_users(store);
    let wang = name("wang");
    let phone = DeviceId::random();
    store
        .register_device(&wang, phone, "  wang's phone \t", "phone", None, 10)
        .unwrap();
    let found = store.device(phone).unwrap().unwrap();
    assert_eq!(found.name, "wang's phone", "trimmed");
    assert_eq!(
        (found.last_seen, found.has_key, found.standing.as_str()),
        (Some(10), false, "active")
    );
    let long = "长".repeat(MAX_NAME_CHARS + 20);
    store
        .register_device(&wang, phone, &long, "phone", None, 11)
        .unwrap();
    assert_eq!(
        store.device(phone).unwrap().unwrap().name.chars().count(),
        MAX_NAME_CHARS,
        "cut"
    );
    store
        .register_device(&wang, phone, "   ", "phone", None, 12)
        .unwrap();
    assert_eq!(store.device(phone).unwrap().unwrap().name, "");
    let bell = store.register_device(&wang, phone, "ring\u{7}", "phone", None, 13);
    assert!(matches!(bell, Err(AppError::BadRequest(_))), "{bell:?}");
    let bidi = store.register_device(&wang, DeviceId::random(), "a\u{202e}b", "phone", None, 13);
    assert!(matches!(bidi, Err(AppError::BadRequest(_))), "{bidi:?}");
    assert_eq!(store.device(phone).unwrap().unwrap().last_seen, Some(12));

    // A device without a key takes the first one it presents.
    let key = DeviceKey::generate(phone).unwrap().public();
    store
        .register_device(&wang, phone, "phone", "phone", Some(key), 14)
        .unwrap();
    assert!(store.device(phone).unwrap().unwrap().has_key);
    store
        .register_device(&wang, phone, "phone", "phone", None, 15)
        .unwrap();
    assert!(store.device(phone).unwrap().unwrap().has_key, "kept");

    let nobody = store.register_device(&name("nobody"), DeviceId::random(), "x", "phone", None, 16);
    assert!(matches!(nobody, Err(AppError::Conflict(_))), "{nobody:?}");

    // Retired, then lost: lost from the first time; never back to retired.
    store.revoke_device(phone, RevokeKind::Retired, 20).unwrap();
    let retired = store.device(phone).unwrap().unwrap();
    assert_eq!(
        (retired.standing.as_str(), retired.revoked_at),
        ("retired", Some(20))
    );
    store.revoke_device(phone, RevokeKind::Lost, 30).unwrap();
    store.revoke_device(phone, RevokeKind::Retired, 40).unwrap();
    let lost = store.device(phone).unwrap().unwrap();
    assert_eq!(
        (lost.standing.as_str(), lost.revoked_at),
        ("lost", Some(20))
    );
    // Seen after revocation still notes it; an unknown device is no error.
    store.device_seen(phone, 50).unwrap();
    assert_eq!(store.device(phone).unwrap().unwrap().last_seen, Some(50));
    store.device_seen(DeviceId::random(), 50).unwrap();
}

pub(super) fn web_devices(store: &mut dyn RelayStore) {
    with_users(store);
    let (chen, wang) = (name("chen"), name("wang"));
    let unknown = store.web_device(&name("nobody"), SECRET, 0);
    assert!(matches!(unknown, Err(AppError::Conflict(_))), "{unknown:?}");

    let web = store.web_device(&chen, SECRET, 10).unwrap();
    let found = store.device(web).unwrap().unwrap();
    assert_eq!(
        (
            found.username.as_str(),
            found.name.as_str(),
            found.kind.as_str(),
            found.has_key
        ),
        ("chen", "dashboard", "web", true)
    );
    let wangs = store.web_device(&wang, SECRET, 11).unwrap();
    assert_ne!(wangs, web, "one per user");

    // Retired: its sessions end, and the next use makes a new one.
    let session = store.start_web_session(&chen, SECRET, DAY, 20).unwrap();
    store.revoke_device(web, RevokeKind::Retired, 30).unwrap();
    assert_eq!(store.web_session(&session, 31).unwrap(), None);
    let second = store.web_device(&chen, SECRET, 40).unwrap();
    assert_ne!(second, web);
    assert_eq!(store.web_device(&chen, SECRET, 41).unwrap(), second);

    // A new secret: a new device at the next session; back to the old
    // secret, yet another (only the newest device is reused).
    let other: &[u8] = b"another relay secret, thirty-two bytes";
    let session = store.start_web_session(&chen, other, DAY, 50).unwrap();
    let third = store.web_session(&session, 51).unwrap().unwrap().device;
    assert!(![web, second].contains(&third));
    let fourth = store.web_device(&chen, SECRET, 60).unwrap();
    assert!(![web, second, third].contains(&fourth));
    assert_eq!(store.web_device(&chen, SECRET, 61).unwrap(), fourth);
    assert_eq!(
        store.web_device(&wang, SECRET, 62).unwrap(),
        wangs,
        "others' stay"
    );
    let kinds: Vec<(String, String)> = store
        .list_devices()
        .unwrap()
        .into_iter()
        .map(|d| (d.username, d.standing))
        .collect();
    assert_eq!(
        kinds,
        [
            ("chen".into(), "active".into()),
            ("chen".into(), "active".into()),
            ("chen".into(), "active".into()),
            ("wang".into(), "active".into()),
            ("chen".into(), "retired".into()),
        ]
    );
}

pub(super) fn audit_log(store: &mut dyn RelayStore) {
    let entries = [
        Entry::new(300, None, Action::LoginFailed)
            .on("wang")
            .detail("wrong user name or password")
            .from_peer(Some("10.0.0.1:5000".parse().unwrap())),
        Entry::new(100, Some("chen"), Action::UserAdded).on("wang"),
        Entry::new(200, Some("wang"), Action::Login),
        Entry::new(200, Some("cli"), Action::UserDisabled).on("li"),
        Entry::new(400, Some("chen"), Action::DeviceRevoked).on("a-device"),
    ];
    for entry in &entries {
        store.append_audit(entry).unwrap();
    }
    let read = |store: &dyn RelayStore, filter: Filter| -> Vec<i64> {
        let stored = store.audit_log(&filter).unwrap();
        // Each by its position in `entries`, found by what it holds.
        stored
            .iter()
            .map(|s| {
                entries
                    .iter()
                    .position(|e| {
                        (e.at, &e.actor, e.action, &e.target, &e.detail, &e.peer)
                            == (s.at, &s.actor, s.action, &s.target, &s.detail, &s.peer)
                    })
                    .expect("an entry as it was appended") as i64
            })
            .collect()
    };
    // Newest first: by the order appended, not by time.
    assert_eq!(read(store, Filter::default()), [4, 3, 2, 1, 0]);
    let all = store.audit_log(&Filter::default()).unwrap();
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "{all:?}");
    assert_eq!(all[4].peer.as_deref(), Some("10.0.0.1"));
    assert_eq!(all[4].actor, None);
    assert_eq!(all[2].target, None);
    assert_eq!(all[1].detail, "");

    let f = |action, who: Option<&str>, from, to| Filter {
        action,
        who: who.map(str::to_owned),
        from,
        to,
        ..Filter::default()
    };
    assert_eq!(read(store, f(Some(Action::Login), None, None, None)), [2]);
    // By, or done to, a name; trimmed; a blank one is no filter.
    assert_eq!(read(store, f(None, Some("wang"), None, None)), [2, 1, 0]);
    assert_eq!(read(store, f(None, Some("  wang "), None, None)), [2, 1, 0]);
    assert_eq!(read(store, f(None, Some("chen"), None, None)), [4, 1]);
    assert_eq!(read(store, f(None, Some("Wang"), None, None)), [0; 0]);
    assert_eq!(read(store, f(None, Some("  "), None, None)).len(), 5);
    assert_eq!(read(store, f(None, Some(""), None, None)).len(), 5);
    let failed_wang = f(Some(Action::LoginFailed), Some("wang"), None, None);
    assert_eq!(read(store, failed_wang), [0]);
    // From inclusive, to exclusive.
    assert_eq!(read(store, f(None, None, Some(200), None)), [4, 3, 2, 0]);
    assert_eq!(read(store, f(None, None, None, Some(300))), [3, 2, 1]);
    assert_eq!(read(store, f(None, None, Some(200), Some(300))), [3, 2]);
    // Pages: before an id, at most a limit (at least one, at most MAX).
    let before = Filter {
        before: Some(all[1].id),
        ..Filter::default()
    };
    assert_eq!(read(store, before.clone()), [2, 1, 0]);
    let page = Filter {
        limit: Some(2),
        ..before
    };
    assert_eq!(read(store, page), [2, 1]);
    let one = Filter {
        limit: Some(0),
        ..Filter::default()
    };
    assert_eq!(read(store, one), [4]);
    let many = Filter {
        limit: Some(u32::MAX),
        ..Filter::default()
    };
    assert_eq!(read(store, many).len(), 5);
}

pub(super) fn login_failures(store: &mut dyn RelayStore) {
    const HOUR: i64 = 3_600_000;
    let none = LoginFailures::default();
    let run = |count, last| LoginFailures {
        count,
        last: Some(last),
    };
    assert_eq!(store.login_failures("wang").unwrap(), none);
    store.record_login_failure("wang", 10, 10 - HOUR).unwrap();
    store.record_login_failure("wang", 20, 20 - HOUR).unwrap();
    assert_eq!(store.login_failures("wang").unwrap(), run(2, 20));
    store.record_login_failure("li", 25, 25 - HOUR).unwrap();
    assert_eq!(store.login_failures("li").unwrap(), run(1, 25));
    assert_eq!(
        store.login_failures("Wang").unwrap(),
        none,
        "subjects are exact"
    );
    // Another relay's clock a little behind: counted; the latest stays last.
    store.record_login_failure("wang", 15, 15 - HOUR).unwrap();
    assert_eq!(store.login_failures("wang").unwrap(), run(3, 20));

    // A quiet spell: the last failure at or before `quiet_since` ends the
    // run; one after it does not.
    store.record_login_failure("wang", 20 + HOUR, 20).unwrap();
    assert_eq!(store.login_failures("wang").unwrap(), run(1, 20 + HOUR));
    store.record_login_failure("wang", 21 + HOUR, 21).unwrap();
    assert_eq!(store.login_failures("wang").unwrap(), run(2, 21 + HOUR));
    assert_eq!(store.login_failures("li").unwrap(), run(1, 25), "li's own");

    store.forget_login_failures("wang").unwrap();
    assert_eq!(store.login_failures("wang").unwrap(), none);
    assert_eq!(store.login_failures("li").unwrap(), run(1, 25));
    store.forget_login_failures("nobody").unwrap();

    // Stale subjects: those whose latest failure is at or before the time.
    store
        .record_login_failure("wang", 1000, 1000 - HOUR)
        .unwrap();
    store.record_login_failure("zhao", 5, 5 - HOUR).unwrap();
    store.record_login_failure("zhao", 30, 30 - HOUR).unwrap();
    assert_eq!(store.forget_stale_login_failures(29).unwrap(), 1);
    assert_eq!(store.login_failures("li").unwrap(), none);
    assert_eq!(
        store.login_failures("zhao").unwrap(),
        run(2, 30),
        "a run is kept whole"
    );
    assert_eq!(store.forget_stale_login_failures(30).unwrap(), 1);
    assert_eq!(store.login_failures("zhao").unwrap(), none);
    assert_eq!(store.login_failures("wang").unwrap(), run(1, 1000));
    assert_eq!(store.forget_stale_login_failures(0).unwrap(), 0);
}
