//! The load: phones that log in, write cards, then all sync at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use doorstep_tests::http::HttpPhone;
use doorstep_tests::relay_peer;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::sync::{self, Message, SyncRequest, SyncResponse};
use sync_core::{CommunityPath, EventKind, NewHousehold, NewWish};

use crate::common::{PeakRss, cpu_secs};

pub const PASSWORD: &str = "bench password";
/// Phones in the load: 200, or `DOORSTEP_BENCH_PHONES`.
pub fn phone_count() -> usize {
    std::env::var("DOORSTEP_BENCH_PHONES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}
pub const CARDS_PER_PHONE: usize = 50;
pub const COMMUNITIES: usize = 100;

pub struct LoadFigures {
    pub syncs: usize,
    pub rounds: usize,
    pub wall: f64,
    pub sync_ms: Vec<f64>,
    pub round_ms: Vec<f64>,
    pub wire_bytes: u64,
    pub change_bytes: u64,
    pub peak_rss: f64,
    /// The relays' CPU seconds while the clock ran (not the logins').
    pub relay_cpu: f64,
}

/// 200 phones in 20 communities: each pushes 50 new cards, then pulls.
pub fn load(url: &str, pid: u32) -> LoadFigures {
    load_on(&[url.to_owned()], &[pid])
}

/// Phone `p` logged in as `worker{p % 100}` through relay
/// `p % urls.len()`, holding one household and 50 submitted cards, unsynced.
pub fn phones_with_cards(urls: &[String]) -> Vec<HttpPhone> {
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
    phones
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
        .collect()
}

/// [`load`] through several relays over one store: phone `p` logs in and
/// syncs through relay `p % urls.len()`; the peak RSS is the largest
/// relay's. Each phone does its own work while the clock runs (signing and
/// encoding its push, merging what it pulls) on the cores the relay runs
/// on: the mixed figures.
pub fn load_on(urls: &[String], pids: &[u32]) -> LoadFigures {
    let phones = phones_with_cards(urls);
    let samplers: Vec<PeakRss> = pids.iter().map(|&pid| PeakRss::watch(pid)).collect();
    let wire = Arc::new(AtomicU64::new(0));
    let changes = Arc::new(AtomicU64::new(0));
    let rounds = Arc::new(Mutex::new(Vec::new()));
    let barrier = Arc::new(Barrier::new(phone_count()));
    let profile = Profile::start(pids);
    let cpu_before: Vec<f64> = pids.iter().map(|&pid| cpu_secs(pid)).collect();
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
    let relay_cpu = pids
        .iter()
        .zip(&cpu_before)
        .map(|(&pid, before)| cpu_secs(pid) - before)
        .sum();
    profile.stop();
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
        relay_cpu,
    }
}

/// One phone's load, made before the clock starts.
struct Prepared {
    url: String,
    token: String,
    /// The encoded push of all its records.
    push: Vec<u8>,
    /// What its later requests are made from: the push's request without
    /// the push.
    pull: SyncRequest,
    change_bytes: u64,
}

/// [`load_on`] with the phones' own work done before the clock starts:
/// each phone's push (its 51 records, signed and encoded) is built
/// beforehand, and while the clock runs a phone only sends bytes and reads
/// the cursor from each answer; it never merges what it pulls. The
/// relay's work is the same (every record merged, validated, signature
/// checked and stored; every pull page filled), and the figures are the
/// relay's own.
pub fn load_pregenerated(urls: &[String], pids: &[u32]) -> LoadFigures {
    let prepared: Vec<Prepared> = phones_with_cards(urls)
        .into_iter()
        .map(|mut phone| {
            let scopes = phone.phone.scopes.clone();
            let (request, _) = phone
                .phone
                .store
                .begin_sync(&relay_peer(), &scopes)
                .unwrap();
            assert_eq!(
                request.push.len(),
                CARDS_PER_PHONE + 1,
                "one request carries all of a phone's records"
            );
            Prepared {
                url: format!("{}/v1/sync", phone.base),
                token: phone.access.clone(),
                push: Message::Request(request.clone()).encode().unwrap(),
                change_bytes: request.push.iter().map(|u| u.payload.size() as u64).sum(),
                pull: SyncRequest {
                    push: Vec::new(),
                    pending: None,
                    ..request
                },
            }
        })
        .collect();
    let change_bytes = prepared.iter().map(|p| p.change_bytes).sum();
    let samplers: Vec<PeakRss> = pids.iter().map(|&pid| PeakRss::watch(pid)).collect();
    let wire = Arc::new(AtomicU64::new(0));
    let rounds = Arc::new(Mutex::new(Vec::new()));
    let barrier = Arc::new(Barrier::new(prepared.len()));
    let profile = Profile::start(pids);
    let cpu_before: Vec<f64> = pids.iter().map(|&pid| cpu_secs(pid)).collect();
    let started = Instant::now();
    let sync_ms: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = prepared
            .iter()
            .map(|phone| {
                let (wire, rounds, barrier) = (wire.clone(), rounds.clone(), barrier.clone());
                s.spawn(move || {
                    let client = doorstep_tests::http::client();
                    let send = |body: Vec<u8>| {
                        let round = Instant::now();
                        let sent = body.len();
                        let answer = client
                            .post(&phone.url)
                            .bearer_auth(&phone.token)
                            .body(body)
                            .send()
                            .and_then(|r| r.error_for_status())
                            .and_then(|r| r.bytes())
                            .unwrap();
                        rounds
                            .lock()
                            .unwrap()
                            .push(round.elapsed().as_secs_f64() * 1000.0);
                        wire.fetch_add((sent + answer.len()) as u64, Ordering::Relaxed);
                        match Message::decode(&answer).unwrap() {
                            Message::Response(response) => response,
                            other => panic!("the relay answered {other:?}"),
                        }
                    };
                    // Pages the pull on from `response` until the relay has
                    // no more; returns the last answer.
                    let page_on = |mut response: SyncResponse, since: u64| {
                        while response.more {
                            let request = SyncRequest {
                                epoch: Some(response.epoch),
                                cursor: response.cursor,
                                cursor_tag: response.cursor_tag,
                                since,
                                ..phone.pull.clone()
                            };
                            response = send(Message::Request(request).encode().unwrap());
                        }
                        response
                    };
                    barrier.wait();
                    let t = Instant::now();
                    let pushed = send(phone.push.clone());
                    assert!(
                        pushed.accepted.len() == CARDS_PER_PHONE + 1 && pushed.rejected.is_empty(),
                        "every record accepted: {:?}",
                        pushed.rejected
                    );
                    let done = page_on(pushed, 0);
                    let first = t.elapsed().as_secs_f64() * 1000.0;
                    // The second sync: pull what the others pushed since.
                    let t = Instant::now();
                    let request = SyncRequest {
                        epoch: Some(done.epoch),
                        cursor: done.cursor,
                        cursor_tag: done.cursor_tag,
                        since: done.cursor,
                        ..phone.pull.clone()
                    };
                    let answer = send(Message::Request(request).encode().unwrap());
                    page_on(answer, done.cursor);
                    vec![first, t.elapsed().as_secs_f64() * 1000.0]
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let relay_cpu = pids
        .iter()
        .zip(&cpu_before)
        .map(|(&pid, before)| cpu_secs(pid) - before)
        .sum();
    profile.stop();
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
        change_bytes,
        peak_rss,
        relay_cpu,
    }
}

/// `perf record` on the relays for the length of the load, when
/// `DOORSTEP_BENCH_PERF` names the file to write (scripts/profile-relay
/// sets it): the profile holds the load and nothing of the setup (the
/// logins' password hashing, the phones' cards).
struct Profile(Option<std::process::Child>);

impl Profile {
    fn start(pids: &[u32]) -> Profile {
        let Ok(out) = std::env::var("DOORSTEP_BENCH_PERF") else {
            return Profile(None);
        };
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        let child = std::process::Command::new("perf")
            .args([
                "record",
                "-q",
                "-F",
                "199",
                "--call-graph",
                "dwarf,16384",
                "-o",
            ])
            .arg(out)
            .arg("-p")
            .arg(pids.join(","))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run perf (Debian's linux-perf)");
        // perf attaches before the phones go.
        std::thread::sleep(std::time::Duration::from_millis(500));
        Profile(Some(child))
    }

    fn stop(self) {
        if let Some(mut child) = self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}
