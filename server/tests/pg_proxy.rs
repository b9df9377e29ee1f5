//! `deploy/nginx-two-relays.conf`, run by Debian's nginx in front of two
//! real relays over one PostgreSQL database: a phone and a supervisor see
//! one address; requests reach both relays; when one relay dies, nginx
//! passes over it and nothing a phone acknowledged is lost.
//!
//! The file is used as shipped except for what a test cannot have: its
//! ports become free loopback ports, its upstreams the two relays, and TLS
//! is left out (the test's HTTP client speaks plain HTTP; nginx's TLS is
//! nginx's). [`for_the_test`] fails if any of those lines is missing, so a
//! change to the file's shape fails here rather than going untested.
//!
//! Needs `DOORSTEP_TEST_PG` (run under `scripts/with-postgres`) and nginx
//! (`/usr/sbin/nginx`, or `DOORSTEP_TEST_NGINX`); without them the test
//! skips, or fails under `CI=true`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use doorstep_tests::http::{Api, HttpPhone};
use doorstep_tests::process::{doorstep, serve_store, stop};
use server::store::postgres::testing::TestDatabase;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::store::WishFilter;
use sync_core::{EventKind, NewHousehold, NewWish};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const PASSWORD: &str = "correct horse battery";
const SHIPPED: &str = include_str!("../../deploy/nginx-two-relays.conf");

/// The nginx binary, or `None` (with the reason printed) when there is
/// none and this is not CI.
fn nginx() -> Option<PathBuf> {
    let path = std::env::var_os("DOORSTEP_TEST_NGINX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "no nginx at {} and CI=true (scripts/test installs Debian's nginx)",
        path.display()
    );
    eprintln!(
        "skipped: no nginx at {} (install Debian's nginx)",
        path.display()
    );
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shipped site, rewritten as the module says: `relays` for the
/// upstreams, `port` for HTTPS's and `redirect` for HTTP's, no TLS.
fn for_the_test(relays: [&str; 2], port: u16, redirect: u16) -> String {
    let swaps = [
        ("server 127.0.0.1:8081 ", format!("server {} ", relays[0])),
        ("server 127.0.0.1:8082 ", format!("server {} ", relays[1])),
        ("listen 443 ssl http2;", format!("listen 127.0.0.1:{port};")),
        ("listen 80;", format!("listen 127.0.0.1:{redirect};")),
    ];
    let dropped = ["listen [::]:443 ssl http2;", "listen [::]:80;", "ssl_"];
    let mut site = String::new();
    let mut swapped = [false; 4];
    let mut dropped_any = [false; 3];
    for line in SHIPPED.lines() {
        let code = line.trim_start();
        if let Some(d) = dropped.iter().position(|d| code.starts_with(d)) {
            dropped_any[d] = true;
            continue;
        }
        let mut line = line.to_owned();
        for (n, (from, to)) in swaps.iter().enumerate() {
            if code.starts_with(from) {
                line = line.replacen(from, to, 1);
                swapped[n] = true;
            }
        }
        site.push_str(&line);
        site.push('\n');
    }
    assert!(
        swapped.iter().chain(&dropped_any).all(|&s| s),
        "deploy/nginx-two-relays.conf changed shape; update this test ({swapped:?} {dropped_any:?})"
    );
    site
}

/// A main nginx.conf around `site` that keeps everything under `dir` and
/// logs which relay answered each request; returns its path.
fn write_main(dir: &Path, site: &str) -> PathBuf {
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let d = dir.display();
    let main = format!(
        "pid {d}/nginx.pid;
         error_log {d}/error.log;
         daemon off;
         events {{}}
         http {{
             log_format relays '$request_method $uri $status $upstream_addr';
             access_log {d}/access.log relays;
             client_body_temp_path {d}/body;
             proxy_temp_path {d}/proxy;
             include {d}/site.conf;
         }}"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    dir.join("nginx.conf")
}

/// nginx, stopped (master and workers) when dropped, a failed test
/// included.
struct Nginx(Option<Child>);

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(child) = self.0.take() {
            stop(child);
        }
    }
}

/// nginx in the foreground on `site` (see [`write_main`]), once
/// `nginx -t` has passed it, listening on `port`.
fn start_nginx(nginx: &Path, dir: &Path, site: &str, port: u16) -> Nginx {
    let conf = write_main(dir, site);
    let test = Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    let child = Nginx(Some(
        Command::new(nginx)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn write_card(phone: &mut HttpPhone, text: &str) -> String {
    let community = phone.phone.community();
    let author = phone.phone.author.clone();
    let store = &mut phone.phone.store;
    let home = store
        .create_household(&author, &community, &NewHousehold::default())
        .unwrap();
    let id = store
        .create_wish(
            &author,
            &NewWish {
                household: home,
                text: text.to_owned(),
                category: Category::Other,
                urgency: Urgency::Low,
                photos: vec![],
            },
        )
        .unwrap();
    store
        .append_event(&author, id, &EventInput::new(EventKind::Submit))
        .unwrap();
    id.to_string()
}

#[test]
fn two_relays_behind_the_shipped_nginx_serve_one_address_and_survive_one_dying() {
    let Some(nginx) = nginx() else { return };
    let Some(db) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(TestDatabase::create("behind_nginx"))
    else {
        return;
    };
    let store = db.conninfo().to_owned();
    for (name, role, scope) in [
        ("wang", "worker", "longgang/yuanshan/xikeng"),
        ("chen", "supervisor", "longgang"),
    ] {
        doorstep(
            BIN,
            &[
                "user",
                "add",
                "--store",
                &store,
                "--username",
                name,
                "--role",
                role,
                "--scope",
                scope,
                "--password",
                PASSWORD,
            ],
        );
    }
    let photos = tempfile::tempdir().unwrap();
    let a = serve_store(BIN, &store, photos.path());
    let b = serve_store(BIN, &store, photos.path());
    let addr = |url: &str| url.trim_start_matches("http://").to_owned();
    let (a_addr, b_addr) = (addr(&a.url), addr(&b.url));
    let dir = tempfile::tempdir().unwrap();
    let (port, redirect) = (free_port(), free_port());
    let site = for_the_test([&a_addr, &b_addr], port, redirect);
    let proxy = start_nginx(&nginx, dir.path(), &site, port);
    let front = format!("http://127.0.0.1:{port}");

    // One address for the phone and the supervisor, both relays behind it.
    let mut phone =
        HttpPhone::login(&front, "wang", PASSWORD, sync_core::store::system_clock()).unwrap();
    let mut acknowledged = Vec::new();
    for i in 0..8 {
        acknowledged.push(write_card(&mut phone, &format!("门口的路灯坏了 {i}")));
        phone.sync().unwrap();
    }
    let log = std::fs::read_to_string(dir.path().join("access.log")).unwrap();
    let answered_by = |relay: &str| {
        log.lines()
            .filter(|l| l.starts_with("POST /v1/sync 200") && l.ends_with(relay))
            .count()
    };
    assert!(
        answered_by(&a_addr) > 0 && answered_by(&b_addr) > 0,
        "both relays answered syncs through nginx:\n{log}"
    );

    // Relay A dies without a word. The phone and the dashboard go on
    // through the same address.
    kill(a.child);
    for i in 8..16 {
        acknowledged.push(write_card(&mut phone, &format!("门口的路灯坏了 {i}")));
        phone
            .sync()
            .unwrap_or_else(|e| panic!("sync {i} through nginx with relay A dead: {e}"));
    }
    let supervisor = Api::login(&front, "chen", PASSWORD).unwrap();
    let (status, wishes) = supervisor.get("/v1/wishes?limit=100");
    assert!(status.is_success(), "{status} {wishes}");
    let listed: Vec<&str> = wishes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    for id in &acknowledged {
        assert!(listed.contains(&id.as_str()), "card {id} is on the relay");
    }
    assert_eq!(listed.len(), acknowledged.len(), "each card once");
    let (status, health) = supervisor.get("/healthz");
    assert!(status.is_success(), "{status} {health}");

    // The redirect server sends plain HTTP to HTTPS.
    let redirected = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{redirect}/v1/stats"))
        .send()
        .unwrap();
    assert_eq!(redirected.status(), 301);
    let engine = server::store::open_postgres(&store).unwrap();
    let stored = server::store::RelayStore::list_wishes(
        &engine,
        &WishFilter {
            limit: Some(100),
            ..WishFilter::default()
        },
    )
    .unwrap();
    assert_eq!(stored.items.len(), acknowledged.len());
    drop(engine);
    drop(proxy);
    kill(b.child);
}

/// Both shipped sites, TLS and all, as `nginx -t` reads them: only the
/// certificate paths (to a fresh self-signed one) and the ports (to free
/// ones, so the check runs unprivileged) are changed.
#[test]
fn the_shipped_nginx_sites_pass_nginx_t_with_their_tls() {
    let Some(nginx) = nginx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["doorstep.example.org".to_owned()]).unwrap();
    let (pem, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&pem, cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.signing_key.serialize_pem()).unwrap();
    let live = "/etc/letsencrypt/live/doorstep.example.org/";
    for (name, shipped) in [
        ("nginx.conf", include_str!("../../deploy/nginx.conf")),
        ("nginx-two-relays.conf", SHIPPED),
    ] {
        let site = shipped
            .replace(&format!("{live}fullchain.pem"), pem.to_str().unwrap())
            .replace(&format!("{live}privkey.pem"), key.to_str().unwrap())
            .replace(":443 ", &format!(":{} ", free_port()))
            .replace("listen 443 ", &format!("listen {} ", free_port()))
            .replace(":80;", &format!(":{};", free_port()))
            .replace("listen 80;", &format!("listen {};", free_port()));
        assert!(!site.contains(live), "{name}: certificate paths replaced");
        let conf = write_main(dir.path(), &site);
        let test = Command::new(&nginx)
            .arg("-t")
            .arg("-c")
            .arg(&conf)
            .output()
            .unwrap();
        assert!(
            test.status.success(),
            "deploy/{name} fails nginx -t: {}",
            String::from_utf8_lossy(&test.stderr)
        );
    }
}
