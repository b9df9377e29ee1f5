-- Schema 9: what people wrote on a card's workflow events that took
-- effect (a rejection's or a send-back's reason, a cancellation's, a
-- fulfilment's note, the resident's comment), the latest of each kind, so
-- that an export reads them without loading documents. Cards stored before
-- are materialized again when this migration runs (a hook in store/mod.rs).
CREATE TABLE wish_notes (
    record_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    note      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (record_id, kind)
) STRICT, WITHOUT ROWID;
