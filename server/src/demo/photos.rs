//! The demo's photos: the first community's worker photographs the first
//! few cards they submit. Most photos reach the relay; the last one does
//! not, so that its card shows "not yet received from wang's phone" and the
//! devices page lists it as missing for weeks.

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use sync_core::photo::{self, Processed};
use sync_core::{Store, WishId};

use super::{Phone, err};
use crate::error::AppResult;
use crate::photos::{FolderStorage, PhotoStorage, Variant};

/// How many cards get a photo, and how many of those photos are uploaded.
pub(super) const PHOTOGRAPHED: usize = 4;
const UPLOADED: usize = 3;

/// A picture a phone's camera might hand over: a small house under a sky,
/// its colours varying with `n`, 2000 × 1500 like a cheap phone's.
fn picture(n: usize) -> Vec<u8> {
    let (w, h) = (2000u32, 1500u32);
    let hue = |base: u8, k: usize| base.wrapping_add((k * 37 % 80) as u8);
    let wall = Rgb([hue(170, n), hue(140, n + 1), 110]);
    let image = RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let ground = fy > 0.72;
        let in_wall = (0.3..0.7).contains(&fx) && (0.42..0.72).contains(&fy);
        let roof_edge = 0.42 - (0.2 - (fx - 0.5).abs()) * 0.9;
        let in_roof = (0.28..0.72).contains(&fx) && fy < 0.42 && fy > roof_edge;
        let in_door = (0.46..0.54).contains(&fx) && (0.56..0.72).contains(&fy);
        let in_window = (0.35..0.42).contains(&fx) && (0.48..0.56).contains(&fy);
        // A little grain, so that it compresses like a photograph.
        let grain = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 9) as u8;
        let Rgb([r, g, b]) = if in_door {
            Rgb([90, 60, 40])
        } else if in_window {
            Rgb([200, 220, 235])
        } else if in_wall {
            wall
        } else if in_roof {
            Rgb([150, 50, 40])
        } else if ground {
            Rgb([90, 130, 70])
        } else {
            Rgb([120, 170, (210.0 + 40.0 * fy) as u8])
        };
        Rgb([
            r.saturating_add(grain),
            g.saturating_add(grain),
            b.saturating_add(grain),
        ])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&image)
        .expect("an in-memory JPEG");
    out
}

/// The worker photographs `cards` on their phone (before it syncs).
pub(super) fn take(phone: &mut Phone, cards: &[WishId]) -> AppResult<Vec<Processed>> {
    let mut taken = Vec::new();
    for (n, card) in cards.iter().take(PHOTOGRAPHED).enumerate() {
        let raw = picture(n);
        let photo = phone
            .store
            .add_photo(&phone.author, *card, &raw)
            .map_err(err)?;
        let data = phone
            .store
            .photo_data(&photo.sha256)
            .map_err(err)?
            .ok_or_else(|| err("the photo's bytes"))?;
        taken.push(Processed { photo, data });
    }
    Ok(taken)
}

/// Puts the first photos into the relay's folder, as their uploads would
/// (the phone synced their cards already); the last stays on the phone.
pub(super) fn upload(
    relay: &mut Store,
    storage: &FolderStorage,
    phone: &mut Phone,
    taken: &[Processed],
) -> AppResult<()> {
    for processed in taken.iter().take(UPLOADED) {
        let sha = &processed.photo.sha256;
        let (photo, thumb) = photo::inspect_with_thumbnail(&processed.data).map_err(err)?;
        for (variant, bytes) in [
            (Variant::Original, processed.data.as_slice()),
            (Variant::Thumbnail, thumb.as_slice()),
        ] {
            let scratch = storage.root().join(format!("{sha}.demo"));
            std::fs::write(&scratch, bytes).map_err(err)?;
            storage.put(sha, variant, &scratch).map_err(err)?;
        }
        let now = relay.now();
        relay
            .record_stored_photo(
                &photo,
                thumb.len() as u64,
                &phone.author.device.to_string(),
                now,
            )
            .map_err(err)?;
        phone.store.photo_uploaded(sha).map_err(err)?;
    }
    Ok(())
}
