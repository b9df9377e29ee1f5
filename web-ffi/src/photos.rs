//! Photos in the field app: the camera's picture made a photo for a card
//! (upright, at most 1600 px, re-encoded with no EXIF or GPS, by sync-core),
//! kept in the browser's database, and queued for upload. The worker script
//! uploads the queue after each sync through the relay's resumable
//! `/v1/photos/{sha256}` calls, and fetches other phones' thumbnails.

use sync_core::{PhotoRef, WishId};

use crate::app::FieldApp;
use crate::error::Result;

impl FieldApp {
    /// Makes `picture` (JPEG or PNG) a photo of the card and returns it
    /// (JSON `{sha256, bytes, mime, width, height}`).
    pub fn add_photo(&mut self, wish_id: &str, picture: &[u8]) -> Result<String> {
        let wish: WishId = wish_id.parse()?;
        let author = self.author()?;
        let photo = self.store.add_photo(&author, wish, picture)?;
        Ok(serde_json::to_string(&photo)?)
    }

    /// The hashes of this browser's photos the relay has not confirmed, oldest
    /// first (JSON).
    pub fn photo_uploads(&self) -> Result<String> {
        let queue: Vec<String> = self
            .store
            .photos_to_upload()?
            .into_iter()
            .map(|u| u.sha256.to_string())
            .collect();
        Ok(serde_json::to_string(&queue)?)
    }

    /// The bytes of a photo kept here, if they are.
    pub fn photo_data(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let sha: PhotoRef = sha256.parse()?;
        Ok(self.store.photo_data(&sha)?)
    }

    /// A thumbnail of a photo kept here (made and kept on first use).
    pub fn photo_thumbnail(&mut self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let sha: PhotoRef = sha256.parse()?;
        Ok(self.store.photo_thumbnail(&sha)?)
    }

    /// Notes that the relay holds the photo's verified bytes.
    pub fn photo_uploaded(&mut self, sha256: &str) -> Result<()> {
        let sha: PhotoRef = sha256.parse()?;
        self.store.photo_uploaded(&sha)?;
        Ok(())
    }

    /// Forgets a photo a supervisor purged (the relay answers 410).
    pub fn forget_photo(&mut self, sha256: &str) -> Result<()> {
        let sha: PhotoRef = sha256.parse()?;
        self.store.forget_photo(&sha)?;
        Ok(())
    }

    /// Keeps a thumbnail fetched from the relay.
    pub fn keep_thumbnail(&mut self, sha256: &str, bytes: &[u8]) -> Result<()> {
        let sha: PhotoRef = sha256.parse()?;
        self.store.keep_fetched_photo(&sha, true, bytes)?;
        Ok(())
    }
}
