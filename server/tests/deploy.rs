//! The files in `deploy/` work as written: the sample settings file is one
//! the relay accepts (every key known), and the systemd unit's command line
//! starts a relay from it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");

#[test]
fn the_systemd_unit_starts_the_relay_with_the_sample_settings() {
    let unit = std::fs::read_to_string(format!("{DEPLOY}/doorstep.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/doorstep"));
    let args: Vec<&str> = words.collect();
    assert_eq!(args, ["serve", "--config", "/etc/doorstep/doorstep.toml"]);
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.contains("StateDirectory=doorstep"));

    // The sample settings, with the service's folders moved into a temporary one.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let settings = std::fs::read_to_string(format!("{DEPLOY}/doorstep.toml"))
        .unwrap()
        .replace("/var/lib/doorstep", state)
        .replace("127.0.0.1:8080", "127.0.0.1:0");
    let config = dir.path().join("doorstep.toml");
    std::fs::write(&config, settings).unwrap();
    let mut relay = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(relay.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    relay.kill().unwrap();
    let out = relay.wait_with_output().unwrap();
    assert!(
        line.starts_with("listening on http://127.0.0.1:"),
        "{line:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path().join("district.sqlite").exists(),
        "the database is where the sample says"
    );
}
