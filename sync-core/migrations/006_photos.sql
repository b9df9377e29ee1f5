-- Schema 6: photos (see src/photo and store/photos.rs).
--
-- photo_refs: which photos each wish card refers to, kept in step with the
-- documents like the other materialized rows, on phones and relay alike.
-- `since` is when this store first saw the reference (kept when the card is
-- written again), for "pending for N days".
CREATE TABLE photo_refs (
    record_id TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    community TEXT NOT NULL,
    bytes     INTEGER NOT NULL,
    width     INTEGER NOT NULL,
    height    INTEGER NOT NULL,
    since     INTEGER NOT NULL,
    PRIMARY KEY (record_id, sha256)
) STRICT, WITHOUT ROWID;
CREATE INDEX photo_refs_by_hash ON photo_refs (sha256);

-- Photo bytes a phone holds. `taken` rows are its own photos, kept until the
-- relay confirms verified bytes (`uploaded_at`); the others were fetched.
-- `data` is the photo, `thumb` its thumbnail, either possibly missing.
-- `wanted` marks a fetch that found the photo pending, to try again.
CREATE TABLE local_photos (
    sha256      TEXT PRIMARY KEY,
    taken       INTEGER NOT NULL,
    data        BLOB,
    thumb       BLOB,
    added_at    INTEGER NOT NULL,
    uploaded_at INTEGER,
    wanted      INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Photos the relay holds verified bytes of (the bytes are files beside the
-- database). `unreferenced_since` is set while no record refers to the
-- photo: cleanup removes it a grace period later.
CREATE TABLE stored_photos (
    sha256             TEXT PRIMARY KEY,
    bytes              INTEGER NOT NULL,
    width              INTEGER NOT NULL,
    height             INTEGER NOT NULL,
    thumb_bytes        INTEGER NOT NULL,
    stored_at          INTEGER NOT NULL,
    uploaded_by        TEXT NOT NULL,
    unreferenced_since INTEGER
) STRICT;
CREATE INDEX stored_photos_unreferenced ON stored_photos (unreferenced_since)
    WHERE unreferenced_since IS NOT NULL;

-- Photos a supervisor purged: never taken again, never served.
CREATE TABLE purged_photos (
    sha256    TEXT PRIMARY KEY,
    purged_at INTEGER NOT NULL,
    purged_by TEXT NOT NULL,
    reason    TEXT NOT NULL
) STRICT;
