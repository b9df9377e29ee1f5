-- Schema 3: everything else the relay keeps, so that every relay over the
-- database answers the dashboard, the API and the CLI alike: the records'
-- materialized rows and search terms, accounts with their passwords, refresh
-- tokens and the audit log, held updates' decisions, place names, partner
-- units, profiles, and the photo index. The tables mirror the SQLite store's
-- (sync-core's migrations), with ids as uuid and times as bigint (ms).

-- ---- materialized rows, written in the record's own write transaction ----

CREATE TABLE households (
    id         uuid PRIMARY KEY,
    community  text NOT NULL,
    address    text NOT NULL,
    head_name  text NOT NULL,
    phone      text NOT NULL,
    members    bigint NOT NULL,
    tags       text NOT NULL,
    notes      text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE INDEX households_by_community ON households (community, address);

CREATE TABLE visits (
    id           uuid PRIMARY KEY,
    household_id uuid NOT NULL,
    community    text NOT NULL,
    worker       text NOT NULL,
    visited_at   bigint NOT NULL,
    notes        text NOT NULL,
    needs        text NOT NULL,
    follow_up    bigint
);
CREATE INDEX visits_by_household ON visits (household_id, visited_at);
CREATE INDEX visits_by_community ON visits (community, visited_at);

CREATE TABLE wishes (
    id             uuid PRIMARY KEY,
    household_id   uuid NOT NULL,
    community      text NOT NULL,
    status         text NOT NULL,
    category       text NOT NULL,
    urgency        text NOT NULL,
    text           text NOT NULL,
    created_by     text NOT NULL,
    created_at     bigint NOT NULL,
    submitted_at   bigint,
    reviewed_at    bigint,
    fulfilled_at   bigint,
    confirmed_at   bigint,
    claimant       text,
    rating         bigint,
    open_conflicts bigint NOT NULL,
    updated_at     bigint NOT NULL,
    holder_user    text,
    holder_unit    text,
    checked_in_at  bigint,
    last_event     text
);
CREATE INDEX wishes_by_status ON wishes (status, community, updated_at);
CREATE INDEX wishes_by_community ON wishes (community, updated_at);
CREATE INDEX wishes_by_household ON wishes (household_id);
CREATE INDEX wishes_by_category ON wishes (category, urgency, updated_at);
CREATE INDEX wishes_by_holder ON wishes (holder_user, status);
CREATE INDEX wishes_by_holder_unit ON wishes (holder_unit, status);

CREATE TABLE conflicts (
    record_id  uuid NOT NULL,
    event_id   text NOT NULL,
    community  text NOT NULL,
    event_kind text NOT NULL,
    kind       text NOT NULL,
    winner     text,
    status     text NOT NULL,
    resolved   boolean NOT NULL,
    PRIMARY KEY (record_id, event_id)
);
CREATE INDEX conflicts_by_community ON conflicts (community, resolved);

-- The reviewer's latest note of each kind on a card (a rejection's reason,
-- what more information is wanted).
CREATE TABLE wish_notes (
    record_id uuid NOT NULL,
    kind      text NOT NULL,
    note      text NOT NULL,
    at        bigint NOT NULL,
    PRIMARY KEY (record_id, kind)
);

-- Full-text search: each record's text as sync-core's search terms (CJK
-- bigrams and words, in text order), matched by array containment through
-- an inverted index, which PostgreSQL (GIN), YugabyteDB and CockroachDB all
-- have; the candidates are then checked term by term for a phrase's order.
-- `initials` holds the first character of every term, for a query of one
-- CJK character (any term starting with it matches).
CREATE TABLE search (
    record_id uuid PRIMARY KEY,
    kind      text NOT NULL,
    community text NOT NULL,
    terms     text[] NOT NULL,
    initials  text[] NOT NULL
);
CREATE INDEX search_by_terms ON search USING gin (terms);
CREATE INDEX search_by_initials ON search USING gin (initials);

-- The photos a wish card refers to, as its document lists them.
CREATE TABLE photo_refs (
    record_id uuid NOT NULL,
    sha256    text NOT NULL,
    community text NOT NULL,
    bytes     bigint NOT NULL,
    width     bigint NOT NULL,
    height    bigint NOT NULL,
    since     bigint NOT NULL,
    PRIMARY KEY (record_id, sha256)
);
CREATE INDEX photo_refs_by_hash ON photo_refs (sha256);

-- ---- photos the relay stores, and those purged ---------------------------

CREATE TABLE stored_photos (
    sha256             text PRIMARY KEY,
    bytes              bigint NOT NULL,
    width              bigint NOT NULL,
    height             bigint NOT NULL,
    thumb_bytes        bigint NOT NULL,
    stored_at          bigint NOT NULL,
    uploaded_by        text NOT NULL,
    unreferenced_since bigint
);
CREATE INDEX stored_photos_unreferenced ON stored_photos (unreferenced_since);

CREATE TABLE purged_photos (
    sha256    text PRIMARY KEY,
    purged_at bigint NOT NULL,
    purged_by text NOT NULL,
    reason    text NOT NULL
);

-- ---- places, partner units ------------------------------------------------

CREATE TABLE places (
    path text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE units (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at bigint NOT NULL
);

-- ---- accounts beyond what the engine's directory reads (schema 2) ---------

ALTER TABLE users ADD COLUMN password_hash text NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN display_name text;
ALTER TABLE users ADD COLUMN phone text;
ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN password_expires_at bigint;
CREATE INDEX devices_by_user ON devices (username);

-- Refresh tokens (by hash) in chains (`family`); dashboard sessions are
-- tokens of a web device.
CREATE TABLE refresh_tokens (
    hash       text PRIMARY KEY,
    family     text NOT NULL,
    device_id  uuid NOT NULL REFERENCES devices (id),
    issued_at  bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at    bigint,
    revoked_at bigint
);
CREATE INDEX refresh_tokens_by_device ON refresh_tokens (device_id);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);

-- Failed logins, by subject (a user name as the login throttle keys it),
-- so that every relay over the database counts the same failures.
CREATE TABLE login_failures (
    subject text NOT NULL,
    at      bigint NOT NULL
);
CREATE INDEX login_failures_by_subject ON login_failures (subject, at);

CREATE TABLE audit_log (
    id     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at     bigint NOT NULL,
    actor  text,
    action text NOT NULL,
    target text,
    detail text NOT NULL DEFAULT '',
    peer   text
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_action ON audit_log (action, at);

-- The history of each device's clock offset, one row per reading that
-- changed it, as the SQLite store keeps it.
CREATE TABLE device_clock (
    device_id uuid NOT NULL,
    at        bigint NOT NULL,
    offset_ms bigint NOT NULL,
    PRIMARY KEY (device_id, at)
);

-- ---- held updates: a number to name them by, and the decision ------------

ALTER TABLE quarantine ADD COLUMN id bigint GENERATED BY DEFAULT AS IDENTITY;
ALTER TABLE quarantine ADD COLUMN decision text CHECK (decision IN ('accepted', 'discarded'));
ALTER TABLE quarantine ADD COLUMN decided_by text;
ALTER TABLE quarantine ADD COLUMN decided_at bigint;
CREATE UNIQUE INDEX quarantine_by_id ON quarantine (id);
CREATE INDEX quarantine_by_community ON quarantine (community, decision);

-- ---- the relay's signing secret ---------------------------------------------

-- What every relay signs access tokens and derives dashboard devices' keys
-- with, unless given one (`jwt_secret`, a key file): made by whichever
-- relay starts first, so that a token from one relay is good at the others.
CREATE TABLE relay_secret (
    id     smallint PRIMARY KEY CHECK (id = 1),
    secret bytea NOT NULL CHECK (length(secret) >= 32)
);
