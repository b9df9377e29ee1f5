//! Backups, restores, and a relay that knows when it went back in time.
//!
//! Phones trust what the relay acknowledged: a change it accepted is not
//! sent again. A relay restored from a backup has forgotten what it
//! accepted after the backup, so it must never look like the relay the
//! phones knew. Its change feed gets a new epoch, and at their next sync
//! the phones see it, offer every record the relay lacks, and pull the new
//! feed from its start. Three things start a new epoch:
//!
//! - `doorstep restore`;
//! - serving a database that is a copy made by `doorstep backup` (it carries
//!   a mark), for a backup copied into place by hand;
//! - serving a database whose feed is behind the high-water mark the relay
//!   keeps beside it (`<db>.feed`), for a copy made some other way.
//!
//! A phone whose cursor the feed does not reach proves it too, and starts a
//! new epoch on its own (see sync-core's `store::feed`).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sync_core::Store;

use crate::error::{AppError, AppResult};
use crate::photos;

/// When the copy was made (ms), in a backup's `meta`.
const TAKEN_AT: &str = "backup_taken_at";
/// The relay's key file, in a backup's `meta`.
const BACKUP_KEY: &str = "backup_signing_key";

/// What `doorstep backup` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Records in the copy.
    pub records: i64,
    /// Whether the signing key went into the copy.
    pub key_included: bool,
    /// Photos copied beside it (into [`photos::backup::folder_beside`]).
    pub photos: u64,
}

/// Writes a consistent copy of a live database to `out` (which must not
/// exist), readable only by its owner: it holds everything, the signing key
/// at `key_path` included when there is one. The photos the copy knows go
/// beside it, from the folder `photos_dir`.
pub fn backup(
    db: &Path,
    key_path: &Path,
    photos_dir: &Path,
    out: &Path,
    now: i64,
) -> AppResult<BackupReport> {
    if !db.exists() {
        return Err(AppError::NotFound(format!(
            "no database at {}",
            db.display()
        )));
    }
    create_private(out)?;
    let copied = (|| {
        let live = Connection::open(db)?;
        live.execute("VACUUM INTO ?1", [out.to_string_lossy().as_ref()])?;
        let copy = Connection::open(out)?;
        let key = fs::read_to_string(key_path).ok();
        let tx = copy.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            [TAKEN_AT, &now.to_string()],
        )?;
        if let Some(key) = &key {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                [BACKUP_KEY, key.trim()],
            )?;
        }
        tx.commit()?;
        let records = copy.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
        Ok::<_, rusqlite::Error>(BackupReport {
            records,
            key_included: key.is_some(),
            photos: 0,
        })
    })();
    let mut report = copied.map_err(|e| {
        let _ = fs::remove_file(out);
        AppError::Internal(format!(
            "cannot back up {} to {}: {e}",
            db.display(),
            out.display()
        ))
    })?;
    report.photos = back_up_photos(photos_dir, out)?;
    Ok(report)
}

/// Copies the photos the backup at `out` knows from `photos_dir` beside it;
/// photos whose files went meanwhile (cleanup) are forgotten in the copy.
fn back_up_photos(photos_dir: &Path, out: &Path) -> AppResult<u64> {
    let known = photos::backup::stored_in(out)?;
    if known.is_empty() {
        return Ok(0);
    }
    let target_dir = photos::backup::folder_beside(out);
    let open =
        |dir: &Path| photos::FolderStorage::open(dir).map_err(|e| photos::backup::io_error(dir, e));
    let (from, to) = (open(photos_dir)?, open(&target_dir)?);
    let (copied, missing) = photos::backup::copy_photos(&from, &to, &known)
        .map_err(|e| photos::backup::io_error(&target_dir, e))?;
    photos::backup::forget_missing(out, &missing)?;
    Ok(copied)
}

/// What `doorstep restore` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// When the backup was taken (ms), if it was made by `doorstep backup`.
    pub taken_at: Option<i64>,
    /// Records restored.
    pub records: i64,
    /// The new epoch of the feed.
    pub epoch: u64,
    /// Where the signing key was written, if the backup held one.
    pub key_written: Option<PathBuf>,
    /// Files moved aside (the database and key that were there before).
    pub kept_aside: Vec<PathBuf>,
    /// Photos copied back from the backup.
    pub photos: u64,
    /// Photo files already on disk that the backup did not know, taken back.
    pub photos_adopted: u64,
}

/// Puts a backup in place as the database at `db` with a new feed epoch,
/// its signing key at `key_path` and its photos in `photos_dir` (with the
/// photos there already). Refuses while a relay serves `db`. A database
/// already at `db` is replaced only with `force`, and is kept aside, never
/// deleted.
pub fn restore(
    from: &Path,
    db: &Path,
    key_path: &Path,
    photos_dir: &Path,
    force: bool,
    now: i64,
) -> AppResult<RestoreReport> {
    let source = Store::open(from).map_err(|e| {
        AppError::BadRequest(format!(
            "{} is not a Doorstep database: {e}",
            from.display()
        ))
    })?;
    let taken_at = source.meta(TAKEN_AT)?.and_then(|t| t.parse().ok());
    let key = source.meta(BACKUP_KEY)?;
    drop(source);
    let _lock = ServingLock::take(db).map_err(|_| {
        AppError::Conflict(format!(
            "a relay is serving {}: stop it before restoring",
            db.display()
        ))
    })?;
    let mut kept_aside = Vec::new();
    if db.exists() {
        if !force {
            return Err(AppError::Conflict(format!(
                "{} exists; add --force to replace it (it is kept aside, not deleted)",
                db.display()
            )));
        }
        for path in [db.to_path_buf(), suffixed(db, "-wal"), suffixed(db, "-shm")] {
            if path.exists() {
                let aside = suffixed(&path, &format!(".replaced-{now}"));
                fs::rename(&path, &aside).map_err(|e| io_error(&path, e))?;
                kept_aside.push(aside);
            }
        }
    }
    create_private(db)?;
    let copy = Connection::open(from)
        .and_then(|c| c.execute("VACUUM INTO ?1", [db.to_string_lossy().as_ref()]));
    if let Err(e) = copy {
        let _ = fs::remove_file(db);
        return Err(AppError::Internal(format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            db.display()
        )));
    }
    let mut store = Store::open(db)?;
    let epoch = store.new_feed_epoch()?;
    let key_written = match &key {
        Some(key) => {
            if let Some(aside) = install_key(key_path, key, now)? {
                kept_aside.push(aside);
            }
            Some(key_path.to_path_buf())
        }
        None => None,
    };
    clear_marks(&store)?;
    store.set_meta("restored_at", Some(&now.to_string()))?;
    let records = store
        .connection()
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
    // A high-water mark of the database replaced belongs to another history.
    let _ = fs::remove_file(HighWater::beside(db).path);
    let folder = photos::FolderStorage::open(photos_dir)
        .map_err(|e| photos::backup::io_error(photos_dir, e))?;
    let backed_up = photos::backup::folder_beside(from);
    let restored = if backed_up.is_dir() {
        let source = photos::FolderStorage::open(&backed_up)
            .map_err(|e| photos::backup::io_error(&backed_up, e))?;
        let known: Vec<_> = photos::backup::stored_in(db)?;
        photos::backup::copy_photos(&source, &folder, &known)
            .map_err(|e| photos::backup::io_error(photos_dir, e))?
            .0
    } else {
        0
    };
    let adopted = photos::backup::adopt(&mut store, &folder, now)?;
    Ok(RestoreReport {
        taken_at,
        records,
        epoch,
        key_written,
        kept_aside,
        photos: restored,
        photos_adopted: adopted,
    })
}

/// Before a relay serves `store` (at `db`): a new epoch if the database is
/// a backup copied into place, or behind its high-water mark. Returns why
/// a new epoch started, if one did.
pub fn prepare_to_serve(
    store: &mut Store,
    db: &Path,
    key_path: Option<&Path>,
    now: i64,
) -> AppResult<Option<String>> {
    let mut why = None;
    if let Some(taken) = store.meta(TAKEN_AT)? {
        if let (Some(key), Some(path)) = (store.meta(BACKUP_KEY)?, key_path)
            && !path.exists()
        {
            install_key(path, &key, now)?;
        }
        clear_marks(store)?;
        store.new_feed_epoch()?;
        why = Some(format!(
            "this database is a copy made by doorstep backup (taken at {taken} ms)"
        ));
    }
    let high = HighWater::beside(db);
    let (epoch, seq) = (store.feed_epoch()?, store.feed_seq()?);
    if why.is_none()
        && let Some(mark) = high.read()
        && mark.epoch == epoch
        && seq < mark.seq
    {
        store.new_feed_epoch()?;
        why = Some(format!(
            "its change feed ends at {seq}, but this relay had reached {} (the database was replaced by an older copy)",
            mark.seq
        ));
    }
    high.write(store.feed_epoch()?, store.feed_seq()?)?;
    Ok(why)
}

fn clear_marks(store: &Store) -> AppResult<()> {
    store.set_meta(TAKEN_AT, None)?;
    store.set_meta(BACKUP_KEY, None)?;
    Ok(())
}

/// Writes the backup's key file; an existing different one is kept aside.
fn install_key(path: &Path, key: &str, now: i64) -> AppResult<Option<PathBuf>> {
    let mut aside = None;
    if let Ok(existing) = fs::read_to_string(path) {
        if existing.trim() == key.trim() {
            return Ok(None);
        }
        let moved = suffixed(path, &format!(".replaced-{now}"));
        fs::rename(path, &moved).map_err(|e| io_error(path, e))?;
        aside = Some(moved);
    }
    let mut file = create_private(path)?;
    file.write_all(key.trim().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(path, e))?;
    Ok(aside)
}

/// The high-water mark of a relay's feed, in a small file beside its
/// database: the feed's epoch and the furthest position it reached.
#[derive(Debug)]
pub struct HighWater {
    path: PathBuf,
}

/// What the high-water file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The feed's epoch.
    pub epoch: u64,
    /// The furthest position it reached.
    pub seq: i64,
}

impl HighWater {
    /// The mark of the database at `db`.
    pub fn beside(db: &Path) -> Self {
        Self {
            path: suffixed(db, ".feed"),
        }
    }

    /// The mark, if there is a readable one.
    pub fn read(&self) -> Option<Mark> {
        serde_json::from_slice(&fs::read(&self.path).ok()?).ok()
    }

    /// Records the feed's position (written whole, then renamed into place).
    pub fn write(&self, epoch: u64, seq: i64) -> AppResult<()> {
        let next = self
            .read()
            .filter(|m| m.epoch == epoch)
            .map_or(seq, |m| m.seq.max(seq));
        let text = serde_json::to_vec(&Mark { epoch, seq: next })
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let tmp = suffixed(&self.path, ".tmp");
        fs::write(&tmp, text)
            .and_then(|()| fs::rename(&tmp, &self.path))
            .map_err(|e| io_error(&self.path, e))
    }
}

/// The lock a relay holds on the database it serves, in `<db>.lock`: a
/// second relay, or a restore, is refused while it is held.
#[derive(Debug)]
pub struct ServingLock {
    _held: File,
}

impl ServingLock {
    /// Takes the lock of `db`, or fails if someone holds it.
    pub fn take(db: &Path) -> AppResult<Self> {
        let path = suffixed(db, ".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        file.try_lock().map_err(|_| {
            AppError::Conflict(format!("another relay is serving {}", db.display()))
        })?;
        Ok(Self { _held: file })
    }
}

/// `path` with `suffix` appended to its file name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A new file only its owner can read (it holds personal data or secrets).
fn create_private(path: &Path) -> AppResult<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, e: std::io::Error) -> AppError {
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        AppError::Conflict(format!("{} already exists", path.display()))
    } else {
        AppError::Internal(format!("{}: {e}", path.display()))
    }
}
