//! Photos: what a phone makes of a camera's picture before it goes
//! anywhere, and what the relay checks of the bytes it receives.
//!
//! - **On the phone** ([`process`]): the picture is turned upright (the
//!   camera's EXIF orientation applied), shrunk to at most [`MAX_EDGE`]
//!   pixels on its long edge, and re-encoded as a JPEG that carries no
//!   metadata at all: no EXIF, no GPS position of a vulnerable person's home,
//!   no camera serial, no time. Its name is the SHA-256 of those bytes, so
//!   it is the same photo on every phone and on the relay, and uploading it
//!   twice stores it once.
//! - **On the relay** ([`inspect`]): the bytes must be such a photo: a JPEG
//!   within the edge and the size limit, opened under decoder limits (an
//!   image bomb is refused before it takes the memory), and free of
//!   metadata. A file that still carries a GPS position is refused rather
//!   than rewritten, since rewriting it would change its name.
//! - **Thumbnails** ([`thumbnail`]): [`THUMB_EDGE`] pixels on the long edge,
//!   for lists and the dashboard.

mod error;

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

pub use error::PhotoError;

use crate::ids::PhotoRef;
use crate::model::Photo;

/// The long edge of a processed photo, in pixels: enough to see a broken
/// handrail, small enough for a village's network.
pub const MAX_EDGE: u32 = 1600;
/// The long edge of a thumbnail, in pixels.
pub const THUMB_EDGE: u32 = 320;
/// The most a processed photo may weigh: the relay's upload limit.
pub const MAX_PHOTO_BYTES: u64 = 2 << 20;
/// The most a camera's picture may weigh when it is added to a card.
pub const MAX_CAPTURE_BYTES: u64 = 40 << 20;
/// The most pixels a camera's picture may have (a 50-megapixel sensor).
pub const MAX_CAPTURE_PIXELS: u64 = 50_000_000;
/// The only media type photos travel as.
pub const JPEG: &str = "image/jpeg";

/// JPEG quality of processed photos, and the lower ones tried in turn if a
/// photo comes out over [`MAX_PHOTO_BYTES`] (a very busy picture).
const QUALITIES: [u8; 3] = [82, 68, 55];
/// JPEG quality of thumbnails.
const THUMB_QUALITY: u8 = 75;

/// A processed photo: its reference and its bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Processed {
    /// What a record refers to it by.
    pub photo: Photo,
    /// The JPEG.
    pub data: Vec<u8>,
}

/// The SHA-256 of `data`, as a photo reference.
pub fn sha256(data: &[u8]) -> PhotoRef {
    PhotoRef::from_digest(Sha256::digest(data).into())
}

/// Turns a camera's picture (JPEG or PNG) into a photo to keep and send:
/// upright, at most [`MAX_EDGE`] on its long edge, re-encoded as a JPEG
/// with no metadata, named by its SHA-256.
pub fn process(raw: &[u8]) -> Result<Processed, PhotoError> {
    if raw.len() as u64 > MAX_CAPTURE_BYTES {
        return Err(PhotoError::TooLarge {
            bytes: raw.len() as u64,
            limit: MAX_CAPTURE_BYTES,
        });
    }
    let mut reader = ImageReader::new(Cursor::new(raw))
        .with_guessed_format()
        .map_err(|e| PhotoError::NotAnImage(e.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png) => {}
        Some(other) => return Err(PhotoError::Unsupported(format!("{other:?}"))),
        None => return Err(PhotoError::NotAnImage("unknown format".into())),
    }
    reader.limits(capture_limits());
    let mut decoder = reader.into_decoder().map_err(PhotoError::from_image)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_CAPTURE_PIXELS {
        return Err(PhotoError::TooManyPixels { width, height });
    }
    let orientation = decoder.orientation().map_err(PhotoError::from_image)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(PhotoError::from_image)?;
    image.apply_orientation(orientation);
    let image = shrink(image, MAX_EDGE);
    let rgb = DynamicImage::ImageRgb8(image.into_rgb8());
    for quality in QUALITIES {
        let data = encode(&rgb, quality)?;
        if data.len() as u64 <= MAX_PHOTO_BYTES {
            let photo = Photo {
                sha256: sha256(&data),
                bytes: data.len() as u64,
                mime: JPEG.to_owned(),
                width: rgb.width(),
                height: rgb.height(),
            };
            return Ok(Processed { photo, data });
        }
    }
    Err(PhotoError::TooLarge {
        bytes: raw.len() as u64,
        limit: MAX_PHOTO_BYTES,
    })
}

/// Checks that `data` is a photo as [`process`] makes them, and returns
/// what it is: a JPEG of at most [`MAX_PHOTO_BYTES`] and [`MAX_EDGE`] on
/// each side, that decodes whole, and carries no metadata.
pub fn inspect(data: &[u8]) -> Result<Photo, PhotoError> {
    let image = open_processed(data)?;
    Ok(Photo {
        sha256: sha256(data),
        bytes: data.len() as u64,
        mime: JPEG.to_owned(),
        width: image.width(),
        height: image.height(),
    })
}

/// [`inspect`] and [`thumbnail`] at once, decoding the photo once: what
/// the relay does with an upload.
pub fn inspect_with_thumbnail(data: &[u8]) -> Result<(Photo, Vec<u8>), PhotoError> {
    let image = open_processed(data)?;
    let photo = Photo {
        sha256: sha256(data),
        bytes: data.len() as u64,
        mime: JPEG.to_owned(),
        width: image.width(),
        height: image.height(),
    };
    let thumb = encode(&shrink(image, THUMB_EDGE), THUMB_QUALITY)?;
    Ok((photo, thumb))
}

/// A thumbnail of a processed photo: [`THUMB_EDGE`] on its long edge (the
/// photo itself, re-encoded, if it is smaller), a JPEG with no metadata.
pub fn thumbnail(data: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let image = open_processed(data)?;
    encode(&shrink(image, THUMB_EDGE), THUMB_QUALITY)
}

/// Opens a processed photo under tight limits: nothing but a JPEG within
/// the edge, without metadata.
fn open_processed(data: &[u8]) -> Result<DynamicImage, PhotoError> {
    if data.len() as u64 > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge {
            bytes: data.len() as u64,
            limit: MAX_PHOTO_BYTES,
        });
    }
    let mut reader = ImageReader::with_format(Cursor::new(data), ImageFormat::Jpeg);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_EDGE);
    limits.max_image_height = Some(MAX_EDGE);
    // RGB of the largest photo, and room for the decoder's own buffers.
    limits.max_alloc = Some(u64::from(MAX_EDGE) * u64::from(MAX_EDGE) * 4 + (8 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => {
            PhotoError::NotProcessed(format!("it is larger than {MAX_EDGE} pixels on a side"))
        }
        other => PhotoError::from_image(other),
    })?;
    if let Some(exif) = decoder.exif_metadata().map_err(PhotoError::from_image)? {
        return Err(PhotoError::CarriesMetadata(describe_exif(&exif)));
    }
    if decoder
        .xmp_metadata()
        .map_err(PhotoError::from_image)?
        .is_some()
    {
        return Err(PhotoError::CarriesMetadata("XMP".into()));
    }
    if decoder
        .iptc_metadata()
        .map_err(PhotoError::from_image)?
        .is_some()
    {
        return Err(PhotoError::CarriesMetadata("IPTC".into()));
    }
    DynamicImage::from_decoder(decoder).map_err(PhotoError::from_image)
}

/// What an EXIF block holds, for the refusal: a GPS position is named.
fn describe_exif(exif: &[u8]) -> String {
    // Cameras write all sorts of EXIF; read what can be read.
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    let parsed = match reader.read_raw(exif.to_vec()) {
        Ok(parsed) => Some(parsed),
        Err(exif::Error::PartialResult(partial)) => Some(partial.into_inner().0),
        Err(_) => None,
    };
    let gps = parsed.is_some_and(|exif| {
        exif.fields()
            .any(|f| f.tag.context() == exif::Context::Gps || f.tag == exif::Tag::GPSInfoIFDPointer)
    });
    if gps {
        "EXIF with a GPS position"
    } else {
        "EXIF"
    }
    .to_owned()
}

fn capture_limits() -> Limits {
    let mut limits = Limits::default();
    // Four bytes a pixel, and room for the decoder's own buffers.
    limits.max_alloc = Some(MAX_CAPTURE_PIXELS * 4 + (64 << 20));
    limits
}

/// `image` shrunk to at most `edge` on its long side (never enlarged).
fn shrink(image: DynamicImage, edge: u32) -> DynamicImage {
    if image.width().max(image.height()) <= edge {
        return image;
    }
    image.resize(edge, edge, FilterType::Triangle)
}

/// A baseline JPEG with no metadata: the encoder writes none.
fn encode(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    let rgb = image.to_rgb8();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests;
