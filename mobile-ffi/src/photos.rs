//! Photos on the phone: taking one for a card, the upload queue, and other
//! phones' photos, fetched when a card is opened.
//!
//! - **Taking.** `add_photo` makes the camera's picture a photo (upright,
//!   at most 1600 px, re-encoded with no EXIF or GPS; sync-core's
//!   `photo::process`), keeps its bytes in the phone's database (encrypted
//!   with it), and adds it to the card.
//! - **Uploading.** `sync_photos` sends this phone's photos one at a time,
//!   apart from record sync. Each upload asks the relay how far it has come
//!   and sends only the rest, so a cut connection costs only what was in
//!   flight. The bytes stay on the phone; a photo leaves the queue only
//!   when the relay says it holds verified bytes.
//! - **Fetching.** `photo` gives a card's photo (or its thumbnail) from the
//!   phone, or from the relay, and keeps what it fetched. A photo the relay
//!   has not received yet is `Pending`: `sync_photos` tries it again each
//!   time, until it comes.

use sync_core::{PhotoRef, RecordId, WishId};

use crate::asyncify::on_thread;
use crate::error::{DoorstepError, Result};
use crate::relay::{Call, Failure, RelayClient};
use crate::relay_photos::{Fetched, Held, Sent};
use crate::store::{FieldStore, Shared, lock};
use crate::types::{ChangeOrigin, Photo};

/// A card's photo, as `photo` finds it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum PhotoFetch {
    /// The JPEG.
    Ready {
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// The relay has not received it from the phone that took it yet. It is
    /// fetched by a later `sync_photos`; show a placeholder meanwhile.
    Pending {
        /// The phone that has it ("Redmi 9A (wang)"), when the relay knows.
        from_device: Option<String>,
    },
    /// A supervisor removed it.
    Removed,
}

/// What a `sync_photos` did.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct PhotoSyncReport {
    /// This phone's photos the relay now holds.
    pub uploaded: u32,
    /// Bytes sent for them (a resumed upload sends only the rest).
    pub bytes_sent: u64,
    /// This phone's photos still to upload.
    pub still_queued: u32,
    /// Photos that were pending before and have been fetched now.
    pub fetched: u32,
    /// Photos still pending on the relay.
    pub still_pending: u32,
}

impl Shared {
    /// Runs `call` with an access token, once more with a fresh one if the
    /// relay says the first has expired. The outer error is the session's;
    /// the inner one the call's.
    fn with_token<T>(
        &self,
        client: &RelayClient,
        mut call: impl FnMut(&str) -> Result<T, Failure>,
    ) -> Result<Result<T, Failure>> {
        let token = self.access_token(client)?;
        match call(&token) {
            Err(Failure::Status { status: 401, .. }) => {
                let token = self.refresh(client)?;
                Ok(call(&token))
            }
            other => Ok(other),
        }
    }

    fn client(&self) -> Result<RelayClient> {
        let url = self.inner().session()?.relay_url.clone();
        Ok(RelayClient::new(&url, &self.options()))
    }

    /// Uploads the queue, then fetches what was pending (blocking).
    pub(crate) fn sync_photos_blocking(&self) -> Result<PhotoSyncReport> {
        let _one_at_a_time = lock(&self.sync_gate);
        let client = self.client()?;
        let mut report = PhotoSyncReport::default();
        let queue = self.inner().store.photos_to_upload()?;
        for upload in queue {
            if let Some(sent) = self.upload_one(&client, &upload.sha256)? {
                report.bytes_sent += sent;
                report.uploaded += 1;
            }
        }
        report.still_queued = self.inner().store.photos_to_upload()?.len() as u32;
        let wanted = self.inner().store.wanted_photos()?;
        for (record, sha, thumbnail) in wanted {
            match self.fetch(&client, record, &sha, thumbnail)? {
                Fetched::Pending { .. } => report.still_pending += 1,
                Fetched::Bytes(_) | Fetched::Removed => report.fetched += 1,
            }
        }
        self.inner().store.forget_unused_photos()?;
        Ok(report)
    }

    /// Sends one photo from where the relay's copy stands, asking again
    /// after a cut as often as the retry policy allows. Returns how many
    /// bytes the relay took from this call on (`None`: a supervisor purged
    /// the photo, and the phone drops it too).
    fn upload_one(&self, client: &RelayClient, sha: &PhotoRef) -> Result<Option<u64>> {
        let data = self.inner().store.photo_data(sha)?.ok_or_else(|| {
            DoorstepError::NotFound(format!("not found: the bytes of photo {sha}"))
        })?;
        let length = data.len() as u64;
        let mut first_offset = None;
        let mut cuts = 0u32;
        loop {
            let held =
                self.with_token(client, |token| client.photo_progress(token, sha.as_str()))?;
            let offset = match held {
                Ok(Held::Stored) => length,
                Ok(Held::At { offset, length: l }) if l == Some(length) && offset <= length => {
                    offset
                }
                // Nothing, or an upload of other bytes: from the start.
                Ok(Held::At { .. }) => 0,
                Err(Failure::Status { status: 410, .. }) => {
                    self.inner().store.forget_photo(sha)?;
                    return Ok(None);
                }
                Err(failure) => return Err(client.error(failure, Call::Sync)),
            };
            let first = *first_offset.get_or_insert(offset);
            if offset == length {
                self.inner().store.photo_uploaded(sha)?;
                return Ok(Some(length.saturating_sub(first)));
            }
            let rest = &data[usize::try_from(offset).unwrap_or(0)..];
            let answer = self.with_token(client, |token| {
                client.photo_send(token, sha.as_str(), length, offset, rest)
            })?;
            match answer {
                Ok(Sent::Stored) => {
                    self.inner().store.photo_uploaded(sha)?;
                    return Ok(Some(length.saturating_sub(first)));
                }
                // Taken in part: ask where it stands and go on.
                Ok(Sent::Partial(_)) => {}
                Err(Failure::Status { status: 410, .. }) => {
                    self.inner().store.forget_photo(sha)?;
                    return Ok(None);
                }
                // Cut on the way, or the upload moved (409): ask again.
                Err(Failure::Transient(_) | Failure::Status { status: 409, .. })
                    if cuts < client.options.max_retries =>
                {
                    cuts += 1;
                }
                Err(failure) => return Err(client.error(failure, Call::Sync)),
            }
        }
    }

    /// Fetches a card's photo from the relay and keeps it (or notes it as
    /// wanted while pending, or drops it once removed).
    fn fetch(
        &self,
        client: &RelayClient,
        record: RecordId,
        sha: &PhotoRef,
        thumbnail: bool,
    ) -> Result<Fetched> {
        let fetched = self
            .with_token(client, |token| {
                client.photo_fetch(token, &record.to_string(), sha.as_str(), thumbnail)
            })?
            .map_err(|f| client.error(f, Call::Sync))?;
        let mut inner = self.inner();
        match &fetched {
            Fetched::Bytes(bytes) => inner.store.keep_fetched_photo(sha, thumbnail, bytes)?,
            Fetched::Pending { .. } => inner.store.want_photo(sha, thumbnail)?,
            Fetched::Removed => inner.store.forget_photo(sha)?,
        }
        Ok(fetched)
    }
}

#[uniffi::export]
impl FieldStore {
    /// Takes a photo for a wish card from the camera's `picture` (JPEG or
    /// PNG, as the camera gave it): turned upright, shrunk to 1600 px,
    /// stripped of EXIF and GPS, kept on the phone and added to the card.
    /// Refused with `InvalidInput` over 40 MB or 50 megapixels, or if it is
    /// not an image; `NotAllowed` if the card can no longer be edited.
    pub async fn add_photo(&self, wish_id: String, picture: Vec<u8>) -> Result<Photo> {
        let shared = self.shared.clone();
        let wish: WishId = wish_id.parse()?;
        let photo = on_thread("doorstep-photo", move || {
            let mut inner = shared.inner();
            let author = inner.author()?;
            Ok(inner.store.add_photo(&author, wish, &picture)?)
        })
        .await?;
        self.shared.notify(vec![wish_id], ChangeOrigin::Local);
        Ok(Photo::from(photo))
    }

    /// Reports a claimed wish done ("lit up") with a photo of it from the
    /// camera's `picture`, made as `add_photo` makes one; it joins the
    /// card's photos with the fulfilment and waits in the upload queue.
    /// `NotAllowed` unless the logged-in user holds the wish.
    pub async fn fulfil_wish_with_photo(
        &self,
        wish_id: String,
        note: String,
        picture: Vec<u8>,
    ) -> Result<Photo> {
        let shared = self.shared.clone();
        let wish: WishId = wish_id.parse()?;
        let photo = on_thread("doorstep-photo", move || {
            let mut inner = shared.inner();
            let author = inner.author()?;
            let note = Some(note).filter(|n| !n.trim().is_empty());
            Ok(inner
                .store
                .fulfil_with_photo(&author, wish, note, &picture)?)
        })
        .await?;
        self.shared.notify(vec![wish_id], ChangeOrigin::Local);
        Ok(Photo::from(photo))
    }

    /// Takes a photo off a wish card (an edit). Its bytes go from the phone
    /// once no card refers to them.
    pub fn remove_photo(&self, wish_id: String, sha256: String) -> Result<()> {
        let wish: WishId = wish_id.parse()?;
        let sha: PhotoRef = sha256.parse()?;
        {
            let mut inner = self.shared.inner();
            let author = inner.author()?;
            inner.store.remove_photo(&author, wish, &sha)?;
        }
        self.shared.notify(vec![wish_id], ChangeOrigin::Local);
        Ok(())
    }

    /// How many photos taken on this phone the relay does not hold yet.
    pub fn photos_to_upload(&self) -> Result<u32> {
        Ok(self.shared.inner().store.photos_to_upload()?.len() as u32)
    }

    /// A card's photo, or its thumbnail (320 px): from the phone if it has
    /// it, otherwise from the relay (then kept). `Pending` while the relay
    /// has not received it; a later `sync_photos` fetches it.
    pub async fn photo(
        &self,
        wish_id: String,
        sha256: String,
        thumbnail: bool,
    ) -> Result<PhotoFetch> {
        let wish: WishId = wish_id.parse()?;
        let sha: PhotoRef = sha256.parse()?;
        let shared = self.shared.clone();
        on_thread("doorstep-photo", move || {
            let local = {
                let mut inner = shared.inner();
                if thumbnail {
                    inner.store.photo_thumbnail(&sha)?
                } else {
                    inner.store.photo_data(&sha)?
                }
            };
            if let Some(bytes) = local {
                return Ok(PhotoFetch::Ready { bytes });
            }
            let client = shared.client()?;
            Ok(
                match shared.fetch(&client, wish.record(), &sha, thumbnail)? {
                    Fetched::Bytes(bytes) => PhotoFetch::Ready { bytes },
                    Fetched::Pending { from } => PhotoFetch::Pending { from_device: from },
                    Fetched::Removed => PhotoFetch::Removed,
                },
            )
        })
        .await
    }

    /// Uploads this phone's photos, one at a time (an upload cut off
    /// resumes where it stopped), then fetches the photos that were
    /// pending. Run it after `sync`; it is separate so that records never
    /// wait for photos.
    pub async fn sync_photos(&self) -> Result<PhotoSyncReport> {
        let shared = self.shared.clone();
        on_thread("doorstep-photos", move || shared.sync_photos_blocking()).await
    }
}
