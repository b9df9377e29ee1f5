//! HTTPS from the relay itself (`--tls-cert`/`--tls-key`), as a district
//! without a reverse proxy runs it: the real binary with a test certificate,
//! a client that trusts only that certificate, cookies marked `Secure`, a
//! renewed certificate taken on SIGHUP, handshakes bounded by the header
//! deadline, and files that cannot be used refused at start with the fix.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::tls::{Certificate, RootCerts, TlsConfig};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");

/// A self-signed certificate for 127.0.0.1 and localhost: (cert, key) PEM.
fn certificate() -> (String, String) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    (made.cert.pem(), made.signing_key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// An HTTPS client that trusts `cert` alone.
fn client(cert: &str) -> ureq::Agent {
    let root = Certificate::from_pem(cert.as_bytes()).unwrap();
    ureq::Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![root])))
                .build(),
        )
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent()
}

struct Relay {
    child: Child,
    url: String,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Relay {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("no listening line: {line:?}"))
        .to_owned();
    Relay { child, url }
}

fn add_user(db: &str) {
    let mut child = Command::new(BIN)
        .args(["user", "add", "--db", db, "--username", "chen"])
        .args(["--role", "supervisor", "--scope", "longgang"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"chen's password\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_relay_serves_https_and_takes_a_renewed_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    let db = db.to_str().unwrap();
    add_user(db);
    let (cert, key) = certificate();
    let cert_file = write(dir.path(), "relay.crt", &cert);
    let key_file = write(dir.path(), "relay.key", &key);
    let relay = serve(&["--db", db, "--tls-cert", &cert_file, "--tls-key", &key_file]);
    assert!(relay.url.starts_with("https://127.0.0.1:"), "{}", relay.url);
    let https = client(&cert);

    let health = https.get(format!("{}/healthz", relay.url)).call().unwrap();
    assert_eq!(health.status(), 200);
    let form = serde_json::json!({
        "username": "chen", "password": "chen's password",
        "device_id": sync_core::DeviceId::random().to_string(),
    });
    let text = https
        .post(format!("{}/v1/auth/login", relay.url))
        .header("content-type", "application/json")
        .send(form.to_string())
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(answer["access_token"].is_string(), "{answer}");
    // Over HTTPS the dashboard's cookies are sent Secure.
    let page = https.get(format!("{}/login", relay.url)).call().unwrap();
    let cookie = page.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // A client that does not trust the certificate is refused by its own TLS.
    let (other, _) = certificate();
    assert!(
        client(&other)
            .get(format!("{}/healthz", relay.url))
            .call()
            .is_err()
    );

    // A renewal: new files, SIGHUP, and new connections get the new one.
    let (renewed, renewed_key) = certificate();
    write(dir.path(), "relay.crt", &renewed);
    write(dir.path(), "relay.key", &renewed_key);
    let pid = relay.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let until = Instant::now() + Duration::from_secs(20);
    let fresh = client(&renewed);
    loop {
        if fresh.get(format!("{}/healthz", relay.url)).call().is_ok() {
            break;
        }
        assert!(
            Instant::now() < until,
            "the renewed certificate was not taken"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        client(&cert)
            .get(format!("{}/healthz", relay.url))
            .call()
            .is_err(),
        "the old certificate is no longer served"
    );
    // A broken renewal leaves the one in use.
    write(dir.path(), "relay.key", "not a key");
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        fresh
            .get(format!("{}/healthz", relay.url))
            .call()
            .unwrap()
            .status(),
        200
    );
}

#[test]
fn a_connection_that_never_finishes_its_handshake_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate();
    let cert_file = write(dir.path(), "relay.crt", &cert);
    let key_file = write(dir.path(), "relay.key", &key);
    let settings = write(dir.path(), "doorstep.toml", "header_timeout_secs = 1\n");
    let db = dir.path().join("relay.sqlite");
    let relay = serve(&[
        "--db",
        db.to_str().unwrap(),
        "--config",
        &settings,
        "--tls-cert",
        &cert_file,
        "--tls-key",
        &key_file,
    ]);
    let address = relay.url.strip_prefix("https://").unwrap();
    // Silent, then plain HTTP to the TLS port: both are closed, neither hangs.
    for hello in [&b""[..], b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"] {
        let mut socket = TcpStream::connect(address).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        socket.write_all(hello).unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "closed by the deadline, not by the client's timeout"
        );
        assert!(
            !String::from_utf8_lossy(&rest).contains("200 OK"),
            "nothing served in the clear"
        );
    }
    let https = client(&cert);
    assert_eq!(
        https
            .get(format!("{}/healthz", relay.url))
            .call()
            .unwrap()
            .status(),
        200
    );
}

/// Runs `doorstep serve` expecting it to refuse to start; its stderr.
fn refused(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "it started");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "it listened"
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn certificate_files_that_cannot_be_used_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    let db = db.to_str().unwrap();
    let (cert, key) = certificate();
    let (_, other_key) = certificate();
    let cert_file = write(dir.path(), "relay.crt", &cert);
    let key_file = write(dir.path(), "relay.key", &key);
    let other_key = write(dir.path(), "other.key", &other_key);
    let garbage = write(dir.path(), "garbage.pem", "hello\n");
    let missing = dir.path().join("nowhere.crt");
    let missing = missing.to_str().unwrap();

    let cases: [(&[&str], &str); 5] = [
        (
            &["--tls-cert", missing, "--tls-key", &key_file],
            "cannot read it",
        ),
        (
            &["--tls-cert", &garbage, "--tls-key", &key_file],
            "holds no certificate",
        ),
        (
            &["--tls-cert", &cert_file, "--tls-key", &garbage],
            "holds no private key",
        ),
        (
            &["--tls-cert", &cert_file, "--tls-key", &other_key],
            "does not belong to the certificate",
        ),
        (&["--tls-cert", &cert_file], "--tls-key"),
    ];
    for (args, said) in cases {
        let mut all = vec!["--db", db];
        all.extend_from_slice(args);
        let err = refused(&all);
        assert!(err.contains(said), "{args:?}: {err}");
    }
    let half = write(
        dir.path(),
        "half.toml",
        &format!("tls_cert = {cert_file:?}\n"),
    );
    let err = refused(&["--db", db, "--config", &half]);
    assert!(err.contains("both a certificate and its key"), "{err}");
}
