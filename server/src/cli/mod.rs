//! The `doorstep` command line.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sync_core::store::{CLOCK_BOUND_MS, RevokeKind};
use sync_core::{DeviceId, Store};

/// Writes one line of a listing to standard output. A reader that stops
/// early (`doorstep user list | head`) ends the listing quietly: the
/// function returns `Ok(())` instead of panicking on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            return Ok(());
        }
    };
}

mod people;
mod users;

use crate::audit::{self, Action};
use crate::config::{LogFormat, Settings, folder_exists, listen_address};
use crate::error::{AppError, AppResult};
use crate::state::now_ms;
use crate::store::{RelayStore, StoreLocation};
use crate::{bind, demo, init_logging, open_state, restore, run, serve, when};

/// Doorstep relay: sync for offline field work, and the supervisors' API.
#[derive(Debug, Parser)]
#[command(name = "doorstep", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "DOORSTEP_LOG_FORMAT", global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the relay.
    Serve(ServeArgs),
    /// Seeds a demo district (through simulated phones) and runs the relay on it.
    Demo(DemoArgs),
    /// Moves a district between stores.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Manages users.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Manages devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Reads the audit log (logins, exports, account changes, restores,
    /// settings), newest first.
    Audit {
        /// Only this event: login, login_failed, refresh_failed,
        /// password_changed, password_reset, user_added, user_changed,
        /// user_disabled, user_enabled, device_revoked, export, restore,
        /// settings_changed.
        #[arg(long)]
        action: Option<String>,
        /// Only entries by, or about, this user name (or device id).
        #[arg(long)]
        who: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        db: DbArg,
    },
    /// Names places (districts, streets, communities).
    #[command(subcommand)]
    Place(people::PlaceCommand),
    /// Manages partner units (结对单位).
    #[command(subcommand)]
    Unit(people::UnitCommand),
    /// Writes a consistent copy of a live database (safe while the relay
    /// serves), the signing key included, and its photos beside it
    /// (`<out>.photos`); only its owner can read them.
    Backup {
        /// The database to copy.
        #[arg(long, env = "DOORSTEP_DB", default_value = "doorstep.sqlite")]
        db: PathBuf,
        /// A PostgreSQL store to copy instead (with pg_dump, while the
        /// relays serve): postgres://USER@HOST/DATABASE.
        #[arg(long, env = "DOORSTEP_STORE", hide_env_values = true)]
        store: Option<String>,
        /// The signing key file [default: the database path + `.key`].
        #[arg(long, env = "DOORSTEP_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// The relay's photo folder [default: the database path + `.photos`].
        #[arg(long, env = "DOORSTEP_PHOTOS_DIR")]
        photos_dir: Option<PathBuf>,
        /// Where to write the copy (must not exist).
        out: PathBuf,
    },
    /// Puts a backup in place (the relay must be stopped). The relay then
    /// starts a new feed epoch, and every phone gives back what the backup
    /// lacks at its next sync.
    Restore {
        /// The backup, as written by `doorstep backup`.
        backup: PathBuf,
        /// The database to restore to.
        #[arg(long, env = "DOORSTEP_DB", default_value = "doorstep.sqlite")]
        db: PathBuf,
        /// A PostgreSQL store to restore to instead (with pg_restore; the
        /// relays stopped): postgres://USER@HOST/DATABASE.
        #[arg(long, env = "DOORSTEP_STORE", hide_env_values = true)]
        store: Option<String>,
        /// Where to write the backup's signing key [default: the database path + `.key`].
        #[arg(long, env = "DOORSTEP_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// Where to put the backup's photos (`<backup>.photos`), with those
        /// there already [default: the database path + `.photos`].
        #[arg(long, env = "DOORSTEP_PHOTOS_DIR")]
        photos_dir: Option<PathBuf>,
        /// Replace an existing database (it is kept aside as `<db>.replaced-<time>`).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on, host:port [default: 127.0.0.1:8080].
    #[arg(long, env = "DOORSTEP_LISTEN", value_parser = listen_address)]
    listen: Option<SocketAddr>,
    /// SQLite database file [default: doorstep.sqlite].
    #[arg(long, env = "DOORSTEP_DB", conflicts_with = "store")]
    db: Option<PathBuf>,
    /// The store instead of a SQLite file: a PostgreSQL database that
    /// several relays share (postgres://USER@HOST/DATABASE, or libpq's
    /// host=… dbname=…), or sqlite:PATH.
    #[arg(long, env = "DOORSTEP_STORE", hide_env_values = true)]
    store: Option<String>,
    /// Settings file (TOML).
    #[arg(long, env = "DOORSTEP_CONFIG")]
    config: Option<PathBuf>,
    /// Signing key file [default: the database path + `.key`].
    #[arg(long, env = "DOORSTEP_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Signing secret (at least 32 bytes), instead of a key file.
    #[arg(long, env = "DOORSTEP_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// The most the database may grow to, in megabytes.
    #[arg(long, env = "DOORSTEP_MAX_DB_MB")]
    max_db_mb: Option<u64>,
    /// The photo folder [default: the database path + `.photos`].
    #[arg(long, env = "DOORSTEP_PHOTOS_DIR")]
    photos_dir: Option<PathBuf>,
    /// A token `/metrics` asks for; without one it answers this machine only.
    #[arg(long, env = "DOORSTEP_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM), for a relay without
    /// a reverse proxy; needs --tls-key.
    #[arg(long, env = "DOORSTEP_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "DOORSTEP_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Address to listen on, host:port.
    #[arg(long, env = "DOORSTEP_LISTEN", default_value = "127.0.0.1:8080", value_parser = listen_address)]
    listen: SocketAddr,
    /// SQLite database file; seeded when it holds no users yet.
    #[arg(long, env = "DOORSTEP_DB", default_value = "doorstep-demo.sqlite")]
    db: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct DbArg {
    /// SQLite database file.
    #[arg(long, env = "DOORSTEP_DB", default_value = "doorstep.sqlite")]
    pub(crate) db: PathBuf,
    /// The store instead of a SQLite file: a PostgreSQL database
    /// (postgres://USER@HOST/DATABASE, or libpq's host=… dbname=…), or
    /// sqlite:PATH.
    #[arg(long, env = "DOORSTEP_STORE", hide_env_values = true)]
    pub(crate) store: Option<String>,
}

impl DbArg {
    /// Where the store is: `--store` if given, else `--db`.
    pub(crate) fn location(&self) -> AppResult<StoreLocation> {
        match &self.store {
            Some(text) => StoreLocation::parse(text).map_err(AppError::BadRequest),
            None => Ok(StoreLocation::Sqlite(self.db.clone())),
        }
    }
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Copies a district from its SQLite file onto an empty PostgreSQL
    /// database, then checks that every record's heads are equal and every
    /// table whole. Run it with the relay stopped; then start the relays
    /// with --store. Phones stay logged in and reconcile once.
    Copy {
        /// The relay's SQLite file.
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL database (postgres://USER@HOST/DATABASE, or
        /// libpq's host=… dbname=…); it must hold no district yet.
        #[arg(long, hide_env_values = true)]
        to: String,
        /// The relay's signing key file, whose secret moves into the
        /// database so that tokens issued before stay good [default: the
        /// SQLite file's path + `.key`, if it exists].
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Lists devices: when each was last seen, and the work it has not synced.
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Retires a device (its worker left or changed phones): it may still
    /// deliver the work it made before, but nothing newer, and cannot log in.
    Retire {
        /// The device id, or enough of its start to tell it from the others.
        device_id: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Marks a device lost or stolen: it is refused from its next request on,
    /// and its work carried by other phones waits for a supervisor.
    Lost {
        /// The device id, or enough of its start to tell it from the others.
        device_id: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// The same as `device lost`.
    Revoke {
        /// The device id, or enough of its start to tell it from the others.
        device_id: String,
        #[command(flatten)]
        db: DbArg,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` logs as its settings file says, once it has read it.
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging(cli.log_format.unwrap_or_default());
    }
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // At the command line the operator is the one to read the detail.
        Err(AppError::Internal(detail)) => {
            eprintln!("doorstep: {detail}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("doorstep: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> AppResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Internal(format!("cannot start the runtime: {e}")))
}

fn execute(cli: Cli) -> AppResult<()> {
    match cli.command {
        Command::Serve(args) => {
            let mut settings = Settings::from_file(args.config.as_deref())?;
            if let Some(listen) = args.listen {
                settings.listen = listen;
            }
            if let Some(db) = args.db {
                settings.db = db;
                settings.store = None;
            }
            if args.store.is_some() {
                settings.store = args.store;
            }
            if args.key_file.is_some() {
                settings.key_file = args.key_file;
            }
            if args.jwt_secret.is_some() {
                settings.jwt_secret = args.jwt_secret;
            }
            if args.max_db_mb.is_some() {
                settings.max_db_mb = args.max_db_mb;
            }
            if args.photos_dir.is_some() {
                settings.photos_dir = args.photos_dir;
            }
            if args.metrics_token.is_some() {
                settings.metrics_token = args.metrics_token;
            }
            if args.tls_cert.is_some() {
                settings.tls_cert = args.tls_cert;
                settings.tls_key = args.tls_key;
            }
            if let Some(format) = cli.log_format {
                settings.log_format = format;
            }
            init_logging(settings.log_format);
            if let StoreLocation::Sqlite(db) = settings.store_location()? {
                folder_exists(&db, "the database")?;
            }
            runtime()?.block_on(run(settings))
        }
        Command::Demo(args) => {
            let settings = Settings {
                listen: args.listen,
                db: args.db,
                // The demo shows off the published counts too.
                public_page: true,
                ..Settings::default()
            };
            folder_exists(&settings.db, "the database")?;
            let runtime = runtime()?;
            // The port first: a demo that cannot listen prints no logins.
            let listener = runtime.block_on(bind(settings.listen))?;
            let settings = Settings {
                listen: listener
                    .local_addr()
                    .map_err(|e| AppError::Internal(e.to_string()))?,
                ..settings
            };
            let keys = crate::auth::Keys::load_or_create(&settings.key_path())?;
            let seeded = demo::seed_if_empty(&settings.db, &keys)?;
            demo::print_welcome(&settings, seeded);
            runtime.block_on(async move { serve(listener, open_state(settings)?).await })
        }
        Command::Store(StoreCommand::Copy { from, to, key_file }) => {
            copy_store(&from, &to, key_file)
        }
        Command::User(command) => users::user(command),
        Command::Device(command) => device(command),
        Command::Audit {
            action,
            who,
            limit,
            db,
        } => audit_log(&db, action.as_deref(), who, limit),
        Command::Place(command) => people::place(command),
        Command::Unit(command) => people::unit(command),
        Command::Backup {
            store: Some(store),
            out,
            ..
        } => {
            let conninfo = postgres_store(&store)?;
            crate::store::postgres::backup::dump(&conninfo, &out)?;
            println!(
                "backed up {} to {} (with the relays' signing secret); back up the shared photo folder with it",
                crate::store::redact(&conninfo),
                out.display()
            );
            Ok(())
        }
        Command::Restore {
            backup,
            store: Some(store),
            force,
            ..
        } => {
            let conninfo = postgres_store(&store)?;
            crate::store::postgres::backup::restore(&backup, &conninfo, force)?;
            let shown = crate::store::redact(&conninfo);
            audited(
                &mut crate::store::open_postgres(&conninfo)?,
                Action::Restore,
                &shown,
                format!("from {}", backup.display()),
            )?;
            println!(
                "restored {} to {shown}; its feed starts a new epoch, and every phone gives back what the backup lacks at its next sync",
                backup.display()
            );
            Ok(())
        }
        Command::Backup {
            db,
            key_file,
            photos_dir,
            out,
            store: None,
        } => {
            folder_exists(&out, "the backup")?;
            let key = key_file.unwrap_or_else(|| default_key_path(&db));
            let photos = photos_dir.unwrap_or_else(|| crate::photos::backup::folder_beside(&db));
            let report = restore::backup(&db, &key, &photos, &out, now_ms())?;
            println!(
                "backed up {} records from {} to {}",
                report.records,
                db.display(),
                out.display()
            );
            if report.photos > 0 {
                println!(
                    "and {} photos to {}",
                    report.photos,
                    crate::photos::backup::folder_beside(&out).display()
                );
            }
            if report.key_included {
                println!("the signing key ({}) is in the backup", key.display());
            } else {
                println!(
                    "no signing key file at {}: keep the secret you gave the relay with the backup",
                    key.display()
                );
            }
            Ok(())
        }
        Command::Restore {
            backup,
            db,
            key_file,
            photos_dir,
            force,
            store: None,
        } => {
            folder_exists(&db, "the database")?;
            let key = key_file.unwrap_or_else(|| default_key_path(&db));
            let photos = photos_dir.unwrap_or_else(|| crate::photos::backup::folder_beside(&db));
            let report = restore::restore(&backup, &db, &key, &photos, force, now_ms())?;
            audited(
                &mut Store::open(&db).map_err(|e| AppError::Internal(e.to_string()))?,
                Action::Restore,
                &db.display().to_string(),
                format!("from {}", backup.display()),
            )?;
            print_restored(&backup, &db, &report);
            Ok(())
        }
    }
}

/// The connection string of `--store`, which must name PostgreSQL.
fn postgres_store(text: &str) -> AppResult<String> {
    match StoreLocation::parse(text).map_err(AppError::BadRequest)? {
        StoreLocation::Postgres(conninfo) => Ok(conninfo),
        StoreLocation::Sqlite(path) => Err(AppError::BadRequest(format!(
            "--store {}: for a SQLite file, give --db {}",
            path.display(),
            path.display()
        ))),
    }
}

fn copy_store(from: &std::path::Path, to: &str, key_file: Option<PathBuf>) -> AppResult<()> {
    let StoreLocation::Postgres(conninfo) =
        StoreLocation::parse(to).map_err(AppError::BadRequest)?
    else {
        return Err(AppError::BadRequest(format!(
            "--to {to}: not a PostgreSQL database; write postgres://USER@HOST/DATABASE"
        )));
    };
    let key = key_file.clone().unwrap_or_else(|| default_key_path(from));
    let secret = if key.exists() || key_file.is_some() {
        Some(crate::auth::Keys::load_or_create(&key)?.device_secret())
    } else {
        None
    };
    let mut engine = crate::store::open_postgres(&conninfo)?;
    let report = crate::store::postgres::copy_to_postgres(from, secret.as_deref(), &mut engine)?;
    audited(
        &mut engine,
        Action::Restore,
        &crate::store::redact(&conninfo),
        format!("copied from {}", from.display()),
    )?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "copied {} to {}: {} records, each with equal heads",
        from.display(),
        crate::store::redact(&conninfo),
        report.records
    );
    for (table, rows) in &report.tables {
        let _ = writeln!(out, "  {table:<18} {rows:>8} rows");
    }
    let _ = writeln!(
        out,
        "start the relays with --store {}; phones reconcile once at their next sync",
        crate::store::redact(&conninfo)
    );
    Ok(())
}

fn default_key_path(db: &std::path::Path) -> PathBuf {
    Settings {
        db: db.to_path_buf(),
        ..Settings::default()
    }
    .key_path()
}

fn print_restored(backup: &std::path::Path, db: &std::path::Path, report: &restore::RestoreReport) {
    let taken = report
        .taken_at
        .map(|ms| format!(", taken {}", crate::when::local(ms)))
        .unwrap_or_default();
    println!(
        "restored {} records from {}{taken} to {}",
        report.records,
        backup.display(),
        db.display()
    );
    match &report.key_written {
        Some(key) => println!("signing key: {}", key.display()),
        None => println!("the backup holds no signing key: give the relay the one it used"),
    }
    if report.photos + report.photos_adopted > 0 {
        println!(
            "photos: {} from the backup, {} already on disk taken back",
            report.photos, report.photos_adopted
        );
    }
    for path in &report.kept_aside {
        println!("kept aside: {}", path.display());
    }
    println!(
        "new feed epoch {:016x}: at its next sync every phone gives back what the backup lacks and catches up",
        report.epoch
    );
    println!(
        "devices revoked and users disabled after the backup was taken are active again: check `doorstep device list` and `doorstep user list`"
    );
}

pub(crate) fn open(db: &DbArg) -> AppResult<Box<dyn RelayStore>> {
    db.location()?.open()
}

fn audit_log(db: &DbArg, action: Option<&str>, who: Option<String>, limit: u32) -> AppResult<()> {
    let filter = audit::Filter {
        action: action.map(str::parse).transpose()?,
        who,
        limit: Some(limit),
        ..audit::Filter::default()
    };
    let entries = open(db)?.audit_log(&filter)?;
    out!(
        "{:<16}  {:<16} {:<16} {:<36} detail",
        "time",
        "event",
        "by",
        "subject"
    );
    for e in entries {
        let detail = e.detail.lines().next().unwrap_or_default();
        out!(
            "{:<16}  {:<16} {:<16} {:<36} {}",
            when::local(e.at),
            e.action,
            e.actor.as_deref().unwrap_or("-"),
            e.target.as_deref().unwrap_or("-"),
            detail
        );
    }
    Ok(())
}

/// Records in the audit log what a command did, as the relay's command line
/// run by this machine's user.
pub(crate) fn audited(
    store: &mut dyn RelayStore,
    action: Action,
    target: &str,
    detail: impl Into<String>,
) -> AppResult<()> {
    let by = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".to_owned());
    let detail: String = detail.into();
    let detail = if detail.is_empty() {
        format!("by {by} on this machine")
    } else {
        format!("{detail} (by {by} on this machine)")
    };
    audit::record(
        store,
        &audit::Entry::new(now_ms(), Some(audit::CLI), action)
            .on(target)
            .detail(detail),
    )
}

fn device(command: DeviceCommand) -> AppResult<()> {
    let (device_id, db, kind) = match command {
        DeviceCommand::List { db } => return list_devices(&db),
        DeviceCommand::Retire { device_id, db } => (device_id, db, RevokeKind::Retired),
        DeviceCommand::Lost { device_id, db } | DeviceCommand::Revoke { device_id, db } => {
            (device_id, db, RevokeKind::Lost)
        }
    };
    let mut store = open(&db)?;
    let store = store.as_mut();
    let id = find_device(store, &device_id)?;
    store.revoke_device(id, kind, now_ms())?;
    let how = match kind {
        RevokeKind::Retired => "retired",
        RevokeKind::Lost => "lost",
    };
    audited(store, Action::DeviceRevoked, &id.to_string(), how)?;
    match kind {
        RevokeKind::Retired => println!(
            "retired {id}: it may still deliver the work it made before, and nothing newer"
        ),
        RevokeKind::Lost => println!(
            "marked {id} lost: it is refused from its next request on, and its work carried by other phones waits for a supervisor"
        ),
    }
    Ok(())
}

/// The device whose id is `text` or starts with it (at least 4 characters,
/// and only one device).
fn find_device(store: &dyn RelayStore, text: &str) -> AppResult<DeviceId> {
    if let Ok(id) = text.parse() {
        return Ok(id);
    }
    let text = text.trim().to_ascii_lowercase();
    if text.len() < 4 {
        return Err(AppError::BadRequest(format!(
            "{text:?} is too short to name a device: give at least 4 characters of its id"
        )));
    }
    let found: Vec<DeviceId> = store
        .list_devices()?
        .into_iter()
        .map(|d| d.id)
        .filter(|id| id.to_string().starts_with(&text))
        .collect();
    match found.as_slice() {
        [id] => Ok(*id),
        [] => Err(AppError::NotFound(format!("no device starts with {text}"))),
        _ => Err(AppError::BadRequest(format!(
            "{} devices start with {text}: give more of the id",
            found.len()
        ))),
    }
}

fn list_devices(db: &DbArg) -> AppResult<()> {
    let devices = open(db)?.list_devices()?;
    let now = now_ms();
    out!(
        "{:<36}  {:<14} {:<5} {:<8} {:<12} {:<22} name",
        "device",
        "user",
        "kind",
        "status",
        "last seen",
        "unsynced"
    );
    let mut stranded = 0;
    for d in devices {
        let seen = d.last_seen.map_or_else(
            || "never".to_owned(),
            |at| format!("{} ago", when::ago(at, now)),
        );
        let unsynced = match (d.pending, d.oldest_pending_at) {
            (Some(0), _) => "none".to_owned(),
            (Some(n), Some(oldest)) => format!("{n}, since {} ago", when::ago(oldest, now)),
            (Some(n), None) => n.to_string(),
            (None, _) => "-".to_owned(),
        };
        let mut notes = Vec::new();
        if d.stranded(now) {
            stranded += 1;
            notes.push("UNSYNCED WORK NOT SEEN FOR DAYS".to_owned());
        }
        if let Some(offset) = d.clock_offset_ms.filter(|o| o.abs() > CLOCK_BOUND_MS) {
            notes.push(format!(
                "clock {} {}",
                when::ago(0, offset.abs()),
                if offset > 0 { "ahead" } else { "behind" }
            ));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join("; "))
        };
        out!(
            "{:<36}  {:<14} {:<5} {:<8} {:<12} {:<22} {}{notes}",
            d.id,
            d.username,
            d.kind,
            d.standing,
            seen,
            unsynced,
            d.name
        );
    }
    if stranded > 0 {
        out!(
            "\n{stranded} device(s) hold work that has not reached the relay and have not synced for days: find them, or have a colleague's phone meet them"
        );
    }
    Ok(())
}
