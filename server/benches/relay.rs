//! Relay benchmark: the real `doorstep` binary under 200 concurrent phones,
//! and its memory with 100,000 and 1,000,000 records stored.
//!
//! ```sh
//! cargo bench -p server --bench relay                       # 0, 100k and 1M records
//! DOORSTEP_BENCH_SIZES=0,100000 cargo bench -p server --bench relay
//! # an empty store on PostgreSQL, behind one relay and behind two:
//! DOORSTEP_BENCH_STORE=postgres scripts/with-postgres cargo bench -p server --bench relay
//! DOORSTEP_BENCH_PHONES=50 …                                # fewer phones
//! ```
//!
//! Prints figures only; it asserts nothing about time. Stores with many
//! records are built once under `target/bench-data/` and reused.

#![allow(clippy::unwrap_used, missing_docs)] // a benchmark that cannot unwrap has failed

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use doorstep_tests::http::HttpPhone;
use doorstep_tests::relay_peer;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::sync::{self, Message};
use sync_core::{
    Author, CommunityPath, DeviceId, EventKind, NewHousehold, NewWish, Role, ScopePath, Store,
    UserId,
};

mod common;

use common::{PeakRss, cpu_secs, percentile, rss_mib, start, start_with};
const PASSWORD: &str = "bench password";
/// Phones in the load: 200, or `DOORSTEP_BENCH_PHONES`.
fn phone_count() -> usize {
    std::env::var("DOORSTEP_BENCH_PHONES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}
const CARDS_PER_PHONE: usize = 50;
const COMMUNITIES: usize = 100;

/// A relay database with `records` records (households and wish cards in
/// 100 communities of the district `stored`), plus the bench users.
fn build_store(path: &Path, records: usize) {
    let started = Instant::now();
    let mut store = Store::open(path).unwrap();
    store
        .connection()
        .pragma_update(None, "synchronous", "OFF")
        .unwrap();
    let author = Author {
        user: UserId::new("seeder").unwrap(),
        role: Role::Worker,
        device: DeviceId::random(),
    };
    let mut home = None;
    for i in 0..records {
        let community =
            CommunityPath::new(format!("stored/street{}/c{}", i % 10, i % 100)).unwrap();
        let Some(household) = home.filter(|_| i % 3 != 0) else {
            let h = store
                .create_household(
                    &author,
                    &community,
                    &NewHousehold {
                        address: format!("{i}号"),
                        head_name: "李建国".into(),
                        ..Default::default()
                    },
                )
                .unwrap();
            home = Some(h);
            continue;
        };
        {
            let id = store
                .create_wish(
                    &author,
                    &NewWish {
                        household,
                        text: format!("第{i}个心愿：希望给老人配一台轮椅"),
                        category: Category::MobilityAid,
                        urgency: Urgency::Normal,
                        photos: vec![],
                    },
                )
                .unwrap();
            if i % 2 == 0 {
                store
                    .append_event(&author, id, &EventInput::new(EventKind::Submit))
                    .unwrap();
            }
        }
        if i > 0 && i % 100_000 == 0 {
            eprintln!("  … {i} records ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    add_users(&mut store);
    store
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    eprintln!(
        "  built {records} records in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

fn add_users(store: &mut dyn server::store::RelayStore) {
    for c in 0..COMMUNITIES {
        let user = UserId::new(format!("worker{c}")).unwrap();
        let scope = ScopePath::new(format!("bench/load/c{c}")).unwrap();
        server::accounts::add_user(store, &user, Role::Worker, &[scope], PASSWORD, 0).unwrap();
    }
}

struct LoadFigures {
    syncs: usize,
    rounds: usize,
    wall: f64,
    sync_ms: Vec<f64>,
    round_ms: Vec<f64>,
    wire_bytes: u64,
    change_bytes: u64,
    peak_rss: f64,
}

/// 200 phones in 20 communities: each pushes 50 new cards, then pulls.
fn load(url: &str, pid: u32) -> LoadFigures {
    load_on(&[url.to_owned()], &[pid])
}

/// [`load`] through several relays over one store: phone `p` logs in and
/// syncs through relay `p % urls.len()`; the peak RSS is the largest
/// relay's.
fn load_on(urls: &[String], pids: &[u32]) -> LoadFigures {
    let phones: Vec<HttpPhone> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..phone_count())
            .map(|p| {
                let url = &urls[p % urls.len()];
                s.spawn(move || {
                    let clock = sync_core::store::system_clock();
                    HttpPhone::login(url, &format!("worker{}", p % COMMUNITIES), PASSWORD, clock)
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let phones: Vec<HttpPhone> = phones
        .into_iter()
        .enumerate()
        .map(|(p, mut phone)| {
            let community = CommunityPath::new(format!("bench/load/c{}", p % COMMUNITIES)).unwrap();
            let author = phone.phone.author.clone();
            let home = phone
                .phone
                .store
                .create_household(&author, &community, &NewHousehold::default())
                .unwrap();
            for i in 0..CARDS_PER_PHONE {
                let id = phone
                    .phone
                    .store
                    .create_wish(
                        &author,
                        &NewWish {
                            household: home,
                            text: format!("手机{p}的第{i}个心愿"),
                            category: Category::Other,
                            urgency: Urgency::Low,
                            photos: vec![],
                        },
                    )
                    .unwrap();
                phone
                    .phone
                    .store
                    .append_event(&author, id, &EventInput::new(EventKind::Submit))
                    .unwrap();
            }
            phone
        })
        .collect();

    let samplers: Vec<PeakRss> = pids.iter().map(|&pid| PeakRss::watch(pid)).collect();
    let wire = Arc::new(AtomicU64::new(0));
    let changes = Arc::new(AtomicU64::new(0));
    let rounds = Arc::new(Mutex::new(Vec::new()));
    let barrier = Arc::new(Barrier::new(phone_count()));
    let started = Instant::now();
    let sync_ms: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = phones
            .into_iter()
            .map(|mut phone| {
                let (wire, changes, rounds, barrier) = (
                    wire.clone(),
                    changes.clone(),
                    rounds.clone(),
                    barrier.clone(),
                );
                s.spawn(move || {
                    let client = doorstep_tests::http::client();
                    let url = format!("{}/v1/sync", phone.base);
                    let mut times = Vec::new();
                    barrier.wait();
                    // Push the 50 new cards, then pull what the others pushed.
                    for _ in 0..2 {
                        let t = Instant::now();
                        let scopes = phone.phone.scopes.clone();
                        sync::drive(&mut phone.phone.store, &relay_peer(), &scopes, |request| {
                            if let Ok(Message::Request(r)) = Message::decode(&request) {
                                changes.fetch_add(
                                    r.push.iter().map(|u| u.payload.size() as u64).sum(),
                                    Ordering::Relaxed,
                                );
                            }
                            let round = Instant::now();
                            let response = client
                                .post(&url)
                                .bearer_auth(&phone.access)
                                .body(request.clone())
                                .send()?;
                            let body = response.bytes()?.to_vec();
                            rounds
                                .lock()
                                .unwrap()
                                .push(round.elapsed().as_secs_f64() * 1000.0);
                            wire.fetch_add((request.len() + body.len()) as u64, Ordering::Relaxed);
                            Ok::<_, reqwest::Error>(body)
                        })
                        .unwrap();
                        times.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    times
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let peak_rss = samplers.into_iter().map(PeakRss::stop).fold(0.0, f64::max);
    let mut sync_ms = sync_ms;
    sync_ms.sort_by(f64::total_cmp);
    let mut round_ms = rounds.lock().unwrap().clone();
    round_ms.sort_by(f64::total_cmp);
    LoadFigures {
        syncs: sync_ms.len(),
        rounds: round_ms.len(),
        wall,
        sync_ms,
        round_ms,
        wire_bytes: wire.load(Ordering::Relaxed),
        change_bytes: changes.load(Ordering::Relaxed),
        peak_rss,
    }
}

fn scenario(records: usize, dir: &Path) {
    let db = if records == 0 {
        let db = dir.join(format!("empty-{}.sqlite", std::process::id()));
        add_users(&mut Store::open(&db).unwrap());
        db
    } else {
        let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
        std::fs::create_dir_all(&data).unwrap();
        let db = data.join(format!("relay-{records}.sqlite"));
        if !db.exists() {
            eprintln!("building a relay store with {records} records (once; reused later)…");
            let tmp = data.join(format!("relay-{records}.building.sqlite"));
            let _ = std::fs::remove_file(&tmp);
            build_store(&tmp, records);
            std::fs::rename(&tmp, &db).unwrap();
        }
        // Each run starts from the built store, not from the last run's load.
        let copy = dir.join(format!("relay-{records}.sqlite"));
        std::fs::copy(&db, &copy).unwrap();
        copy
    };
    let db_mib = std::fs::metadata(&db)
        .map(|m| m.len() as f64 / 1048576.0)
        .unwrap_or(0.0);
    let (mut child, url) = start(&db);
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(1));
    let idle_before = rss_mib(pid);
    let cpu_before = cpu_secs(pid);
    let figures = load(&url, pid);
    let relay_cpu = cpu_secs(pid) - cpu_before;
    std::thread::sleep(Duration::from_secs(1));
    let idle_after = rss_mib(pid);
    child.kill().unwrap();
    child.wait().unwrap();

    println!("\n## relay with {records} records stored (database {db_mib:.0} MiB)");
    println!(
        "  {} phones x {CARDS_PER_PHONE} new cards, {COMMUNITIES} communities; each phone pushes, then pulls",
        phone_count()
    );
    println!(
        "  syncs: {} in {:.2} s = {:.0} syncs/s ({} HTTP round trips = {:.0}/s)",
        figures.syncs,
        figures.wall,
        figures.syncs as f64 / figures.wall,
        figures.rounds,
        figures.rounds as f64 / figures.wall
    );
    println!(
        "  sync latency: p50 {:.0} ms, p99 {:.0} ms; round trip p50 {:.0} ms, p99 {:.0} ms",
        percentile(&figures.sync_ms, 0.5),
        percentile(&figures.sync_ms, 0.99),
        percentile(&figures.round_ms, 0.5),
        percentile(&figures.round_ms, 0.99)
    );
    println!(
        "  wire: {:.1} MiB for {:.1} MiB of new changes pushed (ratio {:.2}; includes every pull of the others' cards)",
        figures.wire_bytes as f64 / 1048576.0,
        figures.change_bytes as f64 / 1048576.0,
        figures.wire_bytes as f64 / figures.change_bytes.max(1) as f64
    );
    println!(
        "  relay CPU: {relay_cpu:.1} s for the load ({:.1} ms per sync; the phones share the same 2 cores)",
        relay_cpu * 1000.0 / figures.syncs.max(1) as f64
    );
    println!(
        "  relay RSS: idle {idle_before:.0} MiB, peak under load {:.0} MiB, idle after {idle_after:.0} MiB",
        figures.peak_rss
    );
}

/// What PostgreSQL's `pg_stat_activity` showed of the relays' connections
/// every 10 ms: how many were busy, and how many of those were waiting for
/// the feed's counter row (the last statement of every write).
#[derive(Default)]
struct CounterFigures {
    samples: u64,
    with_waiter: u64,
    waiting: u64,
    busy: u64,
}

impl CounterFigures {
    fn share_waiting(&self) -> f64 {
        self.with_waiter as f64 / self.samples.max(1) as f64
    }
    fn mean_waiting(&self) -> f64 {
        self.waiting as f64 / self.samples.max(1) as f64
    }
    fn mean_busy(&self) -> f64 {
        self.busy as f64 / self.samples.max(1) as f64
    }
}

/// Samples the relays' connections until stopped.
struct CounterWatch {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<CounterFigures>,
}

impl CounterWatch {
    fn start(db: &server::store::postgres::testing::TestDatabase) -> Self {
        let pool = db.pool(1);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = pool.get().await.unwrap();
                let sample = client
                    .prepare(
                        "SELECT count(*) FILTER (WHERE state = 'active'),
                                count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'
                                                 AND query LIKE '%UPDATE feed_counter%')
                           FROM pg_stat_activity
                          WHERE application_name = 'doorstep' AND pid <> pg_backend_pid()",
                    )
                    .await
                    .unwrap();
                let mut figures = CounterFigures::default();
                while !stopping.load(Ordering::Relaxed) {
                    let row = client.query_one(&sample, &[]).await.unwrap();
                    let (busy, waiting): (i64, i64) = (row.get(0), row.get(1));
                    figures.samples += 1;
                    figures.busy += busy as u64;
                    figures.waiting += waiting as u64;
                    figures.with_waiter += u64::from(waiting > 0);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                figures
            })
        });
        CounterWatch { stop, thread }
    }

    fn stop(self) -> CounterFigures {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// An empty store on PostgreSQL (`DOORSTEP_TEST_PG`, as the tests'), behind
/// `relays` relay processes.
fn postgres_scenario(relays: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt
        .block_on(server::store::postgres::testing::TestDatabase::create(
            &format!("bench_{relays}_relays"),
        ))
        .expect(
            "DOORSTEP_BENCH_STORE=postgres needs DOORSTEP_TEST_PG: run under scripts/with-postgres",
        );
    {
        let mut engine = server::store::open_postgres(db.conninfo()).unwrap();
        add_users(&mut engine);
    }
    let photos = tempfile::tempdir().unwrap();
    let photos_dir = photos.path().to_str().unwrap();
    let started: Vec<_> = (0..relays)
        .map(|_| start_with(&["--store", db.conninfo(), "--photos-dir", photos_dir]))
        .collect();
    let urls: Vec<String> = started.iter().map(|(_, url)| url.clone()).collect();
    let pids: Vec<u32> = started.iter().map(|(child, _)| child.id()).collect();
    std::thread::sleep(Duration::from_secs(1));
    let idle_before: Vec<f64> = pids.iter().map(|&pid| rss_mib(pid)).collect();
    let cpu_before: Vec<f64> = pids.iter().map(|&pid| cpu_secs(pid)).collect();
    let counter = CounterWatch::start(&db);
    let figures = load_on(&urls, &pids);
    let counter = counter.stop();
    let relay_cpu: f64 = pids
        .iter()
        .zip(&cpu_before)
        .map(|(&pid, before)| cpu_secs(pid) - before)
        .sum();
    for (mut child, _) in started {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let accepted = (phone_count() * (CARDS_PER_PHONE + 1)) as f64;
    println!("\n## PostgreSQL, empty store, {relays} relay(s) over it");
    println!(
        "  {} phones x {CARDS_PER_PHONE} new cards, {COMMUNITIES} communities; each phone pushes, then pulls",
        phone_count()
    );
    println!(
        "  syncs: {} in {:.2} s = {:.0} syncs/s, {:.0} records accepted/s",
        figures.syncs,
        figures.wall,
        figures.syncs as f64 / figures.wall,
        accepted / figures.wall
    );
    println!(
        "  sync latency: p50 {:.0} ms, p99 {:.0} ms",
        percentile(&figures.sync_ms, 0.5),
        percentile(&figures.sync_ms, 0.99)
    );
    println!(
        "  relay CPU: {relay_cpu:.1} s in all ({:.1} ms per sync); PostgreSQL's own CPU is not counted",
        relay_cpu * 1000.0 / figures.syncs.max(1) as f64
    );
    println!(
        "  feed counter row: {:.0}% of {} samples had a writer waiting on it; on average {:.2} of {:.2} busy relay connections waited there",
        counter.share_waiting() * 100.0,
        counter.samples,
        counter.mean_waiting(),
        counter.mean_busy()
    );
    println!(
        "  relay RSS: idle {:?} MiB, peak under load {:.0} MiB (the largest relay)",
        idle_before.iter().map(|m| m.round()).collect::<Vec<_>>(),
        figures.peak_rss
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks benchmarks to list themselves.
    }
    let sizes: Vec<usize> = std::env::var("DOORSTEP_BENCH_SIZES")
        .unwrap_or_else(|_| "0,100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    println!(
        "# doorstep relay benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if std::env::var("DOORSTEP_BENCH_STORE").is_ok_and(|s| s == "postgres") {
        for relays in [1, 2] {
            postgres_scenario(relays);
        }
        return;
    }
    for records in sizes {
        scenario(records, dir.path());
    }
}
