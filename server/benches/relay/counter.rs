//! How often the relays' writers waited for PostgreSQL's feed counter row.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What PostgreSQL's `pg_stat_activity` showed of the relays' connections
/// every 10 ms: how many were busy, and how many of those were waiting for
/// the feed's counter row (the last statement of every write).
#[derive(Default)]
pub struct CounterFigures {
    pub samples: u64,
    with_waiter: u64,
    waiting: u64,
    busy: u64,
}

impl CounterFigures {
    pub fn share_waiting(&self) -> f64 {
        self.with_waiter as f64 / self.samples.max(1) as f64
    }
    pub fn mean_waiting(&self) -> f64 {
        self.waiting as f64 / self.samples.max(1) as f64
    }
    pub fn mean_busy(&self) -> f64 {
        self.busy as f64 / self.samples.max(1) as f64
    }
}

/// Samples the relays' connections until stopped.
pub struct CounterWatch {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<CounterFigures>,
}

impl CounterWatch {
    pub fn start(db: &server::store::postgres::testing::TestDatabase) -> Self {
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

    pub fn stop(self) -> CounterFigures {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}
