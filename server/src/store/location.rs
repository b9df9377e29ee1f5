//! Where the relay keeps its store: a SQLite file (the default), or a
//! PostgreSQL database that several relays share. `--store` (and
//! `DOORSTEP_STORE`, and `store` in the settings file) names it; `--db`
//! names a SQLite file as before.

use std::path::PathBuf;

use super::RelayStore;
use super::postgres::{PgEngine, PgOptions};
use crate::error::{AppError, AppResult};

/// Where the relay's store is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its connection string
    /// (`postgres://user@host/db`, or libpq's `host=… dbname=…`).
    Postgres(String),
}

impl StoreLocation {
    /// Reads `--store`: a `postgres://` or `postgresql://` URL, or libpq's
    /// `key=value` settings, is PostgreSQL; `sqlite:PATH` or a plain path
    /// is a SQLite file.
    pub fn parse(text: &str) -> Result<StoreLocation, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("--store is empty: give a SQLite file or a postgres:// address".into());
        }
        let postgres = text.starts_with("postgres://")
            || text.starts_with("postgresql://")
            || text.split_whitespace().all(|w| w.contains('='));
        if postgres {
            PgOptions::parse(text).map_err(|e| {
                format!(
                    "{}: not a PostgreSQL connection string ({e}); write postgres://USER@HOST/DATABASE or host=/run/postgresql dbname=doorstep",
                    redact(text)
                )
            })?;
            return Ok(StoreLocation::Postgres(text.to_owned()));
        }
        let path = text.strip_prefix("sqlite:").unwrap_or(text);
        Ok(StoreLocation::Sqlite(PathBuf::from(path)))
    }

    /// The store, for logs and the audit log: a file's path, or a
    /// database's user, host and name, never its password.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => path.display().to_string(),
            StoreLocation::Postgres(conninfo) => redact(conninfo),
        }
    }

    /// Opens the store, creating or migrating its schema. A PostgreSQL
    /// store is opened on a thread of its own: it starts a runtime of its
    /// own, which may not happen on one already running.
    pub fn open(&self) -> AppResult<Box<dyn RelayStore>> {
        match self {
            StoreLocation::Sqlite(path) => {
                crate::config::folder_exists(path, "the database")?;
                let store = sync_core::Store::open(path).map_err(|e| {
                    AppError::Internal(format!("cannot open {}: {e}", path.display()))
                })?;
                Ok(Box::new(store))
            }
            StoreLocation::Postgres(conninfo) => {
                let engine = open_postgres(conninfo)?;
                Ok(Box::new(engine))
            }
        }
    }
}

/// Opens a PostgreSQL store on a thread of its own.
pub fn open_postgres(conninfo: &str) -> AppResult<PgEngine> {
    let options = PgOptions::parse(conninfo)
        .map_err(|e| AppError::BadRequest(format!("{}: {e}", redact(conninfo))))?;
    let shown = redact(conninfo);
    std::thread::spawn(move || PgEngine::open(options))
        .join()
        .map_err(|_| AppError::Internal("opening the PostgreSQL store panicked".into()))?
        .map_err(|e| {
            AppError::Internal(format!(
                "cannot open the PostgreSQL store {shown}: {e}; check that the database server runs, that the database exists, and that the user may log in"
            ))
        })
}

/// A connection string with its password left out.
pub fn redact(conninfo: &str) -> String {
    let Ok(options) = PgOptions::parse(conninfo) else {
        return "(a PostgreSQL connection string)".into();
    };
    let config = &options.config;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}@{}/{db}", hosts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_either_store_are_told_apart() {
        assert_eq!(
            StoreLocation::parse("district.sqlite").unwrap(),
            StoreLocation::Sqlite("district.sqlite".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:/var/lib/doorstep/d.sqlite").unwrap(),
            StoreLocation::Sqlite("/var/lib/doorstep/d.sqlite".into())
        );
        for pg in [
            "postgres://doorstep@db.internal/doorstep",
            "postgresql://doorstep:secret@10.0.0.5:5432/doorstep",
            "host=/run/postgresql dbname=doorstep user=doorstep",
        ] {
            assert_eq!(
                StoreLocation::parse(pg).unwrap(),
                StoreLocation::Postgres(pg.into())
            );
        }
        let bad = StoreLocation::parse("postgres://a:b@host:notaport/db").unwrap_err();
        assert!(bad.contains("postgres://USER@HOST/DATABASE"), "{bad}");
        assert!(!bad.contains(":b@"), "the password is not shown: {bad}");
    }

    #[test]
    fn a_described_store_shows_no_password() {
        let pg =
            StoreLocation::parse("postgresql://doorstep:s3cret@db.internal:5432/district").unwrap();
        let shown = pg.describe();
        assert_eq!(shown, "postgres://doorstep@db.internal/district");
        assert!(!shown.contains("s3cret"));
        let sock = StoreLocation::parse("host=/run/postgresql dbname=d password=pw").unwrap();
        assert!(!sock.describe().contains("pw"), "{}", sock.describe());
    }
}
