//! Checks every policy shares, on the document and on the operations of
//! the changes a push adds: the record is the one named; what is fixed at
//! its creation is written once, by the change that creates it; workflow
//! events are append-only and written whole by the device that made them;
//! new text is what a user of this library could have typed.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::legacy::{Key, ObjectId};
use automerge::{ActorId, Change, ObjId, ObjType, ROOT, ReadDoc};

use super::messages::RejectCode;
use super::policy::Refusal;
use crate::doc::RecordDoc;
use crate::ids::RecordId;
use crate::model::Record;

/// The fields fixed when a record is created. A later change to any of
/// them is refused, however it is made: an overwrite, a concurrent write
/// (whether it would win the merge or lose it), a deletion.
pub(crate) const IDENTITY: [&str; 5] = ["id", "kind", "community", "created_at", "created_by"];

/// Runs the shared checks. `before` is the stored record (if any), `after`
/// the record with the update applied, `new_changes` what the update adds.
/// Returns the actor that created the record.
pub(crate) fn check(
    id: RecordId,
    before: Option<&Record>,
    after_doc: &RecordDoc,
    after: &Record,
    new_changes: &[Change],
) -> Result<ActorId, Refusal> {
    if after.meta().id != id {
        return Err(Refusal::new(
            RejectCode::Invalid,
            format!("document is record {}, not {id}", after.meta().id),
        ));
    }
    if let Some(before) = before
        && before.meta() != after.meta()
    {
        return Err(Refusal::new(
            RejectCode::Identity,
            "a change rewrites what is fixed at the record's creation (its id, kind, community, author or creation time)",
        ));
    }
    after
        .check_new_content(before)
        .map_err(|e| Refusal::new(RejectCode::Invalid, e.to_string()))?;
    let creator = creator(after_doc)?;
    let events = event_objects(after_doc);
    for change in new_changes {
        check_ops(change, &events)?;
    }
    if let (Some(Record::Wish(b)), Record::Wish(a)) = (before, after) {
        let after_events: HashMap<_, _> = a.events.iter().map(|e| (e.id, e)).collect();
        for event in &b.events {
            if after_events.get(&event.id) != Some(&event) {
                return Err(Refusal::new(
                    RejectCode::History,
                    format!(
                        "workflow event {} was altered or removed; events are append-only",
                        event.id
                    ),
                ));
            }
        }
    }
    Ok(creator)
}

/// The actor whose change wrote the identity fields: exactly one value each,
/// all from the same device.
fn creator(doc: &RecordDoc) -> Result<ActorId, Refusal> {
    let am = doc.automerge();
    let mut creator: Option<ActorId> = None;
    for key in IDENTITY {
        let values = am.get_all(&ROOT, key).unwrap_or_default();
        let actor = match values.as_slice() {
            [(_, ObjId::Id(_, actor, _))] => actor.clone(),
            [] => {
                return Err(Refusal::new(
                    RejectCode::Invalid,
                    format!("the record has no {key}"),
                ));
            }
            _ => {
                return Err(Refusal::new(
                    RejectCode::Identity,
                    format!("the record's {key} was written twice; it is fixed at creation"),
                ));
            }
        };
        match &creator {
            None => creator = Some(actor),
            Some(c) if *c != actor => {
                return Err(Refusal::new(
                    RejectCode::Identity,
                    format!("the record's {key} was written by another device than its creator"),
                ));
            }
            Some(_) => {}
        }
    }
    creator.ok_or_else(|| Refusal::new(RejectCode::Invalid, "a record without identity"))
}

/// The workflow events' map objects, as (counter, maker).
fn event_objects(doc: &RecordDoc) -> HashSet<(u64, ActorId)> {
    let am = doc.automerge();
    let Ok(Some((automerge::Value::Object(ObjType::List), list))) = am.get(ROOT, "events") else {
        return HashSet::new();
    };
    am.list_range(&list, ..)
        .filter_map(|item| match item.id() {
            ObjId::Id(counter, actor, _) => Some((counter, actor)),
            ObjId::Root => None,
        })
        .collect()
}

/// The operations of one new change: identity fields only in a record's
/// first change, event fields only by the event's maker. (Removing an event
/// shows in the before/after comparison of the events.)
fn check_ops(change: &Change, events: &HashSet<(u64, ActorId)>) -> Result<(), Refusal> {
    // Changes were parsed and verified when they were read, so decoding
    // them cannot fail; a bug in that promise must not take the relay down.
    let expanded = catch_unwind(AssertUnwindSafe(|| change.decode())).map_err(|_| {
        Refusal::new(
            RejectCode::Invalid,
            format!("change {} cannot be decoded", change.hash()),
        )
    })?;
    let first = change.deps().is_empty();
    let author = change.actor_id();
    for op in &expanded.operations {
        match (&op.obj, &op.key) {
            (ObjectId::Root, Key::Map(key)) if !first && IDENTITY.contains(&key.as_str()) => {
                return Err(Refusal::new(
                    RejectCode::Identity,
                    format!(
                        "change {} rewrites the record's {key}, which is fixed at its creation",
                        change.hash()
                    ),
                ));
            }
            (ObjectId::Id(id), _)
                if id.actor() != author && events.contains(&(id.counter(), id.actor().clone())) =>
            {
                return Err(Refusal::new(
                    RejectCode::History,
                    format!(
                        "change {} writes into a workflow event another device made; events are written whole by their maker",
                        change.hash()
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
