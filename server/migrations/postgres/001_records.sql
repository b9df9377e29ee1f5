-- Doorstep's relay store on PostgreSQL, schema 1: records and their feed.
--
-- Kept within what YugabyteDB and CockroachDB also accept: no extensions,
-- no triggers, no sequences (see feed_counter), no collation-dependent
-- comparisons (scopes match by equality on the three path columns).

-- One row per record: its Automerge document (compacted), its heads and
-- change signatures, and its place in the feed. `seq` moves to the feed's
-- head on every write of the record, so the feed read in `seq` order is the
-- latest state of each record changed after a position.
--
-- A row whose `seq` is NULL is a placeholder: `lock_record` inserts one to
-- have a row to lock for an id that is not stored yet. Readers skip it, and
-- a write transaction that rolls back takes it away again.
CREATE TABLE records (
    id         uuid PRIMARY KEY,
    district   text,
    street     text,
    community  text,
    kind       text,
    doc        bytea,
    heads      bytea,
    sigs       bytea,
    seq        bigint UNIQUE,
    updated_at bigint,
    CONSTRAINT records_whole_or_placeholder CHECK (
        (seq IS NULL AND doc IS NULL)
        OR (seq IS NOT NULL AND district IS NOT NULL AND street IS NOT NULL
            AND community IS NOT NULL AND kind IS NOT NULL AND doc IS NOT NULL
            AND heads IS NOT NULL AND sigs IS NOT NULL AND updated_at IS NOT NULL)
    )
);
CREATE INDEX records_by_community ON records (community, seq);
CREATE INDEX records_by_street ON records (street, seq);
CREATE INDEX records_by_district ON records (district, seq);

-- Every write's feed position and the record's heads after it: the log the
-- feed positions are handed out in (gapless: 1, 2, 3, …), and what a pull
-- needs to send only the changes a phone lacks since its cursor.
CREATE TABLE record_versions (
    seq       bigint PRIMARY KEY,
    record_id uuid NOT NULL,
    heads     bytea NOT NULL
);
CREATE INDEX record_versions_by_record ON record_versions (record_id, seq);

-- The feed's head: the last position handed out. A write transaction takes
-- the next one as its last statement, so the row lock orders the writers'
-- commits in the order of their positions (a sequence would not: a
-- transaction that took N-1 could commit after N).
CREATE TABLE feed_counter (
    id  smallint PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
);
INSERT INTO feed_counter (id, seq) VALUES (1, 0);
