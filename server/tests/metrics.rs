//! `/metrics` is for the district's monitoring, not for anyone who can reach
//! the port: this machine only, or whoever holds the configured token.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, UdpSocket};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");

/// This machine's address on its network (no packet is sent), if it has one.
fn network_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn status(url: &str, token: Option<&str>) -> u16 {
    let mut request = reqwest::blocking::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().unwrap().status().as_u16()
}

/// A relay process, stopped when dropped (a failed assertion included).
struct Relay(std::process::Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the relay on every address, with `args`; returns it and its port.
fn relay(dir: &std::path::Path, args: &[&str]) -> (Relay, u16) {
    let db = dir.join("relay.sqlite");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    (Relay(child), port)
}

#[test]
fn metrics_answer_this_machine_or_the_token_only() {
    let dir = tempfile::tempdir().unwrap();
    let (open, port) = relay(dir.path(), &[]);
    assert_eq!(
        status(&format!("http://127.0.0.1:{port}/metrics"), None),
        200,
        "this machine"
    );
    if let Some(ip) = network_address() {
        let from_network = format!("http://{ip}:{port}");
        assert_eq!(
            status(&format!("{from_network}/metrics"), None),
            403,
            "another machine"
        );
        assert_eq!(
            status(&format!("{from_network}/healthz"), None),
            200,
            "health stays open"
        );
    }
    drop(open);

    let other = tempfile::tempdir().unwrap();
    let (_guarded, port) = relay(other.path(), &["--metrics-token", "scrape-me-7f3a"]);
    let url = format!("http://127.0.0.1:{port}/metrics");
    assert_eq!(
        status(&url, None),
        403,
        "a token set: even this machine needs it"
    );
    assert_eq!(status(&url, Some("wrong")), 403);
    assert_eq!(status(&url, Some("scrape-me-7f3a")), 200);
}
