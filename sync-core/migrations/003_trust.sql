-- Schema 3: changes that certify themselves.
--
-- Every change a device makes is signed with the device's Ed25519 key. A
-- record keeps the signatures of its changes beside its document, packed
-- (72 bytes each: the change hash's first 8 bytes, then the signature) and
-- sorted, so a sync sends them without loading the document.
ALTER TABLE records ADD COLUMN sigs BLOB NOT NULL DEFAULT x'';

-- The public key a device registered at login. A key, once registered,
-- never changes: a new key means a new device.
ALTER TABLE devices ADD COLUMN public_key BLOB;

-- How a device was revoked. 'retired': it may still deliver the changes it
-- made before `revoked_at`. 'lost': nothing is accepted from it directly,
-- and its changes carried by other phones wait for a supervisor.
ALTER TABLE devices ADD COLUMN revoke_kind TEXT CHECK (revoke_kind IN ('retired', 'lost'));
-- Before, a revoked device was cut off entirely: that is a lost one.
UPDATE devices SET revoke_kind = 'lost' WHERE revoked_at IS NOT NULL;

-- When a user was disabled: their devices count as retired from then on.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- A relay can go back in time (restored from a backup). Its feed then has a
-- new epoch (in `meta`), and a phone's position in another epoch means
-- nothing: the phone reconciles. Per peer: the epoch the cursor belongs
-- to, the peer's tag of the cursor, and while reconciling, the feed
-- position to list the peer's records from.
ALTER TABLE peers ADD COLUMN epoch INTEGER;
ALTER TABLE peers ADD COLUMN cursor_tag INTEGER NOT NULL DEFAULT 0;
ALTER TABLE peers ADD COLUMN reconcile_from INTEGER;
