//! Relay benchmark: the real `doorstep` binary under 200 concurrent phones,
//! and its memory with 100,000 and 1,000,000 records stored.
//!
//! ```sh
//! cargo bench -p server --bench relay                       # 0, 100k and 1M records
//! DOORSTEP_BENCH_SIZES=0,100000 cargo bench -p server --bench relay
//! # an empty store on PostgreSQL, behind one relay and behind two:
//! DOORSTEP_BENCH_STORE=postgres scripts/with-postgres cargo bench -p server --bench relay
//! DOORSTEP_BENCH_PHONES=50 …                                # fewer phones
//! DOORSTEP_BENCH_PHONES_MODE=pregenerated …                 # only the relay's own figures
//! ```
//!
//! Each store is loaded twice, from the same start: once by phones doing
//! their own work on the same two cores (the mixed figures), once by
//! phones whose messages were made before the clock started (the relay's
//! own figures).
//!
//! Prints figures only; it asserts nothing about time. Stores with many
//! records are built once under `target/bench-data/` and reused.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)] // a benchmark that cannot unwrap has failed; its modules are its own

use std::path::{Path, PathBuf};
use std::time::Duration;

use sync_core::Store;

#[path = "../common/mod.rs"]
mod common;
mod counter;
mod load;
mod seed;

use common::{percentile, rss_mib, start, start_with};
use counter::CounterWatch;
use load::{CARDS_PER_PHONE, COMMUNITIES, load, load_on, load_pregenerated, phone_count};
use seed::{add_users, build_store};

/// Which phones drive the load.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phones {
    /// Phones doing their own work while the clock runs ([`load_on`]).
    Mixed,
    /// Phones whose messages were made beforehand ([`load_pregenerated`]).
    Pregenerated,
}

impl Phones {
    /// `DOORSTEP_BENCH_PHONES_MODE`: `mixed`, `pregenerated`, or both (the
    /// default).
    fn chosen() -> Vec<Phones> {
        match std::env::var("DOORSTEP_BENCH_PHONES_MODE").as_deref() {
            Ok("mixed") => vec![Phones::Mixed],
            Ok("pregenerated") => vec![Phones::Pregenerated],
            _ => vec![Phones::Mixed, Phones::Pregenerated],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Phones::Mixed => "mixed",
            Phones::Pregenerated => "pregenerated",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Phones::Mixed => {
                "phones sign, encode and merge while the clock runs, on the relay's cores"
            }
            Phones::Pregenerated => {
                "phones' messages made before the clock starts; they only send and read cursors"
            }
        }
    }
}

fn scenario(records: usize, dir: &Path, phones: Phones) {
    let db = if records == 0 {
        let db = dir.join(format!(
            "empty-{}-{}.sqlite",
            std::process::id(),
            phones.name()
        ));
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
        let copy = dir.join(format!("relay-{records}-{}.sqlite", phones.name()));
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
    let figures = match phones {
        Phones::Mixed => load(&url, pid),
        Phones::Pregenerated => load_pregenerated(&[url], &[pid]),
    };
    let relay_cpu = figures.relay_cpu;
    std::thread::sleep(Duration::from_secs(1));
    let idle_after = rss_mib(pid);
    child.kill().unwrap();
    child.wait().unwrap();

    println!("\n## relay with {records} records stored (database {db_mib:.0} MiB)");
    println!(
        "  {} phones x {CARDS_PER_PHONE} new cards, {COMMUNITIES} communities; each phone pushes, then pulls",
        phone_count()
    );
    println!("  {}", phones.describe());
    let accepted = (phone_count() * (CARDS_PER_PHONE + 1)) as f64;
    println!(
        "  syncs: {} in {:.2} s = {:.0} syncs/s, {:.0} records accepted/s ({} HTTP round trips = {:.0}/s)",
        figures.syncs,
        figures.wall,
        figures.syncs as f64 / figures.wall,
        accepted / figures.wall,
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
        "  relay CPU: {relay_cpu:.1} s while the clock ran ({:.1} ms per sync, {:.2} ms per record)",
        relay_cpu * 1000.0 / figures.syncs.max(1) as f64,
        relay_cpu * 1000.0 / accepted
    );
    println!(
        "  relay RSS: idle {idle_before:.0} MiB, peak under load {:.0} MiB, idle after {idle_after:.0} MiB",
        figures.peak_rss
    );
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
    let counter = CounterWatch::start(&db);
    let figures = load_on(&urls, &pids);
    let counter = counter.stop();
    let relay_cpu = figures.relay_cpu;
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
        for phones in Phones::chosen() {
            scenario(records, dir.path(), phones);
        }
    }
}
