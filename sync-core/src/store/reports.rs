//! What devices tell the relay at each sync: how much they have not synced
//! yet, and their clock. The relay keeps the latest report per device (for
//! the people who look after devices) and a short log of clock offsets
//! (for correcting the times of work from a device whose clock is wrong).

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::error::Result;
use crate::ids::DeviceId;
use crate::sync::{ClockReading, PendingReport};

/// Clock offsets kept per device.
const OFFSETS_KEPT: i64 = 50;

/// A device's latest report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceReport {
    /// Records with changes the relay had not acknowledged.
    pub pending: Option<u64>,
    /// When the oldest of them was last written (ms).
    pub oldest_pending_at: Option<i64>,
    /// When the device reported (ms, the relay's clock).
    pub reported_at: Option<i64>,
    /// Its clock's offset from the relay's then (ms; positive: ahead).
    pub clock_offset_ms: Option<i64>,
}

impl Store {
    /// Records what a registered device reported in a sync request that
    /// arrived at `now`. Unregistered senders (another phone) are ignored.
    pub(crate) fn record_report(
        &self,
        device: DeviceId,
        pending: Option<PendingReport>,
        clock: Option<ClockReading>,
        now: i64,
    ) -> Result<()> {
        let id = device.to_string();
        let offset = clock.map(|c| c.now_ms.saturating_sub(now));
        let updated = self
            .connection()
            .prepare_cached(
                "UPDATE devices SET pending = ?2, oldest_pending_at = ?3, reported_at = ?4,
                     clock_offset_ms = coalesce(?5, clock_offset_ms), last_seen = ?4
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                pending.map(|p| i64::try_from(p.records).unwrap_or(i64::MAX)),
                pending.and_then(|p| p.oldest_ms),
                now,
                offset
            ])?;
        if updated == 0 {
            return Ok(());
        }
        if let Some(offset) = offset {
            let conn = self.connection();
            conn.prepare_cached(
                "INSERT OR REPLACE INTO device_clock (device_id, at, offset_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, now, offset])?;
            conn.prepare_cached(
                "DELETE FROM device_clock WHERE device_id = ?1 AND at NOT IN
                   (SELECT at FROM device_clock WHERE device_id = ?1 ORDER BY at DESC LIMIT ?2)",
            )?
            .execute(params![id, OFFSETS_KEPT])?;
        }
        Ok(())
    }

    /// A device's latest report, if it is registered.
    pub fn device_report(&self, device: DeviceId) -> Result<Option<DeviceReport>> {
        Ok(self
            .connection()
            .prepare_cached(
                "SELECT pending, oldest_pending_at, reported_at, clock_offset_ms
                   FROM devices WHERE id = ?1",
            )?
            .query_row([device.to_string()], |r| {
                Ok(DeviceReport {
                    pending: r.get::<_, Option<i64>>(0)?.map(|n| n.max(0) as u64),
                    oldest_pending_at: r.get(1)?,
                    reported_at: r.get(2)?,
                    clock_offset_ms: r.get(3)?,
                })
            })
            .optional()?)
    }
}
