//! Photos on the relay: which it holds verified bytes of (the bytes are
//! files the relay keeps beside its database), who may see one, which are
//! still pending, and the rules of cleanup and purging.
//!
//! - **Who may see a photo.** Only through a record the reader may read
//!   that refers to it ([`Store::photo_access`]). Holding the bytes, or
//!   knowing the hash, grants nothing: a photo the reader may not see is
//!   indistinguishable from one that does not exist.
//! - **Pending, not missing.** A reference whose bytes have not arrived is
//!   pending, with the device that added it: its phone still has them.
//! - **Cleanup** is mark and sweep: [`Store::photo_sweep_candidates`] lists
//!   photos no record has referred to for a grace period, and
//!   [`Store::forget_stored_photo`] removes one only if, inside its own
//!   write transaction, that still holds; a reference that arrived since
//!   keeps the photo. The caller deletes the files after that commits.
//! - **Purging** takes a photo away for good: its bytes go, and it is never
//!   taken again nor served, whoever refers to it.

use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter};
use serde::Serialize;

use super::Store;
use super::query::scope_clause;
use crate::error::Result;
use crate::ids::{DeviceId, PhotoRef, RecordId, ScopePath, UserId};
use crate::model::Photo;

/// A photo the relay holds verified bytes of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredPhoto {
    /// Its hash.
    pub sha256: PhotoRef,
    /// Its size.
    pub bytes: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The size of its thumbnail.
    pub thumb_bytes: u64,
    /// When its bytes were stored.
    pub stored_at: i64,
    /// The device that uploaded them.
    pub uploaded_by: String,
}

/// What a reader may have of a photo, through one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoAccess {
    /// The record is not one the reader may read, or does not refer to the
    /// photo (or there is no such record).
    NotFound,
    /// The bytes are here.
    Stored(StoredPhoto),
    /// The record refers to it and its bytes have not arrived yet.
    Pending {
        /// When the reference arrived.
        since: i64,
        /// The device that added it to the record, whose phone has them.
        from: Option<DeviceId>,
    },
    /// A supervisor purged it.
    Purged,
}

/// A photo still pending, for the supervisor's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingPhoto {
    /// A record that refers to it.
    pub record_id: String,
    /// The record's community.
    pub community: String,
    /// Its hash.
    pub sha256: PhotoRef,
    /// When the reference arrived.
    pub since: i64,
    /// The device that added it.
    pub from: Option<DeviceId>,
}

/// Counts for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PhotoTotals {
    /// Photos held.
    pub stored: u64,
    /// Their bytes, thumbnails included.
    pub bytes: u64,
    /// References whose bytes have not arrived.
    pub pending: u64,
    /// Photos purged.
    pub purged: u64,
}

fn within(readable: &[ScopePath], community: &str) -> bool {
    ScopePath::new(community).is_ok_and(|c| readable.iter().any(|s| s.contains(&c)))
}

impl Store {
    /// Notes verified bytes of `photo`, uploaded by `uploaded_by` (a
    /// device id, or how else they came: `restore`); false if they were
    /// held already (nothing changes then). A photo nothing refers to yet
    /// counts as unreferenced from now.
    pub fn record_stored_photo(
        &mut self,
        photo: &Photo,
        thumb_bytes: u64,
        uploaded_by: &str,
        now: i64,
    ) -> Result<bool> {
        let added = self.conn.execute(
            "INSERT INTO stored_photos
               (sha256, bytes, width, height, thumb_bytes, stored_at, uploaded_by, unreferenced_since)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7,
                    CASE WHEN EXISTS (SELECT 1 FROM photo_refs WHERE sha256 = ?1) THEN NULL ELSE ?6 END
             ON CONFLICT (sha256) DO NOTHING",
            params![
                photo.sha256.as_str(),
                i64::try_from(photo.bytes).unwrap_or(i64::MAX),
                photo.width,
                photo.height,
                i64::try_from(thumb_bytes).unwrap_or(i64::MAX),
                now,
                uploaded_by
            ],
        )?;
        Ok(added > 0)
    }

    /// The photo `sha256`, if the relay holds its bytes.
    pub fn stored_photo(&self, sha256: &PhotoRef) -> Result<Option<StoredPhoto>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT bytes, width, height, thumb_bytes, stored_at, uploaded_by
                 FROM stored_photos WHERE sha256 = ?1",
            )?
            .query_row([sha256.as_str()], |r| {
                Ok(StoredPhoto {
                    sha256: sha256.clone(),
                    bytes: r.get::<_, i64>(0)?.try_into().unwrap_or(0),
                    width: r.get(1)?,
                    height: r.get(2)?,
                    thumb_bytes: r.get::<_, i64>(3)?.try_into().unwrap_or(0),
                    stored_at: r.get(4)?,
                    uploaded_by: r.get(5)?,
                })
            })
            .optional()?;
        Ok(row)
    }

    /// True if a supervisor purged `sha256`.
    pub fn photo_is_purged(&self, sha256: &PhotoRef) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM purged_photos WHERE sha256 = ?1)")?
            .query_row([sha256.as_str()], |r| r.get(0))?)
    }

    /// What a reader who may read `readable` may have of photo `sha256`
    /// through record `record`: the read rule of photos.
    pub fn photo_access(
        &self,
        readable: &[ScopePath],
        record: RecordId,
        sha256: &PhotoRef,
    ) -> Result<PhotoAccess> {
        let reference: Option<(String, i64)> = self
            .conn
            .prepare_cached(
                "SELECT community, since FROM photo_refs WHERE record_id = ?1 AND sha256 = ?2",
            )?
            .query_row(params![record.to_string(), sha256.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((community, since)) = reference else {
            return Ok(PhotoAccess::NotFound);
        };
        if !within(readable, &community) {
            return Ok(PhotoAccess::NotFound);
        }
        if self.photo_is_purged(sha256)? {
            return Ok(PhotoAccess::Purged);
        }
        if let Some(stored) = self.stored_photo(sha256)? {
            return Ok(PhotoAccess::Stored(stored));
        }
        let from = self
            .doc(record)?
            .photo_adders()?
            .into_iter()
            .find(|(photo, _)| photo.sha256 == *sha256)
            .and_then(|(_, device)| device);
        Ok(PhotoAccess::Pending { since, from })
    }

    /// True if a record the reader may read refers to `sha256`: then they
    /// may learn whether the relay holds it.
    pub fn photo_known_to(&self, readable: &[ScopePath], sha256: &PhotoRef) -> Result<bool> {
        let communities: Vec<String> = self
            .conn
            .prepare_cached("SELECT DISTINCT community FROM photo_refs WHERE sha256 = ?1")?
            .query_map([sha256.as_str()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(communities.iter().any(|c| within(readable, c)))
    }

    /// Photos referred to by records in `readable` whose bytes have not
    /// arrived since `before` (ms) or earlier, oldest first.
    pub fn photos_pending(&self, readable: &[ScopePath], before: i64) -> Result<Vec<PendingPhoto>> {
        if readable.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec![rusqlite::types::Value::Integer(before)];
        let scopes: Vec<&ScopePath> = readable.iter().collect();
        let clause = scope_clause("r.community", &scopes, &mut args);
        let sql = format!(
            "SELECT r.record_id, r.community, r.sha256, r.since FROM photo_refs r
             WHERE r.since <= ?1 AND {clause}
               AND NOT EXISTS (SELECT 1 FROM stored_photos s WHERE s.sha256 = r.sha256)
               AND NOT EXISTS (SELECT 1 FROM purged_photos p WHERE p.sha256 = r.sha256)
             ORDER BY r.since, r.record_id LIMIT 1000"
        );
        let rows: Vec<(String, String, String, i64)> = self
            .conn
            .prepare(&sql)?
            .query_map(params_from_iter(args.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut pending = Vec::with_capacity(rows.len());
        for (record_id, community, sha, since) in rows {
            let sha256: PhotoRef = sha.parse()?;
            let from = self
                .doc(record_id.parse()?)?
                .photo_adders()?
                .into_iter()
                .find(|(p, _)| p.sha256 == sha256)
                .and_then(|(_, device)| device);
            pending.push(PendingPhoto {
                record_id,
                community,
                sha256,
                since,
                from,
            });
        }
        Ok(pending)
    }

    /// The mark of cleanup: photos nothing has referred to since `cutoff`
    /// (ms) or earlier.
    pub fn photo_sweep_candidates(&self, cutoff: i64) -> Result<Vec<PhotoRef>> {
        self.conn
            .prepare_cached(
                "SELECT sha256 FROM stored_photos
                 WHERE unreferenced_since IS NOT NULL AND unreferenced_since <= ?1
                 ORDER BY unreferenced_since",
            )?
            .query_map([cutoff], |r| r.get::<_, String>(0))?
            .map(|sha| Ok(sha?.parse()?))
            .collect()
    }

    /// The sweep of one candidate: forgets `sha256` if, checked again
    /// inside this write transaction, nothing refers to it and nothing has
    /// since `cutoff`. True if it was forgotten: then the caller deletes its
    /// files (a reference arriving after this commits finds it pending, and
    /// its phone uploads it again).
    pub fn forget_stored_photo(&mut self, sha256: &PhotoRef, cutoff: i64) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let forgotten = tx
            .prepare_cached(
                "DELETE FROM stored_photos
                 WHERE sha256 = ?1 AND unreferenced_since IS NOT NULL AND unreferenced_since <= ?2
                   AND NOT EXISTS (SELECT 1 FROM photo_refs WHERE sha256 = ?1)",
            )?
            .execute(params![sha256.as_str(), cutoff])?;
        tx.commit()?;
        Ok(forgotten > 0)
    }

    /// Purges `sha256` for good, as `by` for `reason`: the relay forgets its
    /// bytes (the caller deletes the files) and never takes or serves it
    /// again. The records' references are for the caller to take off.
    pub fn purge_photo(
        &mut self,
        sha256: &PhotoRef,
        by: &UserId,
        reason: &str,
        now: i64,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "INSERT INTO purged_photos (sha256, purged_at, purged_by, reason) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (sha256) DO NOTHING",
        )?
        .execute(params![sha256.as_str(), now, by.as_str(), reason])?;
        tx.prepare_cached("DELETE FROM stored_photos WHERE sha256 = ?1")?
            .execute([sha256.as_str()])?;
        tx.commit()?;
        Ok(())
    }

    /// How many photos are held, their bytes, and how many are pending or
    /// purged.
    pub fn photo_totals(&self) -> Result<PhotoTotals> {
        let (stored, bytes): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(bytes + thumb_bytes), 0) FROM stored_photos",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let pending: i64 = self.conn.query_row(
            "SELECT count(DISTINCT sha256) FROM photo_refs r
             WHERE NOT EXISTS (SELECT 1 FROM stored_photos s WHERE s.sha256 = r.sha256)
               AND NOT EXISTS (SELECT 1 FROM purged_photos p WHERE p.sha256 = r.sha256)",
            [],
            |r| r.get(0),
        )?;
        let purged: i64 = self
            .conn
            .query_row("SELECT count(*) FROM purged_photos", [], |r| r.get(0))?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(PhotoTotals {
            stored: count(stored),
            bytes: count(bytes),
            pending: count(pending),
            purged: count(purged),
        })
    }
}
