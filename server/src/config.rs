//! Relay settings: a TOML file, then `DOORSTEP_*` environment variables and
//! command-line flags on top (clap reads both).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sync_core::points::PointsRules;

use crate::error::{AppError, AppResult};
use crate::store::StoreLocation;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Reads a listen address: `127.0.0.1:8080`, `[::1]:8080`, or a host name
/// with a port (`localhost:8091`), which names its first IPv4 address (its
/// first address when it has no IPv4 one).
pub fn listen_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let bad = || {
        format!(
            "{text:?} is not an address to listen on: write host:port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or localhost:8080"
        )
    };
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|_| bad())?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(bad)
}

fn listen_from_file<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    listen_address(&text).map_err(serde::de::Error::custom)
}

/// Checks that the folder `path` is to be written in exists, so that a
/// mistyped path is told as such, with the fix, before anything is created.
/// `what` names the file ("the database").
pub fn folder_exists(path: &Path, what: &str) -> AppResult<()> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => return Ok(()),
    };
    if folder.is_dir() {
        return Ok(());
    }
    let folder = folder.display();
    Err(AppError::BadRequest(format!(
        "{what} {}: the folder {folder} does not exist; create it (mkdir -p {folder}) or give another path",
        path.display()
    )))
}

/// Everything the relay needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on (`host:port`; a name such as `localhost` is looked up).
    #[serde(deserialize_with = "listen_from_file")]
    pub listen: SocketAddr,
    /// The SQLite file.
    pub db: PathBuf,
    /// The store, when it is not the SQLite file `db`: a PostgreSQL
    /// database that several relays share (`postgres://USER@HOST/DB`, or
    /// libpq's `host=… dbname=…`), or `sqlite:PATH`.
    pub store: Option<String>,
    /// The signing key file; defaults to the database path with `.key` appended.
    pub key_file: Option<PathBuf>,
    /// A signing secret given directly (at least 32 bytes), instead of a key file.
    pub jwt_secret: Option<String>,
    /// Lifetime of access tokens, in seconds.
    pub access_ttl_secs: i64,
    /// Lifetime of refresh tokens, in days: how long a phone may stay offline.
    pub refresh_ttl_days: i64,
    /// Requests taking longer than this are cut off, in seconds.
    pub request_timeout_secs: u64,
    /// How long a connection may take to send a request's headers, in
    /// seconds, from opening or from its previous response; then it is
    /// closed. Keeps idle and half-sent connections from piling up.
    pub header_timeout_secs: u64,
    /// The most connections served at once; beyond it new ones wait. Kept
    /// below the open-file limit.
    pub max_connections: usize,
    /// How long a dashboard login lasts, in hours.
    pub session_ttl_hours: i64,
    /// Log format.
    pub log_format: LogFormat,
    /// The most the database may grow to, in megabytes (none: as far as the
    /// disk allows). At the limit, writes are refused as on a full disk
    /// (507 `storage_full`), reads go on. Changed by editing the settings
    /// file and sending the relay SIGHUP.
    pub max_db_mb: Option<u64>,
    /// Display names of places, by path: `"longgang/yuanshan" = "园山街道"`
    /// under `[places]`. Written into the store when the relay starts, over
    /// names set with `doorstep place name`.
    pub places: BTreeMap<String, String>,
    /// The district's points rules, under `[points]`: `base`,
    /// `by_urgency`, `by_category`, `bonus` and `bonus_rating`.
    pub points: PointsRules,
    /// The folder of photo files; defaults to the database path with
    /// `.photos` appended.
    pub photos_dir: Option<PathBuf>,
    /// How long a photo no record refers to is kept before cleanup removes
    /// it, in days (a reference back within it keeps the photo).
    pub photo_grace_days: u64,
    /// How long an upload request may take, in seconds (a photo on a slow
    /// network; an interrupted upload resumes where it stopped).
    pub upload_timeout_secs: u64,
    /// Whether the district publishes its counts without a login, at
    /// `/public/` (a page) and `/public/counts.json`: totals per street and
    /// community, satisfaction and median days, nothing about a person.
    /// Off by default; while off, those addresses answer 404 like any
    /// other unknown one. Read at start.
    pub public_page: bool,
    /// A token `GET /metrics` asks for (`authorization: Bearer …`), for a
    /// Prometheus on another machine. Without one, `/metrics` answers only
    /// connections from this machine (loopback). Behind a reverse proxy on
    /// the same machine, set a token, or do not forward `/metrics`.
    pub metrics_token: Option<String>,
    /// Serve HTTPS with this certificate chain (a PEM file, the server's
    /// certificate first), for a district without a reverse proxy. Read
    /// again on SIGHUP, so a renewed certificate takes over without a
    /// restart. Needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (a PEM file), readable only by the
    /// relay's user.
    pub tls_key: Option<PathBuf>,
    /// The settings file these came from, to read again on SIGHUP.
    #[serde(skip)]
    pub config_path: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: PathBuf::from("doorstep.sqlite"),
            store: None,
            key_file: None,
            jwt_secret: None,
            access_ttl_secs: 15 * 60,
            refresh_ttl_days: 60,
            request_timeout_secs: 30,
            header_timeout_secs: 10,
            max_connections: 4096,
            session_ttl_hours: 12,
            log_format: LogFormat::Text,
            max_db_mb: None,
            places: BTreeMap::new(),
            points: PointsRules::default(),
            photos_dir: None,
            photo_grace_days: 7,
            upload_timeout_secs: 300,
            public_page: false,
            metrics_token: None,
            tls_cert: None,
            tls_key: None,
            config_path: None,
        }
    }
}

impl Settings {
    /// The settings as `name = value` lines, secrets left out (only whether
    /// they are set): what the audit log compares from one start to the next.
    pub fn summary(&self) -> String {
        let set = |v: bool| if v { "set" } else { "not set" };
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or("default".to_owned(), |p| p.display().to_string())
        };
        let none_or = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or("none".to_owned(), |p| p.display().to_string())
        };
        let points = serde_json::to_string(&self.points).unwrap_or_default();
        let places: Vec<String> = self
            .places
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        [
            format!("listen = {}", self.listen),
            format!("db = {}", self.db.display()),
            format!(
                "store = {}",
                self.store_location()
                    .map_or("(not readable)".to_owned(), |s| s.describe())
            ),
            format!("key_file = {}", path(&self.key_file)),
            format!("jwt_secret = {}", set(self.jwt_secret.is_some())),
            format!("access_ttl_secs = {}", self.access_ttl_secs),
            format!("refresh_ttl_days = {}", self.refresh_ttl_days),
            format!("request_timeout_secs = {}", self.request_timeout_secs),
            format!("header_timeout_secs = {}", self.header_timeout_secs),
            format!("max_connections = {}", self.max_connections),
            format!("session_ttl_hours = {}", self.session_ttl_hours),
            format!(
                "max_db_mb = {}",
                self.max_db_mb.map_or("none".to_owned(), |m| m.to_string())
            ),
            format!("places = {}", places.join(", ")),
            format!("points = {points}"),
            format!("photos_dir = {}", path(&self.photos_dir)),
            format!("photo_grace_days = {}", self.photo_grace_days),
            format!("upload_timeout_secs = {}", self.upload_timeout_secs),
            format!("public_page = {}", self.public_page),
            format!("metrics_token = {}", set(self.metrics_token.is_some())),
            format!("tls_cert = {}", none_or(&self.tls_cert)),
            format!("tls_key = {}", none_or(&self.tls_key)),
        ]
        .join("\n")
    }

    /// Reads a settings file (TOML), or the defaults when there is none.
    pub fn from_file(path: Option<&Path>) -> AppResult<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| AppError::BadRequest(format!("cannot read {}: {e}", path.display())))?;
        let mut settings: Self = toml::from_str(&text)
            .map_err(|e| AppError::BadRequest(format!("{}: {e}", path.display())))?;
        settings.config_path = Some(path.to_path_buf());
        Ok(settings)
    }

    /// Where the store is: `store` if set, else the SQLite file `db`.
    pub fn store_location(&self) -> AppResult<StoreLocation> {
        match &self.store {
            Some(text) => StoreLocation::parse(text).map_err(AppError::BadRequest),
            None => Ok(StoreLocation::Sqlite(self.db.clone())),
        }
    }

    /// The size limit in bytes.
    pub fn max_db_bytes(&self) -> Option<u64> {
        self.max_db_mb.map(|mb| mb.saturating_mul(1 << 20))
    }

    /// The key file to use.
    pub fn key_path(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| {
            let mut name = self.db.clone().into_os_string();
            name.push(".key");
            PathBuf::from(name)
        })
    }

    /// The photo folder to use.
    pub fn photos_path(&self) -> PathBuf {
        if let Some(dir) = &self.photos_dir {
            return dir.clone();
        }
        match self.store_location() {
            Ok(StoreLocation::Sqlite(db)) => crate::photos::backup::folder_beside(&db),
            // Relays sharing a database share a photo folder too (a
            // network file system), set with `photos_dir`.
            _ => PathBuf::from("doorstep-photos"),
        }
    }

    /// How long an unreferenced photo is kept.
    pub fn photo_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.photo_grace_days.saturating_mul(86_400))
    }

    /// Dashboard session lifetime in seconds.
    pub fn session_ttl_secs(&self) -> i64 {
        self.session_ttl_hours * 3600
    }

    /// Refresh-token lifetime in milliseconds.
    pub fn refresh_ttl_ms(&self) -> i64 {
        self.refresh_ttl_days * 86_400_000
    }
}
