//! A restore brings photos back with their cards, against the real binary.
//! `doorstep backup` copies the photos beside the database; after
//! `doorstep restore` every photo the backup knew is served again, and the
//! photos uploaded after the backup come back too: taken back from the
//! disk when it survived, sent again by their phone when it did not.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::{Path, PathBuf};

use doorstep_tests::http::{Api, HttpPhone, client};
use doorstep_tests::pictures::picture;
use doorstep_tests::process;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::store::system_clock;
use sync_core::{EventKind, NewHousehold, NewWish, PhotoRef, WishId};

const BIN: &str = env!("CARGO_BIN_EXE_doorstep");
const PASSWORD: &str = "correct horse battery";
const XIKENG: &str = "longgang/yuanshan/xikeng";

/// A submitted card on `phone` with a photo of `picture`, synced and its
/// photo uploaded.
fn card_with_photo(phone: &mut HttpPhone, text: &str, picture: &[u8]) -> (WishId, PhotoRef) {
    let p = &mut phone.phone;
    let author = p.author.clone();
    let home = p
        .store
        .create_household(&author, &p.community(), &NewHousehold::default())
        .unwrap();
    let card = p
        .store
        .create_wish(
            &author,
            &NewWish {
                household: home,
                text: text.into(),
                category: Category::MobilityAid,
                urgency: Urgency::Normal,
                photos: vec![],
            },
        )
        .unwrap();
    p.store
        .append_event(&author, card, &EventInput::new(EventKind::Submit))
        .unwrap();
    let photo = p.store.add_photo(&author, card, picture).unwrap();
    phone.sync().unwrap();
    phone.upload_photos().unwrap();
    (card, photo.sha256)
}

fn photos_beside(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".photos");
    PathBuf::from(name)
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let path = e.unwrap().path();
            match (path.is_dir(), path.file_name().and_then(|n| n.to_str())) {
                (true, Some("uploads")) => 0,
                (true, _) => count_files(&path),
                (false, _) => 1,
            }
        })
        .sum()
}

fn original(api: &Api, card: WishId, sha: &PhotoRef) -> (u16, Vec<u8>) {
    let response = client()
        .get(format!("{}/v1/records/{card}/photos/{sha}", api.base))
        .bearer_auth(&api.token)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().unwrap().to_vec())
}

fn restore_with_photos(disk_lost: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("district.sqlite");
    let backup = dir.path().join("backup.sqlite");
    process::add_user(BIN, &db, "wang", "worker", XIKENG, PASSWORD);
    process::add_user(
        BIN,
        &db,
        "chen",
        "supervisor",
        "longgang/yuanshan",
        PASSWORD,
    );
    let relay = process::serve(BIN, &db);
    let mut wang = HttpPhone::login(&relay.url, "wang", PASSWORD, system_clock()).unwrap();
    let before = card_with_photo(&mut wang, "楼道扶手断了", &picture(1200, 900, 1));

    let printed = process::doorstep(
        BIN,
        &[
            "backup",
            "--db",
            db.to_str().unwrap(),
            backup.to_str().unwrap(),
        ],
    );
    assert!(printed.contains("and 1 photos to"), "{printed}");
    assert_eq!(
        count_files(&photos_beside(&backup)),
        2,
        "photo and thumbnail"
    );

    // Work after the backup: a second card and its photo.
    let after = card_with_photo(&mut wang, "路灯不亮", &picture(1200, 900, 2));
    process::stop(relay.child);

    if disk_lost {
        // A new machine: nothing of the relay's but the backup.
        for file in [
            "district.sqlite",
            "district.sqlite.key",
            "district.sqlite.feed",
        ] {
            let _ = std::fs::remove_file(dir.path().join(file));
        }
        std::fs::remove_dir_all(photos_beside(&db)).unwrap();
    }
    let printed = process::doorstep(
        BIN,
        &[
            "restore",
            backup.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--force",
        ],
    );
    let expected = if disk_lost {
        "photos: 1 from the backup, 0 already on disk taken back"
    } else {
        "photos: 1 from the backup, 1 already on disk taken back"
    };
    assert!(printed.contains(expected), "{printed}");

    let relay = process::serve(BIN, &db);
    let chen = Api::login(&relay.url, "chen", PASSWORD).unwrap();
    assert_eq!(
        original(&chen, before.0, &before.1).0,
        200,
        "the backup's photo"
    );
    wang.base = relay.url.clone();
    let report = wang.sync().unwrap();
    assert!(report.reconciled, "the phone saw the relay go back in time");
    let resent = wang.upload_photos().unwrap();
    let (status, bytes) = original(&chen, after.0, &after.1);
    assert_eq!(status, 200, "the photo uploaded after the backup");
    assert_eq!(sync_core::photo::sha256(&bytes), after.1);
    if disk_lost {
        assert_eq!(resent, bytes.len() as u64, "its phone sent it again");
    } else {
        assert_eq!(resent, 0, "taken back from the disk: nothing to send");
    }
    process::stop(relay.child);
}

#[test]
fn a_restore_on_a_new_machine_gets_later_photos_from_their_phones() {
    restore_with_photos(true);
}

#[test]
fn a_restore_on_the_same_machine_takes_later_photos_back_from_disk() {
    restore_with_photos(false);
}
