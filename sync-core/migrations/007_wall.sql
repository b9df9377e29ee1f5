-- The wish wall, schema 7: display names for places and people, partner
-- units (结对单位) and their members, and who holds a wish: a registered
-- volunteer, a unit, or a claimant named in free text.

-- Display names of districts, streets and communities (园山街道, 西坑社区).
CREATE TABLE places (
    path TEXT PRIMARY KEY,
    name TEXT NOT NULL
) STRICT;

-- An organisation whose members claim wishes for it.
CREATE TABLE units (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN phone TEXT;
ALTER TABLE users ADD COLUMN unit TEXT REFERENCES units (id);

ALTER TABLE wishes ADD COLUMN holder_user TEXT;
ALTER TABLE wishes ADD COLUMN holder_unit TEXT;
ALTER TABLE wishes ADD COLUMN checked_in_at INTEGER;
CREATE INDEX wishes_by_holder ON wishes (holder_user, status);
CREATE INDEX wishes_by_holder_unit ON wishes (holder_unit, status);
-- The last event in fold order: what a page shows the card as of.
ALTER TABLE wishes ADD COLUMN last_event TEXT;
-- Cards stored before are materialized again from their documents (a
-- hook in store/mod.rs, run with schema 8).

-- Who took each wish on at some point, won or lost: they may follow it.
CREATE TABLE wish_takers (
    record_id TEXT NOT NULL,
    user      TEXT,
    unit      TEXT
) STRICT;
CREATE INDEX wish_takers_by_record ON wish_takers (record_id);
CREATE INDEX wish_takers_by_user ON wish_takers (user);
CREATE INDEX wish_takers_by_unit ON wish_takers (unit);
