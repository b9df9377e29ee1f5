use image::{Rgb, RgbImage};

use super::*;

/// A camera's picture held upright: stored on its side with EXIF
/// orientation 6 and a GPS position (see `tests/fixtures/make_photos.py`).
const ROTATED_GPS: &[u8] = include_bytes!("../../tests/fixtures/rotated-gps.jpg");

fn pixel(image: &DynamicImage, x: u32, y: u32) -> [u8; 3] {
    image.to_rgb8().get_pixel(x, y).0
}

fn reddish([r, g, b]: [u8; 3]) -> bool {
    r > 160 && g < 90 && b < 90
}

fn bluish([r, g, b]: [u8; 3]) -> bool {
    b > 160 && r < 90 && g < 90
}

/// A JPEG of `width` × `height` with some texture, straight from the encoder.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 239) as u8])
    });
    encode(&DynamicImage::ImageRgb8(image), 85).unwrap()
}

#[test]
fn the_fixture_is_what_it_says() {
    // A negative control for the checks below: the raw file is on its side
    // and carries GPS.
    let raw = image::load_from_memory(ROTATED_GPS).unwrap();
    assert_eq!((raw.width(), raw.height()), (400, 300));
    assert!(matches!(
        open_processed(ROTATED_GPS),
        Err(PhotoError::CarriesMetadata(what)) if what.contains("GPS")
    ));
}

#[test]
fn a_photo_comes_out_upright_and_without_metadata() {
    let processed = process(ROTATED_GPS).unwrap();
    let photo = &processed.photo;
    assert_eq!((photo.width, photo.height), (300, 400), "upright");
    assert_eq!(photo.mime, JPEG);
    assert_eq!(photo.bytes, processed.data.len() as u64);
    assert_eq!(photo.sha256, sha256(&processed.data));

    let shown = image::load_from_memory(&processed.data).unwrap();
    assert!(reddish(pixel(&shown, 150, 20)), "the red band is on top");
    assert!(
        bluish(pixel(&shown, 40, 360)),
        "the blue square bottom left"
    );
    assert!(!bluish(pixel(&shown, 260, 360)));

    // No EXIF, XMP or IPTC left: the relay's check passes.
    assert_eq!(inspect(&processed.data).unwrap(), processed.photo);
    let thumb = thumbnail(&processed.data).unwrap();
    assert!(
        inspect(&thumb).is_ok(),
        "the thumbnail carries nothing either"
    );
}

#[test]
fn large_pictures_shrink_to_the_edge_and_small_ones_stay() {
    let processed = process(&jpeg(4000, 3000)).unwrap();
    assert_eq!(
        (processed.photo.width, processed.photo.height),
        (MAX_EDGE, 1200)
    );
    let small = process(&jpeg(640, 480)).unwrap();
    assert_eq!((small.photo.width, small.photo.height), (640, 480));

    let thumb = image::load_from_memory(&thumbnail(&processed.data).unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (THUMB_EDGE, 240));
}

#[test]
fn the_same_picture_is_the_same_photo() {
    let raw = jpeg(800, 600);
    assert_eq!(
        process(&raw).unwrap().photo.sha256,
        process(&raw).unwrap().photo.sha256
    );
}

#[test]
fn what_is_not_a_photo_is_refused_clearly() {
    assert!(matches!(
        process(b"GIF89a not really"),
        Err(PhotoError::Unsupported(_))
    ));
    assert!(matches!(process(b"hello"), Err(PhotoError::NotAnImage(_))));
    let mut truncated = jpeg(800, 600);
    truncated.truncate(600);
    assert!(process(&truncated).is_err());
    let huge = vec![0xFF; (MAX_CAPTURE_BYTES + 1) as usize];
    assert!(matches!(
        process(&huge),
        Err(PhotoError::TooLarge { limit, .. }) if limit == MAX_CAPTURE_BYTES
    ));
}

#[test]
fn the_relay_refuses_what_a_phone_would_not_send() {
    // Too large on a side: not processed.
    assert!(matches!(
        inspect(&jpeg(2000, 100)),
        Err(PhotoError::NotProcessed(_))
    ));
    // A PNG is not a processed photo.
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(RgbImage::new(10, 10))
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    assert!(inspect(&png).is_err());
    assert!(inspect(&jpeg(640, 480)).is_ok());
}

#[test]
fn an_image_bomb_is_refused_before_it_takes_the_memory() {
    // A tiny file whose header claims 60,000 × 60,000 pixels.
    let mut bomb = jpeg(16, 16);
    let sof = bomb
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    // SOF0: marker, length (2), precision (1), height (2), width (2).
    bomb[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    bomb[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    assert!(matches!(inspect(&bomb), Err(PhotoError::NotProcessed(_))));
    assert!(matches!(
        process(&bomb),
        Err(PhotoError::TooManyPixels {
            width: 60_000,
            height: 60_000
        })
    ));
}
