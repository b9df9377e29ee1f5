//! The HTTP client for the relay: login, token refresh and sync rounds, with
//! timeouts, retries with backoff, and the relay's answers mapped to
//! [`DoorstepError`]s. It moves bytes; the engine makes them.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::ErrorKind;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

use ureq::Agent;
use ureq::config::Config;
use ureq::tls::{RootCerts, TlsConfig};

use crate::error::{DoorstepError, Result};
use crate::session::Tokens;
use crate::types::SyncOptions;

/// The media type of sync-core's messages.
pub(crate) const SYNC_MEDIA_TYPE: &str = "application/vnd.doorstep.sync";

/// The largest answer read from the relay (a sync page is at most 16 MB).
const MAX_ANSWER_BYTES: u64 = 20 << 20;

/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why one request failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The relay could not be reached at all (no network, nothing listening,
    /// no such host). Not worth retrying at the start of a sync.
    Unreachable(String),
    /// The request failed on the way (timeout, dropped connection, relay
    /// restarting or overloaded). Worth retrying.
    Transient(String),
    /// The relay answered with an error.
    Status {
        /// The HTTP status.
        status: u16,
        /// The relay's error code (`invalid_token`, `device_revoked`, …).
        code: String,
        /// The relay's message.
        message: String,
    },
}

impl Failure {
    /// The relay refused a login unchecked after too many wrong passwords.
    fn is_throttled_login(&self) -> bool {
        matches!(self, Failure::Status { status: 429, code, .. } if code == "too_many_attempts")
    }
}

/// One answer from the relay.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: Vec<u8>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

/// A client for one relay.
pub(crate) struct RelayClient {
    pub(crate) base: String,
    pub(crate) agent: Agent,
    pub(crate) options: SyncOptions,
}

impl std::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl RelayClient {
    /// A client for the relay at `base` (already normalized).
    pub(crate) fn new(base: &str, options: &SyncOptions) -> Self {
        // Checked when the options were set; should it fail here, nothing is
        // trusted rather than everything.
        let roots = options
            .trusted_roots()
            .unwrap_or_else(|_| Some(RootCerts::Specific(Arc::new(Vec::new()))));
        let mut tls = TlsConfig::builder();
        if let Some(roots) = roots {
            tls = tls.root_certs(roots);
        }
        let config = Config::builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(options.request_timeout()))
            .timeout_connect(Some(options.connect_timeout()))
            .max_redirects(0)
            .user_agent(concat!("doorstep-mobile/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            base: base.to_owned(),
            agent: config.new_agent(),
            options: options.clone(),
        }
    }

    /// The relay's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Logs in and registers this phone (by its store id) as a device.
    pub(crate) fn login(
        &self,
        username: &str,
        password: &str,
        device: (&str, &str),
        public_key: &str,
    ) -> Result<Tokens> {
        let (device_id, device_name) = device;
        let form = json!({
            "username": username, "password": password,
            "device_id": device_id, "device_name": device_name,
            "public_key": public_key,
        });
        let answer = self
            .retrying(true, || self.post_json("/v1/auth/login", &form))
            .map_err(|f| self.error(f, Call::Login))?;
        parse_tokens(&answer)
    }

    /// Trades the refresh token for a new pair.
    pub(crate) fn refresh(&self, refresh_token: &str, public_key: &str) -> Result<Tokens> {
        // The key goes along so that a phone registered before signatures
        // registers it; a registered key never changes.
        let form = json!({ "refresh_token": refresh_token, "public_key": public_key });
        // Not retried: a refresh whose answer was lost must not be replayed
        // (the relay would take it for a stolen token and end the session).
        let answer = self
            .post_json("/v1/auth/refresh", &form)
            .and_then(check_status)
            .map_err(|f| self.error(f, Call::Refresh))?;
        parse_tokens(&answer)
    }

    /// Sends one sync request and returns the engine's answer. The relay
    /// answers 200, or 403/422 when every pushed record was refused: the
    /// body is the engine's response in all three cases.
    pub(crate) fn sync_round(
        &self,
        access_token: &str,
        body: &[u8],
        first_contact: bool,
    ) -> Result<Vec<u8>, Failure> {
        let answer = self.retrying(first_contact, || {
            let answer = self.post("/v1/sync", Some(access_token), SYNC_MEDIA_TYPE, body)?;
            if answer.content_type == SYNC_MEDIA_TYPE && matches!(answer.status, 200 | 403 | 422) {
                Ok(answer)
            } else {
                check_status(answer)
            }
        })?;
        Ok(answer.body)
    }

    /// The error a failed call means to the app.
    pub(crate) fn error(&self, failure: Failure, call: Call) -> DoorstepError {
        let base = &self.base;
        match failure {
            Failure::Unreachable(detail) => DoorstepError::Offline(format!(
                "offline: the relay at {base} cannot be reached ({detail}). Nothing was lost; sync again when the phone is online."
            )),
            Failure::Transient(detail) => DoorstepError::Offline(format!(
                "offline: the connection to the relay at {base} failed ({detail}), also after {} retries. Nothing was lost; the next sync carries on.",
                self.options.max_retries
            )),
            Failure::Status { code, message, .. } if code == "update_required" => {
                DoorstepError::UpdateRequired(message)
            }
            Failure::Status { code, .. } if code.starts_with("storage_") => {
                DoorstepError::RelayUnavailable(format!(
                    "the relay at {base} cannot store anything right now ({code}). Nothing on this phone was lost; sync again later."
                ))
            }
            Failure::Status { code, .. } if code == "device_revoked" => DoorstepError::DeviceRevoked(
                "this phone has been cut off by an administrator and can no longer sync. Its records stay on the phone; ask your supervisor."
                    .into(),
            ),
            Failure::Status { ref message, .. } if failure.is_throttled_login() => {
                DoorstepError::Unauthorized(format!("the relay refused the login: {message}"))
            }
            Failure::Status { status: 401, .. } => DoorstepError::Unauthorized(match call {
                Call::Login => "wrong username or password".into(),
                Call::Refresh | Call::Sync => {
                    "the session has ended: log in again to sync (nothing on the phone was lost)".into()
                }
            }),
            Failure::Status {
                status: 403 | 409,
                message,
                ..
            } if call != Call::Sync => DoorstepError::Unauthorized(format!(
                "the relay refused the login: {message}"
            )),
            Failure::Status {
                status: 400,
                message,
                ..
            } if call == Call::Login => DoorstepError::InvalidInput(format!(
                "the relay refused the login: {message}"
            )),
            Failure::Status {
                status, message, ..
            } => DoorstepError::Server(format!(
                "the relay at {base} answered HTTP {status}: {message}"
            )),
        }
    }

    fn post_json(&self, path: &str, form: &serde_json::Value) -> Result<Answer, Failure> {
        let body = serde_json::to_vec(form).map_err(|e| Failure::Transient(e.to_string()))?;
        self.post(path, None, "application/json", &body)
            .and_then(check_status)
    }

    fn post(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Result<Answer, Failure> {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut response = request.send(body).map_err(classify)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(classify)?;
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are
    /// used up, waiting longer before each retry. A relay that cannot be
    /// reached on first contact is not retried, so that `sync()` without a
    /// network fails at once.
    pub(crate) fn retrying<T>(
        &self,
        first_contact: bool,
        mut attempt: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let mut tries = 0u32;
        loop {
            match attempt() {
                Err(Failure::Unreachable(detail)) if first_contact => {
                    return Err(Failure::Unreachable(detail));
                }
                // Too many wrong passwords: retrying would only wait longer.
                Err(failure @ Failure::Status { .. }) if failure.is_throttled_login() => {
                    return Err(failure);
                }
                Err(failure @ (Failure::Unreachable(_) | Failure::Transient(_)))
                | Err(
                    failure @ Failure::Status {
                        status: 429 | 500 | 502 | 503 | 504,
                        ..
                    },
                ) => {
                    if tries >= self.options.max_retries {
                        return Err(failure);
                    }
                    std::thread::sleep(backoff(self.options.backoff_ms, tries));
                    tries += 1;
                }
                other => return other,
            }
        }
    }
}

/// Which call failed, for the error's wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Login,
    Refresh,
    Sync,
}

/// The wait before retry number `tries` (0 first): doubling from `base_ms`,
/// capped, with ±25% jitter so that phones coming back online together do
/// not retry in step.
fn backoff(base_ms: u64, tries: u32) -> Duration {
    let nominal = base_ms.saturating_mul(1u64 << tries.min(16));
    let nominal = Duration::from_millis(nominal).min(MAX_BACKOFF);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(tries);
    let jitter = 0.75 + (hasher.finish() % 1000) as f64 / 2000.0;
    nominal.mul_f64(jitter)
}

/// Turns an error status into a [`Failure::Status`].
pub(crate) fn check_status(answer: Answer) -> Result<Answer, Failure> {
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&answer.body) {
        Ok(body) => (body.error, body.message),
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(200)
                .collect(),
        ),
    };
    Err(Failure::Status {
        status: answer.status,
        code,
        message,
    })
}

fn parse_tokens(answer: &Answer) -> Result<Tokens> {
    serde_json::from_slice(&answer.body)
        .map_err(|e| DoorstepError::Server(format!("the relay's login answer cannot be read: {e}")))
}

/// Sorts a transport error into "cannot reach" and "failed on the way".
pub(crate) fn classify(e: ureq::Error) -> Failure {
    use ureq::Error as E;
    use ureq::Timeout as T;
    match e {
        E::HostNotFound => Failure::Unreachable("the relay's address cannot be resolved".into()),
        E::ConnectionFailed => Failure::Unreachable("the connection was refused".into()),
        E::Timeout(T::Connect | T::Resolve) => {
            Failure::Unreachable("no answer while connecting".into())
        }
        E::Timeout(_) => Failure::Transient("the relay did not answer in time".into()),
        E::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused
            | ErrorKind::NetworkUnreachable
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkDown
            | ErrorKind::AddrNotAvailable => Failure::Unreachable(io.to_string()),
            ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                Failure::Transient("the relay did not answer in time".into())
            }
            _ => Failure::Transient(io.to_string()),
        },
        E::Tls(_) | E::Rustls(_) | E::Pem(_) | E::TlsRequired => {
            // A captive portal or a wrong certificate: no use retrying.
            Failure::Unreachable(format!("a secure connection failed: {e}"))
        }
        other => Failure::Transient(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for tries in 0..4 {
            let d = backoff(100, tries);
            let nominal = 100.0 * f64::from(1u32 << tries);
            let ms = d.as_secs_f64() * 1000.0;
            assert!(
                ms >= nominal * 0.75 - 1.0 && ms <= nominal * 1.25 + 1.0,
                "{tries}: {ms}"
            );
        }
        assert!(backoff(10_000, 10) <= MAX_BACKOFF.mul_f64(1.25));
    }

    #[test]
    fn a_closed_port_is_unreachable_at_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = RelayClient::new(
            &format!("http://127.0.0.1:{port}"),
            &SyncOptions {
                max_retries: 5,
                backoff_ms: 60_000,
                ..SyncOptions::default()
            },
        );
        // With a minute of backoff, a retry would make this test hang.
        let e = client.login("wang", "pw", ("d", "phone"), "k").unwrap_err();
        assert!(
            matches!(&e, DoorstepError::Offline(m) if m.contains("cannot be reached")),
            "{e:?}"
        );
    }

    #[test]
    fn relay_errors_read_as_the_app_needs() {
        let client = RelayClient::new("http://relay", &SyncOptions::default());
        let status = |status, code: &str| Failure::Status {
            status,
            code: code.into(),
            message: "m".into(),
        };
        assert!(matches!(
            client.error(status(403, "device_revoked"), Call::Sync),
            DoorstepError::DeviceRevoked(_)
        ));
        assert!(matches!(
            client.error(status(403, "device_revoked"), Call::Login),
            DoorstepError::DeviceRevoked(_)
        ));
        assert!(matches!(
            client.error(status(401, "unauthorized"), Call::Login),
            DoorstepError::Unauthorized(m) if m.contains("password")
        ));
        assert!(matches!(
            client.error(status(429, "too_many_attempts"), Call::Login),
            DoorstepError::Unauthorized(m) if m.contains("refused the login: m")
        ));
        assert!(matches!(
            client.error(status(429, ""), Call::Sync),
            DoorstepError::Server(_)
        ));
        assert!(matches!(
            client.error(status(401, "invalid_token"), Call::Refresh),
            DoorstepError::Unauthorized(m) if m.contains("log in again")
        ));
        assert!(matches!(
            client.error(status(400, "bad_message"), Call::Sync),
            DoorstepError::Server(_)
        ));
        assert!(matches!(
            client.error(status(507, "storage_full"), Call::Sync),
            DoorstepError::RelayUnavailable(m) if m.contains("Nothing on this phone was lost")
        ));
        assert!(matches!(
            client.error(status(426, "update_required"), Call::Sync),
            DoorstepError::UpdateRequired(_)
        ));
        assert!(matches!(
            client.error(Failure::Transient("reset".into()), Call::Sync),
            DoorstepError::Offline(_)
        ));
    }
}
