//! The command line's failures as an operator meets them: each names the
//! cause and the fix, and changes nothing.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "it succeeded");
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(!stderr.contains("internal error"), "{stderr}");
    stderr
}

/// Starts `doorstep serve`, returns it and its `listening on` line.
fn serve(args: &[&str], log: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .env("RUST_LOG", log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

fn stop(mut child: Child) -> String {
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

#[test]
fn a_missing_folder_says_which_and_how_to_make_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let db = missing.join("district.sqlite");
    let db = db.to_str().unwrap();
    for args in [
        vec!["serve", "--db", db, "--listen", "127.0.0.1:0"],
        vec!["user", "list", "--db", db],
        vec!["device", "list", "--db", db],
    ] {
        let stderr = failed(&run(&args));
        assert!(stderr.contains("does not exist"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("mkdir -p {}", missing.display())),
            "{args:?}: {stderr}"
        );
    }
    let live = dir.path().join("live.sqlite");
    let live = live.to_str().unwrap();
    let out = run(&["user", "list", "--db", live]);
    assert!(out.status.success());
    let backup = missing.join("backup.sqlite");
    let stderr = failed(&run(&["backup", "--db", live, backup.to_str().unwrap()]));
    assert!(stderr.contains("the backup"), "{stderr}");
    assert!(stderr.contains("mkdir -p"), "{stderr}");
    assert!(!missing.exists(), "nothing was created");
}

#[test]
fn a_port_in_use_is_named_and_the_demo_prints_no_logins() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let db = dir.path().join("relay.sqlite");
    let stderr = failed(&run(&[
        "serve",
        "--db",
        db.to_str().unwrap(),
        "--listen",
        &port,
    ]));
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains("--listen"), "{stderr}");

    let demo_db = dir.path().join("demo.sqlite");
    let out = run(&["demo", "--db", demo_db.to_str().unwrap(), "--listen", &port]);
    let stderr = failed(&out);
    assert!(stderr.contains("already in use"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("password"), "no banner: {stdout}");
    assert!(!demo_db.exists(), "nothing was seeded");
}

#[test]
fn localhost_is_an_address_to_listen_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    let (child, line) = serve(
        &["--db", db.to_str().unwrap(), "--listen", "localhost:0"],
        "warn",
    );
    stop(child);
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let stderr = failed(&run(&[
        "serve",
        "--db",
        db.to_str().unwrap(),
        "--listen",
        "no such host",
    ]));
    assert!(stderr.contains("host:port"), "{stderr}");
}

#[test]
fn logs_follow_the_settings_file_and_carry_no_colour_into_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    let config = dir.path().join("doorstep.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"localhost:0\"\ndb = {:?}\nlog_format = \"json\"\n",
            db.to_str().unwrap()
        ),
    )
    .unwrap();
    let (child, line) = serve(&["--config", config.to_str().unwrap()], "info");
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let stderr = stop(child);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty(), "it logged");
    for l in &lines {
        let entry: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(entry["level"].is_string(), "{l}");
    }

    let (child, _) = serve(
        &["--db", db.to_str().unwrap(), "--listen", "127.0.0.1:0"],
        "info",
    );
    let stderr = stop(child);
    assert!(stderr.contains("doorstep relay listening"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes off a terminal: {stderr:?}"
    );
}

#[test]
fn a_signing_key_file_that_cannot_be_used_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let db = db.to_str().unwrap();
    let key = dir.path().join("district.key");
    std::fs::write(&key, "this is not a key\n").unwrap();
    let err = failed(&run(&[
        "serve",
        "--db",
        db,
        "--key-file",
        key.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]));
    assert!(err.contains("is not one the relay wrote"), "{err}");
    assert!(err.contains("put back the right one"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        "this is not a key\n",
        "the file is left as it was"
    );

    let nowhere = dir.path().join("keys/district.key");
    let err = failed(&run(&[
        "serve",
        "--db",
        db,
        "--key-file",
        nowhere.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]));
    assert!(err.contains("the signing key file"), "{err}");
    assert!(err.contains("mkdir -p"), "{err}");
}
