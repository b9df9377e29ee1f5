//! Reading records out of Automerge documents and writing fields into them.
//!
//! The layout of a record document (root map):
//! `v` (layout version), `kind`, `id`, `community`, `created_at`, `created_by`,
//! then the kind's own fields as scalars at the root; a household's `tags` is a
//! map of tag → true (so concurrent tagging merges), a wish's `photos` is a
//! list of maps (see `photos`) and its `events` a list of maps. Every document is untrusted input
//! until read: every accessor returns an error instead of panicking.

use std::collections::BTreeSet;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ActorId, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value, ValueRef};

use crate::ids::{CommunityPath, DeviceId, EventId, HouseholdId, RecordId, UnitId, UserId};
use crate::model::{Gps, Household, Meta, Record, RecordKind, Visit, WishCard};
use crate::workflow::{Hlc, WishEvent, fold};

/// The document layout this code writes.
pub(crate) const LAYOUT_VERSION: i64 = 1;

/// A reason a document is not a valid record.
pub(crate) type Invalid = String;

pub(crate) fn scalar<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    key: &str,
) -> Result<Option<ScalarValue>, Invalid> {
    match doc.get(obj, key) {
        Ok(Some((Value::Scalar(v), _))) => Ok(Some(v.into_owned())),
        Ok(Some((Value::Object(_), _))) => Err(format!("{key} is an object, expected a value")),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("{key}: {e}")),
    }
}

pub(crate) fn opt_str<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    key: &str,
) -> Result<Option<String>, Invalid> {
    match scalar(doc, obj, key)? {
        Some(ScalarValue::Str(s)) => Ok(Some(s.to_string())),
        None | Some(ScalarValue::Null) => Ok(None),
        Some(other) => Err(format!("{key} should be text, found {other}")),
    }
}

pub(crate) fn str_field<R: ReadDoc>(doc: &R, obj: &ObjId, key: &str) -> Result<String, Invalid> {
    opt_str(doc, obj, key)?.ok_or_else(|| format!("{key} is missing"))
}

pub(crate) fn opt_int<R: ReadDoc>(doc: &R, obj: &ObjId, key: &str) -> Result<Option<i64>, Invalid> {
    match scalar(doc, obj, key)? {
        Some(ScalarValue::Int(i)) | Some(ScalarValue::Timestamp(i)) => Ok(Some(i)),
        Some(ScalarValue::Uint(u)) => i64::try_from(u)
            .map(Some)
            .map_err(|_| format!("{key} is too large")),
        None | Some(ScalarValue::Null) => Ok(None),
        Some(other) => Err(format!("{key} should be a number, found {other}")),
    }
}

fn int_field<R: ReadDoc>(doc: &R, obj: &ObjId, key: &str) -> Result<i64, Invalid> {
    opt_int(doc, obj, key)?.ok_or_else(|| format!("{key} is missing"))
}

fn opt_f64<R: ReadDoc>(doc: &R, obj: &ObjId, key: &str) -> Result<Option<f64>, Invalid> {
    match scalar(doc, obj, key)? {
        Some(ScalarValue::F64(f)) => Ok(Some(f)),
        Some(ScalarValue::Int(i)) => Ok(Some(i as f64)),
        None | Some(ScalarValue::Null) => Ok(None),
        Some(other) => Err(format!("{key} should be a number, found {other}")),
    }
}

fn parsed<T: FromStr, R: ReadDoc>(doc: &R, obj: &ObjId, key: &str) -> Result<T, Invalid>
where
    T::Err: std::fmt::Display,
{
    str_field(doc, obj, key)?
        .parse()
        .map_err(|e: T::Err| format!("{key}: {e}"))
}

fn opt_parsed<T: FromStr, R: ReadDoc>(doc: &R, obj: &ObjId, key: &str) -> Result<Option<T>, Invalid>
where
    T::Err: std::fmt::Display,
{
    opt_str(doc, obj, key)?
        .map(|s| s.parse().map_err(|e: T::Err| format!("{key}: {e}")))
        .transpose()
}

pub(crate) fn object<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    key: &str,
    want: ObjType,
) -> Result<Option<ObjId>, Invalid> {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(t), id))) if t == want => Ok(Some(id)),
        Ok(Some(_)) => Err(format!("{key} should be a {want}")),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("{key}: {e}")),
    }
}

/// Reads the record kind without decoding the rest.
pub(crate) fn read_kind<R: ReadDoc>(doc: &R) -> Result<RecordKind, Invalid> {
    parsed(doc, &ROOT, "kind")
}

fn read_meta<R: ReadDoc>(doc: &R) -> Result<Meta, Invalid> {
    Ok(Meta {
        id: parsed::<RecordId, _>(doc, &ROOT, "id")?,
        kind: read_kind(doc)?,
        community: parsed::<CommunityPath, _>(doc, &ROOT, "community")?,
        created_at: int_field(doc, &ROOT, "created_at")?,
        created_by: parsed::<UserId, _>(doc, &ROOT, "created_by")?,
    })
}

/// Decodes a whole record.
pub(crate) fn read_record<R: ReadDoc>(doc: &R) -> Result<Record, Invalid> {
    let meta = read_meta(doc)?;
    Ok(match meta.kind {
        RecordKind::Household => Record::Household(read_household(doc, meta)?),
        RecordKind::Visit => Record::Visit(read_visit(doc, meta)?),
        RecordKind::Wish => Record::Wish(read_wish(doc, meta)?),
    })
}

fn read_household<R: ReadDoc>(doc: &R, meta: Meta) -> Result<Household, Invalid> {
    let mut tags = BTreeSet::new();
    if let Some(map) = object(doc, &ROOT, "tags", ObjType::Map)? {
        for key in doc.keys(&map) {
            // Tags from a newer app version are kept in the document but not shown.
            if let Ok(tag) = key.parse() {
                tags.insert(tag);
            }
        }
    }
    let members = opt_int(doc, &ROOT, "members")?.unwrap_or(0);
    Ok(Household {
        meta,
        address: opt_str(doc, &ROOT, "address")?.unwrap_or_default(),
        head_name: opt_str(doc, &ROOT, "head_name")?.unwrap_or_default(),
        phone: opt_str(doc, &ROOT, "phone")?.unwrap_or_default(),
        members: u32::try_from(members).map_err(|_| "members is out of range".to_owned())?,
        tags,
        notes: opt_str(doc, &ROOT, "notes")?.unwrap_or_default(),
    })
}

fn read_visit<R: ReadDoc>(doc: &R, meta: Meta) -> Result<Visit, Invalid> {
    let gps = match (opt_f64(doc, &ROOT, "lat")?, opt_f64(doc, &ROOT, "lon")?) {
        (Some(lat), Some(lon)) => Some(Gps { lat, lon }),
        _ => None,
    };
    Ok(Visit {
        meta,
        household: parsed::<HouseholdId, _>(doc, &ROOT, "household")?,
        visited_at: int_field(doc, &ROOT, "visited_at")?,
        notes: opt_str(doc, &ROOT, "notes")?.unwrap_or_default(),
        needs: opt_str(doc, &ROOT, "needs")?.unwrap_or_default(),
        gps,
        follow_up: opt_int(doc, &ROOT, "follow_up")?,
    })
}

fn read_wish<R: ReadDoc>(doc: &R, meta: Meta) -> Result<WishCard, Invalid> {
    let photos = super::photos::read(doc)?
        .into_iter()
        .map(|(photo, _)| photo)
        .collect();
    let events = read_events(doc)?
        .into_iter()
        .map(|(e, _)| e)
        .collect::<Vec<_>>();
    let state = fold(&events);
    Ok(WishCard {
        meta,
        household: parsed::<HouseholdId, _>(doc, &ROOT, "household")?,
        text: opt_str(doc, &ROOT, "text")?.unwrap_or_default(),
        category: parsed(doc, &ROOT, "category")?,
        urgency: parsed(doc, &ROOT, "urgency")?,
        photos,
        events,
        state,
    })
}

/// Reads a wish's events, each with the actor (device) whose change created it.
pub(crate) fn read_events<R: ReadDoc>(
    doc: &R,
) -> Result<Vec<(WishEvent, Option<ActorId>)>, Invalid> {
    let Some(list) = object(doc, &ROOT, "events", ObjType::List)? else {
        return Ok(Vec::new());
    };
    let mut events = Vec::new();
    for item in doc.list_range(&list, ..) {
        if !matches!(item.value, ValueRef::Object(ObjType::Map)) {
            return Err("events holds something that is not an event".to_owned());
        }
        let obj = item.id();
        let creator = match &obj {
            ObjId::Id(_, actor, _) => Some(actor.clone()),
            ObjId::Root => None,
        };
        events.push((read_event(doc, &obj)?, creator));
    }
    Ok(events)
}

fn read_event<R: ReadDoc>(doc: &R, obj: &ObjId) -> Result<WishEvent, Invalid> {
    let rating = opt_int(doc, obj, "rating")?
        .map(|r| u8::try_from(r).map_err(|_| "rating is out of range".to_owned()))
        .transpose()?;
    let counter = int_field(doc, obj, "ctr")?;
    let wall = int_field(doc, obj, "wall")?;
    Ok(WishEvent {
        id: parsed::<EventId, _>(doc, obj, "id")?,
        kind: parsed(doc, obj, "kind")?,
        actor: parsed::<UserId, _>(doc, obj, "actor")?,
        role: parsed(doc, obj, "role")?,
        device: parsed::<DeviceId, _>(doc, obj, "device")?,
        hlc: Hlc {
            wall_ms: wall,
            counter: u32::try_from(counter).map_err(|_| "ctr is out of range".to_owned())?,
        },
        // Written only where it differs from the clock (and not at all by
        // apps from before it existed).
        at: opt_int(doc, obj, "at")?.unwrap_or(wall),
        base: opt_parsed::<EventId, _>(doc, obj, "base")?,
        note: opt_str(doc, obj, "note")?,
        claimant: opt_str(doc, obj, "claimant")?,
        assignee: opt_parsed::<UserId, _>(doc, obj, "assignee")?,
        unit: opt_parsed::<UnitId, _>(doc, obj, "unit")?,
        rating,
        target: opt_parsed::<EventId, _>(doc, obj, "target")?,
        reverse: opt_int(doc, obj, "reverse")?.is_some_and(|r| r != 0),
    })
}

/// Puts a scalar at the root unless it already holds that value (so an
/// unchanged field makes no op and cannot conflict with another phone's edit).
pub(crate) fn put_if_changed<T: Transactable + ReadDoc>(
    tx: &mut T,
    key: &str,
    value: impl Into<ScalarValue>,
) -> Result<(), automerge::AutomergeError> {
    let value = value.into();
    let current = match tx.get(&ROOT, key)? {
        Some((Value::Scalar(v), _)) => Some(v.into_owned()),
        _ => None,
    };
    if current.as_ref() != Some(&value) {
        tx.put(&ROOT, key, value)?;
    }
    Ok(())
}

/// Appends one event map to the `events` list.
pub(crate) fn write_event<T: Transactable + ReadDoc>(
    tx: &mut T,
    event: &WishEvent,
) -> Result<(), automerge::AutomergeError> {
    let list = match tx.get(&ROOT, "events")? {
        Some((Value::Object(ObjType::List), id)) => id,
        _ => tx.put_object(&ROOT, "events", ObjType::List)?,
    };
    let index = tx.length(&list);
    let obj = tx.insert_object(&list, index, ObjType::Map)?;
    tx.put(&obj, "id", event.id.to_string())?;
    tx.put(&obj, "kind", event.kind.as_str())?;
    tx.put(&obj, "actor", event.actor.as_str())?;
    tx.put(&obj, "role", event.role.as_str())?;
    tx.put(&obj, "device", event.device.to_string())?;
    tx.put(&obj, "wall", event.hlc.wall_ms)?;
    tx.put(&obj, "ctr", i64::from(event.hlc.counter))?;
    if event.at != event.hlc.wall_ms {
        tx.put(&obj, "at", event.at)?;
    }
    if let Some(base) = event.base {
        tx.put(&obj, "base", base.to_string())?;
    }
    for (key, value) in [
        ("note", event.note.as_deref()),
        ("claimant", event.claimant.as_deref()),
        ("assignee", event.assignee.as_ref().map(UserId::as_str)),
        ("unit", event.unit.as_ref().map(UnitId::as_str)),
    ] {
        if let Some(value) = value {
            tx.put(&obj, key, value)?;
        }
    }
    if event.reverse {
        tx.put(&obj, "reverse", 1_i64)?;
    }
    if let Some(rating) = event.rating {
        tx.put(&obj, "rating", i64::from(rating))?;
    }
    if let Some(target) = event.target {
        tx.put(&obj, "target", target.to_string())?;
    }
    Ok(())
}
