-- Schema 2: what the sync engine's storage (sync-core's SyncStorage) needs
-- beyond records and their versions (schema 1 keeps those): the read facts
-- of wish cards, clock corrections, held updates, the feed's epoch and tag
-- secret, and the accounts the engine's directory reads.

-- What the read rule needs of a wish card, from sync-core's fold of its
-- events (NULL for other kinds and for placeholders).
ALTER TABLE records ADD COLUMN status text;
ALTER TABLE records ADD COLUMN holder_user text;
ALTER TABLE records ADD COLUMN holder_unit text;

-- Everyone (a user, a unit, or both) who took a wish card on at some point.
CREATE TABLE wish_takers (
    record_id uuid NOT NULL,
    username  text,
    unit      text
);
CREATE INDEX wish_takers_by_record ON wish_takers (record_id);

-- Times the relay corrected for devices with wrong clocks: an event's id,
-- or `created` for the record's creation.
CREATE TABLE clock_corrections (
    record_id uuid NOT NULL,
    item      text NOT NULL,
    at        bigint NOT NULL,
    offset_ms bigint NOT NULL,
    PRIMARY KEY (record_id, item)
);

-- Pushed updates carrying changes of lost devices, held for a supervisor;
-- the same update (by digest) of a record is held once, as on SQLite. The
-- supervisor's decision columns come with the review that makes them.
CREATE TABLE quarantine (
    record_id   uuid NOT NULL,
    digest      bytea NOT NULL,
    kind        text NOT NULL,
    community   text NOT NULL,
    payload     bytea NOT NULL,
    lost        text NOT NULL,
    carrier     text NOT NULL,
    received_at bigint NOT NULL,
    PRIMARY KEY (record_id, digest)
);

-- The store's identity and its feed's epoch and tag secret: one row, made
-- by whichever relay needs it first, so every relay answers as one store.
CREATE TABLE feed_meta (
    id       smallint PRIMARY KEY CHECK (id = 1),
    store_id uuid NOT NULL,
    epoch    bigint NOT NULL,
    secret   bytea NOT NULL CHECK (length(secret) = 32)
);

-- Accounts as the engine's directory reads them.
CREATE TABLE users (
    username    text PRIMARY KEY,
    role        text NOT NULL,
    unit        text,
    disabled_at bigint,
    created_at  bigint NOT NULL
);
CREATE TABLE user_scopes (
    username text NOT NULL REFERENCES users (username),
    scope    text NOT NULL,
    PRIMARY KEY (username, scope)
);
CREATE TABLE devices (
    id                uuid PRIMARY KEY,
    username          text NOT NULL REFERENCES users (username),
    name              text NOT NULL,
    kind              text NOT NULL,
    public_key        bytea,
    created_at        bigint NOT NULL,
    last_seen         bigint NOT NULL,
    revoked_at        bigint,
    revoke_kind       text,
    clock_offset_ms   bigint,
    pending           bigint,
    oldest_pending_at bigint,
    reported_at       bigint
);
