//! What people wrote on a card's workflow, kept beside its row: the
//! reasons of a rejection, a send-back, a cancellation or a withdrawal, the
//! note of a fulfilment and the resident's comment. An export reads them
//! with the card's household address, and loads no document.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::Store;
use crate::error::Result;
use crate::workflow::{EventKind, Note};

/// A card's household address and notes, for an export.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WishExtras {
    /// The address of the card's household, when the household is stored.
    pub address: Option<String>,
    /// The latest note of each kind of event that took effect.
    pub notes: Vec<(EventKind, String)>,
}

impl WishExtras {
    /// The latest note of events of `kind`, or an empty text.
    pub fn note(&self, kind: EventKind) -> &str {
        self.notes
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or("", |(_, text)| text.as_str())
    }
}

/// Replaces the notes of card `id`. Runs in the transaction that stores it.
pub(crate) fn materialize_notes(
    tx: &Connection,
    id: &str,
    notes: &[Note],
    is_new: bool,
) -> Result<()> {
    if !is_new {
        tx.prepare_cached("DELETE FROM wish_notes WHERE record_id = ?1")?
            .execute([id])?;
    }
    for note in notes {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO wish_notes (record_id, kind, note, at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, note.kind.as_str(), note.text, note.at])?;
    }
    Ok(())
}

impl Store {
    /// The household addresses and notes of the cards `ids` (a page of a
    /// list), by card id. Cards not stored are left out.
    pub fn wish_extras(&self, ids: &[String]) -> Result<HashMap<String, WishExtras>> {
        let ids = serde_json::to_string(ids)
            .map_err(|e| crate::error::InvalidInput::new(format!("card ids: {e}"), ""))?;
        let conn = self.connection();
        let mut out: HashMap<String, WishExtras> = conn
            .prepare_cached(
                "SELECT w.id, h.address FROM wishes w
                   LEFT JOIN households h ON h.id = w.household_id
                  WHERE w.id IN (SELECT value FROM json_each(?1))",
            )?
            .query_map([&ids], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    WishExtras {
                        address: r.get(1)?,
                        notes: Vec::new(),
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut notes = conn.prepare_cached(
            "SELECT record_id, kind, note FROM wish_notes
              WHERE record_id IN (SELECT value FROM json_each(?1))
              ORDER BY record_id, at",
        )?;
        let rows = notes.query_map([&ids], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, kind, text) = row?;
            // A kind this version does not know is no note it can label.
            if let (Some(extras), Ok(kind)) = (out.get_mut(&id), kind.parse::<EventKind>()) {
                extras.notes.push((kind, text));
            }
        }
        Ok(out)
    }
}
