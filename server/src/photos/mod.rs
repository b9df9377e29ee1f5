//! Photo bytes on the relay: uploads that resume, verified before they are
//! taken, kept behind [`PhotoStorage`], with thumbnails made here.
//!
//! An upload is `HEAD /v1/photos/{sha256}` (how far it has come) and
//! `PATCH /v1/photos/{sha256}` (more bytes from that offset). The relay
//! answers success only when the whole file is on disk, its SHA-256 is the
//! name it was sent under, and it is a photo as the app makes them (see
//! sync-core's `photo::inspect`); anything else is refused and nothing of
//! it is kept. Which photos exist, and who may see one, is the database's
//! business (sync-core's `store::stored_photos`); this module moves files.

pub mod backup;
pub mod staging;
pub mod storage;
mod sweep;
mod workers;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sync_core::model::Photo;
use sync_core::photo::{self, PhotoError};
use sync_core::{DeviceId, PhotoRef};

pub use staging::Staging;
pub use storage::{FolderStorage, PhotoStorage, Variant};
pub use sweep::{SweepReport, sweep, sweep_candidates, sweep_some};

use crate::error::{AppError, AppResult, StorageFault};

/// Why a photo request was refused, beyond the common errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoProblem {
    /// Over the size limit (413).
    TooLarge {
        /// What the upload declared.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The bytes do not hash to the name they were sent under (422).
    Mismatch {
        /// What they hash to.
        actual: PhotoRef,
    },
    /// Not a photo as the app makes them: metadata left, not a JPEG, too
    /// large a side (422).
    Refused(String),
    /// The offset is not where the upload stands (409).
    Offset {
        /// Where it stands.
        current: u64,
    },
    /// The record refers to it but its bytes have not arrived (409).
    Pending {
        /// The name of the device whose phone has them.
        from: Option<String>,
    },
    /// A supervisor purged it (410).
    Purged,
}

impl From<PhotoProblem> for AppError {
    fn from(problem: PhotoProblem) -> Self {
        AppError::Photo(problem)
    }
}

/// The photo side of the relay: where files are kept, where uploads wait,
/// and how many are checked at once.
#[derive(Debug)]
pub struct Photos {
    /// Verified photos and thumbnails.
    pub storage: Arc<dyn PhotoStorage>,
    /// Uploads in progress.
    pub staging: Staging,
    /// The threads photo files are worked on (see [`workers`]).
    workers: workers::Workers,
    /// One request at a time per device and photo: an upload cut off is
    /// still writing its last bytes when the phone asks where it stands.
    turns: std::sync::Mutex<HashMap<(DeviceId, PhotoRef), TurnLock>>,
}

type TurnLock = Arc<tokio::sync::Mutex<()>>;

/// A device's turn at one of its uploads (see [`Photos::turn`]).
pub struct Turn {
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Photos {
    /// Photos in the folder `dir` (uploads in progress in `dir/uploads`).
    pub fn open(dir: &Path) -> io::Result<Self> {
        let storage = FolderStorage::open(dir)?;
        let staging = Staging::open(&dir.join("uploads"))?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            storage: Arc::new(storage),
            staging,
            workers: workers::Workers::start(cores.min(4)),
            turns: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Waits until no other request of `device` about `sha256` runs, and
    /// holds off the next one until the turn is dropped.
    pub async fn turn(&self, device: DeviceId, sha256: &PhotoRef) -> Turn {
        let lock = {
            let mut turns = self
                .turns
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Forget the turns nobody holds or waits for.
            turns.retain(|_, lock| Arc::strong_count(lock) > 1);
            turns.entry((device, sha256.clone())).or_default().clone()
        };
        Turn {
            _guard: lock.lock_owned().await,
        }
    }

    /// Runs file work `f` on the photo threads and awaits its result.
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.workers.run(f).await
    }

    /// Checks a finished upload at `part` sent as `sha256` and, if it is the
    /// photo it claims to be, takes it and its new thumbnail into storage.
    /// Returns the photo and the thumbnail's size. On a refusal the upload
    /// is dropped: nothing of it stays.
    pub async fn accept(
        self: &Arc<Self>,
        part: PathBuf,
        sha256: PhotoRef,
    ) -> AppResult<(Photo, u64)> {
        let photos = self.clone();
        self.run(move || {
            let verdict = photos.accept_blocking(&part, &sha256);
            if verdict.is_err() {
                let _ = std::fs::remove_file(&part);
            }
            verdict
        })
        .await?
    }

    /// Makes a camera's `picture` (a volunteer's, taken on the wish wall)
    /// a photo as a phone would (upright, at most 1600 px, no metadata; see
    /// sync-core's `photo::process`) and takes it and its thumbnail into
    /// storage. Returns the photo and the thumbnail's size.
    pub async fn take(self: &Arc<Self>, picture: Vec<u8>) -> AppResult<(Photo, u64)> {
        let photos = self.clone();
        self.run(move || {
            let processed = photo::process(&picture).map_err(refusal)?;
            let sha256 = processed.photo.sha256.clone();
            let (part, mut file) = photos
                .staging
                .scratch(&format!("{sha256}.taken"))
                .map_err(storage_error)?;
            let written = file
                .write_all(&processed.data)
                .and_then(|()| file.sync_all());
            drop(file);
            let verdict = written
                .map_err(storage_error)
                .and_then(|()| photos.accept_blocking(&part, &sha256));
            if verdict.is_err() {
                let _ = std::fs::remove_file(&part);
            }
            verdict
        })
        .await?
    }

    fn accept_blocking(&self, part: &Path, sha256: &PhotoRef) -> AppResult<(Photo, u64)> {
        let actual = hash_file(part).map_err(storage_error)?;
        if actual != *sha256 {
            return Err(PhotoProblem::Mismatch { actual }.into());
        }
        let data = std::fs::read(part).map_err(storage_error)?;
        let (photo, thumb) = photo::inspect_with_thumbnail(&data).map_err(refusal)?;
        let (scratch, mut file) = self
            .staging
            .scratch(&format!("{sha256}.thumb"))
            .map_err(storage_error)?;
        file.write_all(&thumb).map_err(storage_error)?;
        drop(file);
        self.storage
            .put(sha256, Variant::Thumbnail, &scratch)
            .map_err(storage_error)?;
        self.storage
            .put(sha256, Variant::Original, part)
            .map_err(storage_error)?;
        Ok((photo, thumb.len() as u64))
    }
}

/// The SHA-256 of a file, read in pieces.
pub(crate) fn hash_file(path: &Path) -> io::Result<PhotoRef> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(PhotoRef::from_digest(hasher.finalize().into()))
}

/// A photo the relay will not take, as an answer.
pub(crate) fn refusal(error: PhotoError) -> AppError {
    match error {
        PhotoError::TooLarge { bytes, limit } => PhotoProblem::TooLarge { bytes, limit }.into(),
        other => PhotoProblem::Refused(other.to_string()).into(),
    }
}

/// A failure of the photo folder, as an answer: a full disk is
/// `storage_full` like the database's, the rest `storage_unavailable`.
pub(crate) fn storage_error(error: io::Error) -> AppError {
    let fault = match error.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StorageFault::Full,
        io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied => {
            StorageFault::ReadOnly
        }
        _ => StorageFault::Unavailable,
    };
    AppError::Storage {
        fault,
        detail: format!("photo storage: {error}"),
    }
}
