//! What the relay's benchmarks share: the real binary on a free port, and
//! its memory and CPU as `/proc` tells them.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // each benchmark uses its part

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_doorstep");

/// Resident memory of a process, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Starts `doorstep serve` over `db` on a free port; returns it and its URL.
#[allow(clippy::zombie_processes)] // the caller kills and waits
pub fn start(db: &Path) -> (Child, String) {
    start_with(&["--db", db.to_str().unwrap()])
}

/// Starts `doorstep serve` on a free port with the store `args` give
/// (`--db FILE`, or `--store … --photos-dir …`).
#[allow(clippy::zombie_processes)] // the caller kills and waits
pub fn start_with(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx.recv_timeout(Duration::from_secs(120)).unwrap();
        if let Some(url) = line.strip_prefix("listening on ") {
            return (child, url.to_owned());
        }
    }
}

/// Samples a process's resident memory every 20 ms until stopped, and keeps
/// the peak.
pub struct PeakRss {
    running: Arc<AtomicBool>,
    peak: Arc<Mutex<f64>>,
    thread: std::thread::JoinHandle<()>,
}

impl PeakRss {
    pub fn watch(pid: u32) -> Self {
        let running = Arc::new(AtomicBool::new(true));
        let peak = Arc::new(Mutex::new(0.0f64));
        let thread = {
            let (running, peak) = (running.clone(), peak.clone());
            std::thread::spawn(move || {
                while running.load(Ordering::SeqCst) {
                    let rss = rss_mib(pid);
                    let mut p = peak.lock().unwrap();
                    *p = p.max(rss);
                    drop(p);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Self {
            running,
            peak,
            thread,
        }
    }

    /// Stops sampling and returns the peak, in MiB.
    pub fn stop(self) -> f64 {
        self.running.store(false, Ordering::SeqCst);
        self.thread.join().unwrap();
        *self.peak.lock().unwrap()
    }
}
