//! `doorstep demo`: a demo district made the way real data is made — by
//! simulated phones working offline and syncing through the real engine,
//! and supervisors acting through the relay.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sync_core::doc::EventInput;
use sync_core::model::{Category, Gps, Urgency, VulnerabilityTag};
use sync_core::store::{Clock, PeerId};
use sync_core::sync::{self, RejectCode, RelayPolicy};
use sync_core::{
    Author, CommunityPath, EventKind, HouseholdId, NewHousehold, NewVisit, NewWish, Role,
    ScopePath, Status, Store, UserId, WishId,
};

use crate::accounts;
use crate::auth::Keys;
use crate::error::{AppError, AppResult};
use crate::store::RelayStore;

mod devices;
mod photos;
mod wall;
mod welcome;

pub use welcome::print_welcome;

/// Every demo user's password.
pub const DEMO_PASSWORD: &str = "doorstep-demo";

const DAY: i64 = 86_400_000;
const HOUSEHOLDS_PER_COMMUNITY: usize = 84;
const WISHES_PER_COMMUNITY: usize = 134;

/// Streets and communities of the demo district `longgang`.
/// A street: its path segment, its name and its two communities.
type Street = (
    &'static str,
    &'static str,
    [(&'static str, &'static str); 2],
);

const STREETS: &[Street] = &[
    (
        "yuanshan",
        "园山街道",
        [("xikeng", "西坑社区"), ("hehua", "荷花社区")],
    ),
    (
        "buji",
        "布吉街道",
        [("sanlian", "三联社区"), ("nanling", "南岭社区")],
    ),
    (
        "bantian",
        "坂田街道",
        [("wuhe", "五和社区"), ("gangtou", "岗头社区")],
    ),
];

/// One worker per community, in the order of [`STREETS`].
const WORKERS: &[&str] = &["wang", "zhao", "sun", "qian", "li", "zheng"];
const STREET_SUPERVISORS: &[&str] = &["liu", "zhou", "wu"];
const VOLUNTEERS: &[&str] = &["hu", "ma"];

const WISHES: &[(&str, Category)] = &[
    (
        "希望给独居的老人配一台轮椅，方便去社区医院复诊",
        Category::MobilityAid,
    ),
    ("家里的助行器坏了，想换一个新的", Category::MobilityAid),
    ("老人听力下降，希望配一副助听器", Category::MobilityAid),
    ("厨房水管漏水，希望有人帮忙修理", Category::HomeRepair),
    ("卫生间需要安装扶手，防止老人滑倒", Category::HomeRepair),
    ("屋顶下雨天漏水，希望帮忙修补", Category::HomeRepair),
    ("巷口的路灯坏了，晚上出门看不见路", Category::PublicFacility),
    ("楼道没有扶手，老人上下楼不方便", Category::PublicFacility),
    ("希望在小区门口修一条无障碍坡道", Category::PublicFacility),
    ("冬天快到了，想要一床厚棉被", Category::DailyNecessities),
    (
        "希望得到一些米面油，帮助度过难关",
        Category::DailyNecessities,
    ),
    ("孩子想要一双新运动鞋", Category::DailyNecessities),
    ("希望有医生上门做一次体检", Category::Medical),
    ("需要帮忙预约医院的康复治疗", Category::Medical),
    ("孩子想要一张书桌和台灯", Category::Education),
    ("希望有志愿者辅导孩子的数学作业", Category::Education),
    ("留守儿童想要一套课外书", Category::Education),
    ("独居老人希望每周有人来陪他聊聊天", Category::Companionship),
    (
        "想学会用智能手机和在外地的子女视频",
        Category::Companionship,
    ),
    (
        "Would like help filling in the allowance application",
        Category::Other,
    ),
];

const SURNAMES: &[&str] = &[
    "李", "王", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "桂兰", "志强", "玉珍", "德明", "淑芬", "国华", "小明", "丽娟", "海峰", "文静",
];

/// A small deterministic generator, so every demo database is the same.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("demo: {e}"))
}

fn scope(path: &str) -> AppResult<ScopePath> {
    ScopePath::new(path).map_err(err)
}

/// A phone of the demo: an in-memory store and the user on it.
struct Phone {
    store: Store,
    author: Author,
    scopes: Vec<ScopePath>,
}

impl Phone {
    /// A new user, with their first phone.
    fn new(
        relay: &mut Store,
        name: &str,
        role: Role,
        scopes: &[&str],
        clock: &Clock,
    ) -> AppResult<Self> {
        let user = UserId::new(name).map_err(err)?;
        let scopes = scopes
            .iter()
            .map(|s| scope(s))
            .collect::<AppResult<Vec<_>>>()?;
        let now = relay.now();
        accounts::add_user(relay, &user, role, &scopes, DEMO_PASSWORD, now)?;
        Self::register(relay, user, role, scopes, &format!("{name}'s phone"), clock)
    }

    /// Another phone of the same user, named `name`, on `clock`.
    fn another(&self, relay: &mut Store, name: &str, clock: &Clock) -> AppResult<Self> {
        let user = self.author.user.clone();
        Self::register(
            relay,
            user,
            self.author.role,
            self.scopes.clone(),
            name,
            clock,
        )
    }

    fn register(
        relay: &mut Store,
        user: UserId,
        role: Role,
        scopes: Vec<ScopePath>,
        name: &str,
        clock: &Clock,
    ) -> AppResult<Self> {
        let mut store = Store::open_in_memory()
            .map_err(err)?
            .with_clock(clock.clone());
        let key = store.public_key().map_err(err)?;
        let author = Author {
            user,
            role,
            device: store.id(),
        };
        let now = relay.now();
        relay.register_device(&author.user, author.device, name, "phone", Some(key), now)?;
        Ok(Self {
            store,
            author,
            scopes,
        })
    }

    /// Syncs with the relay until nothing is left. Records the relay holds
    /// for a supervisor (a lost phone's work) are not the demo's mistake;
    /// any other refusal is.
    fn sync(&mut self, relay: &mut Store) -> AppResult<()> {
        let reader = sync_core::workflow::Reader {
            user: self.author.user.clone(),
            role: self.author.role,
            unit: None,
        };
        let policy = RelayPolicy::new(self.author.device, self.scopes.clone()).with_reader(reader);
        let peer = PeerId::new("relay").map_err(err)?;
        let report = sync::drive(&mut self.store, &peer, &self.scopes, |request| {
            sync::serve(relay, &policy, &request)
        })
        .map_err(err)?;
        let refused: Vec<_> = report
            .rejected
            .iter()
            .filter(|r| r.code != RejectCode::Quarantine)
            .collect();
        if !refused.is_empty() {
            return Err(err(format!(
                "{} records refused: {refused:?}",
                refused.len()
            )));
        }
        Ok(())
    }

    fn event(&mut self, id: WishId, input: EventInput) -> bool {
        self.store.append_event(&self.author, id, &input).is_ok()
    }
}

/// A supervisor acting through the relay, as the dashboard does.
fn supervise(
    relay: &mut Store,
    keys: &Keys,
    name: &str,
    id: WishId,
    input: EventInput,
) -> AppResult<bool> {
    let user = UserId::new(name).map_err(err)?;
    let now = relay.now();
    let device = relay.web_device(&user, &keys.device_secret(), now)?;
    let author = Author {
        user,
        role: Role::Supervisor,
        device,
    };
    let key = keys.web_device_key(device);
    Ok(RelayStore::append_event(relay, &author, &key, id, &input).is_ok())
}

/// Seeds the demo district into `db` unless it already has users; the
/// supervisors' actions are signed with web device keys from `keys`.
/// Returns whether it seeded.
pub fn seed_if_empty(db: &Path, keys: &Keys) -> AppResult<bool> {
    let store = Store::open(db)
        .map_err(|e| AppError::Internal(format!("cannot open {}: {e}", db.display())))?;
    if !store.list_users()?.is_empty() {
        return Ok(false);
    }
    let start = crate::state::now_ms() - 60 * DAY;
    let now = Arc::new(AtomicI64::new(start));
    let ticking = now.clone();
    let clock: Clock = Arc::new(move || ticking.fetch_add(10, Ordering::SeqCst));
    let mut relay = store.with_clock(clock.clone());
    let advance = |hours: i64| now.fetch_add(hours * DAY / 24, Ordering::SeqCst);
    let folder = crate::photos::backup::folder_beside(db);
    let photos = crate::photos::FolderStorage::open(&folder)
        .map_err(|e| crate::photos::backup::io_error(&folder, e))?;
    seed(&mut relay, keys, &photos, &clock, advance)?;
    Ok(true)
}

/// `advance(hours)` moves the demo clock forward, so that the figures
/// (days from submission to fulfilment) look like a real district's.
fn seed(
    relay: &mut Store,
    keys: &Keys,
    photo_folder: &crate::photos::FolderStorage,
    clock: &Clock,
    advance: impl Fn(i64) -> i64,
) -> AppResult<()> {
    let mut dice = Dice(0x5EED_D00D_CAFE_F00D);
    let now = relay.now();
    for (name, role, scopes) in [
        ("admin", Role::Admin, vec!["longgang"]),
        ("chen", Role::Supervisor, vec!["longgang"]),
    ] {
        let scopes = scopes
            .into_iter()
            .map(scope)
            .collect::<AppResult<Vec<_>>>()?;
        accounts::add_user(
            relay,
            &UserId::new(name).map_err(err)?,
            role,
            &scopes,
            DEMO_PASSWORD,
            now,
        )?;
    }
    for (i, (street, _, _)) in STREETS.iter().enumerate() {
        let scopes = [scope(&format!("longgang/{street}"))?];
        accounts::add_user(
            relay,
            &UserId::new(STREET_SUPERVISORS[i]).map_err(err)?,
            Role::Supervisor,
            &scopes,
            DEMO_PASSWORD,
            now,
        )?;
    }
    let mut volunteers = VOLUNTEERS
        .iter()
        .map(|v| Phone::new(relay, v, Role::Volunteer, &["longgang"], clock))
        .collect::<AppResult<Vec<_>>>()?;
    let mut members = wall::unit_members(relay, clock)?;

    let communities: Vec<(usize, &str, &str, &str)> = STREETS
        .iter()
        .enumerate()
        .flat_map(|(s, (street, _, cs))| cs.iter().map(move |(c, label)| (s, *street, *c, *label)))
        .collect();
    let mut workers = Vec::new();
    // The first community's first household, where the lost phone's last
    // visit is (see devices.rs).
    let mut first_home = None;
    let mut wishes: Vec<(usize, WishId)> = Vec::new();
    for (n, (street_index, street, community, label)) in communities.iter().enumerate() {
        let path = format!("longgang/{street}/{community}");
        let mut phone = Phone::new(relay, WORKERS[n], Role::Worker, &[&path], clock)?;
        let community_path = CommunityPath::new(&path).map_err(err)?;
        let mut homes: Vec<HouseholdId> = Vec::new();
        for h in 0..HOUSEHOLDS_PER_COMMUNITY {
            let mut tags = std::collections::BTreeSet::new();
            for tag in VulnerabilityTag::ALL {
                if dice.below(4) == 0 {
                    tags.insert(*tag);
                }
            }
            let name = format!("{}{}", dice.pick(SURNAMES), dice.pick(GIVEN));
            let fields = NewHousehold {
                address: format!("{label}{}巷{}号", 1 + h / 12, 1 + h % 12),
                head_name: name,
                phone: format!("138{:08}", dice.next() % 100_000_000),
                members: 1 + dice.below(5) as u32,
                tags,
                notes: String::new(),
            };
            let home = phone
                .store
                .create_household(&phone.author, &community_path, &fields)
                .map_err(err)?;
            if h % 2 == 0 {
                let visit = NewVisit {
                    household: home,
                    visited_at: phone.store.now(),
                    notes: "入户走访，了解近况".into(),
                    needs: "生活基本稳定".into(),
                    gps: Some(Gps {
                        lat: 22.65 + dice.below(100) as f64 / 1e4,
                        lon: 114.1 + dice.below(100) as f64 / 1e4,
                    }),
                    follow_up: Some(phone.store.now() + 30 * DAY),
                };
                phone
                    .store
                    .record_visit(&phone.author, &visit)
                    .map_err(err)?;
            }
            homes.push(home);
        }
        for w in 0..WISHES_PER_COMMUNITY {
            if w % 20 == 19 {
                advance(12);
            }
            let (text, category) = dice.pick(WISHES);
            let id = phone
                .store
                .create_wish(
                    &phone.author,
                    &NewWish {
                        household: *dice.pick(&homes),
                        text: (*text).to_owned(),
                        category: *category,
                        urgency: *dice.pick(Urgency::ALL),
                        photos: vec![],
                    },
                )
                .map_err(err)?;
            // A few stay drafts on the phone; the rest are submitted.
            if dice.below(20) != 0 {
                phone.event(id, EventInput::new(EventKind::Submit));
            }
            wishes.push((n, id));
        }
        // The first community's worker photographs a few of their cards.
        let taken = if n == 0 {
            let cards: Vec<WishId> = wishes.iter().map(|(_, id)| *id).collect();
            photos::take(&mut phone, &cards)?
        } else {
            Vec::new()
        };
        phone.sync(relay)?;
        photos::upload(relay, photo_folder, &mut phone, &taken)?;
        first_home = first_home.or(homes.first().copied());
        workers.push((phone, *street_index));
    }
    advance(72);

    // Street supervisors review what was submitted.
    for (n, id) in &wishes {
        let supervisor = STREET_SUPERVISORS[workers[*n].1];
        let input = match dice.below(100) {
            0..=69 => EventInput::new(EventKind::Approve),
            70..=76 => EventInput::new(EventKind::Reject).with_note("不符合帮扶条件"),
            77..=84 => EventInput::new(EventKind::RequestInfo).with_note("请补充家庭情况说明"),
            _ => continue,
        };
        supervise(relay, keys, supervisor, *id, input)?;
    }
    advance(48);

    // Volunteers claim approved wishes on their phones; now and then both
    // claim the same wish before either syncs: a conflict.
    for phone in &mut volunteers {
        phone.sync(relay)?;
    }
    let approved: Vec<WishId> = wishes
        .iter()
        .map(|(_, id)| *id)
        .filter(|id| matches!(relay.record(id.record()), Ok(sync_core::Record::Wish(w)) if w.state.status == Status::Approved))
        .collect();
    let mut claimed = Vec::new();
    for (i, id) in approved.iter().enumerate() {
        match i % 10 {
            0..=5 => {
                let v = i % 2;
                if volunteers[v].event(*id, EventInput::new(EventKind::Claim)) {
                    claimed.push((v, *id));
                }
            }
            6 if i % 40 == 6 => {
                volunteers[0].event(*id, EventInput::new(EventKind::Claim));
                volunteers[1].event(*id, EventInput::new(EventKind::Claim));
                claimed.push((0, *id));
            }
            _ => {}
        }
    }
    for phone in &mut volunteers {
        phone.sync(relay)?;
    }
    // The rest go to the partner unit, or a supervisor dispatches them.
    let unclaimed: Vec<WishId> = approved
        .iter()
        .filter(|id| !claimed.iter().any(|(_, c)| c == *id))
        .copied()
        .collect();
    let for_unit = wall::dispatch(relay, keys, &mut members, &unclaimed)?;
    let unit = wall::unit_id()?;
    for (v, phone) in volunteers.iter_mut().enumerate() {
        wall::check_in(
            phone,
            None,
            claimed.iter().filter(|c| c.0 == v).map(|c| &c.1),
        );
    }
    wall::check_in(&mut members[0], Some(&unit), for_unit.iter());
    for (i, id) in for_unit.iter().enumerate() {
        if i % 4 != 3 {
            let input = EventInput {
                unit: Some(unit.clone()),
                ..EventInput::new(EventKind::Fulfil).with_note("水管已修好")
            };
            members[0].event(*id, input);
        }
    }
    members[0].sync(relay)?;
    // Claimants light up most of their wishes over the following weeks.
    // Every few days they sync, and the workers revisit the households and
    // record the residents' confirmations, so both spread over time.
    let mut visits = 0usize;
    for (i, (v, id)) in claimed.iter().enumerate() {
        if i % 30 == 29 {
            advance(24);
        }
        if i % 90 == 89 {
            for phone in &mut volunteers {
                phone.sync(relay)?;
            }
            confirm_round(&mut workers, relay, &mut visits)?;
        }
        if i % 5 != 4 {
            volunteers[*v].event(
                *id,
                EventInput::new(EventKind::Fulfil).with_note("已送到，居民很满意"),
            );
        }
    }
    for phone in &mut volunteers {
        phone.sync(relay)?;
    }
    advance(48);
    confirm_round(&mut workers, relay, &mut visits)?;
    // A few wishes are withdrawn or called off.
    for (n, id) in wishes.iter().step_by(37) {
        let supervisor = STREET_SUPERVISORS[workers[*n].1];
        if !supervise(
            relay,
            keys,
            supervisor,
            *id,
            EventInput::new(EventKind::Cancel).with_note("居民已自行解决"),
        )? {
            supervise(
                relay,
                keys,
                supervisor,
                *id,
                EventInput::new(EventKind::Withdraw).with_note("居民撤回心愿"),
            )?;
        }
    }
    wall::resolve(relay, keys, &mut volunteers, &claimed)?;
    for (phone, _) in &mut workers {
        phone.sync(relay)?;
    }
    let home = first_home.ok_or_else(|| err("no household"))?;
    devices::seed(relay, &mut workers, home, clock, advance)?;
    wall::name_everything(relay)
}

/// Workers sync, record the residents' confirmation (and rating) of three
/// in four of the wishes lit up in their community, and sync again. The
/// rest wait for a later round.
fn confirm_round(
    workers: &mut [(Phone, usize)],
    relay: &mut Store,
    visits: &mut usize,
) -> AppResult<()> {
    for (phone, _) in workers.iter_mut() {
        phone.sync(relay)?;
        let fulfilled: Vec<WishId> = phone
            .store
            .list_wishes(&sync_core::store::WishFilter {
                status: Some(Status::Fulfilled),
                limit: Some(500),
                ..Default::default()
            })
            .map_err(err)?
            .items
            .iter()
            .filter_map(|w| w.id.parse().ok())
            .collect();
        for id in fulfilled {
            *visits += 1;
            if !visits.is_multiple_of(4) {
                let rating = [5, 5, 4, 5, 3, 4][*visits % 6];
                phone.event(
                    id,
                    EventInput {
                        rating: Some(rating),
                        ..EventInput::new(EventKind::Confirm).with_note("谢谢志愿者")
                    },
                );
            }
        }
        phone.sync(relay)?;
    }
    Ok(())
}
