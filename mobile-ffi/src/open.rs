//! Opening the phone's database: plain SQLite without a key, SQLCipher with
//! one.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use sync_core::Store;

use crate::error::{DoorstepError, Result};
use crate::session;

/// The length of an encryption key: 256 bits, as SQLCipher's raw keys.
pub const KEY_BYTES: usize = 32;

/// Whether this build links SQLCipher (the `sqlcipher` feature).
pub(crate) fn encryption_available() -> bool {
    Connection::open_in_memory()
        .and_then(|c| cipher_version(&c))
        .is_ok_and(|v| v.is_some())
}

fn cipher_version(conn: &Connection) -> rusqlite::Result<Option<String>> {
    // Plain SQLite ignores unknown pragmas and returns no row.
    conn.query_row("PRAGMA cipher_version", [], |r| r.get(0))
        .optional()
}

/// Opens (creating if needed) the store at `path`, encrypted with `key` if
/// one is given, and makes sure mobile-ffi's own table exists.
pub(crate) fn open(path: &str, key: Option<&[u8]>) -> Result<Store> {
    if path.trim().is_empty() {
        return Err(DoorstepError::InvalidInput(
            "the database path is empty".into(),
        ));
    }
    let conn = Connection::open(Path::new(path))?;
    if let Some(key) = key {
        if key.len() != KEY_BYTES {
            return Err(DoorstepError::InvalidInput(format!(
                "an encryption key is {KEY_BYTES} random bytes (got {}); keep it in the Android Keystore or the iOS Keychain",
                key.len()
            )));
        }
        if cipher_version(&conn)?.is_none() {
            return Err(DoorstepError::Storage(
                "this build of Doorstep cannot encrypt: it was built without SQLCipher (the `sqlcipher` feature of mobile-ffi)"
                    .into(),
            ));
        }
        // A raw key (x'…'), so no key derivation runs at every open.
        conn.pragma_update(None, "key", format!("x'{}'", hex(key)))?;
    }
    // The first read shows whether the key fits (or that a key is missing).
    if let Err(e) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        return Err(match (DoorstepError::from(e), key) {
            (DoorstepError::WrongKey(_), Some(_)) => DoorstepError::WrongKey(format!(
                "the key does not open the database at {path} (or the file is not a Doorstep database)"
            )),
            (DoorstepError::WrongKey(_), None) => DoorstepError::WrongKey(format!(
                "the database at {path} is encrypted (or is not a Doorstep database): open it with its key"
            )),
            (other, _) => other,
        });
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    session::init(&conn)?;
    Ok(Store::from_connection(conn)?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "李秀英";

    fn write_a_name(path: &str, key: Option<&[u8]>) {
        let store = open(path, key).unwrap();
        store
            .connection()
            .execute(
                "INSERT INTO meta (key, value) VALUES ('probe', ?1)",
                [NAME.repeat(50)],
            )
            .unwrap();
        // Move everything from the WAL into the main file.
        store
            .connection()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }

    #[test]
    fn without_a_key_the_store_is_a_plain_sqlite_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.db");
        let path = path.to_str().unwrap();
        write_a_name(path, None);
        let raw = std::fs::read(path).unwrap();
        assert!(raw.starts_with(b"SQLite format 3\0"));
        assert!(raw.windows(NAME.len()).any(|w| w == NAME.as_bytes()));
    }

    #[test]
    fn with_a_key_the_file_is_unreadable_and_the_wrong_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.db");
        let path = path.to_str().unwrap();
        let key = [7u8; KEY_BYTES];
        if !encryption_available() {
            // A build without SQLCipher refuses a key rather than storing
            // the data in the clear.
            assert!(
                matches!(open(path, Some(&key)), Err(DoorstepError::Storage(m)) if m.contains("SQLCipher"))
            );
            return;
        }
        write_a_name(path, Some(&key));
        let raw = std::fs::read(path).unwrap();
        assert!(!raw.starts_with(b"SQLite format 3\0"));
        assert!(!raw.windows(NAME.len()).any(|w| w == NAME.as_bytes()));
        assert!(
            matches!(open(path, Some(&[8u8; KEY_BYTES])), Err(DoorstepError::WrongKey(m)) if m.contains("key does not open"))
        );
        assert!(
            matches!(open(path, None), Err(DoorstepError::WrongKey(m)) if m.contains("is encrypted"))
        );
        let store = open(path, Some(&key)).unwrap();
        let back: String = store
            .connection()
            .query_row("SELECT value FROM meta WHERE key = 'probe'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(back, NAME.repeat(50));
    }

    #[test]
    fn a_key_must_be_32_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        assert!(matches!(
            open(path.to_str().unwrap(), Some(b"short")),
            Err(DoorstepError::InvalidInput(_))
        ));
        assert!(matches!(
            open("", None),
            Err(DoorstepError::InvalidInput(_))
        ));
    }
}
