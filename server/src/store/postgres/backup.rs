//! `doorstep backup` and `doorstep restore` of a PostgreSQL store, with
//! PostgreSQL's own tools: `pg_dump` writes a consistent copy while the
//! relays serve, `pg_restore` puts one in place. The copy holds the
//! relays' signing secret, so phones stay logged in across a restore.
//!
//! A restored store is behind its phones, as any backup is: it starts a
//! new epoch of its feed, and every phone gives back what the copy lacks at
//! its next sync. (The photo folder the relays share is backed up with the
//! file system's tools.)

use std::path::Path;
use std::process::{Command, Output};

use sync_core::sync::storage::SyncStorage;

use crate::error::{AppError, AppResult};
use crate::store::{open_postgres, redact};

/// Runs one of PostgreSQL's client tools, with a message that says what
/// to install when it is missing.
fn run(tool: &str, args: &[&std::ffi::OsStr]) -> AppResult<Output> {
    Command::new(tool).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            AppError::BadRequest(format!(
                "{tool} is not installed: a PostgreSQL store is backed up and restored with PostgreSQL's client tools (Debian: apt install postgresql-client)"
            ))
        } else {
            AppError::Internal(format!("cannot run {tool}: {e}"))
        }
    })
}

fn failed(tool: &str, out: &Output) -> AppError {
    AppError::Internal(format!(
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Writes a consistent copy of the store at `conninfo` to the new file
/// `out` (PostgreSQL's custom format, readable by its owner only).
pub fn dump(conninfo: &str, out: &Path) -> AppResult<()> {
    if out.exists() {
        return Err(AppError::Conflict(format!(
            "{} exists already: give a new file",
            out.display()
        )));
    }
    crate::config::folder_exists(out, "the backup")?;
    let output = run(
        "pg_dump",
        &[
            "--format=custom".as_ref(),
            "--no-owner".as_ref(),
            "--file".as_ref(),
            out.as_os_str(),
            "--dbname".as_ref(),
            conninfo.as_ref(),
        ],
    )?;
    if !output.status.success() {
        let _ = std::fs::remove_file(out);
        return Err(failed("pg_dump", &output));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| AppError::Internal(format!("{}: {e}", out.display())))?;
    }
    Ok(())
}

/// Puts the copy `backup` (written by [`dump`]) in place at `conninfo`:
/// into an empty database, or over the store there with `force`. Then the
/// store starts a new epoch of its feed, so phones reconcile.
pub fn restore(backup: &Path, conninfo: &str, force: bool) -> AppResult<()> {
    if !backup.is_file() {
        return Err(AppError::NotFound(format!(
            "no backup at {}",
            backup.display()
        )));
    }
    let holds = holds_a_district(conninfo)?;
    if holds && !force {
        return Err(AppError::Conflict(format!(
            "{} already holds a district: restore into a new, empty database, or give --force to replace it",
            redact(conninfo)
        )));
    }
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--exit-on-error".as_ref(),
        "--no-owner".as_ref(),
        "--single-transaction".as_ref(),
    ];
    if holds {
        args.push("--clean".as_ref());
        args.push("--if-exists".as_ref());
    }
    args.push("--dbname".as_ref());
    args.push(conninfo.as_ref());
    args.push(backup.as_os_str());
    let output = run("pg_restore", &args)?;
    if !output.status.success() {
        return Err(failed("pg_restore", &output));
    }
    let mut engine = open_postgres(conninfo)?;
    engine.new_feed_epoch()?;
    Ok(())
}

/// Whether the database holds a district's tables (a connection of its
/// own: opening the store would make them).
fn holds_a_district(conninfo: &str) -> AppResult<bool> {
    let config = super::PgOptions::parse(conninfo)
        .map_err(|e| AppError::BadRequest(format!("{}: {e}", redact(conninfo))))?
        .config;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Internal(format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| AppError::Internal(format!("cannot reach {}: {e}", redact(conninfo))))?;
        let driver = tokio::spawn(connection);
        let row = client
            .query_one("SELECT to_regclass('records') IS NOT NULL", &[])
            .await
            .map_err(|e| AppError::Internal(format!("{}: {e}", redact(conninfo))))?;
        drop(client);
        let _ = driver.await;
        Ok(row.get::<_, bool>(0))
    })
}
