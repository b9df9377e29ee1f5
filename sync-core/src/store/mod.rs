//! The SQLite store, shared by the phone and the relay.
//!
//! Each record is one row holding its compacted Automerge document, plus a
//! materialized row of its queryable fields written in the same transaction,
//! so lists, filters, statistics and search never load a document. Every
//! accepted write bumps the store's change-feed sequence number.

mod clock;
mod directory;
mod feed;
mod materialize;
mod names;
mod notes;
mod photos;
mod points;
pub(crate) mod query;
mod reports;
mod search;
mod signing;
mod stats;
mod stored_photos;
mod sync_state;
mod sync_storage;
mod wall;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use automerge::ChangeHash;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rusqlite_migration::{M, Migrations};

pub use clock::Correction;
pub use clock::{CLOCK_BOUND_MS, CorrectedTimes};
pub(crate) use clock::{corrections, write_corrections};
pub(crate) use directory::{CachedDirectory, DeviceCache};
pub use directory::{
    DeviceEntry, Directory, RegisterError, Registration, RevokeKind, Standing, UserEntry,
    device_name, standing_of,
};
pub use feed::Feed;
pub use names::{Profile, Unit, check_phone};
pub use notes::WishExtras;
pub use photos::PhotoUpload;
pub(crate) use photos::requeue_photo_uploads;
pub use points::{Confirmed, Leaderboards, LedgerEntry, Score};
pub use query::{ConflictRow, HouseholdRow, Page, VisitRow, WishFilter, WishRow};
pub use reports::DeviceReport;
pub use search::{QueryPart, query_parts, searchable_text, tokens};
pub use stats::{ScopeStats, StatsReport, StatsRow, StatusCounts, stats_report};
pub use stored_photos::{PendingPhoto, PhotoAccess, PhotoTotals, StoredPhoto};
pub use sync_state::{PeerId, Rejection};
pub use wall::{Delivery, HeldCard, WallCard, reads_wall};

use crate::doc::{Author, EventInput, HistoryEntry, RecordDoc, heads_to_bytes};
use crate::error::{Error, Result};
use crate::ids::{CommunityPath, DeviceId, HouseholdId, RecordId, UserId, VisitId, WishId};
use crate::keys::{DeviceKey, SigSet};
use crate::model::{
    HouseholdPatch, NewHousehold, NewVisit, NewWish, Record, RecordKind, WishPatch,
};
use crate::workflow::{Role, Status};

/// How many recent versions of a record's heads are kept for pulls. A peer
/// whose cursor is older than all of them gets the whole document instead.
const VERSIONS_KEPT: i64 = 8;

static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!("../../migrations/001_init.sql")),
        M::up(include_str!("../../migrations/002_accounts.sql")),
        M::up(include_str!("../../migrations/003_trust.sql")),
        M::up(include_str!("../../migrations/004_devices.sql")),
        M::up(include_str!("../../migrations/005_clock.sql")),
        M::up(include_str!("../../migrations/006_photos.sql")),
        // Schema 7's new columns are filled in by the hook of schema 9,
        // which materializes every card again once its table is there too.
        M::up(include_str!("../../migrations/007_wall.sql")),
        M::up(include_str!("../../migrations/008_audit.sql")),
        M::up_with_hook(
            include_str!("../../migrations/009_notes.sql"),
            |tx: &Transaction<'_>| {
                materialize::rematerialize_wishes(tx)
                    .map_err(|e| rusqlite_migration::HookError::Hook(e.to_string()))
            },
        ),
        M::up(include_str!("../../migrations/010_login_failures.sql")),
    ])
});

/// A source of wall-clock time in milliseconds since the epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    })
}

/// A record as stored: its document and its place in the feed.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// The record's id.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// Its community as stored in the row.
    pub community: String,
    /// The compacted document.
    pub doc: Vec<u8>,
    /// Its heads (32 bytes each).
    pub heads: Vec<u8>,
    /// The feed sequence number of its last write.
    pub seq: i64,
    /// The signatures of its changes, packed (see [`SigSet`]).
    pub sigs: Vec<u8>,
}

/// The Doorstep store over one SQLite database.
pub struct Store {
    conn: Connection,
    clock: Clock,
    id: DeviceId,
    /// Signing keys: this device's (loaded on first use) and any added.
    keys: HashMap<DeviceId, DeviceKey>,
    /// What this device adds to its own clock to match the relay's (ms).
    skew: i64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in a SQLite file, in WAL mode,
    /// and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn)
    }

    /// Opens an existing connection (for instance one with a SQLCipher key
    /// already set) as a store.
    pub fn from_connection(conn: Connection) -> Result<Self> {
        Self::init(conn)
    }

    /// A store in memory, for tests and tools.
    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        MIGRATIONS.to_latest(&mut conn)?;
        let existing: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let id = match existing {
            Some(text) => text.parse()?,
            None => {
                let id = DeviceId::random();
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('store_id', ?1)",
                    [id.to_string()],
                )?;
                id
            }
        };
        let skew = conn
            .query_row("SELECT value FROM meta WHERE key = 'clock_skew'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(Self {
            conn,
            clock: system_clock(),
            id,
            keys: HashMap::new(),
            skew,
        })
    }

    /// Replaces the clock (tests use a fixed or stepping clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// This store's own id: a phone uses it as its device id, and peers
    /// name each other by it.
    pub fn id(&self) -> DeviceId {
        self.id
    }

    /// The time now, by this store's clock, corrected by what the device
    /// learned of its error from the relay.
    pub fn now(&self) -> i64 {
        (self.clock)().saturating_add(self.skew)
    }

    /// The device's own clock, uncorrected (what [`Store::learn_clock`]
    /// wants to know about a request's start).
    pub fn device_clock(&self) -> i64 {
        (self.clock)()
    }

    /// What this store adds to its device's clock to match the relay's, as
    /// learned at the last sync (ms; negative when the device runs ahead).
    pub fn clock_skew(&self) -> i64 {
        self.skew
    }

    /// Sets the correction of this device's clock, e.g. from the relay's
    /// time at login. Kept across restarts.
    pub fn set_clock_skew(&mut self, skew: i64) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('clock_skew', ?1)",
            [skew.to_string()],
        )?;
        self.skew = skew;
        Ok(())
    }

    /// The raw connection, for read-only inspection (tests, backups).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The last sequence number of the change feed.
    pub fn feed_seq(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM records", [], |r| {
                r.get(0)
            })?)
    }

    // ---- records ----------------------------------------------------------

    /// Loads a record's stored row.
    pub fn stored(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        load_stored(&self.conn, id)
    }

    /// Loads a record's document.
    pub fn doc(&self, id: RecordId) -> Result<RecordDoc> {
        let stored = self
            .stored(id)?
            .ok_or_else(|| Error::NotFound(format!("record {id}")))?;
        RecordDoc::load(&stored.doc)
    }

    /// Reads a record.
    pub fn record(&self, id: RecordId) -> Result<Record> {
        self.doc(id)?.read()
    }

    /// A record's history, oldest change first.
    pub fn history(&self, id: RecordId) -> Result<Vec<HistoryEntry>> {
        Ok(self.doc(id)?.history())
    }

    /// Writes a record document: row, feed, versions and materialized rows,
    /// in one transaction, with signatures for the changes it adds that this
    /// store can sign. Returns the new feed sequence number.
    pub fn put_doc(&mut self, id: RecordId, doc: &RecordDoc) -> Result<i64> {
        self.commit(id, doc)
    }

    /// Loads, changes and writes back one record.
    fn edit(
        &mut self,
        id: RecordId,
        f: impl FnOnce(&mut RecordDoc, i64) -> Result<()>,
    ) -> Result<RecordDoc> {
        let mut doc = self.doc(id)?;
        let now = self.now();
        f(&mut doc, now)?;
        self.commit(id, &doc)?;
        Ok(doc)
    }

    // ---- the domain API ---------------------------------------------------

    /// Creates a household in a community.
    pub fn create_household(
        &mut self,
        author: &Author,
        community: &CommunityPath,
        fields: &NewHousehold,
    ) -> Result<HouseholdId> {
        let id = HouseholdId::random();
        let doc = RecordDoc::new_household(author, id.record(), community, fields, self.now())?;
        self.commit(id.record(), &doc)?;
        Ok(id)
    }

    /// Changes some fields of a household.
    pub fn update_household(
        &mut self,
        author: &Author,
        id: HouseholdId,
        patch: &HouseholdPatch,
    ) -> Result<()> {
        self.edit(id.record(), |doc, now| {
            doc.update_household(author, patch, now)
        })?;
        Ok(())
    }

    /// Records a visit to a household (in the household's community).
    pub fn record_visit(&mut self, author: &Author, fields: &NewVisit) -> Result<VisitId> {
        let community = self.community_of(fields.household.record(), RecordKind::Household)?;
        let id = VisitId::random();
        let doc = RecordDoc::new_visit(author, id.record(), &community, fields, self.now())?;
        self.commit(id.record(), &doc)?;
        Ok(id)
    }

    /// Creates a draft wish card for a household (in the household's community).
    pub fn create_wish(&mut self, author: &Author, fields: &NewWish) -> Result<WishId> {
        let community = self.community_of(fields.household.record(), RecordKind::Household)?;
        let id = WishId::random();
        let doc = RecordDoc::new_wish(author, id.record(), &community, fields, self.now())?;
        self.commit(id.record(), &doc)?;
        Ok(id)
    }

    /// Edits a wish card's content.
    pub fn update_wish(&mut self, author: &Author, id: WishId, patch: &WishPatch) -> Result<()> {
        self.edit(id.record(), |doc, now| doc.update_wish(author, patch, now))?;
        Ok(())
    }

    /// Appends a workflow event to a wish card and returns its new status.
    pub fn append_event(
        &mut self,
        author: &Author,
        id: WishId,
        input: &EventInput,
    ) -> Result<Status> {
        let mut status = Status::Draft;
        self.edit(id.record(), |doc, now| {
            status = doc.append_event(author, input, now)?;
            Ok(())
        })?;
        Ok(status)
    }

    /// Says whether [`Store::append_event`] would take `input` from a user
    /// of `role`, without writing anything: for a caller that must do
    /// something first (register the device it writes from) only if the
    /// event goes through. The device plays no part in the rules.
    pub fn check_event(
        &self,
        user: &UserId,
        role: Role,
        id: WishId,
        input: &EventInput,
    ) -> Result<()> {
        let author = Author {
            user: user.clone(),
            role,
            device: DeviceId::random(),
        };
        self.doc(id.record())?
            .check_event(&author, input, self.now())
    }

    fn community_of(&self, id: RecordId, kind: RecordKind) -> Result<CommunityPath> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT kind, community FROM records WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((k, community)) if k == kind.as_str() => Ok(CommunityPath::new(community)?),
            _ => Err(Error::NotFound(format!("{kind} {id}"))),
        }
    }
}

pub(crate) fn check_id(id: RecordId, record: &Record) -> Result<()> {
    if record.meta().id == id {
        Ok(())
    } else {
        Err(Error::CorruptRecord {
            id: id.to_string(),
            reason: format!("document says it is record {}", record.meta().id),
        })
    }
}

pub(crate) fn load_stored(conn: &Connection, id: RecordId) -> Result<Option<StoredRecord>> {
    let row = conn
        .prepare_cached("SELECT kind, community, doc, heads, seq, sigs FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Vec<u8>>(5)?,
            ))
        })
        .optional()?;
    row.map(|(kind, community, doc, heads, seq, sigs)| {
        Ok(StoredRecord {
            id,
            kind: kind.parse()?,
            community,
            doc,
            heads,
            seq,
            sigs,
        })
    })
    .transpose()
}

/// Writes one record inside a transaction: bumps the feed, stores the
/// document and its changes' signatures, logs its heads and refreshes the
/// materialized rows. `is_new` (the store had no such record) spares
/// clearing rows that cannot exist.
pub(crate) fn write_record(
    tx: &Connection,
    record: &Record,
    bytes: &[u8],
    heads: &[ChangeHash],
    sigs: &SigSet,
    is_new: bool,
    now: i64,
) -> Result<i64> {
    // The feed's next position: above every position ever handed out, as
    // the version log always keeps each record's latest. (Not a counter row
    // updated with RETURNING: its savepoint makes FTS5 flush on every write.)
    let seq: i64 = tx
        .prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM record_versions")?
        .query_row([], |r| r.get(0))?;
    let meta = record.meta();
    let id = meta.id.to_string();
    let heads = heads_to_bytes(heads);
    tx.prepare_cached(
        "INSERT INTO records (id, kind, community, doc, heads, seq, updated_at, sigs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET community = excluded.community, doc = excluded.doc,
             heads = excluded.heads, seq = excluded.seq, updated_at = excluded.updated_at,
             sigs = excluded.sigs",
    )?
    .execute(params![
        id,
        meta.kind.as_str(),
        meta.community.as_str(),
        bytes,
        heads,
        seq,
        now,
        sigs.to_blob()
    ])?;
    tx.prepare_cached("INSERT INTO record_versions (record_id, seq, heads) VALUES (?1, ?2, ?3)")?
        .execute(params![id, seq, heads])?;
    tx.prepare_cached(
        "DELETE FROM record_versions WHERE record_id = ?1
           AND seq NOT IN (SELECT seq FROM record_versions WHERE record_id = ?1 ORDER BY seq DESC LIMIT ?2)",
    )?
    .execute(params![id, VERSIONS_KEPT])?;
    materialize::materialize(tx, record, is_new, now)?;
    Ok(seq)
}
