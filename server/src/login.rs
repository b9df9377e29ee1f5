//! Password logins, for the phones' `POST /v1/auth/login` and the
//! dashboard's login form alike.
//!
//! - **Throttling.** After a few wrong passwords for one user name, each
//!   further attempt must wait, twice as long after every new failure (up to
//!   a cap); a right password ends the wait's count. Unknown names are
//!   throttled the same way, so the throttle tells nothing about who exists.
//!   Phones already logged in are not affected: they sync with refresh
//!   tokens, never with the password.
//! - **No user enumeration by timing.** A name that does not exist is checked
//!   against a stand-in hash, so it costs what a wrong password costs.
//! - **Hashing off the store thread.** Argon2 is slow by design; it runs on
//!   blocking threads, at most a few at once, so a burst of logins cannot
//!   hold up syncs or starve the machine's cores.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use tokio::sync::Semaphore;

use crate::accounts::{self, User};
use crate::audit::{self, Action, Entry};
use crate::error::{AppError, AppResult};
use crate::state::{AppState, now_ms};

/// How failed logins are throttled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Wrong passwords in a row that cost nothing.
    pub free_failures: u32,
    /// The wait after the first failure beyond those; it doubles with each
    /// further one.
    pub first_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
    /// A name's failures are forgotten this long after the last one.
    pub forget_after: Duration,
}

impl Default for ThrottlePolicy {
    /// Five free tries, then 30 s, 1 min, 2 min, … up to 15 min; forgotten
    /// after a quiet day. A worker who mistypes waits half a minute; a
    /// guesser gets about a hundred tries a day per name.
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_wait: Duration::from_secs(30),
            max_wait: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// The most user names whose failures are remembered at once (about a
/// megabyte). Beyond it, the names with the fewest failures are forgotten
/// first, the oldest of them first: a name being guessed at has many, and a
/// flood of other names, one each, cannot push it out.
const MAX_NAMES: usize = 10_000;

/// Failed logins per user name, in memory (a restart forgets them).
#[derive(Debug)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    capacity: usize,
    names: Mutex<HashMap<String, Failures>>,
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl LoginThrottle {
    /// A throttle with `policy`.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self::with_capacity(policy, MAX_NAMES)
    }

    /// A throttle with `policy` that remembers at most `capacity` names.
    pub fn with_capacity(policy: ThrottlePolicy, capacity: usize) -> Self {
        Self {
            policy,
            capacity: capacity.max(1),
            names: Mutex::new(HashMap::new()),
        }
    }

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// `Err(wait)` if `username` may not try a password before `wait` has
    /// passed.
    pub fn check(&self, username: &str, now: Instant) -> Result<(), Duration> {
        let names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        match names
            .get(&Self::key(username))
            .and_then(|f| f.blocked_until)
        {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a wrong password for `username`.
    pub fn failed(&self, username: &str, now: Instant) {
        let policy = self.policy;
        let key = Self::key(username);
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if names.len() >= self.capacity && !names.contains_key(&key) {
            names.retain(|_, f| now.saturating_duration_since(f.last) < policy.forget_after);
            if names.len() >= self.capacity
                && let Some(least) = names
                    .iter()
                    .min_by_key(|(_, f)| (f.count, f.last))
                    .map(|(k, _)| k.clone())
            {
                names.remove(&least);
            }
        }
        let entry = names.entry(key).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if now.saturating_duration_since(entry.last) >= policy.forget_after {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        entry.blocked_until = entry
            .count
            .checked_sub(policy.free_failures)
            .filter(|&beyond| beyond > 0)
            .map(|beyond| {
                let doubling = 2u32.saturating_pow(beyond - 1);
                now + policy
                    .first_wait
                    .saturating_mul(doubling)
                    .min(policy.max_wait)
            });
    }

    /// Forgets `username`'s failures after a right password.
    pub fn succeeded(&self, username: &str) {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        names.remove(&Self::key(username));
    }
}

/// Logins' shared state: the throttle and the bound on hashing at once.
#[derive(Debug)]
pub struct Logins {
    /// Failed logins per user name.
    pub throttle: LoginThrottle,
    hashing: Semaphore,
}

impl Logins {
    /// Logins throttled by `policy`, hashing on at most half the machine's
    /// cores (at least one).
    pub fn new(policy: ThrottlePolicy) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            throttle: LoginThrottle::new(policy),
            hashing: Semaphore::new((cores / 2).max(1)),
        }
    }
}

impl Default for Logins {
    fn default() -> Self {
        Self::new(ThrottlePolicy::default())
    }
}

/// A hash to check unknown names against: the same work as a real one.
fn stand_in_hash() -> AppResult<&'static str> {
    static HASH: OnceLock<String> = OnceLock::new();
    if let Some(hash) = HASH.get() {
        return Ok(hash);
    }
    let hash = accounts::hash_password("no user has this password")?;
    Ok(HASH.get_or_init(|| hash))
}

/// `Err` if `username` must wait before trying a password again.
fn not_throttled(state: &AppState, username: &str) -> AppResult<()> {
    state
        .logins
        .throttle
        .check(username, Instant::now())
        .map_err(|wait| {
            state.metrics.logins_throttled.inc();
            tracing::warn!(user = %username, wait_secs = wait.as_secs(), "login throttled");
            AppError::TooManyAttempts {
                retry_after_secs: wait.as_secs().max(1),
            }
        })
}

fn password_matches(hash: &str, password: &str) -> AppResult<bool> {
    let parsed = PasswordHash::new(hash).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// Checks `username`'s password: the user if it is right and they are not
/// disabled. Wrong names and wrong passwords get the same answer; too many
/// of them get [`AppError::TooManyAttempts`] before any password is checked.
/// A one-time code past its time is refused, saying so (only to whoever
/// knows it). Refusals after a password check go to the audit log, from
/// `peer`.
///
/// A user whose password is a one-time code is returned like any other,
/// with [`User::must_change_password`] set: the caller lets them do nothing
/// but choose a new password.
pub async fn authenticate(
    state: &AppState,
    username: &str,
    password: String,
    peer: Option<SocketAddr>,
) -> AppResult<User> {
    let logins = &state.logins;
    not_throttled(state, username)?;
    let _permit = logins
        .hashing
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    // Again: attempts that queued for hashing while the name failed.
    not_throttled(state, username)?;
    let name = username.to_owned();
    let credentials = state.db.run(move |store| store.credentials(&name)).await?;
    let hash = match &credentials {
        Some(c) => c.password_hash.clone(),
        None => stand_in_hash()?.to_owned(),
    };
    let matches = tokio::task::spawn_blocking(move || password_matches(&hash, &password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let refused = |why: &str| {
        Entry::new(now_ms(), None, Action::LoginFailed)
            .on(username)
            .detail(why)
            .from_peer(peer)
    };
    match credentials {
        Some(credentials) if matches => {
            logins.throttle.succeeded(username);
            if credentials.user.disabled {
                note(state, refused("disabled")).await;
                return Err(AppError::Forbidden("this user is disabled".into()));
            }
            if credentials
                .password_expires_at
                .is_some_and(|until| until <= now_ms())
            {
                note(state, refused("one-time code expired")).await;
                return Err(AppError::Unauthorized(
                    "this one-time code has expired: ask an administrator for a new one".into(),
                ));
            }
            Ok(credentials.user)
        }
        _ => {
            logins.throttle.failed(username, Instant::now());
            state.metrics.login_failures.inc();
            tracing::info!(user = %username, "wrong user name or password");
            note(state, refused("wrong user name or password")).await;
            Err(AppError::Unauthorized("wrong user name or password".into()))
        }
    }
}

/// Records `entry` in the audit log. A failure to record is logged, and
/// does not change the answer of the request it describes.
pub async fn note(state: &AppState, entry: Entry) {
    let action = entry.action;
    if let Err(e) = state
        .db
        .run(move |store| audit::record(store, &entry))
        .await
    {
        tracing::error!(error = %e, %action, "cannot write the audit log");
    }
}

/// Sets `user`'s new password after they proved the old one (or their
/// one-time code) and records it. Their sessions end everywhere.
pub async fn change_password(
    state: &AppState,
    user: &User,
    new_password: &str,
    peer: Option<SocketAddr>,
) -> AppResult<()> {
    accounts::check_password(new_password)?;
    let hash = {
        let password = new_password.to_owned();
        tokio::task::spawn_blocking(move || accounts::hash_password(&password))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??
    };
    let username = user.username.clone();
    let detail = if user.must_change_password {
        "replaced a one-time code"
    } else {
        "changed their own password"
    };
    state
        .db
        .run(move |store| {
            let now = now_ms();
            store.set_password(&username, &hash, None, now)?;
            audit::record(
                store,
                &Entry::new(now, Some(username.as_str()), Action::PasswordChanged)
                    .on(username.as_str())
                    .detail(detail)
                    .from_peer(peer),
            )
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            free_failures: 3,
            first_wait: Duration::from_secs(10),
            max_wait: Duration::from_secs(60),
            forget_after: Duration::from_secs(3600),
        }
    }

    #[test]
    fn free_failures_cost_nothing_then_waits_double_up_to_the_cap() {
        let throttle = LoginThrottle::new(policy());
        let t0 = Instant::now();
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
            let almost = now + Duration::from_secs(expected) - Duration::from_millis(1);
            assert!(throttle.check("wang", almost).is_err());
            now += Duration::from_secs(expected);
            assert_eq!(throttle.check("wang", now), Ok(()));
        }
    }

    #[test]
    fn names_are_throttled_apart_and_a_success_clears_the_count() {
        let throttle = LoginThrottle::new(policy());
        let now = Instant::now();
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
        let throttle = LoginThrottle::new(policy());
        let t0 = Instant::now();
        for _ in 0..4 {
            throttle.failed("wang", t0);
        }
        let later = t0 + Duration::from_secs(3600);
        throttle.failed("wang", later);
        assert_eq!(
            throttle.check("wang", later),
            Ok(()),
            "one failure after an hour is free"
        );
    }

    #[test]
    fn memory_stays_bounded_under_a_spray_of_names() {
        let throttle = LoginThrottle::new(policy());
        let now = Instant::now();
        for i in 0..MAX_NAMES + 50 {
            throttle.failed(&format!("user{i}"), now + Duration::from_millis(i as u64));
        }
        let remembered = throttle.names.lock().unwrap().len();
        assert!(remembered <= MAX_NAMES, "{remembered} names remembered");
        // The latest names are the ones kept.
        for _ in 0..3 {
            throttle.failed(&format!("user{}", MAX_NAMES + 49), now);
        }
        assert!(
            throttle
                .check(&format!("user{}", MAX_NAMES + 49), now)
                .is_err()
        );
    }

    #[test]
    fn a_flood_of_other_names_does_not_wipe_a_guessed_names_count() {
        let throttle = LoginThrottle::with_capacity(policy(), 100);
        let t0 = Instant::now();
        for _ in 0..4 {
            throttle.failed("wang", t0);
        }
        assert!(throttle.check("wang", t0).is_err());
        // Ten times the capacity of other names, each tried once, later.
        for i in 0..1_000u64 {
            let at = t0 + Duration::from_millis(i + 1);
            throttle.failed(&format!("flood{i}"), at);
        }
        let now = t0 + Duration::from_secs(1);
        assert!(
            throttle.check("wang", now).is_err(),
            "wang's failures are remembered through the flood"
        );
        throttle.failed("wang", now + Duration::from_secs(10));
        assert_eq!(
            throttle.check("wang", now + Duration::from_secs(10)),
            Err(Duration::from_secs(20)),
            "and the next failure doubles the wait"
        );
        assert!(throttle.names.lock().unwrap().len() <= 100);
    }

    #[test]
    fn the_stand_in_hash_matches_no_password() {
        let hash = stand_in_hash().unwrap();
        assert!(!password_matches(hash, "").unwrap());
        assert!(!password_matches(hash, "doorstep-demo").unwrap());
        assert_eq!(stand_in_hash().unwrap(), hash, "made once");
    }
}
