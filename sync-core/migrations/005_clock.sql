-- Schema 5: times the relay corrected, for work from a device whose clock
-- was off by more than the bound when the work arrived (see store/clock.rs).
-- `item` is an event's id, or 'created' for the record's creation; `at` the
-- corrected time, `offset_ms` the device's offset it corrects.
CREATE TABLE clock_corrections (
    record_id TEXT NOT NULL,
    item      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    offset_ms INTEGER NOT NULL,
    PRIMARY KEY (record_id, item)
) STRICT, WITHOUT ROWID;
