//! Photo benchmark: what a phone spends making a photo of a 12-megapixel
//! picture, what the relay spends on each upload (hash, check, thumbnail),
//! what a photo costs on disk, upload throughput on loopback, and the real
//! relay's memory while 50 phones upload at once.
//!
//! ```sh
//! cargo bench -p server --bench photos
//! ```
//!
//! Prints figures only; it asserts nothing about time. It does check that
//! every photo arrived whole.

#![allow(clippy::unwrap_used, missing_docs)] // a benchmark that cannot unwrap has failed

mod common;

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use common::{PeakRss, cpu_secs, percentile, rss_mib, start};
use doorstep_tests::http::HttpPhone;
use doorstep_tests::pictures::picture;
use rustix::time::{ClockId, clock_gettime};
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::photo;
use sync_core::store::system_clock;
use sync_core::{CommunityPath, EventKind, NewHousehold, NewWish, Role, ScopePath, Store, UserId};

const PASSWORD: &str = "bench password";
const PHONES: usize = 50;

/// CPU time this thread has used, in seconds.
fn thread_cpu() -> f64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// Runs `f` `runs` times; returns its median wall and CPU milliseconds.
fn measure(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..runs {
        let (w, c) = (Instant::now(), thread_cpu());
        f();
        cpu.push((thread_cpu() - c) * 1000.0);
        wall.push(w.elapsed().as_secs_f64() * 1000.0);
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (percentile(&wall, 0.5), percentile(&cpu, 0.5))
}

fn on_the_phone() {
    let raw = picture(4000, 3000, 1);
    let mut processed = None;
    let (wall, cpu) = measure(5, || processed = Some(photo::process(&raw).unwrap()));
    let processed = processed.unwrap();
    let thumb = photo::thumbnail(&processed.data).unwrap();
    println!("\n## On the phone: a 12-megapixel camera picture (4000 × 3000)\n");
    println!("| measure | value |\n|---|---|");
    println!("| camera file | {:.2} MB |", raw.len() as f64 / 1e6);
    println!(
        "| `photo::process` (decode, turn, shrink to 1600 px, encode, hash) | {wall:.0} ms wall, {cpu:.0} ms CPU (median of 5) |"
    );
    println!(
        "| the photo | {} × {}, {:.0} KB |",
        processed.photo.width,
        processed.photo.height,
        processed.data.len() as f64 / 1e3
    );
    println!("| its thumbnail | {:.1} KB |", thumb.len() as f64 / 1e3);

    let (wall, cpu) = measure(20, || {
        let _ = photo::sha256(&processed.data);
        photo::inspect_with_thumbnail(&processed.data).unwrap();
    });
    println!("\n## On the relay, per photo, in process\n");
    println!("| measure | value |\n|---|---|");
    println!(
        "| hash, check (decode under limits, no metadata) and thumbnail | {wall:.1} ms wall, {cpu:.1} ms CPU (median of 20) |"
    );
}

/// A relay database with one worker per phone.
fn relay_db(path: &Path) {
    let mut store = Store::open(path).unwrap();
    for p in 0..PHONES {
        let user = UserId::new(format!("worker{p}")).unwrap();
        let scope = ScopePath::new(format!("bench/photos/c{p}")).unwrap();
        server::accounts::add_user(&mut store, &user, Role::Worker, &[scope], PASSWORD, 0).unwrap();
    }
}

/// A logged-in phone with a card and `photos` photos taken on it (synced,
/// not uploaded).
fn phone_with_photos(url: &str, p: usize, photos: usize) -> HttpPhone {
    let mut phone = HttpPhone::login(url, &format!("worker{p}"), PASSWORD, system_clock()).unwrap();
    let author = phone.phone.author.clone();
    let community = CommunityPath::new(format!("bench/photos/c{p}")).unwrap();
    let store = &mut phone.phone.store;
    let home = store
        .create_household(&author, &community, &NewHousehold::default())
        .unwrap();
    let card = store
        .create_wish(
            &author,
            &NewWish {
                household: home,
                text: format!("手机{p}的心愿"),
                category: Category::Other,
                urgency: Urgency::Normal,
                photos: vec![],
            },
        )
        .unwrap();
    store
        .append_event(&author, card, &EventInput::new(EventKind::Submit))
        .unwrap();
    for i in 0..photos {
        let seed = (p * 10 + i) as u32 + 100;
        store
            .add_photo(&author, card, &picture(2000, 1500, seed))
            .unwrap();
    }
    phone.sync().unwrap();
    phone
}

fn dir_bytes(dir: &Path) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "uploads") {
                let (f, b) = dir_bytes(&path);
                files += f;
                bytes += b;
            }
        } else {
            files += 1;
            bytes += entry.metadata().unwrap().len();
        }
    }
    (files, bytes)
}

fn over_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    relay_db(&db);
    let (mut relay, url) = start(&db);
    let pid = relay.id();
    eprintln!("taking {} photos on {PHONES} phones…", PHONES * 2);
    let mut phones: Vec<HttpPhone> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..PHONES)
            .map(|p| {
                let url = url.clone();
                s.spawn(move || phone_with_photos(&url, p, 2))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let idle = rss_mib(pid);

    // One phone after another, each its first photo: throughput.
    let firsts: Vec<_> = phones
        .iter()
        .map(|p| p.phone.store.photos_to_upload().unwrap()[0].clone())
        .collect();
    let (cpu0, t0) = (cpu_secs(pid), Instant::now());
    let mut sent = 0;
    for (phone, first) in phones.iter_mut().zip(&firsts) {
        sent += upload_one(phone, &first.sha256);
    }
    let (wall, relay_cpu) = (t0.elapsed().as_secs_f64(), cpu_secs(pid) - cpu0);

    // All 50 at once, each its second photo: memory.
    let sampler = PeakRss::watch(pid);
    let barrier = Arc::new(Barrier::new(PHONES));
    let (cpu1, t1) = (cpu_secs(pid), Instant::now());
    let together: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = phones
            .iter_mut()
            .map(|phone| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    phone.upload_photos().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let (wall_all, cpu_all) = (t1.elapsed().as_secs_f64(), cpu_secs(pid) - cpu1);
    let peak = sampler.stop();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let after = rss_mib(pid);

    let stored: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM stored_photos", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored as usize, 2 * PHONES, "every photo arrived whole");
    let (files, bytes) = dir_bytes(&db.with_extension("sqlite.photos"));
    relay.kill().unwrap();
    relay.wait().unwrap();

    println!(
        "\n## Uploads to the real relay on loopback ({PHONES} phones, 2000 × 1500 pictures)\n"
    );
    println!("| measure | value |\n|---|---|");
    println!(
        "| one phone after another ({PHONES} photos, {:.1} MB) | {:.1} MB/s, {:.0} ms a photo (HEAD, PATCH, check, thumbnail, fsync) |",
        sent as f64 / 1e6,
        sent as f64 / 1e6 / wall,
        wall * 1000.0 / PHONES as f64
    );
    println!(
        "| relay CPU per photo, end to end | {:.1} ms |",
        relay_cpu * 1000.0 / PHONES as f64
    );
    println!(
        "| {PHONES} phones at once ({:.1} MB) | {:.1} s in all, relay CPU {:.1} ms a photo |",
        together as f64 / 1e6,
        wall_all,
        cpu_all * 1000.0 / PHONES as f64
    );
    println!(
        "| relay RSS idle → peak with {PHONES} uploading → after | {idle:.0} → **{peak:.0}** → {after:.0} MiB |"
    );
    println!(
        "| storage per photo (photo + thumbnail on disk) | {:.0} KB ({files} files for {stored} photos) |",
        bytes as f64 / 1e3 / stored as f64
    );
}

/// HEAD and PATCH of one photo, as the phone does; the bytes sent.
fn upload_one(phone: &mut HttpPhone, sha: &sync_core::PhotoRef) -> u64 {
    let data = phone.phone.store.photo_data(sha).unwrap().unwrap();
    let client = doorstep_tests::http::client();
    let url = format!("{}/v1/photos/{sha}", phone.base);
    let head = client.head(&url).bearer_auth(&phone.access).send().unwrap();
    assert_eq!(head.status(), 200);
    let response = client
        .patch(&url)
        .bearer_auth(&phone.access)
        .header("upload-offset", 0)
        .header("upload-length", data.len())
        .body(data.clone())
        .send()
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().unwrap());
    phone.phone.store.photo_uploaded(sha).unwrap();
    data.len() as u64
}

fn main() {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("# Photos (load average at start: {})", load.trim());
    on_the_phone();
    over_http();
}
