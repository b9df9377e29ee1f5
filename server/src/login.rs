//! Password logins, for the phones' `POST /v1/auth/login` and the
//! dashboard's login form alike.
//!
//! - **Throttling.** After a few wrong passwords for one user name, each
//!   further attempt must wait, twice as long after every new failure (up to
//!   a cap); a right password ends the wait's count. Unknown names are
//!   throttled the same way, so the throttle tells nothing about who exists.
//!   The failures are counted in the store, so that a restart forgets none
//!   and every relay over one store throttles the same count. Phones
//!   already logged in are not affected: they sync with refresh tokens,
//!   never with the password.
//! - **No user enumeration by timing.** A name that does not exist is checked
//!   against a stand-in hash, so it costs what a wrong password costs.
//! - **Hashing off the store thread.** Argon2 is slow by design; it runs on
//!   blocking threads, at most a few at once, so a burst of logins cannot
//!   hold up syncs or starve the machine's cores.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use tokio::sync::Semaphore;

use crate::accounts::{self, User};
use crate::audit::{self, Action, Entry};
use crate::error::{AppError, AppResult};
use crate::state::{AppState, now_ms};
use crate::store::RelayStore;

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

impl ThrottlePolicy {
    /// How long a name must wait after `failures` wrong passwords in a row,
    /// counted from the last of them; `None` while they are free.
    pub fn wait(&self, failures: u32) -> Option<Duration> {
        failures
            .checked_sub(self.free_failures)
            .filter(|&beyond| beyond > 0)
            .map(|beyond| {
                let doubling = 2u32.saturating_pow(beyond - 1);
                self.first_wait.saturating_mul(doubling).min(self.max_wait)
            })
    }
}

/// How often (ms) a relay forgets the names whose failures no longer count.
const PRUNE_EVERY_MS: i64 = 10 * 60 * 1000;

/// A duration in whole milliseconds, as the store's times are.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Failed logins per user name, counted in the store: a restart forgets
/// nothing, and every relay over one store throttles the same failures.
/// The rules (what is free, how long to wait, when failures are forgotten)
/// are the policy's, here; the store keeps only the failures.
#[derive(Debug)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    /// When this relay last forgot stale names (ms).
    pruned_at: AtomicI64,
}

impl LoginThrottle {
    /// A throttle with `policy`.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            pruned_at: AtomicI64::new(i64::MIN),
        }
    }

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// `Err(wait)` if `username` may not try a password before `wait` has
    /// passed (times in ms), by the failures `store` holds.
    pub fn check(
        &self,
        store: &dyn RelayStore,
        username: &str,
        now: i64,
    ) -> AppResult<Result<(), Duration>> {
        let failures = store.login_failures(&Self::key(username))?;
        let until = failures
            .last
            .zip(self.policy.wait(failures.count))
            .map(|(last, wait)| last.saturating_add(millis(wait)));
        Ok(match until {
            Some(until) if until > now => Err(Duration::from_millis(
                u64::try_from(until - now).unwrap_or(u64::MAX),
            )),
            _ => Ok(()),
        })
    }

    /// Counts a wrong password for `username` at `now` (ms). Now and then
    /// it also forgets the names whose failures can no longer count: their
    /// last came longer ago than both the quiet spell that forgets them and
    /// the longest wait.
    pub fn failed(&self, store: &mut dyn RelayStore, username: &str, now: i64) -> AppResult<()> {
        let forget = millis(self.policy.forget_after);
        store.record_login_failure(&Self::key(username), now, now.saturating_sub(forget))?;
        let pruned = self.pruned_at.load(Ordering::Relaxed);
        if now.saturating_sub(pruned) >= PRUNE_EVERY_MS
            && self
                .pruned_at
                .compare_exchange(pruned, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let stale = forget.max(millis(self.policy.max_wait));
            store.forget_stale_login_failures(now.saturating_sub(stale))?;
        }
        Ok(())
    }

    /// Forgets `username`'s failures after a right password.
    pub fn succeeded(&self, store: &mut dyn RelayStore, username: &str) -> AppResult<()> {
        store.forget_login_failures(&Self::key(username))
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
async fn not_throttled(state: &AppState, username: &str) -> AppResult<()> {
    let logins = state.logins.clone();
    let name = username.to_owned();
    state
        .db
        .run(move |store| logins.throttle.check(store, &name, now_ms()))
        .await?
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
    not_throttled(state, username).await?;
    let _permit = logins
        .hashing
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    // Again: attempts that queued for hashing while the name failed.
    not_throttled(state, username).await?;
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
            let (logins, name) = (state.logins.clone(), username.to_owned());
            let forgotten = state
                .db
                .run(move |store| logins.throttle.succeeded(store, &name))
                .await;
            if let Err(e) = forgotten {
                // The right password is not refused for it: the count stays.
                tracing::error!(error = %e, user = %username, "cannot forget failed logins");
            }
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
            let (logins, name) = (state.logins.clone(), username.to_owned());
            let counted = state
                .db
                .run(move |store| logins.throttle.failed(store, &name, now_ms()))
                .await;
            state.metrics.login_failures.inc();
            tracing::info!(user = %username, "wrong user name or password");
            note(state, refused("wrong user name or password")).await;
            // A failure the throttle could not count is not answered as a
            // mere wrong password: the next guess would go uncounted too.
            counted?;
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
mod tests;
