//! Doorstep's sync and query benchmarks.
//!
//! Run with `cargo bench -p sync-core --bench sync`. A plain program rather
//! than a statistical harness: most figures are bytes on the wire and round
//! trips, which do not vary from run to run, plus one-shot wall times.
//!
//! It fills a relay with a district's records (households, visits and wish
//! cards in Chinese, in every workflow state, each card written several
//! times as it was submitted, reviewed and closed), then measures:
//!
//! 1. a sync where nothing changed (10,000 records on each side);
//! 2. a sync after 100 of the 10,000 records changed (pulling another phone's
//!    edits, and pushing the phone's own edits);
//! 3. the first sync of 10,000 records to an empty phone;
//! 4. listing a filtered page of 50 wish cards out of 50,000;
//! 5. (extra, no target) a phone pushing 1,000 records written offline;
//! 6. what signatures cost: signing and checking a change, their share of a
//!    sync's CPU, and the bytes they add per change (module `trust`);
//! 7. a phone reconciling with a relay restored from a backup, 10,000
//!    records on each side (module `trust`).
//!
//! Every store is a SQLite file in a temporary directory. Timings are printed,
//! never asserted; correctness (counts, convergence, filters) is asserted, so
//! the benchmark fails if the engine is broken.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use sync_core::doc::{Author, EventInput, RecordDoc};
use sync_core::keys::DeviceKey;
use sync_core::model::{Category, Gps, HouseholdPatch, Urgency, VulnerabilityTag, WishPatch};
use sync_core::store::{Clock, Directory, PeerId, Registration, WishFilter};
use sync_core::sync::{self, RelayPolicy, SyncReport};
use sync_core::{
    CommunityPath, DeviceId, EventKind, HouseholdId, NewHousehold, NewVisit, NewWish, Role,
    ScopePath, Status, Store, UserId, VisitId, WishId,
};

mod trust;

type Res<T> = Result<T, Box<dyn Error>>;

// ---- the district ----------------------------------------------------------

const DISTRICT: &str = "longgang";
const STREETS: &[(&str, &[&str])] = &[
    ("yuanshan", &["xikeng", "hehu", "baoshan"]),
    ("bantian", &["gangtou", "majialong"]),
    ("buji", &["shuijing", "lianhua"]),
    ("henggang", &["liuyue", "xiaoao"]),
];

fn communities() -> Res<Vec<CommunityPath>> {
    let mut out = Vec::new();
    for (street, names) in STREETS {
        for name in *names {
            out.push(CommunityPath::new(format!("{DISTRICT}/{street}/{name}"))?);
        }
    }
    Ok(out)
}

// ---- realistic text ----------------------------------------------------------

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "梁",
];
const GIVEN: &[&str] = &[
    "秀英", "桂兰", "建国", "志强", "玉珍", "德明", "淑芬", "国华", "丽华", "永福", "春梅", "金生",
];
const ROADS: &[&str] = &[
    "幸福路",
    "和平街",
    "建设路",
    "龙岗大道",
    "园山路",
    "西坑三巷",
    "横岗老街",
    "布吉新村",
    "坂田北路",
    "南湾大道",
];
const HOUSEHOLD_NOTES: &[&str] = &[
    "独居老人，子女在外地工作，每月回来一次。",
    "家中有一名肢体残疾人，需要定期关注。",
    "低保户，家庭收入不稳定，租住老旧房屋。",
    "留守儿童由祖父母照看，学习需要有人辅导。",
    "老人患有高血压和糖尿病，需要按时服药。",
    "退役军人家庭，住房较旧，楼梯没有扶手。",
    "",
];
const VISIT_NOTES: &[&str] = &[
    "上门走访，老人精神状态良好，家中卫生整洁。",
    "老人反映夜间楼道灯不亮，出行不便。",
    "孩子学习用品不足，作业需要有人辅导。",
    "家中水管老化漏水，需要尽快维修。",
    "老人腿脚不便，外出复诊需要轮椅。",
    "天气转冷，家里缺少棉被和冬衣。",
    "电话联系不上，邻居说老人住院了，下周再来。",
];
const VISIT_NEEDS: &[&str] = &[
    "轮椅一台",
    "维修水管",
    "更换楼道灯",
    "学习辅导",
    "冬季棉被两床",
    "定期上门测血压",
    "",
];
/// Wish templates: `{s}` is a surname, `{r}` a road, `{n}` a number. Two
/// of the fifteen mention 轮椅 (wheelchair).
const WISHES: &[(Category, &str)] = &[
    (
        Category::MobilityAid,
        "给{s}大爷一台轮椅，方便去社区医院复诊",
    ),
    (
        Category::MobilityAid,
        "{s}奶奶希望有一副助行器，下楼梯更安全",
    ),
    (Category::MobilityAid, "{s}阿姨需要一台助听器，听不清电话"),
    (Category::HomeRepair, "{s}家厨房水管漏水，希望有人帮忙维修"),
    (Category::HomeRepair, "{s}大爷的轮椅刹车坏了，需要修理"),
    (Category::HomeRepair, "{s}大爷家的门锁坏了，需要更换"),
    (
        Category::PublicFacility,
        "{r}{n}号楼道的路灯坏了，晚上出行不安全",
    ),
    (Category::PublicFacility, "希望在{r}路口加装一张休息长椅"),
    (
        Category::DailyNecessities,
        "天气转冷，{s}奶奶需要两床冬季棉被",
    ),
    (Category::DailyNecessities, "{s}家需要一袋大米和一桶食用油"),
    (
        Category::Medical,
        "{s}大爷患有高血压，希望有医生定期上门测血压",
    ),
    (
        Category::Education,
        "{s}家的孩子上四年级，需要书包和学习用品",
    ),
    (
        Category::Education,
        "留守儿童小{s}希望每周有大学生志愿者辅导数学",
    ),
    (
        Category::Companionship,
        "{s}奶奶独居，希望每周有人陪她聊聊天",
    ),
    (Category::Other, "{s}大爷想学会用智能手机和孙子视频通话"),
];
const TAGS: &[VulnerabilityTag] = &[
    VulnerabilityTag::LivingAlone,
    VulnerabilityTag::LowIncome,
    VulnerabilityTag::Disability,
    VulnerabilityTag::LeftBehindChild,
    VulnerabilityTag::Illness,
    VulnerabilityTag::Veteran,
];
const URGENCIES: &[Urgency] = &[
    Urgency::Low,
    Urgency::Normal,
    Urgency::Normal,
    Urgency::High,
    Urgency::Critical,
];

/// A small deterministic generator (xorshift64*), so every run builds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn new_household(rng: &mut Rng) -> NewHousehold {
    let mut tags = std::collections::BTreeSet::new();
    for _ in 0..rng.below(3) {
        tags.insert(*rng.pick(TAGS));
    }
    NewHousehold {
        address: format!(
            "{}{}号{}栋{}室",
            rng.pick(ROADS),
            1 + rng.below(300),
            1 + rng.below(20),
            101 + rng.below(30)
        ),
        head_name: format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN)),
        phone: format!("13{:09}", rng.next() % 1_000_000_000),
        members: 1 + rng.below(5) as u32,
        tags,
        notes: (*rng.pick(HOUSEHOLD_NOTES)).to_owned(),
    }
}

fn new_visit(rng: &mut Rng, household: HouseholdId, now: i64) -> NewVisit {
    NewVisit {
        household,
        visited_at: now - (rng.below(90) as i64) * 86_400_000,
        notes: (*rng.pick(VISIT_NOTES)).to_owned(),
        needs: (*rng.pick(VISIT_NEEDS)).to_owned(),
        gps: (rng.below(2) == 0).then(|| Gps {
            lat: 22.7 + rng.below(1000) as f64 / 10_000.0,
            lon: 114.2 + rng.below(1000) as f64 / 10_000.0,
        }),
        follow_up: (rng.below(3) == 0).then(|| now + 14 * 86_400_000),
    }
}

fn new_wish(rng: &mut Rng, household: HouseholdId) -> NewWish {
    let (category, template) = *rng.pick(WISHES);
    let surname = *rng.pick(SURNAMES);
    let road = *rng.pick(ROADS);
    let text = template
        .replace("{s}", surname)
        .replace("{r}", road)
        .replace("{n}", &(1 + rng.below(300)).to_string());
    NewWish {
        household,
        text,
        category,
        urgency: *rng.pick(URGENCIES),
        photos: vec![],
    }
}

/// A clock shared by all stores, stepping one second per reading, so the data
/// spans days and events on different phones are ordered.
fn stepping_clock() -> Clock {
    let now = Arc::new(AtomicI64::new(1_735_689_600_000)); // 2025-01-01
    Arc::new(move || now.fetch_add(1_000, Ordering::SeqCst))
}

// ---- phones, relay and the wire ------------------------------------------------

struct Phone {
    store: Store,
    author: Author,
    scopes: Vec<ScopePath>,
}

impl Phone {
    fn open(path: &Path, user: &str, role: Role, clock: &Clock) -> Res<Self> {
        let store = Store::open(path)?.with_clock(clock.clone());
        let author = Author {
            user: UserId::new(user)?,
            role,
            device: store.id(),
        };
        Ok(Self {
            store,
            author,
            scopes: vec![ScopePath::new(DISTRICT)?],
        })
    }

    /// The relay's policy for this phone's device, as the relay's HTTP
    /// layer builds it after authentication.
    fn policy(&self) -> RelayPolicy {
        RelayPolicy::new(self.author.device, self.scopes.clone())
    }

    /// Registers the phone's user and device, with its key, at the relay
    /// (its login), unless the relay knows it.
    fn enroll(&mut self, relay: &mut Store) -> Res<()> {
        if relay.device(self.author.device)?.is_some() {
            return Ok(());
        }
        let key = self.store.public_key()?;
        let registration = Registration {
            device: self.author.device,
            user: &self.author.user,
            name: "bench phone",
            kind: "phone",
            key: Some(key),
        };
        let now = relay.now();
        relay.enroll(
            &self.author.user,
            self.author.role,
            &self.scopes,
            &registration,
            now,
        )?;
        Ok(())
    }
}

fn relay_peer() -> Res<PeerId> {
    Ok(PeerId::new("relay")?)
}

/// What one whole sync (`drive` until nothing is left) cost.
#[derive(Default)]
struct Traffic {
    rounds: usize,
    up: usize,
    down: usize,
    wall: Duration,
    relay: Duration,
    responses: Vec<Vec<u8>>,
    report: SyncReport,
}

impl Traffic {
    fn bytes(&self) -> usize {
        self.up + self.down
    }

    fn summary(&self) -> String {
        format!(
            "{} round trip(s), {} up + {} down = {}, {} (relay {}, phone {})",
            self.rounds,
            kb(self.up),
            kb(self.down),
            kb(self.bytes()),
            ms(self.wall),
            ms(self.relay),
            ms(self.wall.saturating_sub(self.relay)),
        )
    }

    fn clean(&self) -> bool {
        self.report.rejected.is_empty() && self.report.skipped.is_empty() && !self.report.more
    }
}

/// Syncs `phone` with the relay through encoded messages, as over HTTP,
/// counting round trips and bytes each way.
fn sync_with(phone: &mut Phone, relay: &mut Store) -> Res<Traffic> {
    phone.enroll(relay)?;
    let policy = phone.policy();
    let scopes = phone.scopes.clone();
    let peer = relay_peer()?;
    let mut t = Traffic::default();
    let start = Instant::now();
    let report = sync::drive(&mut phone.store, &peer, &scopes, |request| {
        t.rounds += 1;
        t.up += request.len();
        let served = Instant::now();
        let response = sync::serve(relay, &policy, &request);
        t.relay += served.elapsed();
        if let Ok(bytes) = &response {
            t.down += bytes.len();
            t.responses.push(bytes.clone());
        }
        response
    })
    .map_err(|e| format!("sync failed: {e}"))?;
    t.wall = start.elapsed();
    t.report = report;
    Ok(t)
}

/// Every record's id and heads, to compare stores.
fn fingerprint(store: &Store) -> Res<BTreeMap<String, Vec<u8>>> {
    let mut stmt = store
        .connection()
        .prepare("SELECT id, heads FROM records")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    Ok(rows)
}

fn count(store: &Store, sql: &str) -> Res<i64> {
    Ok(store.connection().query_row(sql, [], |r| r.get(0))?)
}

fn status_counts(store: &Store) -> Res<BTreeMap<String, i64>> {
    let mut stmt = store
        .connection()
        .prepare("SELECT status, count(*) FROM wishes GROUP BY status")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    Ok(rows)
}

/// The time to load every document of a store, and to read them into
/// records: the Automerge share of applying a first sync.
fn doc_costs(store: &Store) -> Res<(Duration, Duration)> {
    let mut stmt = store.connection().prepare("SELECT doc FROM records")?;
    let docs = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let (mut load, mut read) = (Duration::ZERO, Duration::ZERO);
    for bytes in &docs {
        let started = Instant::now();
        let doc = RecordDoc::load(bytes)?;
        load += started.elapsed();
        let started = Instant::now();
        doc.read()?;
        read += started.elapsed();
    }
    Ok((load, read))
}

/// The machine's load averages (1, 5 and 15 minutes), to judge timings by.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Correctness checks of the measured scenarios. A failure is printed at
/// once and the run goes on, so that every figure is still printed; the
/// program fails at the end.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) -> bool {
        if !ok {
            let what = what();
            println!("  !! CHECK FAILED: {what}");
            self.0.push(what);
        }
        ok
    }
}

// ---- output ---------------------------------------------------------------------

fn kb(bytes: usize) -> String {
    if bytes < 10_000 {
        format!("{bytes} B")
    } else if bytes < 10_000_000 {
        format!("{:.1} KB", bytes as f64 / 1000.0)
    } else {
        format!("{:.2} MB", bytes as f64 / 1e6)
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// One row of the results table.
struct Row {
    scenario: String,
    figure: String,
    target: String,
    met: Option<bool>,
}

#[derive(Default)]
struct Table(Vec<Row>);

impl Table {
    fn add(&mut self, scenario: &str, figure: String, target: &str, met: Option<bool>) {
        self.0.push(Row {
            scenario: scenario.to_owned(),
            figure,
            target: target.to_owned(),
            met,
        });
    }

    fn print(&self) {
        println!();
        println!("== Summary ==");
        println!("{:<58} {:>12}   {:<10}", "scenario", "measured", "target");
        for row in &self.0 {
            let mark = match row.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            };
            println!(
                "{:<58} {:>12}   {:<10} {mark}",
                row.scenario, row.figure, row.target
            );
        }
        let checked = self.0.iter().filter(|r| r.met.is_some()).count();
        let missed = self.0.iter().filter(|r| r.met == Some(false)).count();
        println!(
            "{checked} targets checked, {missed} missed (timings are reported, never asserted)"
        );
    }
}

// ---- the district -----------------------------------------------------------------------

/// The final status planned for a wish card.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Plan {
    Draft,
    Submitted,
    NeedsInfo,
    Rejected,
    Approved,
    Claimed,
    Fulfilled,
    Confirmed,
}

impl Plan {
    /// Out of every 20 cards: 2 draft, 3 submitted, 1 needs_info, 1 rejected,
    /// 4 approved, 3 claimed, 2 fulfilled, 4 confirmed.
    fn of(i: usize) -> Plan {
        const CYCLE: [Plan; 20] = [
            Plan::Draft,
            Plan::Draft,
            Plan::Submitted,
            Plan::Submitted,
            Plan::Submitted,
            Plan::NeedsInfo,
            Plan::Rejected,
            Plan::Approved,
            Plan::Approved,
            Plan::Approved,
            Plan::Approved,
            Plan::Claimed,
            Plan::Claimed,
            Plan::Claimed,
            Plan::Fulfilled,
            Plan::Fulfilled,
            Plan::Confirmed,
            Plan::Confirmed,
            Plan::Confirmed,
            Plan::Confirmed,
        ];
        CYCLE[i % CYCLE.len()]
    }

    fn status(self) -> Status {
        match self {
            Plan::Draft => Status::Draft,
            Plan::Submitted => Status::Submitted,
            Plan::NeedsInfo => Status::NeedsInfo,
            Plan::Rejected => Status::Rejected,
            Plan::Approved => Status::Approved,
            Plan::Claimed => Status::Claimed,
            Plan::Fulfilled => Status::Fulfilled,
            Plan::Confirmed => Status::Confirmed,
        }
    }

    fn approved(self) -> bool {
        matches!(
            self,
            Plan::Approved | Plan::Claimed | Plan::Fulfilled | Plan::Confirmed
        )
    }

    fn claimed(self) -> bool {
        matches!(self, Plan::Claimed | Plan::Fulfilled | Plan::Confirmed)
    }

    fn fulfilled(self) -> bool {
        matches!(self, Plan::Fulfilled | Plan::Confirmed)
    }
}

/// The stages of a card's life, each one write on the relay.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The worker writes the card and submits it.
    Submit,
    /// A supervisor reviews it.
    Review,
    /// The worker claims, fulfils and the resident confirms.
    Close,
}

fn wish_event(kind: EventKind, note: Option<&str>) -> EventInput {
    let mut input = EventInput::new(kind);
    input.note = note.map(str::to_owned);
    if kind == EventKind::Confirm {
        input.rating = Some(5);
    }
    input
}

/// Appends the events of one stage of `plan` to a card's document, through
/// the same document API the store uses. Returns whether anything changed.
fn advance(
    doc: &mut RecordDoc,
    plan: Plan,
    stage: Stage,
    worker: &Author,
    supervisor: &Author,
    clock: &Clock,
) -> Res<bool> {
    let mut inputs: Vec<(&Author, EventInput)> = Vec::new();
    match stage {
        Stage::Submit if plan != Plan::Draft => {
            inputs.push((worker, EventInput::new(EventKind::Submit)))
        }
        Stage::Review if plan.approved() => {
            inputs.push((supervisor, wish_event(EventKind::Approve, None)))
        }
        Stage::Review if plan == Plan::Rejected => inputs.push((
            supervisor,
            wish_event(EventKind::Reject, Some("不属于微心愿范围，已转交民政部门")),
        )),
        Stage::Review if plan == Plan::NeedsInfo => inputs.push((
            supervisor,
            wish_event(
                EventKind::RequestInfo,
                Some("请补充老人的身体状况和联系方式"),
            ),
        )),
        Stage::Close => {
            if plan.claimed() {
                inputs.push((worker, wish_event(EventKind::Claim, None)));
            }
            if plan.fulfilled() {
                inputs.push((
                    worker,
                    wish_event(EventKind::Fulfil, Some("已送到老人家中并安装调试")),
                ));
            }
            if plan == Plan::Confirmed {
                inputs.push((
                    worker,
                    wish_event(EventKind::Confirm, Some("非常满意，谢谢社区")),
                ));
            }
        }
        _ => {}
    }
    for (author, input) in &inputs {
        doc.append_event(author, input, clock())?;
    }
    Ok(!inputs.is_empty())
}

const HOUSEHOLDS: usize = 3_000;
const VISITS: usize = 2_000;
const WISH_CARDS: usize = 5_000;
const RECORDS: usize = HOUSEHOLDS + VISITS + WISH_CARDS;

struct District {
    households: Vec<HouseholdId>,
    wishes: Vec<(WishId, Plan)>,
    planned: BTreeMap<String, i64>,
}

/// Fills the relay with the district's records as its change feed would
/// hold them after months of work: each card written once when submitted,
/// again when reviewed and again when closed, so records have several
/// versions spread over the feed. The documents are built with the same
/// document API the phones use, by a worker's and a supervisor's devices,
/// and written straight into the relay's store with `Store::put_doc`.
/// Writing them on phones and syncing them through the relay gives the same
/// contents but took 77 s instead of 24 s here; the relay's policy checks
/// are exercised by the pushes measured in scenarios 2 and 5.
fn seed_relay(relay: &mut Store, clock: &Clock) -> Res<District> {
    let communities = communities()?;
    let mut rng = Rng(0x5EED_D00D_2025);
    let worker = Author {
        user: UserId::new("wang")?,
        role: Role::Worker,
        device: DeviceId::random(),
    };
    let supervisor = Author {
        user: UserId::new("chen")?,
        role: Role::Supervisor,
        device: DeviceId::random(),
    };
    // Their changes are signed with their devices' keys, as in the field.
    for author in [&worker, &supervisor] {
        relay.add_signing_key(DeviceKey::generate(author.device)?);
    }
    let mut district = District {
        households: Vec::with_capacity(HOUSEHOLDS),
        wishes: Vec::with_capacity(WISH_CARDS),
        planned: BTreeMap::new(),
    };
    let mut placed = Vec::with_capacity(HOUSEHOLDS);
    for i in 0..HOUSEHOLDS {
        let id = HouseholdId::random();
        let c = i % communities.len();
        let doc = RecordDoc::new_household(
            &worker,
            id.record(),
            &communities[c],
            &new_household(&mut rng),
            clock(),
        )?;
        relay.put_doc(id.record(), &doc)?;
        district.households.push(id);
        placed.push((id, c));
    }
    // Visits and cards interleave in the feed, as they do in the field.
    let mut visits = 0;
    for i in 0..WISH_CARDS {
        while visits * WISH_CARDS < (i + 1) * VISITS {
            let (household, c) = *rng.pick(&placed);
            let id = VisitId::random();
            let fields = new_visit(&mut rng, household, clock());
            let doc =
                RecordDoc::new_visit(&worker, id.record(), &communities[c], &fields, clock())?;
            relay.put_doc(id.record(), &doc)?;
            visits += 1;
        }
        let (household, c) = *rng.pick(&placed);
        let id = WishId::random();
        let plan = Plan::of(i);
        let mut doc = RecordDoc::new_wish(
            &worker,
            id.record(),
            &communities[c],
            &new_wish(&mut rng, household),
            clock(),
        )?;
        advance(&mut doc, plan, Stage::Submit, &worker, &supervisor, clock)?;
        relay.put_doc(id.record(), &doc)?;
        district.wishes.push((id, plan));
        *district
            .planned
            .entry(plan.status().as_str().to_owned())
            .or_default() += 1;
    }
    for stage in [Stage::Review, Stage::Close] {
        for (id, plan) in &district.wishes {
            let mut doc = relay.doc(id.record())?;
            if advance(&mut doc, *plan, stage, &worker, &supervisor, clock)? {
                relay.put_doc(id.record(), &doc)?;
            }
        }
    }
    assert_eq!(
        count(relay, "SELECT count(*) FROM records")?,
        RECORDS as i64
    );
    assert_eq!(
        count(relay, "SELECT count(*) FROM households")?,
        HOUSEHOLDS as i64
    );
    assert_eq!(count(relay, "SELECT count(*) FROM visits")?, VISITS as i64);
    assert_eq!(
        status_counts(relay)?,
        district.planned,
        "relay's wish statuses"
    );
    Ok(district)
}

/// 40 household updates, 30 edited cards and 30 claimed cards: 100 records.
fn edit_100(phone: &mut Phone, district: &District, offset: usize) -> Res<()> {
    let a = phone.author.clone();
    let with = |plan: Plan| {
        district
            .wishes
            .iter()
            .filter(move |(_, p)| *p == plan)
            .map(|(id, _)| *id)
    };
    for (i, h) in district.households[offset..offset + 40].iter().enumerate() {
        let patch = HouseholdPatch {
            notes: Some(format!(
                "第{}次回访：老人身体好转，已申请居家养老服务补贴。",
                i + 2
            )),
            members: Some(2),
            ..HouseholdPatch::default()
        };
        phone.store.update_household(&a, *h, &patch)?;
    }
    for id in with(Plan::Submitted).skip(offset).take(30) {
        let patch = WishPatch {
            text: Some("补充说明：老人行动不便，需要一台可折叠的轮椅，方便放进出租车".to_owned()),
            urgency: Some(Urgency::High),
            ..WishPatch::default()
        };
        phone.store.update_wish(&a, id, &patch)?;
    }
    for id in with(Plan::Approved).skip(offset).take(30) {
        phone
            .store
            .append_event(&a, id, &wish_event(EventKind::Claim, None))?;
    }
    Ok(())
}

fn run_sync_scenarios(dir: &Path, table: &mut Table, checks: &mut Checks) -> Res<()> {
    let clock = stepping_clock();
    let relay_path = dir.join("relay.sqlite3");
    let mut relay = Store::open(&relay_path)?.with_clock(clock.clone());

    println!(
        "Setup: a relay holding {HOUSEHOLDS} households, {VISITS} visits and {WISH_CARDS} wish cards in {} communities of {DISTRICT}",
        STREETS.iter().map(|(_, c)| c.len()).sum::<usize>()
    );
    let started = Instant::now();
    let district = seed_relay(&mut relay, &clock)?;
    println!(
        "  written in {} ({} feed writes); wish statuses {:?}",
        ms(started.elapsed()),
        relay.feed_seq()?,
        district.planned
    );
    let truth = fingerprint(&relay)?;

    // ---- 3. first sync to an empty phone ---------------------------------------------
    println!();
    println!(
        "3. First sync of {RECORDS} records to an empty phone (scope {DISTRICT}); load average {}",
        load_average()
    );
    let mut phone = Phone::open(&dir.join("phone.sqlite3"), "li", Role::Worker, &clock)?;
    let first = sync_with(&mut phone, &mut relay)?;
    println!("  {}", first.summary());
    let decode = Instant::now();
    let mut messages = Vec::new();
    for response in &first.responses {
        messages.push(sync::Message::decode(response)?);
    }
    let decoding = decode.elapsed();
    let (mut full, mut full_bytes, mut changes, mut change_bytes) = (0, 0, 0, 0);
    for message in &messages {
        if let sync::Message::Response(r) = message {
            for update in &r.pull {
                match &update.payload {
                    sync::Payload::Full(_) => {
                        (full, full_bytes) = (full + 1, full_bytes + update.payload.size())
                    }
                    sync::Payload::Changes { .. } => {
                        (changes, change_bytes) =
                            (changes + 1, change_bytes + update.payload.size())
                    }
                }
            }
        }
    }
    println!(
        "  pulled {full} whole documents ({}) and {changes} change sets ({}), compressed on the wire to {}; \
         decoding the responses takes {}",
        kb(full_bytes),
        kb(change_bytes),
        kb(first.down),
        ms(decoding)
    );
    let (relay_docs, relay_doc_bytes) = (
        count(&relay, "SELECT count(*) FROM records")?,
        count(&relay, "SELECT sum(length(doc)) FROM records")?,
    );
    println!(
        "  (the relay holds {relay_docs} documents of {} in all)",
        kb(relay_doc_bytes as usize)
    );
    let (load, read) = doc_costs(&relay)?;
    println!(
        "  for comparison: Automerge-loading the {RECORDS} documents alone takes {}, reading them into records {}",
        ms(load),
        ms(read)
    );
    table.add(
        "3. first sync of 10k: bytes",
        kb(first.bytes()),
        "< 4 MB",
        Some(first.bytes() < 4_000_000),
    );
    table.add(
        "3. first sync of 10k: round trips",
        first.rounds.to_string(),
        "few",
        None,
    );
    table.add(
        "3. first sync of 10k: wall time",
        ms(first.wall),
        "< 3 s",
        Some(first.wall < Duration::from_secs(3)),
    );
    let complete = checks.check(first.clean() && first.report.received == RECORDS, || {
        format!(
            "first sync to an empty phone: drive() returned (more = {}) after receiving {} of {RECORDS} records; \
             {} records are left as 'fetch' work for the next sync (rejected {}, skipped {})",
            first.report.more,
            first.report.received,
            count(&phone.store, "SELECT count(*) FROM sync_todo WHERE what = 'fetch'").unwrap_or(-1),
            first.report.rejected.len(),
            first.report.skipped.len(),
        )
    });
    if !complete {
        let rest = sync_with(&mut phone, &mut relay)?;
        println!(
            "  a second sync fetches the rest: received {}; {}",
            rest.report.received,
            rest.summary()
        );
        table.add(
            "3. second sync needed to finish: bytes",
            kb(rest.bytes()),
            "-",
            None,
        );
        table.add(
            "3. second sync needed to finish: wall time",
            ms(rest.wall),
            "-",
            None,
        );
    }
    checks.check(fingerprint(&phone.store)? == truth, || {
        "the new phone did not converge with the relay".into()
    });
    checks.check(status_counts(&phone.store)? == district.planned, || {
        "the new phone's wish statuses".into()
    });

    // Another phone, used below to make edits the measured phone pulls.
    let mut other = Phone::open(&dir.join("other.sqlite3"), "zhao", Role::Worker, &clock)?;
    let other_first = sync_with(&mut other, &mut relay)?;
    println!(
        "  (another empty phone, same first sync: {})",
        other_first.summary()
    );
    table.add(
        "3. first sync, second sample: wall time",
        ms(other_first.wall),
        "< 3 s",
        Some(other_first.wall < Duration::from_secs(3)),
    );
    if !other_first.clean() || other_first.report.received != RECORDS {
        sync_with(&mut other, &mut relay)?;
    }
    checks.check(fingerprint(&other.store)? == truth, || {
        "the other phone did not converge with the relay".into()
    });

    // ---- 1. nothing changed ------------------------------------------------------------
    println!();
    println!("1. Nothing changed, {RECORDS} records on each side");
    let idle = sync_with(&mut phone, &mut relay)?;
    println!("  {}", idle.summary());
    checks.check(
        idle.clean() && idle.report.sent == 0 && idle.report.received == 0,
        || {
            format!(
                "nothing-changed sync sent {} and received {} records",
                idle.report.sent, idle.report.received
            )
        },
    );
    table.add(
        "1. nothing changed: round trips",
        idle.rounds.to_string(),
        "1",
        Some(idle.rounds == 1),
    );
    table.add(
        "1. nothing changed: bytes both ways",
        kb(idle.bytes()),
        "< 1 KB",
        Some(idle.bytes() < 1_000),
    );
    table.add("1. nothing changed: time", ms(idle.wall), "-", None);

    // ---- 2. 100 records changed ----------------------------------------------------------
    println!();
    println!(
        "2. 100 of {RECORDS} records changed (40 households updated, 30 cards edited, 30 claimed)"
    );
    edit_100(&mut other, &district, 0)?;
    let other_push = sync_with(&mut other, &mut relay)?;
    println!(
        "  another phone pushes its 100 edits: {}",
        other_push.summary()
    );
    checks.check(
        other_push.clean() && other_push.report.accepted == 100,
        || format!("other phone's push of 100 edits: {:?}", other_push.report),
    );
    let pull = sync_with(&mut phone, &mut relay)?;
    println!("  the phone pulls them:               {}", pull.summary());
    checks.check(
        pull.clean() && pull.report.sent == 0 && pull.report.received == 100,
        || {
            format!(
                "pull of 100 changed records: sent {}, received {}",
                pull.report.sent, pull.report.received
            )
        },
    );
    table.add(
        "2a. pull 100 changed records: bytes",
        kb(pull.bytes()),
        "< 150 KB",
        Some(pull.bytes() < 150_000),
    );
    table.add(
        "2a. pull 100 changed records: round trips",
        pull.rounds.to_string(),
        "<= 2",
        Some(pull.rounds <= 2),
    );
    table.add(
        "2a. pull 100 changed records: time",
        ms(pull.wall),
        "-",
        None,
    );

    edit_100(&mut phone, &district, 100)?;
    let push = sync_with(&mut phone, &mut relay)?;
    println!("  the phone pushes 100 local edits:   {}", push.summary());
    checks.check(
        push.clean() && push.report.accepted == 100 && push.report.received == 0,
        || format!("push of 100 local edits: {:?}", push.report),
    );
    table.add(
        "2b. push 100 local edits: bytes",
        kb(push.bytes()),
        "< 150 KB",
        Some(push.bytes() < 150_000),
    );
    table.add(
        "2b. push 100 local edits: round trips",
        push.rounds.to_string(),
        "<= 2",
        Some(push.rounds <= 2),
    );
    table.add("2b. push 100 local edits: time", ms(push.wall), "-", None);

    let back = sync_with(&mut other, &mut relay)?;
    checks.check(back.clean() && back.report.received == 100, || {
        format!(
            "the other phone pulled {} of the phone's 100 edits",
            back.report.received
        )
    });
    let again = sync_with(&mut phone, &mut relay)?;
    checks.check(
        again.rounds == 1 && again.report.sent == 0 && again.report.received == 0,
        || format!("a sync right after pushing: {}", again.summary()),
    );
    let truth = fingerprint(&relay)?;
    checks.check(
        truth.len() == RECORDS
            && fingerprint(&phone.store)? == truth
            && fingerprint(&other.store)? == truth,
        || "the relay and both phones did not converge after the edits".into(),
    );
    println!(
        "  the relay and both phones hold the same {} records (same heads)",
        truth.len()
    );

    // ---- 5. (extra) a phone's offline work arrives ---------------------------------------------
    println!();
    println!(
        "5. (extra) A phone pushes 1,000 new records written offline (200 households, 300 visits, 500 cards)"
    );
    let communities = communities()?;
    let mut rng = Rng(0xF1E1_D0FF_11AE);
    let a = other.author.clone();
    let mut homes = Vec::new();
    for i in 0..200 {
        homes.push(other.store.create_household(
            &a,
            &communities[i % communities.len()],
            &new_household(&mut rng),
        )?);
    }
    for _ in 0..300 {
        let household = *rng.pick(&homes);
        let fields = new_visit(&mut rng, household, clock());
        other.store.record_visit(&a, &fields)?;
    }
    for _ in 0..500 {
        let household = *rng.pick(&homes);
        let id = other
            .store
            .create_wish(&a, &new_wish(&mut rng, household))?;
        other
            .store
            .append_event(&a, id, &EventInput::new(EventKind::Submit))?;
    }
    let offline = sync_with(&mut other, &mut relay)?;
    println!("  push:                 {}", offline.summary());
    let arrive = sync_with(&mut phone, &mut relay)?;
    println!("  another phone pulls:  {}", arrive.summary());
    checks.check(
        offline.clean()
            && offline.report.accepted == 1000
            && arrive.clean()
            && arrive.report.received == 1000,
        || {
            format!(
                "1,000 new records: accepted {}, pulled {}",
                offline.report.accepted, arrive.report.received
            )
        },
    );
    table.add(
        "5. push 1,000 new records: bytes",
        kb(offline.bytes()),
        "-",
        None,
    );
    table.add(
        "5. push 1,000 new records: wall time",
        ms(offline.wall),
        "-",
        None,
    );
    table.add(
        "5. pull 1,000 new records: wall time",
        ms(arrive.wall),
        "-",
        None,
    );

    // ---- sizes -------------------------------------------------------------------------------
    println!();
    println!(
        "Relay storage ({} records)",
        count(&relay, "SELECT count(*) FROM records")?
    );
    let mut stmt = relay.connection().prepare(
        "SELECT kind, count(*), avg(length(doc)), sum(length(doc)) FROM records GROUP BY kind ORDER BY kind",
    )?;
    let kinds = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    for (kind, n, avg, sum) in kinds {
        println!(
            "  {kind:<10} {n:>6} records, saved document {avg:>5.0} B on average, {} in all",
            kb(sum as usize)
        );
    }
    let records = count(&relay, "SELECT count(*) FROM records")?;
    let bytes = count(&relay, "PRAGMA page_count")? * count(&relay, "PRAGMA page_size")?;
    let file = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = relay_path.clone().into_os_string();
    wal.push("-wal");
    println!(
        "  database {} = {:.0} B per record (documents, feed, versions, materialized rows, search index); \
         files on disk incl. WAL {}",
        kb(bytes as usize),
        bytes as f64 / records as f64,
        kb((file(&relay_path) + file(Path::new(&wal))) as usize)
    );
    table.add(
        "relay database size per record",
        format!("{:.0} B", bytes as f64 / records as f64),
        "-",
        None,
    );
    Ok(())
}

// ---- 4. listing ----------------------------------------------------------------------------

const LIST_WISHES: usize = 50_000;
const LIST_HOUSEHOLDS: usize = 5_000;

/// What the generator put in the 50,000-card store, to check the lists against.
struct Truth {
    community: usize,
    status: Status,
    category: Category,
    urgency: Urgency,
    wheelchair: bool,
}

fn run_list_scenario(dir: &Path, table: &mut Table, checks: &mut Checks) -> Res<()> {
    println!();
    println!(
        "4. Listing a page of 50 wish cards from a store of {LIST_WISHES}; load average {}",
        load_average()
    );
    let clock = stepping_clock();
    let path = dir.join("list.sqlite3");
    let mut store = Store::open(&path)?.with_clock(clock.clone());
    let worker = Author {
        user: UserId::new("wang")?,
        role: Role::Worker,
        device: DeviceId::random(),
    };
    let supervisor = Author {
        user: UserId::new("chen")?,
        role: Role::Supervisor,
        device: DeviceId::random(),
    };
    let communities = communities()?;
    let mut rng = Rng(0xC0FF_EE15_600D);
    let started = Instant::now();
    let mut households = Vec::with_capacity(LIST_HOUSEHOLDS);
    for i in 0..LIST_HOUSEHOLDS {
        let c = i % communities.len();
        households.push((
            store.create_household(&worker, &communities[c], &new_household(&mut rng))?,
            c,
        ));
    }
    // Each card is built with its whole workflow and written once, as a
    // relay or a supervisor's phone holds it after sync. A second thread
    // builds the documents while this one writes them.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<(WishId, RecordDoc)>(256);
    let (truth, built, written) =
        std::thread::scope(|scope| -> Res<(Vec<Truth>, Duration, Duration)> {
            let communities = &communities;
            let households = &households;
            let clock = &clock;
            let builder = scope.spawn(move || -> Result<(Vec<Truth>, Duration), String> {
                let mut truth = Vec::with_capacity(LIST_WISHES);
                let mut busy = Duration::ZERO;
                for _ in 0..LIST_WISHES {
                    let started = Instant::now();
                    let (household, c) = *rng.pick(households);
                    let fields = new_wish(&mut rng, household);
                    let plan = Plan::of(rng.below(20));
                    let id = WishId::random();
                    let mut doc = RecordDoc::new_wish(
                        &worker,
                        id.record(),
                        &communities[c],
                        &fields,
                        clock(),
                    )
                    .map_err(|e| e.to_string())?;
                    for stage in [Stage::Submit, Stage::Review, Stage::Close] {
                        advance(&mut doc, plan, stage, &worker, &supervisor, clock)
                            .map_err(|e| e.to_string())?;
                    }
                    truth.push(Truth {
                        community: c,
                        status: plan.status(),
                        category: fields.category,
                        urgency: fields.urgency,
                        wheelchair: fields.text.contains("轮椅"),
                    });
                    busy += started.elapsed();
                    if sender.send((id, doc)).is_err() {
                        break;
                    }
                }
                Ok((truth, busy))
            });
            let mut written = Duration::ZERO;
            for (id, doc) in receiver {
                let started = Instant::now();
                store.put_doc(id.record(), &doc)?;
                written += started.elapsed();
            }
            let (truth, built) = builder
                .join()
                .map_err(|_| "the document builder panicked")??;
            Ok((truth, built, written))
        })?;
    assert_eq!(
        count(&store, "SELECT count(*) FROM wishes")?,
        LIST_WISHES as i64
    );
    println!(
        "  setup: {LIST_HOUSEHOLDS} households and {LIST_WISHES} wish cards written in {} \
         (building the card documents {}, Store::put_doc {}, on two threads)",
        ms(started.elapsed()),
        ms(built),
        ms(written)
    );
    // Reopen, as the app or the relay would after a restart.
    drop(store);
    let store = Store::open(&path)?;

    let street = ScopePath::new(format!("{DISTRICT}/yuanshan"))?;
    let community = communities[0].as_scope().clone();
    let in_street = |c: usize| street.contains(communities[c].as_scope());
    type Check<'a> = Box<dyn Fn(&Truth) -> bool + 'a>;
    let cases: Vec<(&str, WishFilter, Check<'_>)> = vec![
        (
            "status=submitted + street",
            WishFilter {
                status: Some(Status::Submitted),
                scope: Some(street.clone()),
                limit: Some(50),
                ..WishFilter::default()
            },
            Box::new(|t: &Truth| t.status == Status::Submitted && in_street(t.community)),
        ),
        (
            "status=approved + community",
            WishFilter {
                status: Some(Status::Approved),
                scope: Some(community.clone()),
                limit: Some(50),
                ..WishFilter::default()
            },
            Box::new(|t: &Truth| t.status == Status::Approved && t.community == 0),
        ),
        (
            "review queue (submitted + community, oldest)",
            WishFilter {
                status: Some(Status::Submitted),
                scope: Some(community.clone()),
                oldest_first: true,
                limit: Some(50),
                ..WishFilter::default()
            },
            Box::new(|t: &Truth| t.status == Status::Submitted && t.community == 0),
        ),
        (
            "category=mobility_aid + urgency=high",
            WishFilter {
                category: Some(Category::MobilityAid),
                urgency: Some(Urgency::High),
                limit: Some(50),
                ..WishFilter::default()
            },
            Box::new(|t: &Truth| t.category == Category::MobilityAid && t.urgency == Urgency::High),
        ),
        (
            "full text q=轮椅",
            WishFilter {
                q: Some("轮椅".to_owned()),
                limit: Some(50),
                ..WishFilter::default()
            },
            Box::new(|t: &Truth| t.wheelchair),
        ),
        (
            "q=轮椅 + status=approved + street",
            WishFilter {
                q: Some("轮椅".to_owned()),
                status: Some(Status::Approved),
                scope: Some(street.clone()),
                limit: Some(50),
                ..WishFilter::default()
            },
            Box::new(|t: &Truth| {
                t.wheelchair && t.status == Status::Approved && in_street(t.community)
            }),
        ),
    ];
    const RUNS: usize = 20;
    for (name, filter, matches) in &cases {
        let expected = truth.iter().filter(|t| matches(t)).count();
        let first = store.list_wishes(filter)?;
        checks.check(
            first.total as usize == expected && first.items.len() == expected.min(50),
            || {
                format!(
                    "list {name}: total {} and {} rows, expected {expected}",
                    first.total,
                    first.items.len()
                )
            },
        );
        for row in &first.items {
            let ok = filter.status.is_none_or(|s| row.status == s.as_str())
                && filter.category.is_none_or(|c| row.category == c.as_str())
                && filter.urgency.is_none_or(|u| row.urgency == u.as_str())
                && filter.scope.as_ref().is_none_or(|s| {
                    ScopePath::new(row.community.as_str()).is_ok_and(|c| s.contains(&c))
                })
                && (filter.q.is_none() || row.text.contains("轮椅"));
            checks.check(ok, || {
                format!("list {name}: row {} does not match the filter", row.id)
            });
        }
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            let page = store.list_wishes(filter)?;
            times.push(t.elapsed());
            checks.check(page.items == first.items, || {
                format!("list {name}: pages differ between runs")
            });
        }
        times.sort();
        let median = times[RUNS / 2];
        println!(
            "  {name:<48} {expected:>6} matches: median {}, min {}, max {} over {RUNS} runs",
            ms(median),
            ms(times[0]),
            ms(times[RUNS - 1]),
        );
        table.add(
            &format!("4. list 50: {name}"),
            ms(median),
            "< 20 ms",
            Some(median < Duration::from_millis(20)),
        );
    }
    Ok(())
}

fn main() -> Res<()> {
    let dir = tempfile::tempdir()?;
    println!(
        "Doorstep sync benchmarks (SQLite files in {}); {} CPU(s), load average {}",
        dir.path().display(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        load_average()
    );
    println!();
    let total = Instant::now();
    let mut table = Table::default();
    let mut checks = Checks::default();
    run_sync_scenarios(dir.path(), &mut table, &mut checks)?;
    run_list_scenario(dir.path(), &mut table, &mut checks)?;
    trust::run_trust_scenarios(dir.path(), &mut table, &mut checks)?;
    table.print();
    println!(
        "total run time {}; load average now {}",
        ms(total.elapsed()),
        load_average()
    );
    if checks.0.is_empty() {
        println!("all correctness checks passed");
        Ok(())
    } else {
        println!();
        println!("{} correctness check(s) FAILED:", checks.0.len());
        for failure in &checks.0 {
            println!("  - {failure}");
        }
        Err(format!("{} correctness check(s) failed", checks.0.len()).into())
    }
}
