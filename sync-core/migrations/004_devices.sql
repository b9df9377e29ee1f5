-- Schema 4: what devices report, and work held for a supervisor.

-- Each sync tells the relay how much the device has not synced yet, and its
-- clock; the relay keeps the latest report per device.
ALTER TABLE devices ADD COLUMN pending INTEGER;
ALTER TABLE devices ADD COLUMN oldest_pending_at INTEGER;
ALTER TABLE devices ADD COLUMN reported_at INTEGER;
-- How far the device's clock was from the relay's at its last sync (ms,
-- positive when ahead), after the correction the device applies itself.
ALTER TABLE devices ADD COLUMN clock_offset_ms INTEGER;

-- Every device's clock offset at each sync, the newest kept (see store/clock.rs).
CREATE TABLE device_clock (
    device_id TEXT NOT NULL,
    at        INTEGER NOT NULL,
    offset_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, at)
) STRICT, WITHOUT ROWID;

-- Records whose pushed changes include a lost device's: held, unapplied,
-- until a supervisor accepts or discards them. `payload` is the update as
-- it was pushed (postcard); the same update pushed again is held once.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    record_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    community   TEXT NOT NULL,
    digest      BLOB NOT NULL,
    payload     BLOB NOT NULL,
    lost        TEXT NOT NULL, -- the lost devices, comma-separated
    carrier     TEXT NOT NULL, -- the device that delivered it
    received_at INTEGER NOT NULL,
    decision    TEXT CHECK (decision IN ('accepted', 'discarded')),
    decided_by  TEXT,
    decided_at  INTEGER,
    UNIQUE (record_id, digest)
) STRICT;
CREATE INDEX quarantine_by_community ON quarantine (community, decision);
