//! # server
//!
//! The Doorstep relay. Phones sync through it (`POST /v1/sync`, sync-core's
//! binary messages), supervisors work against its JSON API, and the district's
//! IT team runs it as one binary, `doorstep`, over one SQLite file.
//! Everything it stores goes through [`store::RelayStore`], so that a district
//! that outgrows one machine can put the store elsewhere.
//!
//! The workflow and permission rules live in sync-core; this crate moves
//! messages, authenticates callers and maps errors to HTTP.
//!
//! ```no_run
//! # async fn start() -> Result<(), server::error::AppError> {
//! let settings = server::config::Settings::default();
//! server::run(settings).await
//! # }
//! ```

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
mod dashboard;
pub mod db;
pub mod demo;
pub mod error;
mod field;
pub mod listener;
pub mod login;
pub mod metrics;
pub mod photos;
pub mod restore;
mod routes;
pub mod session;
pub mod state;
pub mod store;
pub mod tls;
pub mod when;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use routes::{SYNC_MEDIA_TYPE, app};

use crate::auth::Keys;
use crate::config::{LogFormat, Settings};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Opens the store and the signing keys named by `settings`, to serve them:
/// takes the database's serving lock, and starts a new feed epoch if the
/// database went back in time (see [`restore`]).
pub fn open_state(settings: Settings) -> AppResult<AppState> {
    match settings.store_location()? {
        store::StoreLocation::Sqlite(db) => open_sqlite_state(Settings { db, ..settings }),
        store::StoreLocation::Postgres(conninfo) => open_postgres_state(settings, &conninfo),
    }
}

/// Opens a PostgreSQL store that other relays may be serving too: no
/// file to lock, and the signing secret is the database's unless the
/// settings give one, so that every relay accepts every relay's tokens.
fn open_postgres_state(settings: Settings, conninfo: &str) -> AppResult<AppState> {
    let tls = tls::Tls::from_settings(&settings)?;
    let engine = store::open_postgres(conninfo)?;
    let keys = match (&settings.jwt_secret, &settings.key_file) {
        (Some(secret), _) => Keys::from_secret(secret.as_bytes())?,
        (None, Some(file)) => Keys::load_or_create(file)?,
        // Off the runtime: the store blocks on a runtime of its own.
        (None, None) => {
            let secret = std::thread::scope(|s| s.spawn(|| engine.relay_secret()).join())
                .map_err(|_| AppError::Internal("reading the relay's secret panicked".into()))??;
            Keys::from_secret(&secret)?
        }
    };
    let heads = engine.store().feed_heads();
    let db = Db::from_store(engine);
    let (max_bytes, summary, places) = (
        settings.max_db_bytes(),
        settings.summary(),
        settings.places.clone(),
    );
    db.blocking(move |store| prepare(store, max_bytes, &summary, &places))?;
    let photos_dir = settings.photos_path();
    let photos = photos::Photos::open(&photos_dir).map_err(|e| {
        AppError::Internal(format!(
            "cannot open the photo folder {}: {e}",
            photos_dir.display()
        ))
    })?;
    let mut state = AppState::new(db, keys, settings, photos);
    state.tls = tls;
    wake_on_other_relays(heads, Arc::clone(&state.live))?;
    Ok(state)
}

/// Wakes this relay's waiting dashboards when any relay over the database
/// writes (PostgreSQL's notifications, or the store's poll behind them),
/// until the store closes.
fn wake_on_other_relays(
    mut heads: tokio::sync::watch::Receiver<i64>,
    live: Arc<state::Live>,
) -> AppResult<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| AppError::Internal(format!("cannot start a runtime: {e}")))?;
    std::thread::Builder::new()
        .name("doorstep-feed-wake".into())
        .spawn(move || {
            runtime.block_on(async {
                while heads.changed().await.is_ok() {
                    live.notify();
                }
            });
        })
        .map_err(|e| AppError::Internal(format!("cannot start a thread: {e}")))?;
    Ok(())
}

/// What every start does to the store: its size limit, the settings in
/// the audit log, the places' names.
fn prepare(
    store: &mut dyn store::RelayStore,
    max_bytes: Option<u64>,
    summary: &str,
    places: &std::collections::BTreeMap<String, String>,
) -> AppResult<()> {
    store.set_size_limit(max_bytes)?;
    audit::settings_at_start(store, summary, state::now_ms())?;
    for (path, name) in places {
        let place = sync_core::ScopePath::new(path.as_str())
            .map_err(|e| AppError::BadRequest(format!("[places] {path:?}: {e}")))?;
        store
            .set_place_name(&place, Some(name))
            .map_err(|e| AppError::BadRequest(format!("[places] {path:?}: {e}")))?;
    }
    Ok(())
}

/// Opens the SQLite file `settings.db`, taking its serving lock.
fn open_sqlite_state(settings: Settings) -> AppResult<AppState> {
    let lock = restore::ServingLock::take(&settings.db)?;
    let mut store = sync_core::Store::open(&settings.db)
        .map_err(|e| AppError::Internal(format!("cannot open {}: {e}", settings.db.display())))?;
    // A certificate that cannot be used stops the start, before anything else.
    let tls = tls::Tls::from_settings(&settings)?;
    let key_file = settings.jwt_secret.is_none().then(|| settings.key_path());
    let photos_dir = settings.photos_path();
    if let Some(why) = restore::prepare_to_serve(
        &mut store,
        &settings.db,
        key_file.as_deref(),
        state::now_ms(),
    )? {
        tracing::warn!(%why, "the relay went back in time: a new feed epoch starts, and every phone reconciles at its next sync");
        // Photos uploaded after the copy was taken are still on disk.
        let folder = photos::FolderStorage::open(&photos_dir)
            .map_err(|e| photos::backup::io_error(&photos_dir, e))?;
        photos::backup::adopt(&mut store, &folder, state::now_ms())?;
    }
    let keys = match &settings.jwt_secret {
        Some(secret) => Keys::from_secret(secret.as_bytes())?,
        None => Keys::load_or_create(&settings.key_path())?,
    };
    prepare(
        &mut store,
        settings.max_db_bytes(),
        &settings.summary(),
        &settings.places,
    )?;
    let high_water = restore::HighWater::beside(&settings.db);
    let photos = photos::Photos::open(&photos_dir).map_err(|e| {
        AppError::Internal(format!(
            "cannot open the photo folder {}: {e}",
            photos_dir.display()
        ))
    })?;
    let mut state = AppState::new(Db::from_store(store), keys, settings, photos);
    state.tls = tls;
    state.serving = Some(Arc::new(state::Serving {
        _lock: lock,
        high_water,
    }));
    Ok(state)
}

/// Runs the relay until SIGTERM or Ctrl-C, then finishes in-flight requests.
pub async fn run(settings: Settings) -> AppResult<()> {
    let listen = settings.listen;
    let state = open_state(settings)?;
    serve(bind(listen).await?, state).await
}

/// Binds the listen address, with an error that says what to do.
pub async fn bind(listen: SocketAddr) -> AppResult<TcpListener> {
    TcpListener::bind(listen).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "the address is already in use: another program (perhaps another doorstep) listens there; stop it, or choose another address with --listen"
            }
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need root: choose a port such as 8080 with --listen, or put a reverse proxy in front"
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "this machine has no such address: use 127.0.0.1 (this machine only) or 0.0.0.0 (every network) with --listen"
            }
            _ => "",
        };
        AppError::Internal(if why.is_empty() {
            format!("cannot listen on {listen}: {e}")
        } else {
            format!("cannot listen on {listen}: {why} ({e})")
        })
    })
}

/// Serves `state` on an already bound listener until SIGTERM or Ctrl-C.
pub async fn serve(listener: TcpListener, state: AppState) -> AppResult<()> {
    serve_until(listener, state, shutdown_signal()).await
}

/// Serves `state` on an already bound listener until `shutdown` completes,
/// then finishes in-flight requests.
pub async fn serve_until(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> AppResult<()> {
    let addr = listener
        .local_addr()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let wanted = listener::Limits {
        header_timeout: std::time::Duration::from_secs(state.settings.header_timeout_secs),
        max_connections: state.settings.max_connections,
    };
    let open_files = listener::raise_open_files_limit(wanted.max_connections as u64 * 2);
    let limits = open_files.map_or(wanted, |files| wanted.within(files));
    if limits.max_connections < wanted.max_connections {
        tracing::warn!(
            max_connections = limits.max_connections,
            open_files,
            "the open-file limit allows fewer connections than max_connections"
        );
    }
    let store = state.settings.store_location().map_or_else(
        |_| state.settings.db.display().to_string(),
        |s| s.describe(),
    );
    tracing::info!(
        %addr,
        db = %store,
        max_connections = limits.max_connections,
        header_timeout_secs = limits.header_timeout.as_secs(),
        "doorstep relay listening"
    );
    // Scripts and tests read this line to find a relay started on port 0.
    let scheme = if state.tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{addr}");
    let live = state.live.clone();
    let marks = state.serving.clone().map(|serving| {
        let db = state.db.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(HIGH_WATER_EVERY);
            loop {
                every.tick().await;
                record_high_water(&db, &serving).await;
            }
        })
    });
    let reloads = tokio::spawn(reload_on_sighup(state.clone()));
    let cleanup = tokio::spawn(clean_photos(state.clone()));
    let (db, serving) = (state.db.clone(), state.serving.clone());
    let open = state.metrics.connections.clone();
    let tls = state.tls.as_ref().map(|t| t.acceptor().clone());
    listener::serve(listener, app(state), limits, open, tls, async move {
        shutdown.await;
        // Dashboards waiting for changes answer now rather than hold up the stop.
        live.close();
    })
    .await;
    reloads.abort();
    cleanup.abort();
    if let (Some(task), Some(serving)) = (marks, serving) {
        task.abort();
        record_high_water(&db, &serving).await;
    }
    tracing::info!("doorstep relay stopped");
    Ok(())
}

/// On SIGHUP, reads the settings file again and applies what can change
/// while running: the database's size limit.
async fn reload_on_sighup(state: AppState) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            if let Some(tls) = &state.tls {
                match tls.reload() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificate read again"),
                    Err(e) => {
                        tracing::warn!(error = %e, "SIGHUP: the TLS certificate cannot be used; the one in use stays")
                    }
                }
            }
            let Some(path) = state.settings.config_path.clone() else {
                tracing::info!("SIGHUP: no settings file to read again");
                continue;
            };
            // The file's limit, if it gives one; otherwise the one the relay
            // started with (from a flag or the environment).
            let limit = match Settings::from_file(Some(&path)) {
                Ok(settings) => settings.max_db_bytes().or(state.settings.max_db_bytes()),
                Err(e) => {
                    tracing::warn!(error = %e, "SIGHUP: the settings file is not valid; nothing changed");
                    continue;
                }
            };
            match state.db.run(move |store| store.set_size_limit(limit)).await {
                Ok(()) => tracing::info!(max_db_bytes = ?limit, "SIGHUP: size limit applied"),
                Err(e) => tracing::warn!(error = %e, "SIGHUP: cannot apply the size limit"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = state;
}

/// How often photo cleanup runs.
const PHOTO_CLEANUP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes photos no record has referred to for the grace period, every
/// hour (the first time an hour after starting).
async fn clean_photos(state: AppState) {
    let mut every = tokio::time::interval(PHOTO_CLEANUP_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(e) = photos::sweep(&state, state::now_ms()).await {
            tracing::warn!(error = %e, "photo cleanup failed; it runs again in an hour");
        }
    }
}

/// How often the feed's high-water mark is written beside the database.
const HIGH_WATER_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

async fn record_high_water(db: &Db, serving: &state::Serving) {
    match db.run(|store| store.feed_position()).await {
        Ok((epoch, seq)) => {
            if let Err(e) = serving.high_water.write(epoch, seq) {
                tracing::warn!(error = %e, "cannot record the feed's high-water mark");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the feed's position"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Sets up `tracing` output, as text or JSON; `RUST_LOG` picks the level.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rusqlite_migration=warn"));
    // Colour only for a person at a terminal, never into a log file.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // A second call (in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
