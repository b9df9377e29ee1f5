//! A district on two relays at once: one SQLite, one PostgreSQL, both on
//! one clock that moves only when the test says, and phones that sync with
//! each in turn at the same moment, so both relays hold the same records
//! written at the same times.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use doorstep_tests::Phone;
use doorstep_tests::pictures::picture;
use server::error::AppError;
use server::store::postgres::testing::TestDatabase;
use server::store::postgres::{PgEngine, PgOptions};
use server::store::{People, RelayStore};
use sync_core::doc::{Author, EventInput};
use sync_core::keys::DeviceKey;
use sync_core::model::{Category, Urgency, VulnerabilityTag};
use sync_core::store::{Clock, PeerId, Registration};
use sync_core::sync::storage::SyncStorage;
use sync_core::sync::{self, Message, SyncReport};
use sync_core::{
    DeviceId, EventKind, HouseholdId, NewHousehold, NewVisit, NewWish, PhotoRef, Role, ScopePath,
    Status, Store, WishId,
};

pub(crate) const XK: &str = "longgang/yuanshan/xikeng";
pub(crate) const HH: &str = "longgang/yuanshan/hehua";
pub(crate) const SL: &str = "longgang/buji/sanlian";
/// A street whose name starts with another's: no scope of the other holds it.
pub(crate) const BL: &str = "longgang/yuanshanx/beili";
pub(crate) const MIN: i64 = 60_000;
pub(crate) const DAY: i64 = 86_400_000;
const SECRET: &[u8] = b"a relay secret of at least thirty-two bytes";

pub(crate) fn scope(s: &str) -> ScopePath {
    ScopePath::new(s).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The district's time: every clock reads it (a phone's plus its error).
pub(crate) struct Time(Arc<AtomicI64>);

impl Time {
    /// A clock `skew` ms off the district's time.
    fn clock(&self, skew: i64) -> Clock {
        let now = self.0.clone();
        Arc::new(move || now.load(Ordering::SeqCst) + skew)
    }

    /// The district's time now.
    pub(crate) fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The two relays, their phones' peer names, and the supervisor's
/// dashboard device (registered on both).
pub(crate) struct District {
    pub(crate) time: Time,
    pub(crate) sqlite: Store,
    pub(crate) pg: PgEngine,
    db: TestDatabase,
    _dir: tempfile::TempDir,
    web: Option<(Author, DeviceKey)>,
}

impl District {
    /// Both relays, empty; `None` when there is no PostgreSQL to test on.
    pub(crate) fn open(label: &str) -> Option<District> {
        let db = runtime().block_on(TestDatabase::create(label))?;
        let time = Time(Arc::new(AtomicI64::new(1_750_000_000_000)));
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::open(dir.path().join("relay.sqlite"))
            .unwrap()
            .with_clock(time.clock(0));
        let mut options = PgOptions::new(db.config().clone());
        options.pool_size = 4;
        let pg = PgEngine::open(options).unwrap().with_clock(time.clock(0));
        Some(District {
            time,
            sqlite,
            pg,
            db,
            _dir: dir,
            web: None,
        })
    }

    /// Moves the district's time on a minute.
    pub(crate) fn tick(&self) -> i64 {
        self.time.0.fetch_add(MIN, Ordering::SeqCst) + MIN
    }

    /// A phone of `user`, enrolled on both relays, whose clock is `skew` off.
    pub(crate) fn phone(&mut self, user: &str, role: Role, scopes: &[&str], skew: i64) -> Phone {
        let phone = Phone::new(user, role, scopes, self.time.clock(skew));
        let now = self.time.now();
        let registration = Registration {
            device: phone.device(),
            user: &phone.author.user,
            name: "phone",
            kind: "phone",
            key: Some(phone.key),
        };
        let (user, role, scopes) = (&phone.author.user, phone.author.role, &phone.scopes);
        self.sqlite
            .enroll(user, role, scopes, &registration, now)
            .unwrap();
        self.pg
            .enroll(user, role, scopes, &registration, now)
            .unwrap();
        if role == Role::Supervisor && self.web.is_none() {
            // The supervisor's dashboard device, the same on both relays.
            let device = DeviceId::random();
            let key = DeviceKey::derive(SECRET, device);
            let registration = Registration {
                device,
                user,
                name: "dashboard",
                kind: "web",
                key: Some(key.public()),
            };
            self.sqlite
                .enroll(user, role, scopes, &registration, now)
                .unwrap();
            self.pg
                .enroll(user, role, scopes, &registration, now)
                .unwrap();
            let author = Author {
                user: user.clone(),
                role,
                device,
            };
            self.web = Some((author, key));
        }
        phone
    }

    /// Syncs `phone` with both relays at one moment, each seeing the same
    /// request: the phone's clock correction is put back between them.
    pub(crate) fn sync(&mut self, phone: &mut Phone) {
        let skew = phone.store.clock_skew();
        let a = sync_with(&mut self.sqlite, "relay", phone);
        phone.store.set_clock_skew(skew).unwrap();
        let b = sync_with(&mut self.pg, "relay-pg", phone);
        assert!(
            a.rejected.is_empty() && b.rejected.is_empty(),
            "{a:?} {b:?}"
        );
    }

    /// A supervisor's event from the dashboard, on the PostgreSQL relay or
    /// the SQLite one, carried to the other by the supervisor's phone.
    pub(crate) fn relay_event(
        &mut self,
        on_pg: bool,
        courier: &mut Phone,
        wish: WishId,
        input: EventInput,
    ) -> Status {
        self.tick();
        let (author, key) = self.web.clone().expect("a supervisor enrolled");
        let (first, second): (&mut dyn RelayStore, &mut dyn RelayStore) = if on_pg {
            (&mut self.pg, &mut self.sqlite)
        } else {
            (&mut self.sqlite, &mut self.pg)
        };
        let status = first.append_event(&author, &key, wish, &input).unwrap();
        let (first_peer, second_peer) = if on_pg {
            ("relay-pg", "relay")
        } else {
            ("relay", "relay-pg")
        };
        let skew = courier.store.clock_skew();
        sync_with(first, first_peer, courier);
        courier.store.set_clock_skew(skew).unwrap();
        let carried = sync_with(second, second_peer, courier);
        assert!(carried.accepted >= 1, "{carried:?}");
        status
    }

    /// A household made on `phone`, a minute on.
    pub(crate) fn household(
        &mut self,
        phone: &mut Phone,
        address: &str,
        notes: &str,
    ) -> HouseholdId {
        self.tick();
        let community = phone.community();
        phone
            .store
            .create_household(
                &phone.author,
                &community,
                &NewHousehold {
                    address: address.into(),
                    head_name: "李建国".into(),
                    phone: "0755-12345678".into(),
                    members: 2,
                    tags: [VulnerabilityTag::LivingAlone, VulnerabilityTag::LowIncome].into(),
                    notes: notes.into(),
                },
            )
            .unwrap()
    }

    /// A visit made on `phone`, a minute on.
    pub(crate) fn visit(&mut self, phone: &mut Phone, home: HouseholdId, notes: &str, needs: &str) {
        let now = self.tick();
        let author = phone.author.clone();
        phone
            .store
            .record_visit(
                &author,
                &NewVisit {
                    household: home,
                    visited_at: now,
                    notes: notes.into(),
                    needs: needs.into(),
                    gps: None,
                    follow_up: Some(now + 7 * DAY),
                },
            )
            .unwrap();
    }

    /// A draft card made on `phone`, a minute on.
    pub(crate) fn draft(&mut self, phone: &mut Phone, home: HouseholdId, text: &str) -> WishId {
        self.tick();
        let author = phone.author.clone();
        phone
            .store
            .create_wish(
                &author,
                &NewWish {
                    household: home,
                    text: text.into(),
                    category: Category::DailyNecessities,
                    urgency: Urgency::Low,
                    photos: vec![],
                },
            )
            .unwrap()
    }

    /// A card made on `phone` and submitted, a minute on each.
    pub(crate) fn wish(
        &mut self,
        phone: &mut Phone,
        home: HouseholdId,
        text: &str,
        category: Category,
        urgency: Urgency,
    ) -> WishId {
        self.tick();
        let author = phone.author.clone();
        let id = phone
            .store
            .create_wish(
                &author,
                &NewWish {
                    household: home,
                    text: text.into(),
                    category,
                    urgency,
                    photos: vec![],
                },
            )
            .unwrap();
        self.event(phone, id, EventInput::new(EventKind::Submit));
        id
    }

    /// An event appended on `phone`, a minute on.
    pub(crate) fn event(&mut self, phone: &mut Phone, wish: WishId, input: EventInput) {
        self.tick();
        let author = phone.author.clone();
        phone.store.append_event(&author, wish, &input).unwrap();
    }

    /// A photo taken on `phone` for a card, a minute on.
    pub(crate) fn photo(&mut self, phone: &mut Phone, wish: WishId, seed: u32) -> PhotoRef {
        self.tick();
        let author = phone.author.clone();
        phone
            .store
            .add_photo(&author, wish, &picture(64, 48, seed))
            .unwrap()
            .sha256
    }

    /// Names a place on both relays.
    pub(crate) fn name_place(&mut self, path: &str, name: &str) {
        People::set_place_name(&mut self.sqlite, &scope(path), Some(name)).unwrap();
        self.pg_execute(
            "INSERT INTO places (path, name) VALUES ($1, $2)",
            &[&path, &name],
        );
    }

    fn pg_execute(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) {
        let pool = self.db.pool(1);
        runtime().block_on(async {
            pool.get()
                .await
                .unwrap()
                .execute(sql, params)
                .await
                .unwrap();
        });
    }

    fn pg_query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Vec<tokio_postgres::Row> {
        let pool = self.db.pool(1);
        runtime().block_on(async { pool.get().await.unwrap().query(sql, params).await.unwrap() })
    }

    /// Both relays keep the bytes of photo `sha` (its row, as the photo
    /// index writes it when they arrive).
    pub(crate) fn store_photo(&mut self, sha: &PhotoRef) {
        let now = self.time.now();
        self.sqlite
            .connection()
            .execute(
                "INSERT INTO stored_photos
                   (sha256, bytes, width, height, thumb_bytes, stored_at, uploaded_by)
                 VALUES (?1, 100, 64, 48, 10, ?2, 'li')",
                rusqlite::params![sha.as_str(), now],
            )
            .unwrap();
        self.pg_execute(
            "INSERT INTO stored_photos
               (sha256, bytes, width, height, thumb_bytes, stored_at, uploaded_by)
             VALUES ($1, 100, 64, 48, 10, $2, 'li')",
            &[&sha.as_str(), &now],
        );
    }

    /// The photo references on PostgreSQL: card, hash, community, since.
    pub(crate) fn photo_refs_of_pg(&self) -> Vec<(String, String, String, i64, i64, i64, i64)> {
        self.pg_query(
            "SELECT record_id::text, sha256, community, bytes, width, height, since
               FROM photo_refs ORDER BY record_id, sha256",
            &[],
        )
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(6),
                r.get(3),
                r.get(4),
                r.get(5),
            )
        })
        .collect()
    }

    /// Asserts both relays hold the same photo references and stored
    /// photos, and returns each stored photo's `unreferenced_since`.
    pub(crate) fn compare_photos(&self, when: &str) -> BTreeMap<String, Option<i64>> {
        let mut stmt = self
            .sqlite
            .connection()
            .prepare(
                "SELECT record_id, sha256, community, since, bytes, width, height
                   FROM photo_refs ORDER BY record_id, sha256",
            )
            .unwrap();
        let on_sqlite: Vec<(String, String, String, i64, i64, i64, i64)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            on_sqlite,
            self.photo_refs_of_pg(),
            "photo references, {when}"
        );
        let mut stmt = self
            .sqlite
            .connection()
            .prepare("SELECT sha256, unreferenced_since FROM stored_photos")
            .unwrap();
        let stored_sqlite: BTreeMap<String, Option<i64>> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let stored_pg: BTreeMap<String, Option<i64>> = self
            .pg_query("SELECT sha256, unreferenced_since FROM stored_photos", &[])
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(stored_sqlite, stored_pg, "stored photos, {when}");
        stored_pg
    }

    /// Asserts both relays hold every record alike, change for change, at
    /// the same feed position.
    pub(crate) fn same_records(&self) {
        let ids: Vec<String> = self
            .sqlite
            .connection()
            .prepare("SELECT id FROM records")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!ids.is_empty());
        for id in ids {
            let id = id.parse().unwrap();
            let a = SyncStorage::stored(&self.sqlite, id).unwrap().unwrap();
            let b = SyncStorage::stored(&self.pg, id).unwrap().unwrap();
            assert_eq!((a.heads, a.seq), (b.heads, b.seq), "record {id}");
        }
    }
}

/// Syncs `phone` with one relay, through the trait, under peer name `peer`.
fn sync_with(relay: &mut dyn RelayStore, peer: &str, phone: &mut Phone) -> SyncReport {
    let policy = phone.policy();
    let scopes = phone.scopes.clone();
    let peer = PeerId::new(peer).unwrap();
    sync::drive(&mut phone.store, &peer, &scopes, |bytes| {
        let Message::Request(request) = Message::decode(&bytes).unwrap() else {
            panic!("a phone sends requests");
        };
        let response = relay.serve_sync(&policy, &request)?;
        Ok::<_, AppError>(Message::Response(response).encode().unwrap())
    })
    .unwrap()
}
