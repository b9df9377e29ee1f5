//! Uploads in progress, on local disk: one file per device and photo,
//! `<staging>/<device>/<sha256>-<length>.part`, appended to as bytes
//! arrive and synced when a request ends, however it ends. Its length is
//! the offset an interrupted upload resumes from.
//!
//! Uploads are kept apart per device: a phone resumes its own upload, and
//! nobody learns from an offset that someone else is sending a photo.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sync_core::{DeviceId, PhotoRef};

use super::storage::{create_private_dir, set_private};

/// How far an upload has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes received and synced.
    pub offset: u64,
    /// Bytes the upload declared it would send.
    pub length: u64,
}

/// Why bytes cannot be appended where the client says.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The client's offset is not where the upload stands.
    Offset {
        /// Where it stands.
        current: u64,
    },
    /// The upload declared another length before.
    Length {
        /// The length declared before.
        declared: u64,
    },
}

/// The staging folder.
#[derive(Debug, Clone)]
pub struct Staging {
    root: PathBuf,
}

impl Staging {
    /// The staging folder at `root`, created (mode 0700) if missing.
    pub fn open(root: &Path) -> io::Result<Self> {
        create_private_dir(root)?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    fn device_dir(&self, device: DeviceId) -> PathBuf {
        self.root.join(device.to_string())
    }

    /// The file of `device`'s upload of `sha256`, declared `length` long.
    pub fn part(&self, device: DeviceId, sha256: &PhotoRef, length: u64) -> PathBuf {
        self.device_dir(device)
            .join(format!("{sha256}-{length}.part"))
    }

    /// The upload in progress of `sha256` by `device`, if any: its file
    /// and declared length.
    fn find(&self, device: DeviceId, sha256: &PhotoRef) -> io::Result<Option<(PathBuf, u64)>> {
        let dir = self.device_dir(device);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let prefix = format!("{sha256}-");
        for entry in entries {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(length) = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".part"))
                .and_then(|n| n.parse().ok())
            {
                return Ok(Some((dir.join(name.as_ref()), length)));
            }
        }
        Ok(None)
    }

    /// How far `device`'s upload of `sha256` has come, if one is in
    /// progress. The bytes reported are synced to disk first, so a resumed
    /// upload never builds on bytes a power cut could take.
    pub fn progress(&self, device: DeviceId, sha256: &PhotoRef) -> io::Result<Option<Progress>> {
        let Some((path, length)) = self.find(device, sha256)? else {
            return Ok(None);
        };
        let file = OpenOptions::new().write(true).open(&path)?;
        file.sync_data()?;
        Ok(Some(Progress {
            offset: file.metadata()?.len(),
            length,
        }))
    }

    /// Opens the file to append `device`'s upload of `sha256` at `offset`,
    /// declared `length` long. Offset 0 starts over (dropping what came
    /// before); any other offset must be where the upload stands, with the
    /// length declared before.
    pub fn append_at(
        &self,
        device: DeviceId,
        sha256: &PhotoRef,
        length: u64,
        offset: u64,
    ) -> io::Result<Result<(PathBuf, File), Refused>> {
        match self.find(device, sha256)? {
            // Offset 0 starts over, whatever came before.
            Some((path, _)) if offset == 0 => fs::remove_file(path)?,
            Some((_, declared)) if declared != length => {
                return Ok(Err(Refused::Length { declared }));
            }
            Some((path, _)) => {
                let current = fs::metadata(&path)?.len();
                if current != offset {
                    return Ok(Err(Refused::Offset { current }));
                }
                let file = OpenOptions::new().append(true).open(&path)?;
                return Ok(Ok((path, file)));
            }
            None if offset != 0 => return Ok(Err(Refused::Offset { current: 0 })),
            None => {}
        }
        create_private_dir(&self.device_dir(device))?;
        let path = self.part(device, sha256, length);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        set_private(&path)?;
        Ok(Ok((path, file)))
    }

    /// Drops `device`'s upload of `sha256`, if any.
    pub fn discard(&self, device: DeviceId, sha256: &PhotoRef) -> io::Result<()> {
        if let Some((path, _)) = self.find(device, sha256)? {
            fs::remove_file(path)?;
        }
        Ok(())
    }

    /// A new private file on the staging disk (for a thumbnail on its way
    /// into storage).
    pub fn scratch(&self, name: &str) -> io::Result<(PathBuf, File)> {
        let path = self.root.join(format!("{name}.scratch"));
        let file = File::create(&path)?;
        set_private(&path)?;
        Ok((path, file))
    }

    /// Removes uploads nobody has added to for `age`, and returns how many.
    pub fn remove_stale(&self, age: Duration) -> io::Result<u64> {
        let mut removed = 0;
        let Some(cutoff) = SystemTime::now().checked_sub(age) else {
            return Ok(0);
        };
        for device in fs::read_dir(&self.root)? {
            let device = device?;
            if !device.file_type()?.is_dir() {
                // A scratch file left by a crash.
                if device.metadata()?.modified()? < cutoff {
                    fs::remove_file(device.path())?;
                }
                continue;
            }
            for part in fs::read_dir(device.path())? {
                let part = part?;
                if part.metadata()?.modified()? < cutoff {
                    fs::remove_file(part.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn an_upload_resumes_where_it_stands_and_only_there() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::open(dir.path()).unwrap();
        let (device, other) = (DeviceId::random(), DeviceId::random());
        let sha = PhotoRef::from_digest([1; 32]);
        assert_eq!(staging.progress(device, &sha).unwrap(), None);
        assert_eq!(
            staging.append_at(device, &sha, 10, 4).unwrap().err(),
            Some(Refused::Offset { current: 0 })
        );
        let (_, mut file) = staging.append_at(device, &sha, 10, 0).unwrap().unwrap();
        file.write_all(b"abcd").unwrap();
        drop(file);
        assert_eq!(
            staging.progress(device, &sha).unwrap(),
            Some(Progress {
                offset: 4,
                length: 10
            })
        );
        assert_eq!(
            staging.progress(other, &sha).unwrap(),
            None,
            "another device's upload is its own"
        );
        assert_eq!(
            staging.append_at(device, &sha, 10, 2).unwrap().err(),
            Some(Refused::Offset { current: 4 })
        );
        assert_eq!(
            staging.append_at(device, &sha, 12, 4).unwrap().err(),
            Some(Refused::Length { declared: 10 })
        );
        let (path, mut file) = staging.append_at(device, &sha, 10, 4).unwrap().unwrap();
        file.write_all(b"efghij").unwrap();
        drop(file);
        assert_eq!(fs::read(&path).unwrap(), b"abcdefghij");
        // Starting over with another length drops the old upload.
        let (_, _) = staging.append_at(device, &sha, 3, 0).unwrap().unwrap();
        assert_eq!(
            staging.progress(device, &sha).unwrap(),
            Some(Progress {
                offset: 0,
                length: 3
            })
        );
        staging.discard(device, &sha).unwrap();
        assert_eq!(staging.progress(device, &sha).unwrap(), None);
    }
}
