//! Accounts from the command line: a password changed (and every session
//! with it), a role and scopes changed, and the refusals that change
//! nothing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

use doorstep_tests::http::{HttpPhone, login, uuid_like};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const XIKENG: &str = "longgang/yuanshan/xikeng";

/// Runs `doorstep <args…>` with `stdin` piped in (`None`: no stdin at all).
fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn refused(out: &Output) -> String {
    assert!(!out.status.success(), "it succeeded");
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn users(db: &str) -> String {
    ok(&run(&["user", "list", "--db", db], None))
}

#[test]
fn a_new_password_ends_every_session_and_the_old_one_stops_working() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let db = db.to_str().unwrap();
    ok(&run(
        &[
            "user",
            "add",
            "--db",
            db,
            "--username",
            "wang",
            "--role",
            "worker",
            "--scope",
            XIKENG,
        ],
        Some("first password\n"),
    ));
    let mut relay = Command::new(BIN)
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(relay.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let mut phone = HttpPhone::login(
        &url,
        "wang",
        "first password",
        sync_core::store::system_clock(),
    )
    .unwrap();
    phone.sync().unwrap();

    let short = refused(&run(
        &["user", "passwd", "--db", db, "wang"],
        Some("short\n"),
    ));
    assert!(short.contains("at least 8 characters"), "{short}");
    assert!(
        login(&url, "wang", "first password", &uuid_like()).is_ok(),
        "nothing changed"
    );

    let out = ok(&run(
        &["user", "passwd", "--db", db, "wang"],
        Some("second password\n"),
    ));
    assert!(out.contains("sessions have ended"), "{out}");
    assert!(login(&url, "wang", "first password", &uuid_like()).is_err());
    assert!(login(&url, "wang", "second password", &uuid_like()).is_ok());
    assert!(
        phone.refresh().is_err(),
        "the phone's session ended with the old password"
    );

    let nobody = refused(&run(
        &["user", "passwd", "--db", db, "nobody"],
        Some("whatever 123\n"),
    ));
    assert!(nobody.contains("no user nobody"), "{nobody}");
    relay.kill().unwrap();
    relay.wait().unwrap();
}

#[test]
fn role_and_scopes_change_and_a_missing_password_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let db = db.to_str().unwrap();
    let none = refused(&run(
        &[
            "user",
            "add",
            "--db",
            db,
            "--username",
            "chen",
            "--role",
            "worker",
            "--scope",
            XIKENG,
        ],
        None,
    ));
    assert!(none.contains("no password given"), "{none}");
    assert!(!users(db).contains("chen"), "nobody was added");

    ok(&run(
        &[
            "user",
            "add",
            "--db",
            db,
            "--username",
            "chen",
            "--role",
            "worker",
            "--scope",
            XIKENG,
        ],
        Some("chen password\n"),
    ));
    let before = users(db);
    let bad = refused(&run(
        &["user", "set", "--db", db, "chen", "--role", "boss"],
        None,
    ));
    assert!(bad.contains("boss"), "{bad}");
    assert_eq!(users(db), before, "nothing changed");

    ok(&run(
        &[
            "user",
            "set",
            "--db",
            db,
            "chen",
            "--role",
            "supervisor",
            "--scope",
            "longgang/yuanshan",
            "--scope",
            "longgang/buji",
        ],
        None,
    ));
    let row = users(db)
        .lines()
        .find(|l| l.starts_with("chen"))
        .unwrap()
        .to_owned();
    assert!(row.contains("supervisor"), "{row}");
    assert!(
        row.contains("longgang/buji,longgang/yuanshan")
            || row.contains("longgang/yuanshan,longgang/buji"),
        "{row}"
    );
    assert!(!row.contains(XIKENG), "the scopes were replaced: {row}");
}

#[test]
fn every_account_command_is_in_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let db = db.to_str().unwrap();
    let add = [
        "user",
        "add",
        "--db",
        db,
        "--username",
        "zhou",
        "--role",
        "worker",
        "--scope",
        XIKENG,
    ];
    ok(&run(&add, Some("zhou password\n")));
    ok(&run(
        &["user", "set", "--db", db, "zhou", "--role", "supervisor"],
        None,
    ));
    ok(&run(
        &["user", "passwd", "--db", db, "zhou"],
        Some("another password\n"),
    ));
    ok(&run(&["user", "disable", "--db", db, "zhou"], None));
    ok(&run(&["user", "enable", "--db", db, "zhou"], None));
    // A refused command records nothing.
    refused(&run(
        &["user", "set", "--db", db, "zhou", "--role", "boss"],
        None,
    ));

    let log = ok(&run(&["audit", "--db", db, "--who", "zhou"], None));
    let events: Vec<&str> = log
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "user_enabled",
            "user_disabled",
            "password_reset",
            "user_changed",
            "user_added"
        ],
        "{log}"
    );
    assert!(log.contains("role supervisor"), "{log}");
    assert!(log.lines().skip(1).all(|l| l.contains(" cli ")), "{log}");
    let only = ok(&run(
        &["audit", "--db", db, "--action", "user_disabled"],
        None,
    ));
    assert_eq!(only.lines().count(), 2, "{only}");
    let bad = refused(&run(&["audit", "--db", db, "--action", "hacked"], None));
    assert!(bad.contains("the actions are"), "{bad}");
}

#[test]
fn a_listing_cut_short_by_its_reader_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let db = db.to_str().unwrap();
    ok(&run(&["device", "list", "--db", db], None));
    // More than a pipe holds: the listing is still being written when the
    // reader (`| head -1`) goes away.
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
         INSERT INTO audit_log (at, actor, action, target, detail)
         SELECT i, 'cli', 'user_added', 'user' || i, 'worker in longgang' FROM n;",
    )
    .unwrap();
    drop(conn);
    let mut child = Command::new(BIN)
        .args(["audit", "--db", db, "--limit", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("time"), "{first}");
    // The reader is gone.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.trim().is_empty(), "nothing said: {stderr}");
}
