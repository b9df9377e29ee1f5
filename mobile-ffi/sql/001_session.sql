-- mobile-ffi's own table beside sync-core's schema: the phone's session with
-- its relay. One row at most. Kept in the same (encrypted, when a key is
-- given) database as the records, so the tokens are as safe as the data.
CREATE TABLE IF NOT EXISTS ffi_session (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    -- The relay this phone syncs with; kept after logout so that
    -- pending_changes() still counts against it.
    relay_url         TEXT NOT NULL,
    -- The logged-in user; NULL after logout.
    username          TEXT,
    role              TEXT,
    -- JSON array of scope paths.
    scopes            TEXT,
    access_token      TEXT,
    -- When the access token expires (ms since the epoch).
    access_expires_at INTEGER,
    refresh_token     TEXT
) STRICT;
