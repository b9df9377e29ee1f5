//! `sync()`: sync-core's rounds of request and response, carried over HTTP.
//!
//! Each round locks the store only to build the request and to apply the
//! answer (one transaction each); the network round trip runs unlocked, so
//! the app keeps reading and writing during a long first sync. A sync that
//! stops part way (no network, the app killed) keeps every round it
//! finished, and the next one carries on.

use sync_core::ScopePath;
use sync_core::store::PeerId;
use sync_core::sync::{MAX_ROUNDS, Message, SyncReport as CoreReport, SyncResponse};

use crate::asyncify::on_thread;
use crate::error::{DoorstepError, Result};
use crate::relay::{Call, Failure, RelayClient};
use crate::session::{self, Session};
use crate::store::{FieldStore, Shared, lock};
use crate::types::{ChangeOrigin, RejectedEdit, SyncReport};

impl Shared {
    /// A whole sync with the relay (blocking; run on a thread of its own).
    pub(crate) fn sync_blocking(&self) -> Result<SyncReport> {
        let _one_at_a_time = lock(&self.sync_gate);
        let (relay_url, scopes) = {
            let inner = self.inner();
            let session = inner.session()?;
            (session.relay_url.clone(), session.scopes.clone())
        };
        let client = RelayClient::new(&relay_url, &self.options());
        let peer = session::relay_peer(&relay_url)?;
        let mut report = CoreReport::default();
        let mut rounds = 0u32;
        let mut followed_up = false;
        loop {
            if rounds as usize >= MAX_ROUNDS {
                report.more = true;
                break;
            }
            let round = self.round(&client, &peer, &scopes, rounds == 0)?;
            rounds += 1;
            let (more, received) = (round.more, round.received);
            report.absorb(round);
            if more {
                continue;
            }
            // What arrived may let local edits through that were held back
            // (an edit on top of another phone's change, met phone to phone,
            // goes once that change is on the relay): one more round.
            if !followed_up && received > 0 && self.inner().store.pending_changes(&peer)? > 0 {
                followed_up = true;
                continue;
            }
            break;
        }
        Ok(SyncReport::from_core(report, rounds))
    }

    /// One request and its response.
    fn round(
        &self,
        client: &RelayClient,
        peer: &PeerId,
        scopes: &[ScopePath],
        first: bool,
    ) -> Result<CoreReport> {
        let (request, pending) = {
            let mut inner = self.inner();
            let (request, pending) = inner.store.begin_sync(peer, scopes)?;
            (
                Message::Request(request)
                    .encode()
                    .map_err(sync_core::Error::from)?,
                pending,
            )
        };
        let answer = self.exchange(client, &request, first)?;
        let response = decode(client, &answer)?;
        let received: Vec<String> = response.pull.iter().map(|u| u.id.to_string()).collect();
        let round = self.inner().store.finish_sync(pending, &response)?;
        self.notify(received, ChangeOrigin::Relay);
        Ok(round)
    }

    /// Sends one request with a valid access token, refreshing it when it
    /// is about to expire or the relay says it has.
    fn exchange(&self, client: &RelayClient, request: &[u8], first: bool) -> Result<Vec<u8>> {
        let token = self.access_token(client)?;
        match client.sync_round(&token, request, first) {
            Ok(answer) => Ok(answer),
            Err(Failure::Status { status: 401, .. }) => {
                let token = self.refresh(client)?;
                client
                    .sync_round(&token, request, false)
                    .map_err(|f| client.error(f, Call::Sync))
            }
            Err(failure) => Err(client.error(failure, Call::Sync)),
        }
    }

    pub(crate) fn access_token(&self, client: &RelayClient) -> Result<String> {
        let (token, stale) = {
            let inner = self.inner();
            let session = inner.session()?;
            (
                session.access_token.clone(),
                session.needs_refresh(inner.store.now()),
            )
        };
        if stale {
            self.refresh(client)
        } else {
            Ok(token)
        }
    }

    /// Trades the refresh token for a new pair and stores it at once (the
    /// old one no longer works).
    pub(crate) fn refresh(&self, client: &RelayClient) -> Result<String> {
        let (user, refresh_token, key) = {
            let mut inner = self.inner();
            let key = inner.store.public_key()?;
            let session = inner.session()?;
            (session.user.clone(), session.refresh_token.clone(), key)
        };
        let tokens = client.refresh(&refresh_token, &key.to_string())?;
        let mut inner = self.inner();
        // A logout (or another login) while the refresh was on the way wins.
        if inner.session.as_ref().map(|s| &s.user) != Some(&user) {
            return Err(DoorstepError::Unauthorized(
                "logged out during the sync".into(),
            ));
        }
        let session = Session::new(client.base(), tokens, inner.store.now());
        session::save(inner.store.connection(), &session)?;
        let token = session.access_token.clone();
        inner.session = Some(session);
        Ok(token)
    }
}

fn decode(client: &RelayClient, answer: &[u8]) -> Result<SyncResponse> {
    match Message::decode(answer) {
        Ok(Message::Response(response)) => Ok(response),
        Ok(_) => Err(DoorstepError::Server(format!(
            "the relay at {} answered with something other than a sync response",
            client.base()
        ))),
        Err(e) => Err(DoorstepError::Server(format!(
            "the relay's answer cannot be read ({e}); the app may need an update"
        ))),
    }
}

#[uniffi::export]
impl FieldStore {
    /// Syncs with the relay: sends the edits it has not acknowledged and
    /// brings what changed in the user's communities. Without a network it
    /// fails at once with `Offline` and nothing is lost; a connection lost
    /// on the way is retried with backoff, then reported as `Offline`, and
    /// the next sync carries on where this one stopped.
    pub async fn sync(&self) -> Result<SyncReport> {
        let shared = self.shared.clone();
        on_thread("doorstep-sync", move || shared.sync_blocking()).await
    }

    /// How many records hold local changes the relay has not acknowledged
    /// (refused edits aside).
    pub fn pending_changes(&self) -> Result<u64> {
        let inner = self.shared.inner();
        let peer = session::relay_peer(inner.relay_url.as_deref().unwrap_or("relay"))?;
        Ok(inner.store.pending_changes(&peer)?)
    }

    /// Edits the relay refused, newest first, with the reasons. They stay on
    /// the phone, unsent, until the worker retries them.
    pub fn rejected_edits(&self) -> Result<Vec<RejectedEdit>> {
        let inner = self.shared.inner();
        let Some(relay) = inner.relay_url.as_deref() else {
            return Ok(Vec::new());
        };
        let rows = inner.store.rejections(&session::relay_peer(relay)?)?;
        Ok(rows.into_iter().map(RejectedEdit::from_stored).collect())
    }

    /// Sends a refused edit again at the next sync (after the worker fixed
    /// it, or to try once more).
    pub fn retry_rejected_edit(&self, record_id: String) -> Result<()> {
        let record = record_id.parse()?;
        let mut inner = self.shared.inner();
        let relay = inner.relay_url.clone().ok_or_else(|| {
            DoorstepError::NotFound(format!("not found: rejected edit of {record_id}"))
        })?;
        inner
            .store
            .retry_rejected(&session::relay_peer(&relay)?, record)?;
        Ok(())
    }
}
