//! What every [`RelayStore`] must do, checked through the trait alone.
//!
//! The checks take a `&mut dyn RelayStore`, so a second implementation (a
//! distributed SQL engine for a large district) is held to the same promises
//! by adding one line per check below. They run against the SQLite store
//! the relay ships with, on a real file, and against the PostgreSQL store
//! ([`on_postgres`]), where the same steps must also leave both stores
//! showing the same accounts ([`accounts::snapshot`]).

mod accounts;
mod relays;

use sync_core::keys::DeviceKey;
use sync_core::store::RevokeKind;
use sync_core::{DeviceId, Role, ScopePath, Store, UserId};

use super::RelayStore;
use super::postgres::testing::TestDatabase;
use super::postgres::{PgEngine, PgOptions};
use crate::error::AppError;

const DAY: i64 = 86_400_000;
/// The relay secret web device keys derive from in these checks.
const SECRET: &[u8] = b"a relay secret of at least thirty-two bytes";

fn name(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn scope(s: &str) -> ScopePath {
    ScopePath::new(s).unwrap()
}

/// A user `wang` (worker of two communities) and `chen` (supervisor).
fn with_users(store: &mut dyn RelayStore) {
    let scopes = [scope("longgang/yuanshan/xikeng"), scope("longgang/buji")];
    store
        .insert_user(&name("wang"), Role::Worker, &scopes, "hash-of-wang", 1)
        .unwrap();
    store
        .insert_user(
            &name("chen"),
            Role::Supervisor,
            &[scope("longgang")],
            "hash-of-chen",
            1,
        )
        .unwrap();
}

fn users(store: &mut dyn RelayStore) {
    with_users(store);
    let wang = store.user("wang").unwrap().unwrap();
    assert_eq!(wang.role, Role::Worker);
    assert_eq!(
        wang.scopes,
        [scope("longgang/buji"), scope("longgang/yuanshan/xikeng")],
        "scopes come back sorted"
    );
    assert!(!wang.disabled);
    assert_eq!(store.user("nobody").unwrap(), None);

    let taken = store.insert_user(&name("wang"), Role::Admin, &[scope("x")], "other", 2);
    assert!(matches!(taken, Err(AppError::Conflict(_))), "{taken:?}");
    assert_eq!(
        store.user("wang").unwrap().unwrap(),
        wang,
        "a refused insert changes nothing"
    );

    let names: Vec<String> = store
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.username.to_string())
        .collect();
    assert_eq!(names, ["chen", "wang"]);

    let credentials = store.credentials("chen").unwrap().unwrap();
    assert_eq!(credentials.password_hash, "hash-of-chen");
    assert_eq!(credentials.user.role, Role::Supervisor);
    assert!(store.credentials("nobody").unwrap().is_none());

    assert!(matches!(
        store.disable_user("nobody", 3),
        Err(AppError::NotFound(_))
    ));
    store.disable_user("wang", 3).unwrap();
    assert!(store.user("wang").unwrap().unwrap().disabled);
    assert!(!store.user("chen").unwrap().unwrap().disabled);
}

fn devices(store: &mut dyn RelayStore) {
    with_users(store);
    let phone = DeviceId::random();
    store
        .register_device(&name("wang"), phone, "wang's phone", "phone", None, 10)
        .unwrap();
    let found = store.device(phone).unwrap().unwrap();
    assert_eq!(
        (
            found.username.as_str(),
            found.name.as_str(),
            found.kind.as_str()
        ),
        ("wang", "wang's phone", "phone")
    );
    assert_eq!(found.revoked_at, None);
    assert_eq!(store.device(DeviceId::random()).unwrap(), None);

    // Registering again renames it; another user cannot take it.
    store
        .register_device(&name("wang"), phone, "new name", "phone", None, 11)
        .unwrap();
    assert_eq!(store.device(phone).unwrap().unwrap().name, "new name");
    let stolen = store.register_device(&name("chen"), phone, "mine", "phone", None, 12);
    assert!(matches!(stolen, Err(AppError::Conflict(_))), "{stolen:?}");
    assert_eq!(store.device(phone).unwrap().unwrap().username, "wang");

    // A key, once registered, never changes: a new key needs a new device.
    let key = DeviceKey::generate(phone).unwrap().public();
    store
        .register_device(&name("wang"), phone, "new name", "phone", Some(key), 13)
        .unwrap();
    store
        .register_device(&name("wang"), phone, "new name", "phone", Some(key), 14)
        .unwrap();
    let other = DeviceKey::generate(phone).unwrap().public();
    let swapped = store.register_device(&name("wang"), phone, "x", "phone", Some(other), 15);
    assert!(matches!(swapped, Err(AppError::Conflict(_))), "{swapped:?}");

    store.device_seen(phone, 20).unwrap();
    assert_eq!(store.device(phone).unwrap().unwrap().last_seen, Some(20));

    let second = DeviceId::random();
    store
        .register_device(&name("chen"), second, "chen's phone", "phone", None, 30)
        .unwrap();
    let listed: Vec<DeviceId> = store.list_devices().unwrap().iter().map(|d| d.id).collect();
    assert_eq!(listed, [second, phone], "newest first");

    store.revoke_device(phone, RevokeKind::Lost, 40).unwrap();
    assert_eq!(store.device(phone).unwrap().unwrap().revoked_at, Some(40));
    store.revoke_device(phone, RevokeKind::Lost, 50).unwrap();
    assert_eq!(
        store.device(phone).unwrap().unwrap().revoked_at,
        Some(40),
        "revoking twice keeps the first time"
    );
    let back = store.register_device(&name("wang"), phone, "again", "phone", None, 60);
    assert!(matches!(back, Err(AppError::DeviceRevoked)), "{back:?}");
    assert!(matches!(
        store.revoke_device(DeviceId::random(), RevokeKind::Lost, 70),
        Err(AppError::NotFound(_))
    ));
}

fn refresh_tokens(store: &mut dyn RelayStore) {
    with_users(store);
    let phone = DeviceId::random();
    store
        .register_device(&name("wang"), phone, "phone", "phone", None, 0)
        .unwrap();
    let first = store.issue_refresh(phone, DAY, 0).unwrap();

    let (user, device, second) = store.rotate_refresh(&first, DAY, 10).unwrap();
    assert_eq!((user.username.as_str(), device), ("wang", phone));
    assert_ne!(second, first);
    assert_eq!(store.device(phone).unwrap().unwrap().last_seen, Some(10));

    // Replaying a used token ends the device's session: the newest token
    // stops working too.
    let replay = store.rotate_refresh(&first, DAY, 20);
    assert!(
        matches!(replay, Err(AppError::InvalidToken(_))),
        "{replay:?}"
    );
    let after = store.rotate_refresh(&second, DAY, 21);
    assert!(matches!(after, Err(AppError::InvalidToken(_))), "{after:?}");

    // A new login starts a new chain, which expires.
    let third = store.issue_refresh(phone, DAY, 100).unwrap();
    let late = store.rotate_refresh(&third, DAY, 100 + DAY);
    assert!(matches!(late, Err(AppError::InvalidToken(_))), "{late:?}");

    let unknown = store.rotate_refresh("not-a-token", DAY, 200);
    assert!(matches!(unknown, Err(AppError::InvalidToken(_))));

    // A disabled user's phone keeps its chain (it may still deliver what it
    // made before); enabling the user again changes nothing for it.
    let fourth = store.issue_refresh(phone, DAY, 300).unwrap();
    store.disable_user("wang", 301).unwrap();
    let (_, _, fifth_of_wang) = store.rotate_refresh(&fourth, DAY, 302).unwrap();
    store.enable_user("wang").unwrap();
    assert!(!store.user("wang").unwrap().unwrap().disabled);
    store.rotate_refresh(&fifth_of_wang, DAY, 303).unwrap();
    assert!(matches!(
        store.enable_user("nobody"),
        Err(AppError::NotFound(_))
    ));
    // Retiring keeps it too; losing the device ends it.
    store
        .revoke_device(phone, RevokeKind::Retired, 304)
        .unwrap();
    assert_eq!(store.device(phone).unwrap().unwrap().standing, "retired");
    let retired = store.issue_refresh(phone, DAY, 305).unwrap();
    let (_, _, still) = store.rotate_refresh(&retired, DAY, 306).unwrap();
    store.revoke_device(phone, RevokeKind::Lost, 307).unwrap();
    assert_eq!(store.device(phone).unwrap().unwrap().standing, "lost");
    assert!(matches!(
        store.rotate_refresh(&still, DAY, 308),
        Err(AppError::DeviceRevoked)
    ));

    let chens = DeviceId::random();
    store
        .register_device(&name("chen"), chens, "phone", "phone", None, 400)
        .unwrap();
    let fifth = store.issue_refresh(chens, DAY, 400).unwrap();
    store.revoke_device(chens, RevokeKind::Lost, 401).unwrap();
    let revoked = store.rotate_refresh(&fifth, DAY, 402);
    assert!(
        matches!(revoked, Err(AppError::DeviceRevoked)),
        "{revoked:?}"
    );
}

fn web_sessions(store: &mut dyn RelayStore) {
    with_users(store);
    let chen = name("chen");
    let web = store.web_device(&chen, SECRET, 0).unwrap();
    assert_eq!(
        store.web_device(&chen, SECRET, 1).unwrap(),
        web,
        "one per user"
    );
    assert_eq!(store.device(web).unwrap().unwrap().kind, "web");

    let secret = store.start_web_session(&chen, SECRET, DAY, 10).unwrap();
    let live = store.web_session(&secret, 20).unwrap().unwrap();
    assert_eq!((live.username.as_str(), live.device), ("chen", web));
    assert_eq!(live.expires_at, 10 + DAY);
    assert_eq!(store.web_session(&secret, 10 + DAY).unwrap(), None);
    assert_eq!(store.web_session("not-a-secret", 20).unwrap(), None);

    // A session secret is not a phone's refresh token.
    let traded = store.rotate_refresh(&secret, DAY, 30);
    assert!(
        matches!(traded, Err(AppError::InvalidToken(_))),
        "{traded:?}"
    );
    assert!(store.web_session(&secret, 31).unwrap().is_some());

    store.end_web_session(&secret, 40).unwrap();
    assert_eq!(store.web_session(&secret, 41).unwrap(), None);
    store.end_web_session("not-a-secret", 42).unwrap();

    // A revoked web device ends its sessions and is replaced at next use.
    let again = store.start_web_session(&chen, SECRET, DAY, 50).unwrap();
    store.revoke_device(web, RevokeKind::Lost, 60).unwrap();
    assert_eq!(store.web_session(&again, 61).unwrap(), None);
    let replaced = store.web_device(&chen, SECRET, 70).unwrap();
    assert_ne!(replaced, web);
    let fresh = store.start_web_session(&chen, SECRET, DAY, 80).unwrap();
    assert_eq!(
        store.web_session(&fresh, 81).unwrap().unwrap().device,
        replaced
    );

    // Disabling the user ends them too.
    store.disable_user("chen", 90).unwrap();
    assert_eq!(store.web_session(&fresh, 91).unwrap(), None);

    // A web device's key is the one derived from the relay's secret; when
    // the secret changes, the relay writes as a new web device.
    let current = store.web_device(&chen, SECRET, 90).unwrap();
    assert_eq!(current, replaced);
    let rotated = store
        .web_device(&chen, b"another relay secret, thirty-two bytes", 91)
        .unwrap();
    assert_ne!(rotated, current);
    let again = store.web_device(&chen, b"another relay secret, thirty-two bytes", 92);
    assert_eq!(again.unwrap(), rotated);
}

fn empty_records(store: &mut dyn RelayStore) {
    let id = sync_core::RecordId::random();
    assert_eq!(store.record(id).unwrap(), None);
    assert_eq!(store.usage().unwrap().records, 0);
    assert!(store.usage().unwrap().bytes > 0);
    let changes = store
        .changes(&[scope("longgang")], 0)
        .expect("an empty feed answers");
    assert_eq!((changes.seq, changes.changed), (0, 0));
}

/// Runs `check` on a fresh SQLite store in a file of its own.
fn on_sqlite(check: fn(&mut dyn RelayStore)) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("relay.sqlite")).unwrap();
    check(&mut store);
}

/// Runs `check` on a fresh PostgreSQL store (a database of its own), then
/// on a fresh SQLite store, and asserts that both show the same accounts
/// after it. Without `DOORSTEP_TEST_PG` it skips (run under
/// `scripts/with-postgres`), except under `CI=true`, where it fails.
fn on_postgres(label: &str, check: fn(&mut dyn RelayStore)) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(db) = runtime.block_on(TestDatabase::create(label)) else {
        return;
    };
    drop(runtime);
    let mut options = PgOptions::new(db.config().clone());
    options.pool_size = 2;
    let on_postgres = {
        let mut engine = PgEngine::open(options).unwrap();
        check(&mut engine);
        accounts::snapshot(&mut engine)
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("relay.sqlite")).unwrap();
    check(&mut store);
    assert_eq!(
        on_postgres,
        accounts::snapshot(&mut store),
        "PostgreSQL and SQLite show different accounts after the same steps"
    );
}

#[test]
fn sqlite_keeps_users() {
    on_sqlite(users);
}

#[test]
fn sqlite_keeps_devices() {
    on_sqlite(devices);
}

#[test]
fn sqlite_rotates_refresh_tokens() {
    on_sqlite(refresh_tokens);
}

#[test]
fn sqlite_keeps_web_sessions() {
    on_sqlite(web_sessions);
}

#[test]
fn sqlite_answers_when_empty() {
    on_sqlite(empty_records);
}

#[test]
fn sqlite_keeps_passwords_and_one_time_codes() {
    on_sqlite(accounts::passwords);
}

#[test]
fn sqlite_changes_roles_and_scopes() {
    on_sqlite(accounts::roles);
}

#[test]
fn sqlite_disables_and_enables_users() {
    on_sqlite(accounts::disabling);
}

#[test]
fn sqlite_keeps_the_device_rules() {
    on_sqlite(accounts::device_rules);
}

#[test]
fn sqlite_replaces_web_devices() {
    on_sqlite(accounts::web_devices);
}

#[test]
fn sqlite_filters_the_audit_log() {
    on_sqlite(accounts::audit_log);
}

#[test]
fn sqlite_counts_failed_logins() {
    on_sqlite(accounts::login_failures);
}

#[test]
fn postgres_keeps_users() {
    on_postgres("contract_users", users);
}

#[test]
fn postgres_keeps_devices() {
    on_postgres("contract_devices", devices);
}

#[test]
fn postgres_rotates_refresh_tokens() {
    on_postgres("contract_refresh_tokens", refresh_tokens);
}

#[test]
fn postgres_keeps_web_sessions() {
    on_postgres("contract_web_sessions", web_sessions);
}

#[test]
fn postgres_keeps_passwords_and_one_time_codes() {
    on_postgres("contract_passwords", accounts::passwords);
}

#[test]
fn postgres_changes_roles_and_scopes() {
    on_postgres("contract_roles", accounts::roles);
}

#[test]
fn postgres_disables_and_enables_users() {
    on_postgres("contract_disabling", accounts::disabling);
}

#[test]
fn postgres_keeps_the_device_rules() {
    on_postgres("contract_device_rules", accounts::device_rules);
}

#[test]
fn postgres_replaces_web_devices() {
    on_postgres("contract_web_devices", accounts::web_devices);
}

#[test]
fn postgres_filters_the_audit_log() {
    on_postgres("contract_audit_log", accounts::audit_log);
}

#[test]
fn postgres_counts_failed_logins() {
    on_postgres("contract_login_failures", accounts::login_failures);
}
