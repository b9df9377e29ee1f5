//! Camera-like pictures for photo tests and benchmarks: JPEGs with detail
//! (so that they compress like photographs, not like flat colour), each
//! seed a different picture.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// A JPEG of `width` × `height`: soft colour fields with fine texture,
/// different for each `seed`, at camera quality (92).
pub fn picture(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut next = move || {
        // xorshift: deterministic, and plenty for texture.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let (fx, fy) = (1 + next() % 7, 1 + next() % 5);
    let image = RgbImage::from_fn(width, height, |x, y| {
        let noise = (next() % 24) as u8;
        let r = ((x * fx * 255) / width.max(1)) as u8;
        let g = ((y * fy * 255) / height.max(1)) as u8;
        let b = (((x + y) * 255) / (width + height).max(1)) as u8;
        Rgb([
            r.wrapping_add(noise),
            g.wrapping_add(noise / 2),
            b.wrapping_add(seed as u8),
        ])
    });
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&image)
        .expect("an in-memory JPEG");
    out.into_inner()
}
