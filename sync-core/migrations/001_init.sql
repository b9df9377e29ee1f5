-- Doorstep store, schema 1. Used by the phone and the relay alike.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- One row per record: its Automerge document (always compacted) and its
-- place in the change feed. `seq` is bumped by every accepted write.
CREATE TABLE records (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    community  TEXT NOT NULL,
    doc        BLOB NOT NULL,
    heads      BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX records_by_seq ON records (seq);
CREATE INDEX records_by_community ON records (community, seq);

-- The heads a record had after each of its recent writes, so a pull can send
-- only the changes a peer lacks since its cursor.
CREATE TABLE record_versions (
    record_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    heads     BLOB NOT NULL,
    PRIMARY KEY (record_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX record_versions_by_seq ON record_versions (seq);

-- Materialized rows: written in the same transaction as the document.
CREATE TABLE households (
    id         TEXT PRIMARY KEY,
    rid        INTEGER NOT NULL UNIQUE, -- the record's rowid, which the search index uses
    community  TEXT NOT NULL,
    address    TEXT NOT NULL,
    head_name  TEXT NOT NULL,
    phone      TEXT NOT NULL,
    members    INTEGER NOT NULL,
    tags       TEXT NOT NULL,
    notes      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX households_by_community ON households (community, address);

CREATE TABLE visits (
    id           TEXT PRIMARY KEY,
    household_id TEXT NOT NULL,
    community    TEXT NOT NULL,
    worker       TEXT NOT NULL,
    visited_at   INTEGER NOT NULL,
    notes        TEXT NOT NULL,
    needs        TEXT NOT NULL,
    follow_up    INTEGER
) STRICT;
CREATE INDEX visits_by_household ON visits (household_id, visited_at);
CREATE INDEX visits_by_community ON visits (community, visited_at);

CREATE TABLE wishes (
    id             TEXT PRIMARY KEY,
    rid            INTEGER NOT NULL UNIQUE, -- the record's rowid, which the search index uses
    household_id   TEXT NOT NULL,
    community      TEXT NOT NULL,
    status         TEXT NOT NULL,
    category       TEXT NOT NULL,
    urgency        TEXT NOT NULL,
    text           TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    submitted_at   INTEGER,
    reviewed_at    INTEGER,
    fulfilled_at   INTEGER,
    confirmed_at   INTEGER,
    claimant       TEXT,
    rating         INTEGER,
    open_conflicts INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX wishes_by_status ON wishes (status, community, updated_at);
CREATE INDEX wishes_by_community ON wishes (community, updated_at);
CREATE INDEX wishes_by_household ON wishes (household_id);
CREATE INDEX wishes_by_category ON wishes (category, urgency, updated_at);

CREATE TABLE conflicts (
    record_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    community  TEXT NOT NULL,
    event_kind TEXT NOT NULL,
    kind       TEXT NOT NULL,
    winner     TEXT,
    status     TEXT NOT NULL,
    resolved   INTEGER NOT NULL,
    PRIMARY KEY (record_id, event_id)
) STRICT;
CREATE INDEX conflicts_by_community ON conflicts (community, resolved);

-- Full-text search. Text is indexed as CJK bigrams plus words (see
-- store/search.rs), so a two-character Chinese word is found through the
-- index. The rowid is the record's rowid in `records`.
CREATE VIRTUAL TABLE search USING fts5 (
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Sync state, per peer (the relay, or another phone).
CREATE TABLE peers (
    peer        TEXT PRIMARY KEY,
    pull_cursor INTEGER NOT NULL DEFAULT 0,
    pull_since  INTEGER NOT NULL DEFAULT 0,
    push_cursor INTEGER NOT NULL DEFAULT 0,
    remote_id   TEXT
) STRICT;

-- The heads both this store and the peer are known to have, per record.
CREATE TABLE peer_heads (
    peer      TEXT NOT NULL,
    record_id TEXT NOT NULL,
    heads     BLOB NOT NULL,
    PRIMARY KEY (peer, record_id)
) STRICT, WITHOUT ROWID;

-- Records a peer refused. The local edit stays, flagged, and is not sent
-- again until the user retries it.
CREATE TABLE rejections (
    peer      TEXT NOT NULL,
    record_id TEXT NOT NULL,
    code      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    heads     BLOB NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (peer, record_id)
) STRICT;

-- Work carried over to the next sync with a peer: records to push again
-- (the peer asked us to retry) or to fetch whole (an incremental update did
-- not apply here).
CREATE TABLE sync_todo (
    peer      TEXT NOT NULL,
    record_id TEXT NOT NULL,
    what      TEXT NOT NULL CHECK (what IN ('push', 'fetch')),
    PRIMARY KEY (peer, record_id, what)
) STRICT, WITHOUT ROWID;
