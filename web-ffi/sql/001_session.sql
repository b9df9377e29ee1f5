-- The field app's session with its relay: who is logged in, and the tokens
-- (JSON). One row; a login replaces it, a logout deletes it. Records and
-- unsent edits live in sync-core's tables and survive both.
CREATE TABLE IF NOT EXISTS field_session (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    session TEXT NOT NULL
);
