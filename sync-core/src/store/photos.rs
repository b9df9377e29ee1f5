//! Photos on a phone: taking one for a card, the queue of those to upload,
//! the bytes fetched from the relay, and the rows that say which card
//! refers to which photo (kept on phones and relay alike).
//!
//! The order of writes keeps a photo from ever being referred to without
//! its bytes on the phone that took it: the bytes are stored first, the
//! card's reference second. A crash in between leaves unreferenced bytes,
//! which [`Store::forget_unused_photos`] clears.

use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use crate::doc::{Author, EventInput};
use crate::error::{Error, InvalidInput, Result};
use crate::ids::{PhotoRef, RecordId, WishId};
use crate::model::{MAX_PHOTOS, Photo, Record, WishCard, WishPatch};
use crate::photo::{self, THUMB_EDGE};
use crate::workflow::EventKind;

/// Keeps `card`'s rows in `photo_refs` in step with its photos, and tells
/// the relay's stored photos whether anything still refers to them.
pub(crate) fn materialize_refs(
    tx: &Connection,
    card: &WishCard,
    is_new: bool,
    now: i64,
) -> Result<()> {
    let id = card.meta.id.to_string();
    let before: Vec<String> = if is_new {
        Vec::new()
    } else {
        tx.prepare_cached("SELECT sha256 FROM photo_refs WHERE record_id = ?1")?
            .query_map([&id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    for gone in before.iter().filter(|sha| {
        !card
            .photos
            .iter()
            .any(|p| p.sha256.as_str() == sha.as_str())
    }) {
        tx.prepare_cached("DELETE FROM photo_refs WHERE record_id = ?1 AND sha256 = ?2")?
            .execute(params![id, gone])?;
        // The last reference gone: cleanup may take it after the grace.
        tx.prepare_cached(
            "UPDATE stored_photos SET unreferenced_since = ?2
             WHERE sha256 = ?1 AND unreferenced_since IS NULL
               AND NOT EXISTS (SELECT 1 FROM photo_refs WHERE sha256 = ?1)",
        )?
        .execute(params![gone, now])?;
    }
    for photo in &card.photos {
        tx.prepare_cached(
            "INSERT INTO photo_refs (record_id, sha256, community, bytes, width, height, since)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (record_id, sha256) DO UPDATE SET community = excluded.community,
                 bytes = excluded.bytes, width = excluded.width, height = excluded.height",
        )?
        .execute(params![
            id,
            photo.sha256.as_str(),
            card.meta.community.as_str(),
            i64::try_from(photo.bytes).unwrap_or(i64::MAX),
            photo.width,
            photo.height,
            now
        ])?;
        tx.prepare_cached(
            "UPDATE stored_photos SET unreferenced_since = NULL
             WHERE sha256 = ?1 AND unreferenced_since IS NOT NULL",
        )?
        .execute([photo.sha256.as_str()])?;
    }
    Ok(())
}

/// Puts every photo this phone took back in the upload queue: the relay
/// went back in time (restored from a backup) and may have lost some it
/// confirmed. Those it holds cost one question each.
pub(crate) fn requeue_photo_uploads(tx: &Connection) -> Result<()> {
    tx.prepare_cached(
        "UPDATE local_photos SET uploaded_at = NULL
         WHERE taken = 1 AND data IS NOT NULL AND uploaded_at IS NOT NULL",
    )?
    .execute([])?;
    Ok(())
}

/// A photo waiting to go to the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoUpload {
    /// Its hash.
    pub sha256: PhotoRef,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Store {
    /// Takes a photo for a wish card: makes the camera's `picture` (JPEG
    /// or PNG) a photo (see [`crate::photo::process`]), keeps its bytes,
    /// and adds it to the card, as an edit. Returns the reference.
    pub fn add_photo(&mut self, author: &Author, wish: WishId, picture: &[u8]) -> Result<Photo> {
        // Checked before the work: a card this author may not edit, or one
        // that is full, is refused without decoding anything.
        self.check_event(
            &author.user,
            author.role,
            wish,
            &EventInput::new(EventKind::Edit),
        )?;
        if let Record::Wish(card) = self.record(wish.record())?
            && card.photos.len() >= MAX_PHOTOS
        {
            return Err(InvalidInput::new(format!("more than {MAX_PHOTOS} photos"), "").into());
        }
        let processed = self.take_photo(picture)?;
        let patch = WishPatch {
            add_photos: vec![processed.photo.clone()],
            ..WishPatch::default()
        };
        self.update_wish(author, wish, &patch)?;
        Ok(processed.photo)
    }

    /// Reports a claimed wish done with a photo of it lit up: makes the
    /// camera's `picture` a photo as [`Store::add_photo`] does, keeps its
    /// bytes for the upload queue, and appends the fulfilment with it.
    pub fn fulfil_with_photo(
        &mut self,
        author: &Author,
        wish: WishId,
        note: Option<String>,
        picture: &[u8],
    ) -> Result<Photo> {
        let input = EventInput {
            note,
            ..EventInput::new(EventKind::Fulfil)
        };
        // Refused before any decoding when the fulfilment is not allowed.
        self.check_event(&author.user, author.role, wish, &input)?;
        let processed = self.take_photo(picture)?;
        let input = EventInput {
            photos: vec![processed.photo.clone()],
            ..input
        };
        self.append_event(author, wish, &input)?;
        Ok(processed.photo)
    }

    /// Makes the camera's `picture` a photo and keeps its bytes as this
    /// phone's own, before anything refers to them.
    fn take_photo(&mut self, picture: &[u8]) -> Result<photo::Processed> {
        let processed = photo::process(picture)?;
        let now = self.now();
        self.conn
            .prepare_cached(
                "INSERT INTO local_photos (sha256, taken, data, added_at) VALUES (?1, 1, ?2, ?3)
                 ON CONFLICT (sha256) DO UPDATE SET data = excluded.data, taken = 1",
            )?
            .execute(params![
                processed.photo.sha256.as_str(),
                processed.data,
                now
            ])?;
        Ok(processed)
    }

    /// Takes a photo off a wish card, as an edit. Its bytes stay until no
    /// card refers to them (see [`Store::forget_unused_photos`]).
    pub fn remove_photo(&mut self, author: &Author, wish: WishId, sha256: &PhotoRef) -> Result<()> {
        let patch = WishPatch {
            remove_photos: vec![sha256.clone()],
            ..WishPatch::default()
        };
        self.update_wish(author, wish, &patch)
    }

    /// This phone's own photos that a card refers to and the relay has not
    /// confirmed yet, oldest first: the upload queue.
    pub fn photos_to_upload(&self) -> Result<Vec<PhotoUpload>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sha256, length(data) FROM local_photos l
             WHERE taken = 1 AND uploaded_at IS NULL AND data IS NOT NULL
               AND EXISTS (SELECT 1 FROM photo_refs r WHERE r.sha256 = l.sha256)
             ORDER BY added_at, sha256",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        rows.map(|row| {
            let (sha, bytes) = row?;
            Ok(PhotoUpload {
                sha256: sha.parse()?,
                bytes: u64::try_from(bytes).unwrap_or(0),
            })
        })
        .collect()
    }

    /// Notes that the relay holds verified bytes of `sha256`: it leaves the
    /// upload queue (the bytes stay, for this phone's own screens).
    pub fn photo_uploaded(&mut self, sha256: &PhotoRef) -> Result<()> {
        let now = self.now();
        self.conn
            .prepare_cached("UPDATE local_photos SET uploaded_at = ?2 WHERE sha256 = ?1")?
            .execute(params![sha256.as_str(), now])?;
        Ok(())
    }

    /// The bytes of a photo this phone holds, if it does.
    pub fn photo_data(&self, sha256: &PhotoRef) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT data FROM local_photos WHERE sha256 = ?1")?
            .query_row([sha256.as_str()], |r| r.get::<_, Option<Vec<u8>>>(0))
            .optional()?
            .flatten())
    }

    /// A thumbnail of a photo this phone holds: kept from the relay, or made
    /// here from the photo (and kept).
    pub fn photo_thumbnail(&mut self, sha256: &PhotoRef) -> Result<Option<Vec<u8>>> {
        // (thumbnail, photo), each perhaps missing.
        type Bytes = Option<Vec<u8>>;
        let row: Option<(Bytes, Bytes)> = self
            .conn
            .prepare_cached("SELECT thumb, data FROM local_photos WHERE sha256 = ?1")?
            .query_row([sha256.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            Some((Some(thumb), _)) => Ok(Some(thumb)),
            Some((None, Some(data))) => {
                let thumb = photo::thumbnail(&data)?;
                self.conn
                    .prepare_cached("UPDATE local_photos SET thumb = ?2 WHERE sha256 = ?1")?
                    .execute(params![sha256.as_str(), thumb])?;
                Ok(Some(thumb))
            }
            _ => Ok(None),
        }
    }

    /// Keeps bytes fetched from the relay: the photo itself (checked against
    /// its hash, so a relay cannot hand over other bytes) or its thumbnail
    /// (at most [`THUMB_EDGE`] a side). A fetch wanted earlier is done.
    pub fn keep_fetched_photo(
        &mut self,
        sha256: &PhotoRef,
        thumbnail: bool,
        bytes: &[u8],
    ) -> Result<()> {
        if thumbnail {
            let photo = photo::inspect(bytes)?;
            if photo.width.max(photo.height) > THUMB_EDGE {
                return Err(photo::PhotoError::NotProcessed(format!(
                    "a thumbnail is at most {THUMB_EDGE} pixels a side"
                ))
                .into());
            }
        } else if photo::sha256(bytes) != *sha256 {
            return Err(Error::InvalidInput(InvalidInput::new(
                "the relay's bytes do not match the photo's hash",
                sha256.as_str(),
            )));
        }
        let column = if thumbnail { "thumb" } else { "data" };
        let done = if thumbnail { 1 } else { 2 };
        let now = self.now();
        self.conn.execute(
            &format!(
                "INSERT INTO local_photos (sha256, taken, {column}, added_at) VALUES (?1, 0, ?2, ?3)
                 ON CONFLICT (sha256) DO UPDATE SET {column} = excluded.{column},
                     wanted = wanted & ~?4"
            ),
            params![sha256.as_str(), bytes, now, done],
        )?;
        Ok(())
    }

    /// Remembers that a fetch of `sha256` (its thumbnail, or the photo)
    /// found it pending on the relay, to try again at the next photo sync.
    pub fn want_photo(&mut self, sha256: &PhotoRef, thumbnail: bool) -> Result<()> {
        let flag = if thumbnail { 1 } else { 2 };
        let now = self.now();
        self.conn
            .prepare_cached(
                "INSERT INTO local_photos (sha256, taken, added_at, wanted) VALUES (?1, 0, ?2, ?3)
                 ON CONFLICT (sha256) DO UPDATE SET wanted = wanted | ?3",
            )?
            .execute(params![sha256.as_str(), now, flag])?;
        Ok(())
    }

    /// Fetches to try again, each with a card to fetch it through and
    /// whether the thumbnail (rather than the photo) is wanted.
    pub fn wanted_photos(&self) -> Result<Vec<(RecordId, PhotoRef, bool)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT (SELECT record_id FROM photo_refs r WHERE r.sha256 = l.sha256 LIMIT 1),
                    sha256, wanted
             FROM local_photos l WHERE wanted != 0 ORDER BY added_at, sha256",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut wanted = Vec::new();
        for row in rows {
            let (record, sha, flags) = row?;
            let Some(record) = record else { continue };
            let (record, sha): (RecordId, PhotoRef) = (record.parse()?, sha.parse()?);
            for (flag, thumbnail) in [(1, true), (2, false)] {
                if flags & flag != 0 {
                    wanted.push((record, sha.clone(), thumbnail));
                }
            }
        }
        Ok(wanted)
    }

    /// Drops everything this phone holds of `sha256`: a supervisor purged
    /// it, and the relay will neither take nor serve it again.
    pub fn forget_photo(&mut self, sha256: &PhotoRef) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM local_photos WHERE sha256 = ?1")?
            .execute([sha256.as_str()])?;
        Ok(())
    }

    /// Drops the bytes of photos no card on this phone refers to any more
    /// (taken off, or their card gone), and returns how many.
    pub fn forget_unused_photos(&mut self) -> Result<u64> {
        let gone = self.conn.execute(
            "DELETE FROM local_photos
             WHERE NOT EXISTS (SELECT 1 FROM photo_refs r WHERE r.sha256 = local_photos.sha256)",
            [],
        )?;
        Ok(gone as u64)
    }
}
