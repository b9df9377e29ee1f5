//! Why a photo was refused.

/// Why a picture could not be made into a photo, or bytes are not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// Over a size limit.
    #[error("the photo is {bytes} bytes; at most {limit} are accepted")]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// More pixels than a phone can open.
    #[error("the picture is {width} × {height} pixels, more than a phone can open")]
    TooManyPixels {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// Not an image, or a broken one.
    #[error("not a readable JPEG or PNG image: {0}")]
    NotAnImage(String),
    /// An image in a format photos are not taken in.
    #[error("{0} images are not accepted; take a JPEG or PNG")]
    Unsupported(String),
    /// Bytes that are not a photo as the app makes them.
    #[error("not a photo as the app makes them: {0}")]
    NotProcessed(String),
    /// A photo that still carries metadata.
    #[error("the photo still carries {0} metadata; the app strips it before sending")]
    CarriesMetadata(String),
    /// The encoder failed.
    #[error("cannot encode the photo: {0}")]
    Encode(String),
}

impl PhotoError {
    /// Maps a decoder's error: limits are the image's size, the rest a
    /// broken file.
    pub(crate) fn from_image(error: image::ImageError) -> Self {
        match error {
            image::ImageError::Limits(e) => {
                PhotoError::NotAnImage(format!("too large to open: {e}"))
            }
            other => PhotoError::NotAnImage(other.to_string()),
        }
    }
}
