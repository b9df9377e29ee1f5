//! The photo index: pending, stored, access through a card, cleanup,
//! purging and the totals.

use doorstep_tests::pictures::picture;
use server::store::PhotoIndex;
use sync_core::model::{Photo, WishPatch};
use sync_core::store::PhotoAccess;
use sync_core::{PhotoRef, Role, ScopePath, WishId};

use super::both::{actor, scopes, user};
use super::district::{District, district};

#[test]
fn the_photo_index_reads_alike() {
    let Some(mut d) = district("pg_people_photos") else {
        return;
    };
    let street = scopes(&["longgang/yuanshan"]);
    let buji = scopes(&["longgang/buji"]);
    let (rice_card, heater, wheelchair) = (d.rice, d.heater, d.wheelchair);
    let rice = d.rice_photo.clone();
    let draft = d.draft_photo.clone();
    let lit = d.lit_photo.clone();
    let loose = sync_core::photo::process(&picture(320, 240, 3))
        .unwrap()
        .photo;
    let never: PhotoRef = sync_core::photo::sha256(b"no such photo");
    let phone_of_rice = d
        .both
        .same("the rice card's photo adder", |s| {
            match s
                .photo_access(&street, d.rice.record(), &rice.sha256)
                .unwrap()
            {
                PhotoAccess::Pending { from, .. } => from,
                other => panic!("pending, not {other:?}"),
            }
        })
        .unwrap();

    // Pending: the phone that took it has the bytes.
    let pending = |d: &mut District, list: &[ScopePath], before: i64| {
        d.both.same("pending photos", |s| {
            s.photos_pending(list, before).unwrap()
        })
    };
    let now = d.both.time.now();
    let listed = pending(&mut d, &street, now);
    let mut hashes: Vec<&PhotoRef> = listed.iter().map(|p| &p.sha256).collect();
    assert_eq!(hashes.pop(), Some(&lit.sha256), "oldest first");
    hashes.sort();
    let mut taken = [&rice.sha256, &draft.sha256];
    taken.sort();
    assert_eq!(hashes, taken, "both pushed at once");
    let on_rice = listed.iter().find(|p| p.sha256 == rice.sha256).unwrap();
    assert_eq!(on_rice.from, Some(phone_of_rice));
    assert_eq!(on_rice.record_id, d.rice.to_string());
    assert!(pending(&mut d, &buji, now).is_empty());
    assert!(pending(&mut d, &[], now).is_empty());
    pending(&mut d, &street, listed[0].since);
    pending(&mut d, &street, listed[0].since - 1);

    let access = |d: &mut District, list: &[ScopePath], wish: WishId, sha: &PhotoRef| {
        d.both.same("photo access", |s| {
            s.photo_access(list, wish.record(), sha).unwrap()
        })
    };
    let known = |d: &mut District, list: &[ScopePath], sha: &PhotoRef| {
        d.both
            .same("known to", |s| s.photo_known_to(list, sha).unwrap())
    };
    assert_eq!(
        access(&mut d, &buji, rice_card, &rice.sha256),
        PhotoAccess::NotFound
    );
    assert_eq!(
        access(&mut d, &street, heater, &rice.sha256),
        PhotoAccess::NotFound,
        "not through a card that does not show it"
    );
    assert_eq!(
        access(&mut d, &street, rice_card, &never),
        PhotoAccess::NotFound
    );
    assert!(known(&mut d, &street, &rice.sha256));
    assert!(!known(&mut d, &buji, &rice.sha256));
    assert!(!known(&mut d, &street, &never));

    // Stored: once, from the device that uploaded them.
    let now = d.both.time.tick();
    let device = phone_of_rice.to_string();
    let stored = |d: &mut District, photo: &Photo, by: &str| {
        d.both.same("store a photo", |s| {
            s.record_stored_photo(photo, 4_000, by, now).unwrap()
        })
    };
    assert!(stored(&mut d, &rice, &device));
    assert!(!stored(&mut d, &rice, "restore"), "held already");
    assert!(stored(&mut d, &lit, "xiaoli's phone"));
    assert!(stored(&mut d, &draft, &device));
    assert!(stored(&mut d, &loose, "restore"));
    let held = d
        .both
        .same("a stored photo", |s| s.stored_photo(&rice.sha256).unwrap())
        .unwrap();
    assert_eq!(
        (
            held.bytes,
            held.width,
            held.height,
            held.thumb_bytes,
            held.stored_at
        ),
        (rice.bytes, rice.width, rice.height, 4_000, now)
    );
    assert_eq!(held.uploaded_by, device);
    assert_eq!(
        access(&mut d, &street, rice_card, &rice.sha256),
        PhotoAccess::Stored(held)
    );
    assert!(pending(&mut d, &street, now).is_empty());
    d.both
        .same("no such photo", |s| s.stored_photo(&never).unwrap());
    d.both.same("totals", |s| s.photo_totals().unwrap());

    // Cleanup: only what nothing has referred to since the cutoff.
    let candidates = |d: &mut District, cutoff: i64| {
        d.both.same("sweep candidates", |s| {
            s.photo_sweep_candidates(cutoff).unwrap()
        })
    };
    assert_eq!(candidates(&mut d, now), std::slice::from_ref(&loose.sha256));
    assert!(candidates(&mut d, now - 1).is_empty());
    // The draft's photo taken off its card: marked from now.
    let off = d.both.time.tick();
    let chen = actor("chen", Role::Supervisor);
    d.both.run("take a photo off", |s| {
        s.edit_wish(
            &chen.author,
            &chen.key,
            d.draft,
            &WishPatch {
                remove_photos: vec![draft.sha256.clone()],
                ..WishPatch::default()
            },
        )
    });
    assert_eq!(
        candidates(&mut d, off),
        [loose.sha256.clone(), draft.sha256.clone()]
    );
    assert!(!known(&mut d, &street, &draft.sha256));
    assert!(known(&mut d, &street, &rice.sha256));
    let forget = |d: &mut District, sha: &PhotoRef, cutoff: i64| {
        d.both
            .same("forget", |s| s.forget_stored_photo(sha, cutoff).unwrap())
    };
    assert!(!forget(&mut d, &draft.sha256, off - 1), "within its grace");
    assert!(!forget(&mut d, &rice.sha256, off), "never marked");
    assert!(!forget(&mut d, &lit.sha256, off), "referred to");
    assert!(forget(&mut d, &loose.sha256, off));
    assert!(!forget(&mut d, &loose.sha256, off), "gone already");
    assert!(forget(&mut d, &draft.sha256, off));
    assert!(candidates(&mut d, off).is_empty());

    // Purged: gone for good, for whoever refers to it.
    let at = d.both.time.tick();
    for _ in 0..2 {
        d.both.run("purge", |s| {
            s.purge_photo(&lit.sha256, &user("chen"), "拍到了住户的证件", at)
        });
    }
    assert!(
        d.both
            .same("purged", |s| s.photo_is_purged(&lit.sha256).unwrap())
    );
    assert!(
        !d.both
            .same("purged", |s| s.photo_is_purged(&rice.sha256).unwrap())
    );
    assert_eq!(
        d.both
            .same("purged photo", |s| s.stored_photo(&lit.sha256).unwrap()),
        None
    );
    assert_eq!(
        access(&mut d, &street, wheelchair, &lit.sha256),
        PhotoAccess::Purged
    );
    assert_eq!(
        access(&mut d, &buji, wheelchair, &lit.sha256),
        PhotoAccess::NotFound,
        "out of scope, not even purged"
    );
    assert!(pending(&mut d, &street, at).is_empty());
    let totals = d.both.same("totals", |s| s.photo_totals().unwrap());
    let held = d
        .both
        .same("the rice photo", |s| s.stored_photo(&rice.sha256).unwrap())
        .unwrap();
    assert_eq!(
        (totals.stored, totals.bytes, totals.pending, totals.purged),
        (1, held.bytes + held.thumb_bytes, 0, 1)
    );
}

#[test]
fn a_photo_marked_while_referred_to_is_healed_by_the_sweep() {
    let Some(mut d) = district("pg_people_heal") else {
        return;
    };
    let street = scopes(&["longgang/yuanshan"]);
    let rice = d.rice_photo.clone();
    let now = d.both.time.tick();
    d.both.same("store", |s| {
        s.record_stored_photo(&rice, 1, "restore", now).unwrap()
    });
    // Two relays at once: the reference's write did not see the bytes, the
    // bytes' write did not see the reference, so the photo is marked.
    let pool = d.both.db.pool(1);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let client = pool.get().await.unwrap();
            client
                .execute(
                    "UPDATE stored_photos SET unreferenced_since = $1",
                    &[&(now - 10)],
                )
                .await
                .unwrap();
        });
    let pg = &mut d.both.pg;
    assert_eq!(
        PhotoIndex::photo_sweep_candidates(pg, now).unwrap(),
        std::slice::from_ref(&rice.sha256)
    );
    assert!(!PhotoIndex::forget_stored_photo(pg, &rice.sha256, now).unwrap());
    assert!(
        PhotoIndex::photo_sweep_candidates(pg, now)
            .unwrap()
            .is_empty(),
        "no longer a candidate"
    );
    assert!(matches!(
        PhotoIndex::photo_access(pg, &street, d.rice.record(), &rice.sha256).unwrap(),
        PhotoAccess::Stored(_)
    ));
}
