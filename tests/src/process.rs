//! Starting the real `doorstep` binary and finding where it listens.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A `doorstep` process started on port 0.
pub struct Started {
    /// The process; the caller kills and waits for it.
    pub child: Child,
    /// Its base URL, from its `listening on …` line.
    pub url: String,
    /// What it printed on stdout before that line.
    pub printed: Vec<String>,
}

/// Starts `command` (a `doorstep serve` or `doorstep demo` with
/// `--listen 127.0.0.1:0`) with stdout piped, and waits up to `timeout` for
/// the line that says where it listens.
pub fn start(mut command: Command, timeout: Duration) -> Started {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("start doorstep");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        let line = match rx.recv_timeout(timeout) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("doorstep did not say where it listens ({e}); it printed {printed:?}");
            }
        };
        if let Some(url) = line.strip_prefix("listening on ") {
            return Started {
                child,
                url: url.to_owned(),
                printed,
            };
        }
        printed.push(line);
    }
}

/// Runs the `doorstep` binary at `bin` with `args` and returns what it
/// printed; panics with its error output unless it succeeds.
pub fn doorstep(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run doorstep");
    assert!(
        out.status.success(),
        "doorstep {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `doorstep serve` (the binary at `bin`) over the database `db` on a
/// free loopback port.
pub fn serve(bin: &str, db: &std::path::Path) -> Started {
    let mut command = Command::new(bin);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    start(command, Duration::from_secs(60))
}

/// Starts `doorstep serve` (the binary at `bin`) over the store `store`
/// (`--store`: a PostgreSQL connection string) on a free loopback port,
/// with its photos in `photos`.
pub fn serve_store(bin: &str, store: &str, photos: &std::path::Path) -> Started {
    let mut command = Command::new(bin);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .arg("--photos-dir")
        .arg(photos)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    start(command, Duration::from_secs(60))
}

/// Stops a relay with SIGTERM, as an init system would, and waits for it.
pub fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// `doorstep user add` (the binary at `bin`) with the password on the
/// command line.
pub fn add_user(
    bin: &str,
    db: &std::path::Path,
    name: &str,
    role: &str,
    scope: &str,
    password: &str,
) {
    let db = db.to_str().expect("a UTF-8 path");
    doorstep(
        bin,
        &[
            "user",
            "add",
            "--db",
            db,
            "--username",
            name,
            "--role",
            role,
            "--scope",
            scope,
            "--password",
            password,
        ],
    );
}
