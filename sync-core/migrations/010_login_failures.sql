-- Schema 10: failed logins, for the relay's login throttle. One row per
-- wrong password, by subject (a user name as the throttle keys it), kept in
-- the store rather than in a relay's memory so that a restart forgets
-- nothing and every relay over one store counts the same failures. A
-- phone's copy stays empty.
CREATE TABLE login_failures (
    subject TEXT NOT NULL,
    at      INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_by_subject ON login_failures (subject, at);
