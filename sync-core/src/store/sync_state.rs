//! Per-peer sync state: cursors, shared heads, refusals.

use std::fmt;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::{Error, InvalidInput, Result};
use crate::ids::RecordId;

/// The records (`id`, `updated_at`) holding local changes peer `?1` has not
/// acknowledged, refused ones excluded; `?2` is the peer's push cursor.
const PENDING: &str = "SELECT r.id, r.updated_at FROM records r
     LEFT JOIN peer_heads ph ON ph.peer = ?1 AND ph.record_id = r.id
     WHERE r.seq > ?2 AND (ph.heads IS NULL OR ph.heads != r.heads)
       AND NOT EXISTS (SELECT 1 FROM rejections x WHERE x.peer = ?1 AND x.record_id = r.id)
     UNION
     SELECT r.id, r.updated_at FROM sync_todo t
     JOIN records r ON r.id = t.record_id
     LEFT JOIN peer_heads ph ON ph.peer = ?1 AND ph.record_id = r.id
     WHERE t.peer = ?1 AND t.what = 'push'
       AND (ph.heads IS NULL OR ph.heads != r.heads)
       AND NOT EXISTS (SELECT 1 FROM rejections x WHERE x.peer = ?1 AND x.record_id = r.id)";

/// Names a sync peer: the relay (by a name the app chooses, such as its URL)
/// or another phone (by its store id).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PeerId(String);

impl PeerId {
    /// A peer name of 1–200 characters.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidInput> {
        let name = name.into();
        if name.is_empty() || name.len() > 200 {
            Err(InvalidInput::new("a peer name is 1-200 characters", &name))
        } else {
            Ok(Self(name))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where this store is with one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PeerState {
    /// The peer's feed position this store has applied.
    pub(crate) pull_cursor: i64,
    /// The cursor of the last pull that finished paging.
    pub(crate) pull_since: i64,
    /// This store's feed position the peer has acknowledged.
    pub(crate) push_cursor: i64,
    /// The epoch of the peer's feed the cursor belongs to.
    pub(crate) epoch: Option<u64>,
    /// The peer's tag of the cursor.
    pub(crate) cursor_tag: u64,
    /// While reconciling: the peer's feed position to list records after.
    pub(crate) reconcile_from: Option<i64>,
}

/// A local edit the peer refused. It stays in the store, flagged, until the
/// user retries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The record.
    pub record: RecordId,
    /// Why, as a code (see [`crate::sync::RejectCode`]).
    pub code: String,
    /// Why, for a person.
    pub reason: String,
    /// When it was refused (ms).
    pub at: i64,
}

impl Store {
    pub(crate) fn peer_state(&self, peer: &PeerId) -> Result<PeerState> {
        Ok(self
            .connection()
            .query_row(
                "SELECT pull_cursor, push_cursor, pull_since, epoch, cursor_tag, reconcile_from
                 FROM peers WHERE peer = ?1",
                [peer.as_str()],
                |r| {
                    Ok(PeerState {
                        pull_cursor: r.get(0)?,
                        push_cursor: r.get(1)?,
                        pull_since: r.get(2)?,
                        // Stored as SQLite's signed integers, bit for bit.
                        epoch: r.get::<_, Option<i64>>(3)?.map(|e| e as u64),
                        cursor_tag: r.get::<_, i64>(4)? as u64,
                        reconcile_from: r.get(5)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// The peer's feed position this store has applied (0 before the first sync).
    pub fn pull_cursor(&self, peer: &PeerId) -> Result<i64> {
        Ok(self.peer_state(peer)?.pull_cursor)
    }

    /// How many records hold local changes `peer` has not acknowledged,
    /// refused ones excluded.
    pub fn pending_changes(&self, peer: &PeerId) -> Result<u64> {
        Ok(self.pending_summary(peer)?.0)
    }

    /// How many records hold local changes `peer` has not acknowledged
    /// (refused ones excluded), and when the oldest of them was last written.
    pub fn pending_summary(&self, peer: &PeerId) -> Result<(u64, Option<i64>)> {
        let state = self.peer_state(peer)?;
        let (n, oldest): (i64, Option<i64>) = self.connection().query_row(
            &format!("SELECT count(*), min(updated_at) FROM ({PENDING})"),
            params![peer.as_str(), state.push_cursor],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((u64::try_from(n).unwrap_or(0), oldest))
    }

    /// The records holding local changes `peer` has not acknowledged
    /// (refused ones excluded): what an app marks "not synced yet".
    pub fn pending_records(&self, peer: &PeerId) -> Result<Vec<RecordId>> {
        let state = self.peer_state(peer)?;
        let mut stmt = self
            .connection()
            .prepare(&format!("SELECT id FROM ({PENDING}) ORDER BY id"))?;
        let ids = stmt
            .query_map(params![peer.as_str(), state.push_cursor], |r| {
                r.get::<_, String>(0)
            })?
            .map(|id| Ok(id?.parse()?))
            .collect::<Result<Vec<_>>>()?;
        Ok(ids)
    }

    /// Local edits `peer` refused, newest first.
    pub fn rejections(&self, peer: &PeerId) -> Result<Vec<Rejection>> {
        let mut stmt = self.connection().prepare(
            "SELECT record_id, code, reason, at FROM rejections WHERE peer = ?1 ORDER BY at DESC, record_id",
        )?;
        let rows = stmt
            .query_map([peer.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .map(|row| {
                let (id, code, reason, at) = row?;
                Ok(Rejection {
                    record: id.parse()?,
                    code,
                    reason,
                    at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Sends a refused record again at the next sync (after the user fixed
    /// what was wrong, or to try once more).
    pub fn retry_rejected(&mut self, peer: &PeerId, record: RecordId) -> Result<()> {
        let tx = self.conn_mut().transaction()?;
        let n = tx.execute(
            "DELETE FROM rejections WHERE peer = ?1 AND record_id = ?2",
            params![peer.as_str(), record.to_string()],
        )?;
        if n == 0 {
            return Err(Error::NotFound(format!("rejected edit of {record}")));
        }
        tx.execute(
            "INSERT OR IGNORE INTO sync_todo (peer, record_id, what) VALUES (?1, ?2, 'push')",
            params![peer.as_str(), record.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }
}
