//! What sync and the session tell the app.

use std::time::Duration;

use sync_core::Role;
use sync_core::store::Rejection;
use sync_core::sync::{RejectCode, Rejected, SyncReport as CoreReport};

/// Who is logged in on this phone, and where.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Account {
    /// The user's login name.
    pub username: String,
    /// Their role.
    pub role: Role,
    /// The communities (or streets, or districts) they work in.
    pub scopes: Vec<String>,
    /// The relay this phone syncs with.
    pub relay_url: String,
}

/// A record the relay (or another phone) refused, and why.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct RejectedEdit {
    /// The record.
    pub record_id: String,
    /// Why, as a code.
    pub code: RejectCode,
    /// Why, for a person.
    pub reason: String,
    /// When it was refused (ms since the epoch); 0 in a sync report.
    pub at: i64,
}

impl From<Rejected> for RejectedEdit {
    fn from(r: Rejected) -> Self {
        Self {
            record_id: r.id.to_string(),
            code: r.code,
            reason: r.reason,
            at: 0,
        }
    }
}

impl RejectedEdit {
    pub(crate) fn from_stored(r: Rejection) -> Self {
        Self {
            record_id: r.record.to_string(),
            code: reject_code(&r.code),
            reason: r.reason,
            at: r.at,
        }
    }
}

/// A stored refusal's code back as the enum (by its stable text form; a
/// code a newer relay invented reads as `Invalid`: the edit still waits for
/// the worker).
fn reject_code(text: &str) -> RejectCode {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .unwrap_or(RejectCode::Invalid)
}

/// What one `sync()` (or a phone-to-phone exchange) did.
#[derive(Clone, Debug, Default, PartialEq, uniffi::Record)]
pub struct SyncReport {
    /// Records sent.
    pub sent: u64,
    /// Records the relay accepted.
    pub accepted: u64,
    /// Records received and applied.
    pub received: u64,
    /// Records the relay refused, with reasons. Edits refused for the
    /// worker's own reasons stay on the phone and are listed by
    /// `rejected_edits()` until the worker deals with them.
    pub rejected: Vec<RejectedEdit>,
    /// Received records that could not be applied here, with reasons.
    pub skipped: Vec<RejectedEdit>,
    /// Wish cards received with unresolved conflicts.
    pub conflicts: Vec<String>,
    /// Request/response rounds it took.
    pub rounds: u32,
    /// False when it stopped before everything was exchanged (the next sync
    /// carries on).
    pub complete: bool,
    /// True when the relay turned out to have gone back in time (restored
    /// from a backup) and this phone gave back what it lacked.
    pub reconciled: bool,
}

impl SyncReport {
    pub(crate) fn from_core(report: CoreReport, rounds: u32) -> Self {
        Self {
            sent: report.sent as u64,
            accepted: report.accepted as u64,
            received: report.received as u64,
            rejected: report.rejected.into_iter().map(Into::into).collect(),
            skipped: report.skipped.into_iter().map(Into::into).collect(),
            conflicts: report.conflicts.iter().map(ToString::to_string).collect(),
            rounds,
            complete: !report.more,
            reconciled: report.reconciled,
        }
    }
}

/// Where changed records came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeOrigin {
    /// An edit made on this phone.
    Local,
    /// A sync with the relay.
    Relay,
    /// A phone-to-phone exchange.
    Peer,
}

/// Records that changed, for screens to refresh.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct RecordsChanged {
    /// The records' ids.
    pub record_ids: Vec<String>,
    /// Where the change came from.
    pub origin: ChangeOrigin,
}

/// How `sync()` talks to the relay.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct SyncOptions {
    /// The longest one request may take, in milliseconds.
    #[uniffi(default = 30000)]
    pub request_timeout_ms: u64,
    /// The longest connecting may take, in milliseconds.
    #[uniffi(default = 10000)]
    pub connect_timeout_ms: u64,
    /// How often a request that failed on the way (a timeout, a dropped
    /// connection, a relay restarting) is tried again before the sync gives
    /// up with `Offline`. A relay that cannot be reached at all is not
    /// retried: `sync()` fails at once.
    #[uniffi(default = 3)]
    pub max_retries: u32,
    /// The wait before the first retry, in milliseconds; it doubles with each
    /// retry (with some jitter), up to 30 s.
    #[uniffi(default = 500)]
    pub backoff_ms: u64,
    /// For a relay whose HTTPS certificate no public authority issued (a
    /// district's own certificate authority, or the relay's self-signed
    /// certificate): that certificate, PEM. The phone then trusts it alone.
    /// Without it, the public authorities phones trust are used.
    #[uniffi(default = None)]
    pub trusted_certificate_pem: Option<String>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            connect_timeout_ms: 10_000,
            max_retries: 3,
            backoff_ms: 500,
            trusted_certificate_pem: None,
        }
    }
}

impl SyncOptions {
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(1))
    }

    /// The certificates to trust instead of the public authorities, if the
    /// options name one.
    pub(crate) fn trusted_roots(&self) -> crate::error::Result<Option<ureq::tls::RootCerts>> {
        let Some(pem) = self.trusted_certificate_pem.as_deref() else {
            return Ok(None);
        };
        let certificates = ureq::tls::parse_pem(pem.as_bytes())
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                crate::error::DoorstepError::InvalidInput(format!(
                    "trusted_certificate_pem is not a PEM certificate: {e}"
                ))
            })?;
        if certificates.is_empty() {
            return Err(crate::error::DoorstepError::InvalidInput(
                "trusted_certificate_pem holds no certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        Ok(Some(ureq::tls::RootCerts::Specific(std::sync::Arc::new(
            certificates,
        ))))
    }
}
