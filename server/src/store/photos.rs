//! The part of the relay's store that knows about photos: which it holds,
//! who may see one, which are pending, cleanup and purging. The rules are
//! sync-core's (`store::stored_photos`); the files are [`crate::photos`]'.

use sync_core::model::Photo;
use sync_core::store::{PendingPhoto, PhotoAccess, PhotoTotals, StoredPhoto};
use sync_core::{PhotoRef, RecordId, ScopePath, Store, UserId};

use crate::error::AppResult;

/// What the relay keeps about photos. Every [`super::RelayStore`] is one.
pub trait PhotoIndex {
    /// Notes verified bytes of `photo` uploaded by `uploaded_by` (a device
    /// id, or `restore`); false if they were held already.
    fn record_stored_photo(
        &mut self,
        photo: &Photo,
        thumb_bytes: u64,
        uploaded_by: &str,
        now: i64,
    ) -> AppResult<bool>;

    /// The photo, if its bytes are held.
    fn stored_photo(&self, sha256: &PhotoRef) -> AppResult<Option<StoredPhoto>>;

    /// True if a supervisor purged it.
    fn photo_is_purged(&self, sha256: &PhotoRef) -> AppResult<bool>;

    /// What a reader of `readable` may have of `sha256` through `record`.
    fn photo_access(
        &self,
        readable: &[ScopePath],
        record: RecordId,
        sha256: &PhotoRef,
    ) -> AppResult<PhotoAccess>;

    /// True if a record in `readable` refers to `sha256`.
    fn photo_known_to(&self, readable: &[ScopePath], sha256: &PhotoRef) -> AppResult<bool>;

    /// Photos in `readable` still pending since `before` or earlier.
    fn photos_pending(&self, readable: &[ScopePath], before: i64) -> AppResult<Vec<PendingPhoto>>;

    /// Photos nothing has referred to since `cutoff` or earlier.
    fn photo_sweep_candidates(&self, cutoff: i64) -> AppResult<Vec<PhotoRef>>;

    /// Forgets `sha256` if, checked inside the write, it is still a
    /// candidate; true if it was.
    fn forget_stored_photo(&mut self, sha256: &PhotoRef, cutoff: i64) -> AppResult<bool>;

    /// Purges `sha256` for good.
    fn purge_photo(
        &mut self,
        sha256: &PhotoRef,
        by: &UserId,
        reason: &str,
        now: i64,
    ) -> AppResult<()>;

    /// Counts for `/metrics`.
    fn photo_totals(&self) -> AppResult<PhotoTotals>;
}

impl PhotoIndex for Store {
    fn record_stored_photo(
        &mut self,
        photo: &Photo,
        thumb_bytes: u64,
        uploaded_by: &str,
        now: i64,
    ) -> AppResult<bool> {
        Ok(Store::record_stored_photo(
            self,
            photo,
            thumb_bytes,
            uploaded_by,
            now,
        )?)
    }

    fn stored_photo(&self, sha256: &PhotoRef) -> AppResult<Option<StoredPhoto>> {
        Ok(Store::stored_photo(self, sha256)?)
    }

    fn photo_is_purged(&self, sha256: &PhotoRef) -> AppResult<bool> {
        Ok(Store::photo_is_purged(self, sha256)?)
    }

    fn photo_access(
        &self,
        readable: &[ScopePath],
        record: RecordId,
        sha256: &PhotoRef,
    ) -> AppResult<PhotoAccess> {
        Ok(Store::photo_access(self, readable, record, sha256)?)
    }

    fn photo_known_to(&self, readable: &[ScopePath], sha256: &PhotoRef) -> AppResult<bool> {
        Ok(Store::photo_known_to(self, readable, sha256)?)
    }

    fn photos_pending(&self, readable: &[ScopePath], before: i64) -> AppResult<Vec<PendingPhoto>> {
        Ok(Store::photos_pending(self, readable, before)?)
    }

    fn photo_sweep_candidates(&self, cutoff: i64) -> AppResult<Vec<PhotoRef>> {
        Ok(Store::photo_sweep_candidates(self, cutoff)?)
    }

    fn forget_stored_photo(&mut self, sha256: &PhotoRef, cutoff: i64) -> AppResult<bool> {
        Ok(Store::forget_stored_photo(self, sha256, cutoff)?)
    }

    fn purge_photo(
        &mut self,
        sha256: &PhotoRef,
        by: &UserId,
        reason: &str,
        now: i64,
    ) -> AppResult<()> {
        Ok(Store::purge_photo(self, sha256, by, reason, now)?)
    }

    fn photo_totals(&self) -> AppResult<PhotoTotals> {
        Ok(Store::photo_totals(self)?)
    }
}
