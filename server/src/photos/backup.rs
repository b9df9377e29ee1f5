//! Photos in backups and restores.
//!
//! `doorstep backup` copies the photo files the database's copy knows
//! beside it (`<backup>.photos`, hard links where the disk allows: photos
//! never change); `doorstep restore` puts them back. After a restore, and
//! whenever a relay starts a new feed epoch, the photo files on disk that
//! the database does not know (uploaded after the backup was taken) are
//! checked again and taken back, so that the cards the phones give back
//! find their photos. Phones, seeing the new epoch, ask the relay about
//! each photo they took, and send again what it lacks.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sync_core::photo;
use sync_core::{PhotoRef, Store};

use super::storage::{FolderStorage, Variant, create_private_dir, set_private, sync_dir};
use super::{PhotoStorage, hash_file};
use crate::error::{AppError, AppResult};

/// The photo folder that goes with the database (or backup) at `db`.
pub fn folder_beside(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".photos");
    PathBuf::from(name)
}

/// Copies `from`'s files of `photos` into `to`; returns how many were
/// copied and the photos whose files `from` lacks.
pub fn copy_photos(
    from: &FolderStorage,
    to: &FolderStorage,
    photos: &[PhotoRef],
) -> io::Result<(u64, Vec<PhotoRef>)> {
    let mut copied = 0;
    let mut missing = Vec::new();
    for sha in photos {
        let original = from.path(sha, Variant::Original);
        if !original.exists() {
            missing.push(sha.clone());
            continue;
        }
        for variant in [Variant::Original, Variant::Thumbnail] {
            let source = from.path(sha, variant);
            if source.exists() {
                link_or_copy(&source, &to.path(sha, variant))?;
            }
        }
        copied += 1;
    }
    Ok((copied, missing))
}

/// Puts `source` at `target` (a hard link, or a synced copy across disks),
/// unless a file is there already (the same photo: names are hashes).
fn link_or_copy(source: &Path, target: &Path) -> io::Result<()> {
    if target.exists() {
        return Ok(());
    }
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::other("a photo path without a folder"))?;
    create_private_dir(dir)?;
    if fs::hard_link(source, target).is_err() {
        let partial = target.with_extension("copying");
        fs::copy(source, &partial)?;
        fs::File::open(&partial)?.sync_all()?;
        set_private(&partial)?;
        fs::rename(&partial, target)?;
    }
    sync_dir(dir)
}

/// The photos a database file knows it holds.
pub fn stored_in(db: &Path) -> AppResult<Vec<PhotoRef>> {
    let conn = Connection::open(db)?;
    let mut stmt = conn.prepare("SELECT sha256 FROM stored_photos")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut photos = Vec::new();
    for row in rows {
        if let Ok(sha) = row?.parse() {
            photos.push(sha);
        }
    }
    Ok(photos)
}

/// Forgets, in the database at `db`, photos whose files are missing: they
/// read as pending, and their phones send them again.
pub fn forget_missing(db: &Path, missing: &[PhotoRef]) -> AppResult<()> {
    let conn = Connection::open(db)?;
    for sha in missing {
        conn.execute(
            "DELETE FROM stored_photos WHERE sha256 = ?1",
            [sha.as_str()],
        )?;
    }
    Ok(())
}

/// Takes into `store` the photos `storage` holds files of that it does not
/// know, each checked again (its hash, and sync-core's inspect) and given a
/// thumbnail if it lacks one; files that fail the check are left for
/// cleanup. Returns how many were taken.
pub fn adopt(store: &mut Store, storage: &FolderStorage, now: i64) -> AppResult<u64> {
    let files = storage.list().map_err(super::storage_error)?;
    let mut adopted = 0;
    for (sha, _) in files {
        if store.stored_photo(&sha)?.is_some() || store.photo_is_purged(&sha)? {
            continue;
        }
        let path = storage.path(&sha, Variant::Original);
        let Ok(actual) = hash_file(&path) else {
            continue;
        };
        if actual != sha {
            continue;
        }
        let data = fs::read(&path).map_err(super::storage_error)?;
        let Ok((photo, thumb)) = photo::inspect_with_thumbnail(&data) else {
            continue;
        };
        let thumb_path = storage.path(&sha, Variant::Thumbnail);
        let thumb_bytes = match fs::metadata(&thumb_path) {
            Ok(meta) => meta.len(),
            Err(_) => {
                let scratch = thumb_path.with_extension("adopting");
                fs::write(&scratch, &thumb).map_err(super::storage_error)?;
                storage
                    .put(&sha, Variant::Thumbnail, &scratch)
                    .map_err(super::storage_error)?;
                thumb.len() as u64
            }
        };
        if store.record_stored_photo(&photo, thumb_bytes, "restore", now)? {
            adopted += 1;
        }
    }
    if adopted > 0 {
        tracing::info!(
            adopted,
            "photos on disk taken back after the relay went back in time"
        );
    }
    Ok(adopted)
}

/// An I/O error about `path`, for the CLI.
pub(crate) fn io_error(path: &Path, e: io::Error) -> AppError {
    AppError::Internal(format!("{}: {e}", path.display()))
}
