//! A record's history: for every change, who made it, from which device,
//! when, and which fields went from what to what.

use automerge::{
    Automerge, ChangeHash, ObjId, PatchAction, Prop, ROOT, ReadDoc, ScalarValue, Value,
};
use serde::{Deserialize, Serialize};

use super::{ChangeNote, device_of};
use crate::ids::{DeviceId, EventId, UserId};
use crate::workflow::Role;

/// One field's change within a change.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldChange {
    /// The field, e.g. `text`, `tags.living_alone` or `event`.
    pub field: String,
    /// The value before, if there was one.
    pub from: Option<String>,
    /// The value after, if there is one.
    pub to: Option<String>,
}

/// One Automerge change to a record, as a supervisor reads it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    /// The change's hash, in hex.
    pub change: String,
    /// Who made it, as recorded in the change.
    pub user: Option<UserId>,
    /// In which role.
    pub role: Option<Role>,
    /// On which device (the change's actor).
    pub device: Option<DeviceId>,
    /// When (ms since epoch, the author's clock).
    pub at_ms: i64,
    /// What it changed.
    pub fields: Vec<FieldChange>,
    /// The workflow events it appended.
    pub events: Vec<EventId>,
    /// True for the change that created the record.
    pub creates: bool,
}

pub(super) fn history(doc: &Automerge) -> Vec<HistoryEntry> {
    let mut entries: Vec<HistoryEntry> = doc
        .get_changes(&[])
        .iter()
        .map(|change| {
            let note: Option<ChangeNote> =
                change.message().and_then(|m| serde_json::from_str(m).ok());
            let before = change.deps().to_vec();
            let after = [change.hash()];
            let (fields, events) = field_changes(doc, &before, &after);
            HistoryEntry {
                change: change.hash().to_string(),
                user: note.as_ref().map(|n| n.user.clone()),
                role: note.map(|n| n.role),
                device: device_of(change.actor_id()),
                at_ms: change.timestamp(),
                fields,
                events,
                creates: before.is_empty(),
            }
        })
        .collect();
    // Automerge gives changes in causal order; a stable sort by time keeps
    // that order between changes of the same millisecond (a card created
    // and submitted at once reads creation first).
    entries.sort_by_key(|e| e.at_ms);
    entries
}

fn field_changes(
    doc: &Automerge,
    before: &[ChangeHash],
    after: &[ChangeHash],
) -> (Vec<FieldChange>, Vec<EventId>) {
    let mut out = Vec::new();
    let mut events = Vec::new();
    for patch in doc.diff(before, after) {
        let parent = patch.path.last().map(|(_, prop)| prop_name(prop));
        match patch.action {
            PatchAction::PutMap { key, value, .. } if patch.obj == ROOT => out.push(FieldChange {
                from: doc
                    .get_at(&ROOT, key.as_str(), before)
                    .ok()
                    .flatten()
                    .map(|(v, _)| show(&v)),
                to: Some(show(&value.0)),
                field: key,
            }),
            PatchAction::PutMap { key, .. } if parent.as_deref() == Some("tags") => {
                out.push(FieldChange {
                    field: format!("tags.{key}"),
                    from: None,
                    to: Some("added".to_owned()),
                })
            }
            PatchAction::DeleteMap { key } if parent.as_deref() == Some("tags") => {
                out.push(FieldChange {
                    field: format!("tags.{key}"),
                    from: Some("added".to_owned()),
                    to: None,
                })
            }
            PatchAction::Insert { values, .. } if parent.as_deref() == Some("events") => {
                for (_, obj, _) in values.iter() {
                    if let Ok(Some((Value::Scalar(id), _))) = doc.get_at(obj, "id", after)
                        && let ScalarValue::Str(id) = id.as_ref()
                        && let Ok(id) = id.parse()
                    {
                        events.push(id);
                    }
                    out.push(FieldChange {
                        field: "event".to_owned(),
                        from: None,
                        to: Some(describe_event(doc, obj, after)),
                    });
                }
            }
            PatchAction::Insert { values, .. } if parent.as_deref() == Some("photos") => {
                for (value, obj, _) in values.iter() {
                    // A photo is a map; cards of old wrote its bare hash.
                    let hash = match value {
                        Value::Object(_) => text_at(doc, obj, "sha256", after),
                        scalar => Some(show(scalar)),
                    };
                    out.push(FieldChange {
                        field: "photos".to_owned(),
                        from: None,
                        to: hash,
                    });
                }
            }
            PatchAction::DeleteSeq { index, length } if parent.as_deref() == Some("photos") => {
                let list = &patch.obj;
                for item in doc.list_range_at(list, index..index + length, before) {
                    let hash = match &item.value {
                        automerge::ValueRef::Object(_) => {
                            text_at(doc, &item.id(), "sha256", before)
                        }
                        automerge::ValueRef::Scalar(s) => Some(s.to_string()),
                    };
                    out.push(FieldChange {
                        field: "photos".to_owned(),
                        from: hash,
                        to: None,
                    });
                }
            }
            // Fields set inside a new event are reported with the event itself.
            _ => {}
        }
    }
    (out, events)
}

fn prop_name(prop: &Prop) -> String {
    match prop {
        Prop::Map(key) => key.clone(),
        Prop::Seq(i) => i.to_string(),
    }
}

fn describe_event(doc: &Automerge, obj: &ObjId, at: &[ChangeHash]) -> String {
    let text = |key: &str| match doc.get_at(obj, key, at) {
        Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            other => Some(other.to_string()),
        },
        _ => None,
    };
    let mut out = text("kind").unwrap_or_else(|| "?".to_owned());
    for key in ["claimant", "note", "rating"] {
        if let Some(v) = text(key) {
            out.push_str(&format!(" {key}={v}"));
        }
    }
    out
}

/// A string field of a map as it was at `heads`.
fn text_at(doc: &Automerge, obj: &ObjId, key: &str, heads: &[ChangeHash]) -> Option<String> {
    match doc.get_at(obj, key, heads) {
        Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn show(value: &Value<'_>) -> String {
    match value {
        Value::Scalar(v) => match v.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            other => other.to_string(),
        },
        Value::Object(t) => format!("[{t}]"),
    }
}
