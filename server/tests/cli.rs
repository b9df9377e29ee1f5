//! The `doorstep` command line as a district's IT team uses it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use doorstep_tests::http::{HttpPhone, login};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn users_devices_keys_backup_and_a_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let db_arg = db.to_str().unwrap();

    // A password from stdin, as a script would give it.
    let mut add = Command::new(BIN)
        .args([
            "user",
            "add",
            "--db",
            db_arg,
            "--username",
            "wang",
            "--role",
            "worker",
            "--scope",
            "longgang/yuanshan/xikeng",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"from stdin 123\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let out = run(&[
        "user",
        "add",
        "--db",
        db_arg,
        "--username",
        "chen",
        "--role",
        "supervisor",
        "--scope",
        "longgang",
        "--password",
        "supervisor pass",
    ]);
    stdout(&out);
    // Bad input is refused clearly.
    let dup = run(&[
        "user",
        "add",
        "--db",
        db_arg,
        "--username",
        "chen",
        "--role",
        "worker",
        "--scope",
        "longgang",
        "--password",
        "whatever123",
    ]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let bad_role = run(&[
        "user",
        "add",
        "--db",
        db_arg,
        "--username",
        "x",
        "--role",
        "boss",
        "--scope",
        "longgang",
        "--password",
        "whatever123",
    ]);
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown Role"));
    let listed = stdout(&run(&["user", "list", "--db", db_arg]));
    assert!(
        listed.contains("wang")
            && listed.contains("worker")
            && listed.contains("longgang/yuanshan/xikeng")
    );

    // The relay creates its signing key beside the database, readable by its owner only.
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            db_arg,
            "--log-format",
            "json",
        ])
        .stderr(Stdio::piped());
    let started = doorstep_tests::process::start(command, Duration::from_secs(60));
    let (mut child, url) = (started.child, started.url);
    let key = dir.path().join("district.sqlite.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let mut phone = HttpPhone::login(
        &url,
        "wang",
        "from stdin 123",
        sync_core::store::system_clock(),
    )
    .unwrap();
    phone.sync().unwrap();
    let device = phone.phone.device().to_string();
    let devices = stdout(&run(&["device", "list", "--db", db_arg]));
    let row = devices.lines().find(|l| l.contains(&device)).unwrap();
    assert!(
        row.contains("active") && row.contains("s ago") && row.contains("none"),
        "{row}"
    );
    // Work the phone has not synced shows at its next report.
    let author = phone.phone.author.clone();
    let community = phone.phone.community();
    phone
        .phone
        .store
        .create_household(&author, &community, &Default::default())
        .unwrap();
    let (request, _) = phone
        .phone
        .store
        .begin_sync(&doorstep_tests::relay_peer(), &[])
        .unwrap();
    assert_eq!(request.pending.unwrap().records, 1);

    // A consistent copy while the relay runs.
    let copy = dir.path().join("copy.sqlite");
    stdout(&run(&["backup", "--db", db_arg, copy.to_str().unwrap()]));
    let users: i64 = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 2);

    // Retiring the phone (named by the start of its id, as people do):
    // it still delivers what it made before, and receives nothing.
    let too_short = run(&["device", "retire", "--db", db_arg, &device[..2]]);
    assert!(String::from_utf8_lossy(&too_short.stderr).contains("at least 4"));
    stdout(&run(&["device", "retire", "--db", db_arg, &device[..8]]));
    let delivered = phone.sync().unwrap();
    assert_eq!((delivered.accepted, delivered.received), (1, 0));
    let retired = stdout(&run(&["device", "list", "--db", db_arg]));
    assert!(
        retired
            .lines()
            .any(|l| l.contains(&device) && l.contains("retired"))
    );
    // Marking it lost cuts it off at its next request.
    stdout(&run(&["device", "lost", "--db", db_arg, &device]));
    let refused = phone.sync().unwrap_err();
    assert_eq!(refused.status.map(|s| s.as_u16()), Some(403));
    let lost = stdout(&run(&["device", "list", "--db", db_arg]));
    assert!(
        lost.lines()
            .any(|l| l.contains(&device) && l.contains("lost"))
    );
    // Disabling a user ends their logins; enabling gives them back.
    let fresh = || sync_core::DeviceId::random().to_string();
    stdout(&run(&["user", "disable", "--db", db_arg, "chen"]));
    assert!(login(&url, "chen", "supervisor pass", &fresh()).is_err());
    stdout(&run(&["user", "enable", "--db", db_arg, "chen"]));
    assert!(login(&url, "chen", "supervisor pass", &fresh()).is_ok());

    // SIGTERM: the relay finishes and exits cleanly, logging JSON.
    let started = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    let first = logs.lines().next().unwrap_or_default();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "JSON logs: {first}"
    );
}

#[test]
fn settings_come_from_a_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-file.sqlite");
    let config = dir.path().join("doorstep.toml");
    std::fs::write(
        &config,
        format!(
            "db = {:?}\nlisten = \"127.0.0.1:0\"\naccess_ttl_secs = 300\n",
            db.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve"])
        .env("DOORSTEP_CONFIG", &config)
        .env(
            "DOORSTEP_JWT_SECRET",
            "an environment secret of more than thirty-two bytes",
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(db.exists(), "the database named in the file was created");
    assert!(
        !dir.path().join("from-file.sqlite.key").exists(),
        "no key file when a secret is given"
    );

    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nunknown_setting = 1\n").unwrap();
    let out = run(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown"));
}

#[test]
fn places_units_and_people_are_named_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let db = db.to_str().unwrap();
    stdout(&run(&[
        "place",
        "name",
        "longgang/yuanshan/xikeng",
        "西坑社区",
        "--db",
        db,
    ]));
    stdout(&run(&[
        "unit",
        "add",
        "shuiwu",
        "--name",
        "龙岗区水务局",
        "--db",
        db,
    ]));
    stdout(&run(&[
        "user",
        "add",
        "--db",
        db,
        "--username",
        "zhangjg",
        "--role",
        "volunteer",
        "--scope",
        "longgang",
        "--password",
        "unit member 1",
        "--unit",
        "shuiwu",
        "--name",
        "张建国",
        "--phone",
        "138 0013 8000",
    ]));
    let users = stdout(&run(&["user", "list", "--db", db]));
    let row = users.lines().find(|l| l.starts_with("zhangjg")).unwrap();
    assert!(row.contains("张建国") && row.contains("shuiwu"), "{users}");
    let units = stdout(&run(&["unit", "list", "--db", db]));
    assert!(
        units.contains("龙岗区水务局") && units.contains("zhangjg"),
        "{units}"
    );
    let places = stdout(&run(&["place", "list", "--db", db]));
    assert!(places.contains("longgang/yuanshan/xikeng") && places.contains("西坑社区"));

    // Mistakes are said plainly and change nothing.
    for (args, why) in [
        (
            vec!["user", "set", "zhangjg", "--unit", "nosuchunit"],
            "partner unit nosuchunit",
        ),
        (
            vec!["user", "set", "zhangjg", "--phone", "call me"],
            "phone number",
        ),
        (
            vec!["user", "set", "nobody", "--name", "某人"],
            "user nobody",
        ),
        (vec!["place", "name", "not a/path!", "某地"], "scope"),
        (vec!["place", "name", "longgang"], "--clear"),
        (
            vec!["unit", "add", "bad id!", "--name", "某单位"],
            "unit id",
        ),
    ] {
        let mut args = args;
        args.extend(["--db", db]);
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    }
    assert_eq!(stdout(&run(&["user", "list", "--db", db])), users);
    stdout(&run(&[
        "place",
        "name",
        "longgang/yuanshan/xikeng",
        "--clear",
        "--db",
        db,
    ]));
    assert!(!stdout(&run(&["place", "list", "--db", db])).contains("西坑社区"));
}

#[test]
fn a_listing_read_only_in_part_ends_quietly_and_lines_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let db = db.to_str().unwrap();
    for n in 0..30 {
        stdout(&run(&[
            "user",
            "add",
            "--db",
            db,
            "--username",
            &format!("worker{n}"),
            "--role",
            "worker",
            "--scope",
            "longgang/yuanshan/xikeng",
            "--password",
            "a long password",
        ]));
    }
    let listing = stdout(&run(&["user", "list", "--db", db]));
    // Columns line up: every row's role starts where the header's does.
    let column = listing.lines().next().unwrap().find("role").unwrap();
    for line in listing.lines().skip(1) {
        assert_eq!(line.find("worker "), Some(column), "{listing}");
    }
    // `doorstep user list | head -1`: the reader is gone before the rows.
    for command in [
        ["user", "list"],
        ["device", "list"],
        ["unit", "list"],
        ["place", "list"],
    ] {
        let mut child = Command::new(BIN)
            .args(command)
            .args(["--db", db])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{command:?}: {err}");
        assert!(out.status.success(), "{command:?}: {err}");
    }
}
