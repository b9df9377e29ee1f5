-- Accounts, schema 2: users, their scopes, registered devices and refresh
-- tokens. The relay fills these; a phone's copy stays empty.

CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('worker', 'volunteer', 'supervisor', 'admin')),
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE user_scopes (
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    scope    TEXT NOT NULL,
    PRIMARY KEY (username, scope)
) STRICT, WITHOUT ROWID;

-- A device is bound to one user; its id is also its Automerge actor id.
CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT 'phone' CHECK (kind IN ('phone', 'web')),
    created_at INTEGER NOT NULL,
    last_seen  INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX devices_by_user ON devices (username);

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family;
-- each refresh uses one token and issues the next in the family. A token
-- used twice revokes the whole family.
CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_by_device ON refresh_tokens (device_id);
