//! The real binary against connections that never finish a request: idle
//! sockets and half-sent headers are closed after the header deadline, a
//! pile of them does not keep `/healthz` from answering, and beyond the
//! connection cap newcomers wait for a place instead of taking the relay's
//! last open files.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use doorstep_tests::http::client;
use doorstep_tests::process::{self, Started};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");

/// A relay over a fresh database, with `settings` as its settings file.
fn relay(dir: &Path, settings: &str) -> Started {
    let config = dir.join("doorstep.toml");
    std::fs::write(&config, settings).unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.join("relay.sqlite"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    process::start(command, Duration::from_secs(60))
}

fn address(relay: &Started) -> String {
    relay.url.trim_start_matches("http://").to_owned()
}

/// Waits up to `patience` for the relay to close `stream`; true if it did.
fn closed_within(stream: &mut TcpStream, patience: Duration) -> bool {
    stream.set_read_timeout(Some(patience)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // Whatever the relay says before it closes (a 408, say).
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true, // reset
        }
    }
}

#[test]
fn idle_and_half_sent_connections_are_closed_and_healthz_answers_meanwhile() {
    const SOCKETS: usize = 1_500;
    let files = server::listener::raise_open_files_limit(8_192).unwrap_or(0);
    assert!(
        files > SOCKETS as u64 + 100,
        "this test needs {SOCKETS} sockets; the open-file limit is {files}"
    );
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(dir.path(), "header_timeout_secs = 5\n");
    let addr = address(&relay);

    // Half say nothing; half start a request and never finish its headers.
    let mut sockets: Vec<TcpStream> = (0..SOCKETS)
        .map(|i| {
            let mut s = TcpStream::connect(&addr).unwrap();
            if i % 2 == 1 {
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n")
                    .unwrap();
            }
            s
        })
        .collect();

    let answer = client().get(format!("{}/healthz", relay.url)).send();
    let status = answer.map(|r| r.status().as_u16());
    assert_eq!(
        status.as_ref().ok(),
        Some(&200),
        "/healthz answers beside {SOCKETS} idle sockets: {status:?}"
    );

    // Every one of them is closed by the relay, well within a generous wait.
    let patience = Duration::from_secs(30);
    for (i, socket) in sockets.iter_mut().enumerate() {
        let kind = if i % 2 == 1 { "half-sent" } else { "idle" };
        assert!(
            closed_within(socket, patience),
            "{kind} connection {i} is still open {patience:?} after its 5 s deadline"
        );
    }
    // And the relay still serves.
    assert_eq!(
        client()
            .get(format!("{}/healthz", relay.url))
            .send()
            .unwrap()
            .status(),
        200
    );
    process::stop(relay.child);
}

/// `doorstep_connections_open` as `/metrics` says it.
fn open_connections(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("doorstep_connections_open "))
        .unwrap_or_else(|| panic!("no connections_open in {metrics}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn beyond_the_cap_a_newcomer_waits_for_a_place() {
    const CAP: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(
        dir.path(),
        &format!("header_timeout_secs = 2\nmax_connections = {CAP}\n"),
    );
    let addr = address(&relay);
    let idle: Vec<TcpStream> = (0..CAP)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();

    // This request is queued behind the idle ones: it is served once the
    // deadline frees a place, and then it is at most the cap-th connection.
    let metrics = client()
        .get(format!("{}/metrics", relay.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let open = open_connections(&metrics);
    assert!(
        (1..=CAP as u64).contains(&open),
        "{open} connections served at once with a cap of {CAP}"
    );
    drop(idle);
    process::stop(relay.child);
}
