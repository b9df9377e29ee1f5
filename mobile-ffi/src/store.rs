//! `FieldStore`: the phone's store, the object apps hold. This file opens it
//! and keeps the session; the record, sync and phone-to-phone calls are in
//! `records.rs`, `sync.rs` and `peer.rs`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sync_core::Store;
use sync_core::doc::Author;
use sync_core::sync::PeerSession;

use crate::asyncify::on_thread;
use crate::error::{DoorstepError, Result};
use crate::listener::ChangeListener;
use crate::relay::RelayClient;
use crate::session::{self, Session};
use crate::types::{Account, ChangeOrigin, RecordsChanged, SyncOptions};

/// The phone's Doorstep store: its records, its session with the relay, and
/// sync. Open one per user and database file, and keep it for the life of
/// the app; every call is safe from any thread.
///
/// Calls that only touch the phone (records, lists, `pending_changes`) run
/// on the caller's thread and take milliseconds; call them off the UI
/// thread. `login` and `sync` are async and run their network I/O on a
/// thread of their own.
#[derive(uniffi::Object)]
pub struct FieldStore {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for FieldStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldStore").finish_non_exhaustive()
    }
}

/// What the store's calls share; also handed to the sync thread.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Held for a whole sync, so two syncs never run at once.
    pub(crate) sync_gate: Mutex<()>,
    /// The phone-to-phone session under way, if any.
    pub(crate) peer: Mutex<Option<PeerSession>>,
    listener: Mutex<Option<Arc<dyn ChangeListener>>>,
    options: Mutex<SyncOptions>,
}

/// The store and the session, behind one lock. It is held for a single
/// database call at a time, never across network I/O.
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) session: Option<Session>,
    /// The relay last logged in to (kept after logout).
    pub(crate) relay_url: Option<String>,
}

impl Inner {
    /// The author of edits made now: the logged-in user on this phone.
    pub(crate) fn author(&self) -> Result<Author> {
        self.session
            .as_ref()
            .map(|s| s.author(self.store.id()))
            .ok_or_else(not_logged_in)
    }

    pub(crate) fn session(&self) -> Result<&Session> {
        self.session.as_ref().ok_or_else(not_logged_in)
    }
}

fn not_logged_in() -> DoorstepError {
    DoorstepError::Unauthorized(
        "no one is logged in on this phone: log in once, online, and then work offline".into(),
    )
}

/// Locks a mutex, going on after a panic elsewhere: the data behind every
/// lock here is kept in SQLite transactions, which a panic rolls back.
pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    pub(crate) fn options(&self) -> SyncOptions {
        lock(&self.options).clone()
    }

    /// Tells the app's listener, if any, that records changed. Called with
    /// no lock held, so the listener may call back into the store.
    pub(crate) fn notify(&self, record_ids: Vec<String>, origin: ChangeOrigin) {
        if record_ids.is_empty() {
            return;
        }
        let listener = lock(&self.listener).clone();
        if let Some(listener) = listener {
            listener.records_changed(RecordsChanged { record_ids, origin });
        }
    }

    /// Logs in at the relay (blocking; run on a thread of its own).
    pub(crate) fn login_blocking(
        &self,
        relay_url: &str,
        username: &str,
        password: &str,
        device_name: &str,
    ) -> Result<Account> {
        let relay_url = session::relay_url(relay_url)?;
        session::relay_peer(&relay_url)?;
        let (device, key, sent_at) = {
            let mut inner = self.inner();
            let sent_at = inner.store.device_clock();
            (inner.store.id(), inner.store.public_key()?, sent_at)
        };
        let client = RelayClient::new(&relay_url, &self.options());
        let tokens = client.login(
            username,
            password,
            (&device.to_string(), device_name),
            &key.to_string(),
        )?;
        let mut inner = self.inner();
        // Cheap phones' clocks are often wrong: stamp work by the relay's
        // time from the first record on.
        inner.store.learn_clock(sent_at, tokens.server_time_ms)?;
        let session = Session::new(&relay_url, tokens, inner.store.now());
        session::save(inner.store.connection(), &session)?;
        let account = session.account();
        inner.session = Some(session);
        inner.relay_url = Some(relay_url);
        Ok(account)
    }
}

#[uniffi::export]
impl FieldStore {
    /// Opens (creating it if needed) the store in the database file at
    /// `path`. With a `key` (32 random bytes, kept in the Android Keystore or
    /// the iOS Keychain) the file is encrypted with SQLCipher, and the same
    /// key opens it again; without one it is a plain SQLite file.
    #[uniffi::constructor(default(key = None))]
    pub fn new(path: String, key: Option<Vec<u8>>) -> Result<Arc<Self>> {
        let store = crate::open::open(&path, key.as_deref())?;
        let (relay_url, session) = session::load(store.connection())?;
        Ok(Arc::new(Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    store,
                    session,
                    relay_url,
                }),
                sync_gate: Mutex::new(()),
                peer: Mutex::new(None),
                listener: Mutex::new(None),
                options: Mutex::new(SyncOptions::default()),
            }),
        }))
    }

    /// This phone's device id: the store's own id, which the relay registers
    /// at login and an administrator revokes if the phone is lost.
    pub fn device_id(&self) -> String {
        self.shared.inner().store.id().to_string()
    }

    /// Who is logged in, if anyone.
    pub fn account(&self) -> Option<Account> {
        self.shared.inner().session.as_ref().map(Session::account)
    }

    /// Logs in at the relay as `username` and registers this phone. The
    /// session is kept in the database: the store refreshes its tokens by
    /// itself, and the user works offline until the next sync.
    pub async fn login(
        &self,
        relay_url: String,
        username: String,
        password: String,
        device_name: String,
    ) -> Result<Account> {
        let shared = self.shared.clone();
        on_thread("doorstep-login", move || {
            shared.login_blocking(&relay_url, &username, &password, &device_name)
        })
        .await
    }

    /// Forgets the session's tokens on this phone. Records and unsent edits
    /// stay; they are sent at the next sync after a login.
    pub fn logout(&self) -> Result<()> {
        let mut inner = self.shared.inner();
        session::clear(inner.store.connection())?;
        inner.session = None;
        Ok(())
    }

    /// Sets timeouts, retries and the trusted certificate for `login` and
    /// `sync`. A certificate that is not PEM is refused, and the options in
    /// force stay.
    pub fn set_sync_options(&self, options: SyncOptions) -> Result<()> {
        options.trusted_roots()?;
        *lock(&self.shared.options) = options;
        Ok(())
    }

    /// Sets (or, with `None`, removes) the listener told when records change.
    pub fn set_change_listener(&self, listener: Option<Arc<dyn ChangeListener>>) {
        *lock(&self.shared.listener) = listener;
    }
}
