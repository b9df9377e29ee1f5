//! The photo index on PostgreSQL: which photos the relay holds, who may
//! see one, which are pending, cleanup and purging, by the rules of
//! sync-core's `store::stored_photos` (a photo is seen only through a
//! record of the reader's scopes that refers to it; cleanup is mark and
//! sweep; a purged photo is gone for good).
//!
//! Several relays share these tables, so a sweep that finds a photo still
//! referred to also clears its mark: a reference and the photo's bytes that
//! arrive at the same moment through two relays (each write blind to the
//! other's) leave it marked while referred to, and the next sweep heals it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use deadpool_postgres::GenericClient;
use sync_core::doc::RecordDoc;
use sync_core::model::Photo;
use sync_core::store::{PendingPhoto, PhotoAccess, PhotoTotals, StoredPhoto};
use sync_core::{DeviceId, PhotoRef, RecordId, ScopePath, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use super::people::{in_scopes, scope_texts};
use crate::error::AppResult;
use crate::store::PhotoIndex;
use crate::store::postgres::error::{Error, Result};
use crate::store::postgres::{PgEngine, load_record};

/// Whether a reader of `readable` may read a record of `community`.
fn within(readable: &[ScopePath], community: &str) -> bool {
    ScopePath::new(community).is_ok_and(|c| readable.iter().any(|s| s.contains(&c)))
}

fn size(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn corrupt(e: impl std::fmt::Display) -> Error {
    Error::Corrupt(e.to_string())
}

const STORED_COLUMNS: &str =
    "s.bytes, s.width, s.height, s.thumb_bytes, s.stored_at, s.uploaded_by";

/// A stored photo from [`STORED_COLUMNS`], from column `at` on.
fn stored_photo(sha256: &PhotoRef, row: &Row, at: usize) -> Result<StoredPhoto> {
    let pixels = |column: usize| -> Result<u32> {
        u32::try_from(row.try_get::<_, i64>(column)?).map_err(corrupt)
    };
    Ok(StoredPhoto {
        sha256: sha256.clone(),
        bytes: count(row.try_get(at)?),
        width: pixels(at + 1)?,
        height: pixels(at + 2)?,
        thumb_bytes: count(row.try_get(at + 3)?),
        stored_at: row.try_get(at + 4)?,
        uploaded_by: row.try_get(at + 5)?,
    })
}

/// The device whose change added `sha256` to record `record`, if the
/// document names one.
async fn added_by(
    client: &impl GenericClient,
    record: RecordId,
    sha256: &PhotoRef,
) -> AppResult<Option<DeviceId>> {
    let Some(stored) = load_record(client, record).await? else {
        return Err(sync_core::Error::NotFound(format!("record {record}")).into());
    };
    Ok(RecordDoc::load(&stored.doc)?
        .photo_adders()?
        .into_iter()
        .find(|(photo, _)| photo.sha256 == *sha256)
        .and_then(|(_, device)| device))
}

impl PhotoIndex for PgEngine {
    fn record_stored_photo(
        &mut self,
        photo: &Photo,
        thumb_bytes: u64,
        uploaded_by: &str,
        now: i64,
    ) -> AppResult<bool> {
        let added = self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client
                .prepare_cached(
                    "INSERT INTO stored_photos
                       (sha256, bytes, width, height, thumb_bytes, stored_at, uploaded_by,
                        unreferenced_since)
                     VALUES ($1, $2, $3, $4, $5, $6, $7,
                             CASE WHEN EXISTS (SELECT 1 FROM photo_refs WHERE sha256 = $1)
                                  THEN NULL ELSE $6::bigint END)
                     ON CONFLICT (sha256) DO NOTHING",
                )
                .await?;
            let added = client
                .execute(
                    &stmt,
                    &[
                        &photo.sha256.as_str(),
                        &size(photo.bytes),
                        &i64::from(photo.width),
                        &i64::from(photo.height),
                        &size(thumb_bytes),
                        &now,
                        &uploaded_by,
                    ],
                )
                .await?;
            Ok::<_, Error>(added)
        })?;
        Ok(added > 0)
    }

    fn stored_photo(&self, sha256: &PhotoRef) -> AppResult<Option<StoredPhoto>> {
        Ok(self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {STORED_COLUMNS} FROM stored_photos s WHERE s.sha256 = $1"
                ))
                .await?;
            client
                .query_opt(&stmt, &[&sha256.as_str()])
                .await?
                .map(|row| stored_photo(sha256, &row, 0))
                .transpose()
        })?)
    }

    fn photo_is_purged(&self, sha256: &PhotoRef) -> AppResult<bool> {
        Ok(self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM purged_photos WHERE sha256 = $1)")
                .await?;
            Ok::<bool, Error>(
                client
                    .query_one(&stmt, &[&sha256.as_str()])
                    .await?
                    .try_get(0)?,
            )
        })?)
    }

    fn photo_access(
        &self,
        readable: &[ScopePath],
        record: RecordId,
        sha256: &PhotoRef,
    ) -> AppResult<PhotoAccess> {
        self.block_on(async {
            let client = self.store().client().await?;
            // The reference, whether it is purged, and the stored photo, from
            // one snapshot.
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT r.community, r.since,
                            EXISTS (SELECT 1 FROM purged_photos p WHERE p.sha256 = r.sha256),
                            s.sha256 IS NOT NULL, {STORED_COLUMNS}
                       FROM photo_refs r LEFT JOIN stored_photos s ON s.sha256 = r.sha256
                      WHERE r.record_id = $1 AND r.sha256 = $2"
                ))
                .await
                .map_err(Error::from)?;
            let key = Uuid::from_bytes(*record.as_bytes());
            let Some(row) = client
                .query_opt(&stmt, &[&key, &sha256.as_str()])
                .await
                .map_err(Error::from)?
            else {
                return Ok(PhotoAccess::NotFound);
            };
            let community: &str = row.try_get(0).map_err(Error::from)?;
            if !within(readable, community) {
                return Ok(PhotoAccess::NotFound);
            }
            if row.try_get::<_, bool>(2).map_err(Error::from)? {
                return Ok(PhotoAccess::Purged);
            }
            if row.try_get::<_, bool>(3).map_err(Error::from)? {
                return Ok(PhotoAccess::Stored(stored_photo(sha256, &row, 4)?));
            }
            let since = row.try_get(1).map_err(Error::from)?;
            let from = added_by(&client, record, sha256).await?;
            Ok(PhotoAccess::Pending { since, from })
        })
    }

    fn photo_known_to(&self, readable: &[ScopePath], sha256: &PhotoRef) -> AppResult<bool> {
        let communities = self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client
                .prepare_cached("SELECT DISTINCT community FROM photo_refs WHERE sha256 = $1")
                .await?;
            client
                .query(&stmt, &[&sha256.as_str()])
                .await?
                .iter()
                .map(|r| Ok(r.try_get::<_, String>(0)?))
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(communities.iter().any(|c| within(readable, c)))
    }

    fn photos_pending(&self, readable: &[ScopePath], before: i64) -> AppResult<Vec<PendingPhoto>> {
        if readable.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT r.record_id, r.community, r.sha256, r.since FROM photo_refs r
             WHERE r.since <= $1 AND {}
               AND NOT EXISTS (SELECT 1 FROM stored_photos s WHERE s.sha256 = r.sha256)
               AND NOT EXISTS (SELECT 1 FROM purged_photos p WHERE p.sha256 = r.sha256)
             ORDER BY r.since, r.record_id LIMIT 1000",
            in_scopes("r.community", 2)
        );
        self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client.prepare_cached(&sql).await.map_err(Error::from)?;
            let rows = client
                .query(&stmt, &[&before, &scope_texts(readable)])
                .await
                .map_err(Error::from)?;
            // Each record's document is read once, however many of its
            // photos are pending.
            let mut docs: HashMap<RecordId, Vec<(Photo, Option<DeviceId>)>> = HashMap::new();
            let mut pending = Vec::with_capacity(rows.len());
            for row in rows {
                let record = RecordId::from_bytes(
                    *row.try_get::<_, Uuid>(0).map_err(Error::from)?.as_bytes(),
                );
                let sha256: PhotoRef = row
                    .try_get::<_, &str>(2)
                    .map_err(Error::from)?
                    .parse()
                    .map_err(corrupt)?;
                let adders = match docs.entry(record) {
                    Entry::Occupied(known) => known.into_mut(),
                    Entry::Vacant(slot) => {
                        let Some(stored) = load_record(&client, record).await? else {
                            return Err(
                                sync_core::Error::NotFound(format!("record {record}")).into()
                            );
                        };
                        slot.insert(RecordDoc::load(&stored.doc)?.photo_adders()?)
                    }
                };
                let from = adders
                    .iter()
                    .find(|(photo, _)| photo.sha256 == sha256)
                    .and_then(|(_, device)| *device);
                pending.push(PendingPhoto {
                    record_id: record.to_string(),
                    community: row.try_get(1).map_err(Error::from)?,
                    sha256,
                    since: row.try_get(3).map_err(Error::from)?,
                    from,
                });
            }
            Ok(pending)
        })
    }

    fn photo_sweep_candidates(&self, cutoff: i64) -> AppResult<Vec<PhotoRef>> {
        // Marked at the same moment: by hash (lowercase hex, the same in any
        // collation), where SQLite happens to list them as they were stored.
        Ok(self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT sha256 FROM stored_photos
                     WHERE unreferenced_since IS NOT NULL AND unreferenced_since <= $1
                     ORDER BY unreferenced_since, sha256",
                )
                .await?;
            client
                .query(&stmt, &[&cutoff])
                .await?
                .iter()
                .map(|r| r.try_get::<_, &str>(0)?.parse().map_err(corrupt))
                .collect::<Result<Vec<_>>>()
        })?)
    }

    fn forget_stored_photo(&mut self, sha256: &PhotoRef, cutoff: i64) -> AppResult<bool> {
        Ok(self.block_on(async {
            let mut client = self.store().client().await?;
            let tx = client.transaction().await?;
            // The row lock the delete takes orders it with a reference's
            // write: one arriving first clears the mark, and the delete
            // (checking again on the row as it then is) leaves the photo; one
            // arriving after finds it gone, and so pending.
            let forgotten = tx
                .execute(
                    "DELETE FROM stored_photos
                     WHERE sha256 = $1 AND unreferenced_since IS NOT NULL
                       AND unreferenced_since <= $2
                       AND NOT EXISTS (SELECT 1 FROM photo_refs WHERE sha256 = $1)",
                    &[&sha256.as_str(), &cutoff],
                )
                .await?;
            if forgotten == 0 {
                // Marked, yet referred to: the heal described above.
                tx.execute(
                    "UPDATE stored_photos SET unreferenced_since = NULL
                     WHERE sha256 = $1 AND unreferenced_since IS NOT NULL
                       AND EXISTS (SELECT 1 FROM photo_refs WHERE sha256 = $1)",
                    &[&sha256.as_str()],
                )
                .await?;
            }
            tx.commit().await?;
            Ok::<_, Error>(forgotten > 0)
        })?)
    }

    fn purge_photo(
        &mut self,
        sha256: &PhotoRef,
        by: &UserId,
        reason: &str,
        now: i64,
    ) -> AppResult<()> {
        self.block_on(async {
            let mut client = self.store().client().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO purged_photos (sha256, purged_at, purged_by, reason)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
                &[&sha256.as_str(), &now, &by.as_str(), &reason],
            )
            .await?;
            tx.execute(
                "DELETE FROM stored_photos WHERE sha256 = $1",
                &[&sha256.as_str()],
            )
            .await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        })?;
        Ok(())
    }

    fn photo_totals(&self) -> AppResult<PhotoTotals> {
        let (stored, bytes, pending, purged) = self.block_on(async {
            let client = self.store().client().await?;
            // One statement: the four counts from one snapshot.
            let stmt = client
                .prepare_cached(
                    "SELECT (SELECT count(*) FROM stored_photos),
                            (SELECT coalesce(sum(bytes + thumb_bytes), 0)::bigint
                               FROM stored_photos),
                            (SELECT count(DISTINCT sha256) FROM photo_refs r
                              WHERE NOT EXISTS (SELECT 1 FROM stored_photos s
                                                 WHERE s.sha256 = r.sha256)
                                AND NOT EXISTS (SELECT 1 FROM purged_photos p
                                                 WHERE p.sha256 = r.sha256)),
                            (SELECT count(*) FROM purged_photos)",
                )
                .await?;
            let row = client.query_one(&stmt, &[]).await?;
            Ok::<_, Error>((
                row.try_get::<_, i64>(0)?,
                row.try_get::<_, i64>(1)?,
                row.try_get::<_, i64>(2)?,
                row.try_get::<_, i64>(3)?,
            ))
        })?;
        Ok(PhotoTotals {
            stored: count(stored),
            bytes: count(bytes),
            pending: count(pending),
            purged: count(purged),
        })
    }
}
