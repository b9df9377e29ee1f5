//! The login throttle's rules, over a SQLite store of its own.

use super::*;
use sync_core::Store;

fn policy() -> ThrottlePolicy {
    ThrottlePolicy {
        free_failures: 3,
        first_wait: Duration::from_secs(10),
        max_wait: Duration::from_secs(60),
        forget_after: Duration::from_secs(3600),
    }
}

const SECOND: i64 = 1000;

/// A throttle over a store of its own.
struct Subject {
    throttle: LoginThrottle,
    store: Store,
}

impl Subject {
    fn new() -> Self {
        Self {
            throttle: LoginThrottle::new(policy()),
            store: Store::open_in_memory().unwrap(),
        }
    }

    fn failed(&mut self, name: &str, now: i64) {
        self.throttle.failed(&mut self.store, name, now).unwrap();
    }

    fn check(&self, name: &str, now: i64) -> Result<(), Duration> {
        self.throttle.check(&self.store, name, now).unwrap()
    }

    fn succeeded(&mut self, name: &str) {
        self.throttle.succeeded(&mut self.store, name).unwrap();
    }
}

#[test]
fn free_failures_cost_nothing_then_waits_double_up_to_the_cap() {
    let mut throttle = Subject::new();
    let t0 = 1_700_000_000_000;
    for _ in 0..3 {
        throttle.failed("wang", t0);
        assert_eq!(throttle.check("wang", t0), Ok(()));
    }
    let mut now = t0;
    for expected in [10, 20, 40, 60, 60] {
        throttle.failed("wang", now);
        assert_eq!(
            throttle.check("wang", now),
            Err(Duration::from_secs(expected))
        );
        // Still blocked a moment before the wait ends; free after it.
        let almost = now + expected as i64 * SECOND - 1;
        assert!(throttle.check("wang", almost).is_err());
        now += expected as i64 * SECOND;
        assert_eq!(throttle.check("wang", now), Ok(()));
    }
}

#[test]
fn names_are_throttled_apart_and_a_success_clears_the_count() {
    let mut throttle = Subject::new();
    let now = 1_700_000_000_000;
    for _ in 0..4 {
        throttle.failed("wang", now);
    }
    assert!(throttle.check("wang", now).is_err());
    assert!(
        throttle.check(" WANG ", now).is_err(),
        "case and spaces do not dodge it"
    );
    assert_eq!(throttle.check("li", now), Ok(()));
    throttle.succeeded("wang");
    assert_eq!(throttle.check("wang", now), Ok(()));
    throttle.failed("wang", now);
    assert_eq!(
        throttle.check("wang", now),
        Ok(()),
        "the count starts again"
    );
}

#[test]
fn failures_are_forgotten_after_a_quiet_spell() {
    let mut throttle = Subject::new();
    let t0 = 1_700_000_000_000;
    for _ in 0..4 {
        throttle.failed("wang", t0);
    }
    let later = t0 + 3600 * SECOND;
    throttle.failed("wang", later);
    assert_eq!(
        throttle.check("wang", later),
        Ok(()),
        "one failure after an hour is free"
    );
}

#[test]
fn a_run_of_failures_goes_on_while_none_is_an_hour_apart() {
    let mut throttle = Subject::new();
    let t0 = 1_700_000_000_000;
    let mut now = t0;
    for _ in 0..4 {
        now += 3599 * SECOND;
        throttle.failed("wang", now);
    }
    assert_eq!(
        throttle.check("wang", now),
        Err(Duration::from_secs(10)),
        "four failures within the hour of each other, though not of the first"
    );
}

#[test]
fn stale_names_are_forgotten_now_and_then() {
    let mut throttle = Subject::new();
    let t0 = 1_700_000_000_000;
    for i in 0..50 {
        throttle.failed(&format!("user{i}"), t0 + i);
    }
    for _ in 0..4 {
        throttle.failed("wang", t0 + 3000 * SECOND);
    }
    // An hour after the spray, the next failure forgets it (its names
    // would start again anyway), not wang's run.
    throttle.failed("li", t0 + 3700 * SECOND);
    let left = |t: &Subject, name: &str| t.store.login_failures(name).unwrap().count;
    assert_eq!(
        (0..50)
            .map(|i| left(&throttle, &format!("user{i}")))
            .sum::<u32>(),
        0
    );
    assert_eq!(left(&throttle, "wang"), 4);
    assert_eq!(left(&throttle, "li"), 1);
    // Not at every failure: ten minutes after the last round at least.
    let round = t0 + 3700 * SECOND;
    throttle.failed("old", t0);
    throttle.failed("li", round + 9 * 60 * SECOND);
    assert_eq!(left(&throttle, "old"), 1, "forgotten at the next round");
    throttle.failed("li", round + 10 * 60 * SECOND);
    assert_eq!(left(&throttle, "old"), 0);
    assert_eq!(left(&throttle, "li"), 3);
}

#[test]
fn a_flood_of_other_names_does_not_wipe_a_guessed_names_count() {
    let mut throttle = Subject::new();
    let t0 = 1_700_000_000_000;
    for _ in 0..4 {
        throttle.failed("wang", t0);
    }
    assert!(throttle.check("wang", t0).is_err());
    // A thousand other names, each tried once, later.
    for i in 0..1_000 {
        throttle.failed(&format!("flood{i}"), t0 + i + 1);
    }
    let now = t0 + SECOND;
    assert!(
        throttle.check("wang", now).is_err(),
        "wang's failures are remembered through the flood"
    );
    throttle.failed("wang", now + 10 * SECOND);
    assert_eq!(
        throttle.check("wang", now + 10 * SECOND),
        Err(Duration::from_secs(20)),
        "and the next failure doubles the wait"
    );
}

#[test]
fn two_relays_over_one_store_count_the_same_failures() {
    // Two throttles (two relays' memories) over one store.
    let mut store = Store::open_in_memory().unwrap();
    let (a, b) = (LoginThrottle::new(policy()), LoginThrottle::new(policy()));
    let now = 1_700_000_000_000;
    for _ in 0..2 {
        a.failed(&mut store, "wang", now).unwrap();
        b.failed(&mut store, "wang", now).unwrap();
    }
    assert_eq!(
        b.check(&store, "wang", now).unwrap(),
        Err(Duration::from_secs(10))
    );
    a.succeeded(&mut store, "wang").unwrap();
    assert_eq!(b.check(&store, "wang", now).unwrap(), Ok(()));
}

#[test]
fn the_stand_in_hash_matches_no_password() {
    let hash = stand_in_hash().unwrap();
    assert!(!password_matches(hash, "").unwrap());
    assert!(!password_matches(hash, "doorstep-demo").unwrap());
    assert_eq!(stand_in_hash().unwrap(), hash, "made once");
}
