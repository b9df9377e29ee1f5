//! A wish card's reference to a photo.

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;
use crate::ids::PhotoRef;
use crate::photo::{JPEG, MAX_EDGE, MAX_PHOTO_BYTES};

/// A photo as a record refers to it: the SHA-256 of its bytes, and what
/// they are. The bytes travel apart from the record (see [`crate::photo`]).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Photo {
    /// The SHA-256 of the bytes.
    pub sha256: PhotoRef,
    /// How many bytes.
    pub bytes: u64,
    /// Their media type (`image/jpeg`).
    pub mime: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Photo {
    /// A reference known only by its hash, as cards written before photos
    /// carried their size name them.
    pub fn by_hash(sha256: PhotoRef) -> Self {
        Self {
            sha256,
            bytes: 0,
            mime: JPEG.to_owned(),
            width: 0,
            height: 0,
        }
    }

    /// Checks a new reference against what a processed photo can be: a
    /// JPEG of at most [`MAX_PHOTO_BYTES`] and [`MAX_EDGE`] pixels a side.
    pub fn check(&self) -> Result<(), InvalidInput> {
        let fits = self.mime == JPEG
            && (1..=MAX_PHOTO_BYTES).contains(&self.bytes)
            && (1..=MAX_EDGE).contains(&self.width)
            && (1..=MAX_EDGE).contains(&self.height);
        if fits {
            Ok(())
        } else {
            Err(InvalidInput::new(
                format!(
                    "a photo is a JPEG of at most {MAX_PHOTO_BYTES} bytes and {MAX_EDGE} pixels a side"
                ),
                &format!(
                    "{} {} bytes {}x{}",
                    self.mime, self.bytes, self.width, self.height
                ),
            ))
        }
    }
}
