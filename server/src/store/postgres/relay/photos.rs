//! The photo index on PostgreSQL: which photos the relay holds, who may
//! see one, which are pending, cleanup and purging.

#![allow(unused_imports, unused_variables)] // TODO: filled in by the port

use sync_core::model::Photo;
use sync_core::store::{PendingPhoto, PhotoAccess, PhotoTotals, StoredPhoto};
use sync_core::{PhotoRef, RecordId, ScopePath, UserId};

use crate::error::AppResult;
use crate::store::PhotoIndex;
use crate::store::postgres::PgEngine;

impl PhotoIndex for PgEngine {
    fn record_stored_photo(
        &mut self,
        photo: &Photo,
        thumb_bytes: u64,
        uploaded_by: &str,
        now: i64,
    ) -> AppResult<bool> {
        todo!()
    }

    fn stored_photo(&self, sha256: &PhotoRef) -> AppResult<Option<StoredPhoto>> {
        todo!()
    }

    fn photo_is_purged(&self, sha256: &PhotoRef) -> AppResult<bool> {
        todo!()
    }

    fn photo_access(
        &self,
        readable: &[ScopePath],
        record: RecordId,
        sha256: &PhotoRef,
    ) -> AppResult<PhotoAccess> {
        todo!()
    }

    fn photo_known_to(&self, readable: &[ScopePath], sha256: &PhotoRef) -> AppResult<bool> {
        todo!()
    }

    fn photos_pending(&self, readable: &[ScopePath], before: i64) -> AppResult<Vec<PendingPhoto>> {
        todo!()
    }

    fn photo_sweep_candidates(&self, cutoff: i64) -> AppResult<Vec<PhotoRef>> {
        todo!()
    }

    fn forget_stored_photo(&mut self, sha256: &PhotoRef, cutoff: i64) -> AppResult<bool> {
        todo!()
    }

    fn purge_photo(
        &mut self,
        sha256: &PhotoRef,
        by: &UserId,
        reason: &str,
        now: i64,
    ) -> AppResult<()> {
        todo!()
    }

    fn photo_totals(&self) -> AppResult<PhotoTotals> {
        todo!()
    }
}
