//! What devices tell the relay at each sync: how much they have not synced
//! yet, and their clock (see `clock`). The relay keeps the latest report
//! per device, for the people who look after devices.

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::error::Result;
use crate::ids::DeviceId;
use crate::sync::PendingReport;

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
    /// Records a registered device's unsynced work, as it will be once the
    /// sync that arrived at `now` is answered. Another phone is ignored.
    pub(crate) fn record_pending(
        &self,
        device: DeviceId,
        pending: Option<PendingReport>,
        now: i64,
    ) -> Result<()> {
        self.connection()
            .prepare_cached(
                "UPDATE devices SET pending = ?2, oldest_pending_at = ?3, reported_at = ?4,
                     last_seen = ?4
                 WHERE id = ?1",
            )?
            .execute(params![
                device.to_string(),
                pending.map(|p| i64::try_from(p.records).unwrap_or(i64::MAX)),
                pending.and_then(|p| p.oldest_ms),
                now
            ])?;
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
