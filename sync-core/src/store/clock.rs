//! Honest time on the relay. Phones correct their own clocks by the relay's
//! at each sync, but work made before a phone learned its error (its first
//! sync, or after its clock jumped offline) carries wrong times. Each sync
//! request carries the phone's clock, so the relay knows how far off it is;
//! when a record arrives with events (or is created) by a device whose
//! clock is off by more than [`CLOCK_BOUND_MS`], the relay keeps corrected
//! times for them, once, as they arrive. Statistics, the timeline and the
//! times people read use the corrected times; the documents keep what the
//! phones wrote, and the order of events (which decides races) is the same
//! on every replica, corrections or not (see `workflow::fold`).

use std::collections::HashMap;

use crate::sync::storage::SyncStorage;
use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use crate::error::Result;
use crate::ids::{DeviceId, EventId, RecordId};
use crate::model::Record;
use crate::sync::ClockReading;
use crate::workflow::WishEvent;

/// Clock offsets beyond this are a wrong clock: flagged, and corrected.
pub const CLOCK_BOUND_MS: i64 = 5 * 60 * 1000;
/// The key of a record's creation time among its corrections.
const CREATED: &str = "created";

/// A corrected time of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correction {
    /// An event's id, or `created` for the record's creation.
    pub item: String,
    /// The corrected time (ms).
    pub at: i64,
    /// The offset it corrects (ms).
    pub offset: i64,
}

impl Store {
    /// Records a registered device's clock, as a request arriving at `now`
    /// shows it. Another phone (unregistered) is ignored.
    pub(crate) fn record_clock(
        &self,
        device: DeviceId,
        clock: Option<ClockReading>,
        now: i64,
    ) -> Result<()> {
        let Some(clock) = clock else { return Ok(()) };
        let id = device.to_string();
        let offset = clock.now_ms.saturating_sub(now);
        let conn = self.connection();
        let updated = conn
            .prepare_cached("UPDATE devices SET clock_offset_ms = ?2 WHERE id = ?1")?
            .execute(params![id, offset])?;
        if updated > 0 {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO device_clock (device_id, at, offset_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, now, offset])?;
            conn.prepare_cached(
                "DELETE FROM device_clock WHERE device_id = ?1 AND at NOT IN
                   (SELECT at FROM device_clock WHERE device_id = ?1 ORDER BY at DESC LIMIT 50)",
            )?
            .execute([&id])?;
        }
        Ok(())
    }

    /// A device's clock offset at its last sync (ms; positive: ahead).
    pub(crate) fn clock_offset(&self, device: DeviceId) -> Result<Option<i64>> {
        Ok(self
            .connection()
            .prepare_cached("SELECT clock_offset_ms FROM devices WHERE id = ?1")?
            .query_row([device.to_string()], |r| r.get(0))
            .optional()?
            .flatten())
    }
}

/// The corrected times of what `record` brings that is new (`new_events`,
/// and its creation when `creator`, the device that created it, is
/// given), arriving at `now`: shifted by its device's offset when that
/// is beyond the bound, and never later than its arrival by more than
/// the bound. The rule for devices with wrong clocks, over the offsets
/// any store keeps.
pub(crate) fn corrections(
    storage: &dyn SyncStorage,
    record: &Record,
    new_events: &[&WishEvent],
    creator: Option<DeviceId>,
    now: i64,
) -> Result<Vec<Correction>> {
    let mut offsets: HashMap<DeviceId, i64> = HashMap::new();
    let mut offset_of = |device: DeviceId| -> Result<i64> {
        if let Some(o) = offsets.get(&device) {
            return Ok(*o);
        }
        let o = storage
            .clock_offset(device)?
            .filter(|o| o.abs() > CLOCK_BOUND_MS)
            .unwrap_or(0);
        offsets.insert(device, o);
        Ok(o)
    };
    let mut out = Vec::new();
    let mut push = |item: String, at: i64, offset: i64| {
        // Beyond the bound in the future even so (a device whose error
        // is not known yet): it happened by the time it arrived.
        let fixed = at.saturating_sub(offset);
        let fixed = if fixed > now + CLOCK_BOUND_MS {
            now
        } else {
            fixed
        };
        if fixed != at {
            out.push(Correction {
                item,
                at: fixed,
                offset,
            });
        }
    };
    for event in new_events {
        push(event.id.to_string(), event.at, offset_of(event.device)?);
    }
    if let Some(device) = creator {
        push(
            CREATED.to_owned(),
            record.meta().created_at,
            offset_of(device)?,
        );
    }
    Ok(out)
}

/// Keeps a record's corrected times (inside the transaction that stores it).
pub(crate) fn write_corrections(
    tx: &Connection,
    record: RecordId,
    corrections: &[Correction],
) -> Result<()> {
    for c in corrections {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO clock_corrections (record_id, item, at, offset_ms)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![record.to_string(), c.item, c.at, c.offset])?;
    }
    Ok(())
}

/// A record's corrected times: its events' (by event id) and its creation's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorrectedTimes {
    /// Event id → (corrected time, the offset corrected).
    events: HashMap<String, (i64, i64)>,
    created: Option<(i64, i64)>,
}

impl CorrectedTimes {
    /// The time of `event`, corrected where the relay corrected it.
    pub fn event(&self, event: &WishEvent) -> i64 {
        self.corrected(&event.id).map_or(event.at, |(at, _)| at)
    }

    /// The corrected time of an event and the clock offset it corrects, if
    /// it was corrected.
    pub fn corrected(&self, event: &EventId) -> Option<(i64, i64)> {
        self.events.get(&event.to_string()).copied()
    }

    /// The record's creation time, corrected where the relay corrected it.
    pub fn created(&self, created_at: i64) -> i64 {
        self.created.map_or(created_at, |(at, _)| at)
    }

    /// The corrected creation time and the offset it corrects, if corrected.
    pub fn created_correction(&self) -> Option<(i64, i64)> {
        self.created
    }

    /// The corrected times of `corrections` (all a record has), as any
    /// store keeps them.
    pub fn from_corrections<'a>(corrections: impl IntoIterator<Item = &'a Correction>) -> Self {
        let mut times = CorrectedTimes::default();
        for c in corrections {
            if c.item == CREATED {
                times.created = Some((c.at, c.offset));
            } else {
                times.events.insert(c.item.clone(), (c.at, c.offset));
            }
        }
        times
    }

    /// True when nothing was corrected.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.created.is_none()
    }
}

/// The corrected times kept for `record`.
pub(crate) fn corrected_times(conn: &Connection, record: RecordId) -> Result<CorrectedTimes> {
    let mut stmt = conn
        .prepare_cached("SELECT item, at, offset_ms FROM clock_corrections WHERE record_id = ?1")?;
    let kept = stmt
        .query_map([record.to_string()], |r| {
            Ok(Correction {
                item: r.get(0)?,
                at: r.get(1)?,
                offset: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(CorrectedTimes::from_corrections(&kept))
}

impl Store {
    /// The times the relay corrected for `record` (none on a phone).
    pub fn corrected_times(&self, record: RecordId) -> Result<CorrectedTimes> {
        corrected_times(self.connection(), record)
    }
}
