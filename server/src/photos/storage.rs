//! Where verified photo bytes live: a small trait, and the folder beside
//! the database that the relay ships with.
//!
//! The folder holds each photo and its thumbnail at a path sharded by the
//! first bytes of its hash (`ab/cd/abcd…ef.jpg`, `ab/cd/abcd…ef.thumb.jpg`),
//! so that no directory grows past a few hundred entries; files are mode
//! 0600 and directories 0700, like the database. A file enters by rename
//! from the same disk after an fsync, and the directory is synced after the
//! rename: once [`PhotoStorage::put`] returns, the bytes survive a power cut.
//!
//! An object store (S3 and the like) can take the folder's place by
//! implementing [`PhotoStorage`]; uploads in progress stay on local disk
//! (see [`super::staging`]) and only verified files are put.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sync_core::PhotoRef;

/// Which file of a photo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The photo as the phone made it.
    Original,
    /// Its thumbnail, made on the relay.
    Thumbnail,
}

/// Where verified photo bytes live.
pub trait PhotoStorage: Send + Sync + std::fmt::Debug + 'static {
    /// Takes the file at `file` (on the staging disk) as `sha256`'s
    /// `variant`, replacing any; durable when it returns.
    fn put(&self, sha256: &PhotoRef, variant: Variant, file: &Path) -> io::Result<()>;

    /// Opens `sha256`'s `variant`, if held.
    fn open(&self, sha256: &PhotoRef, variant: Variant) -> io::Result<Option<File>>;

    /// Deletes both files of `sha256` (nothing if absent).
    fn delete(&self, sha256: &PhotoRef) -> io::Result<()>;

    /// Every photo with an original held, with when it was put, in no
    /// particular order.
    fn list(&self) -> io::Result<Vec<(PhotoRef, SystemTime)>>;
}

/// A folder of photo files.
#[derive(Debug, Clone)]
pub struct FolderStorage {
    root: PathBuf,
}

impl FolderStorage {
    /// The folder at `root`, created (mode 0700) if missing.
    pub fn open(root: &Path) -> io::Result<Self> {
        create_private_dir(root)?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The folder's path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn shard(&self, sha256: &PhotoRef) -> PathBuf {
        let hex = sha256.as_str();
        self.root.join(&hex[0..2]).join(&hex[2..4])
    }

    /// The path of `sha256`'s `variant`.
    pub fn path(&self, sha256: &PhotoRef, variant: Variant) -> PathBuf {
        let name = match variant {
            Variant::Original => format!("{sha256}.jpg"),
            Variant::Thumbnail => format!("{sha256}.thumb.jpg"),
        };
        self.shard(sha256).join(name)
    }
}

impl PhotoStorage for FolderStorage {
    fn put(&self, sha256: &PhotoRef, variant: Variant, file: &Path) -> io::Result<()> {
        let shard = self.shard(sha256);
        if let Some(parent) = shard.parent() {
            create_private_dir(parent)?;
        }
        create_private_dir(&shard)?;
        File::open(file)?.sync_all()?;
        set_private(file)?;
        fs::rename(file, self.path(sha256, variant))?;
        sync_dir(&shard)
    }

    fn open(&self, sha256: &PhotoRef, variant: Variant) -> io::Result<Option<File>> {
        match File::open(self.path(sha256, variant)) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn delete(&self, sha256: &PhotoRef) -> io::Result<()> {
        for variant in [Variant::Thumbnail, Variant::Original] {
            match fs::remove_file(self.path(sha256, variant)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        sync_dir(&self.shard(sha256)).or_else(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        })
    }

    fn list(&self) -> io::Result<Vec<(PhotoRef, SystemTime)>> {
        let mut found = Vec::new();
        for first in read_dirs(&self.root)? {
            for second in read_dirs(&first)? {
                for entry in fs::read_dir(&second)? {
                    let entry = entry?;
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    if let Some(hex) = name.strip_suffix(".jpg")
                        && !hex.ends_with(".thumb")
                        && let Ok(sha) = PhotoRef::new(hex)
                    {
                        found.push((sha, entry.metadata()?.modified()?));
                    }
                }
            }
        }
        Ok(found)
    }
}

/// The two-hex-digit shard folders under `dir`.
fn read_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_shard = name.len() == 2
            && name
                .to_str()
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_hexdigit()));
        if is_shard && entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}

/// Creates `dir` (mode 0700) if it does not exist.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes `file` readable by its owner only.
pub(crate) fn set_private(file: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(file, fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Makes a rename or removal in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(n: u8) -> PhotoRef {
        PhotoRef::from_digest([n; 32])
    }

    #[test]
    fn put_open_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FolderStorage::open(&dir.path().join("photos")).unwrap();
        let staged = dir.path().join("staged");
        fs::write(&staged, b"jpeg bytes").unwrap();
        storage.put(&sha(7), Variant::Original, &staged).unwrap();
        assert!(!staged.exists(), "moved, not copied");
        let path = storage.path(&sha(7), Variant::Original);
        assert!(path.ends_with(
            "07/07/0707070707070707070707070707070707070707070707070707070707070707.jpg"
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            let shard = path.parent().unwrap();
            assert_eq!(
                fs::metadata(shard).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        fs::write(&staged, b"thumb").unwrap();
        storage.put(&sha(7), Variant::Thumbnail, &staged).unwrap();
        let listed: Vec<PhotoRef> = storage
            .list()
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(listed, vec![sha(7)], "thumbnails are not photos");
        assert!(storage.open(&sha(8), Variant::Original).unwrap().is_none());
        storage.delete(&sha(7)).unwrap();
        storage.delete(&sha(7)).unwrap();
        assert!(storage.open(&sha(7), Variant::Thumbnail).unwrap().is_none());
        assert!(storage.list().unwrap().is_empty());
    }
}
