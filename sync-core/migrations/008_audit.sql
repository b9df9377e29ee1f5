-- Schema 8: the relay's audit log, and passwords an administrator reset.
--
-- The audit log holds security and administrative events: logins and
-- failed logins, refused token refreshes, exports, revocations, changes to
-- users, restores and changed settings. Rows are only ever added. A phone's
-- copy stays empty.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    -- Who did it: a user name, `cli` for the relay's command line, or NULL
    -- when nobody was identified (a failed login).
    actor  TEXT,
    action TEXT NOT NULL,
    -- What it was done to: a user name, a device id, a file.
    target TEXT,
    -- Anything more, as plain text.
    detail TEXT NOT NULL DEFAULT '',
    -- The client's address, for requests over the network.
    peer   TEXT
) STRICT;
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_action ON audit_log (action, at);

-- A password set by an administrator (a one-time code) is good for one
-- thing: choosing a new password, before `password_expires_at` (ms).
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_expires_at INTEGER;
