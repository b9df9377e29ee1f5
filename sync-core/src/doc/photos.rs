//! A wish card's `photos`: a list of maps `{sha256, bytes, mime, width,
//! height}`, one per photo. Cards written before photos carried their size
//! hold bare hashes (strings); they read as [`Photo::by_hash`].
//!
//! Two phones that add the same photo at once leave it twice in the list;
//! it reads once. Taking a photo off deletes every entry of its hash.

use std::collections::HashSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, ObjId, ObjType, ROOT, ReadDoc, ScalarValueRef, ValueRef};

use super::codec::{Invalid, object, opt_int, str_field};
use crate::ids::PhotoRef;
use crate::model::Photo;

/// The card's photos, each once, in the order they were added, with the
/// actor (device) whose change added each (none for a bare hash).
pub(crate) fn read<R: ReadDoc>(doc: &R) -> Result<Vec<(Photo, Option<ActorId>)>, Invalid> {
    let Some(list) = object(doc, &ROOT, "photos", ObjType::List)? else {
        return Ok(Vec::new());
    };
    let mut seen = HashSet::new();
    let mut photos = Vec::new();
    for item in doc.list_range(&list, ..) {
        let (photo, adder) = match &item.value {
            ValueRef::Scalar(ScalarValueRef::Str(s)) => (
                Photo::by_hash(PhotoRef::new(s.to_string()).map_err(|e| e.to_string())?),
                None,
            ),
            ValueRef::Object(ObjType::Map) => {
                let obj = item.id();
                let adder = match &obj {
                    ObjId::Id(_, actor, _) => Some(actor.clone()),
                    ObjId::Root => None,
                };
                (read_one(doc, &obj)?, adder)
            }
            _ => return Err("a photo is a map or a hash".to_owned()),
        };
        if seen.insert(photo.sha256.clone()) {
            photos.push((photo, adder));
        }
    }
    Ok(photos)
}

fn read_one<R: ReadDoc>(doc: &R, obj: &ObjId) -> Result<Photo, Invalid> {
    let number = |key: &str| -> Result<i64, Invalid> {
        opt_int(doc, obj, key)?.ok_or_else(|| format!("a photo has no {key}"))
    };
    let positive = |key: &str| -> Result<u32, Invalid> {
        u32::try_from(number(key)?).map_err(|_| format!("a photo's {key} is out of range"))
    };
    Ok(Photo {
        sha256: PhotoRef::new(str_field(doc, obj, "sha256")?).map_err(|e| e.to_string())?,
        bytes: u64::try_from(number("bytes")?)
            .map_err(|_| "a photo's size is out of range".to_owned())?,
        mime: str_field(doc, obj, "mime")?,
        width: positive("width")?,
        height: positive("height")?,
    })
}

/// Adds `photos` at the end of the card's list, skipping those already on it.
pub(crate) fn add<T: Transactable + ReadDoc>(
    tx: &mut T,
    photos: &[Photo],
) -> Result<(), automerge::AutomergeError> {
    if photos.is_empty() {
        return Ok(());
    }
    let list = match tx.get(&ROOT, "photos")? {
        Some((automerge::Value::Object(ObjType::List), id)) => id,
        _ => tx.put_object(&ROOT, "photos", ObjType::List)?,
    };
    let present: HashSet<PhotoRef> = read(tx)
        .unwrap_or_default()
        .into_iter()
        .map(|(p, _)| p.sha256)
        .collect();
    for photo in photos.iter().filter(|p| !present.contains(&p.sha256)) {
        let index = tx.length(&list);
        let obj = tx.insert_object(&list, index, ObjType::Map)?;
        tx.put(&obj, "sha256", photo.sha256.as_str())?;
        tx.put(
            &obj,
            "bytes",
            i64::try_from(photo.bytes).unwrap_or(i64::MAX),
        )?;
        tx.put(&obj, "mime", photo.mime.as_str())?;
        tx.put(&obj, "width", i64::from(photo.width))?;
        tx.put(&obj, "height", i64::from(photo.height))?;
    }
    Ok(())
}

/// Takes every entry of the hashes in `remove` off the card's list.
pub(crate) fn remove<T: Transactable + ReadDoc>(
    tx: &mut T,
    remove: &[PhotoRef],
) -> Result<(), automerge::AutomergeError> {
    let Some((automerge::Value::Object(ObjType::List), list)) = tx.get(&ROOT, "photos")? else {
        return Ok(());
    };
    let doomed: Vec<usize> = tx
        .list_range(&list, ..)
        .enumerate()
        .filter(|(_, item)| {
            let hash = match &item.value {
                ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.to_string()),
                ValueRef::Object(ObjType::Map) => str_field(tx, &item.id(), "sha256").ok(),
                _ => None,
            };
            hash.is_some_and(|h| remove.iter().any(|r| r.as_str() == h))
        })
        .map(|(i, _)| i)
        .collect();
    // From the end, so that the indexes still hold.
    for index in doomed.into_iter().rev() {
        tx.delete(&list, index)?;
    }
    Ok(())
}
