//! Convergence of replicas under random edits, workflow events and an
//! unreliable network.
//!
//! A property test runs 3–5 replicas (phones with different roles in one
//! community) through random edits and workflow events while the engine's own
//! messages are delivered between them reordered, duplicated, held back
//! (stale) and dropped then retried. After a settle phase of reliable syncs
//! every replica must hold identical records, materialized rows, statuses and
//! conflict sets, every workflow event any replica appended must be kept, and
//! every value a user typed must still be in the record's history.
//!
//! Deterministic regression tests cover the races named in the architecture
//! brief: two concurrent claims, a claim racing a rejection, an edit racing a
//! withdrawal, each delivered in both orders.
//!
//! `PROPTEST_CASES` sets the number of cases (64 by default) and
//! `CONVERGENCE_MAX_STEPS` the longest schedule (40 by default). Two tests at
//! the end reproduce sync-core problems found while writing this one, fixed
//! since.

use std::cell::RefCell;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use doorstep_tests::test_clock;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sync_core::doc::{Author, EventInput};
use sync_core::model::{
    Category, HouseholdPatch, NewHousehold, NewVisit, NewWish, Urgency, VulnerabilityTag, WishCard,
    WishPatch,
};
use sync_core::store::{
    Clock, ConflictRow, Directory, HouseholdRow, PeerId, Registration, VisitRow, WishFilter,
    WishRow,
};
use sync_core::sync::{
    self, Message, PeerPolicy, PeerSession, PendingSync, RelayPolicy, SyncOptions, SyncReport,
};
use sync_core::workflow::{ConflictKind, WishEvent, holder_only, holds, may_append, next_status};
use sync_core::{
    CommunityPath, Error, EventId, EventKind, HouseholdId, Record, RecordId, Role, ScopePath,
    Status, Store, UserId, WishId,
};

const COMMUNITY: &str = "lg/ys/xk";
const STREET: &str = "lg/ys";
const BASE_MS: i64 = 1_700_000_000_000;
/// Rounds one reliable exchange may take before it is a liveness failure.
const MAX_ROUNDS: usize = 20;
/// Full passes of pairwise syncs the settle phase may take.
const MAX_SETTLE_PASSES: usize = 10;
/// Messages the simulated network holds back at most; older ones are lost.
const MAX_IN_FLIGHT: usize = 6;
/// Users of the five replicas, in order.
const USERS: [&str; 5] = ["wang", "chen", "li", "zhao", "sun"];
/// Claimants a supervisor may assign to (some of them have no phone here).
const CLAIMANTS: [&str; 5] = ["li", "sun", "zhao", "wang", "partner-unit-7"];
const NOTES: [&str; 6] = [
    "资料不全",
    "请补充照片",
    "居民已搬走",
    "duplicate of another card",
    "已完成，居民很满意",
    "送到了",
];

// ---------------------------------------------------------------------------
// Replicas and the world they live in.

/// One phone: a store, its user and the scopes it keeps.
struct Replica {
    store: Store,
    author: Author,
    scopes: Vec<ScopePath>,
}

impl Replica {
    fn new(user: &str, role: Role, scope: &str, clock: Clock) -> Self {
        let store = Store::open_in_memory()
            .expect("open store")
            .with_clock(clock);
        let author = Author {
            user: UserId::new(user).expect("valid user"),
            role,
            device: store.id(),
        };
        Self {
            store,
            author,
            scopes: vec![ScopePath::new(scope).expect("valid scope")],
        }
    }

    /// How other replicas name this one as a sync peer (as a PeerSession does).
    fn peer_id(&self) -> PeerId {
        PeerId::new(self.store.id().to_string()).expect("valid peer id")
    }

    fn wish(&self, id: WishId) -> Option<WishCard> {
        match self.store.record(id.record()) {
            Ok(Record::Wish(card)) => Some(card),
            Ok(other) => panic!("{id} is not a wish: {other:?}"),
            Err(Error::NotFound(_)) => None,
            Err(e) => panic!("reading wish {id}: {e}"),
        }
    }
}

/// A message the network holds back, to be delivered later (stale), more
/// than once (duplicated), or never (dropped).
enum InFlight {
    Request {
        client: usize,
        server: usize,
        pending: PendingSync,
        bytes: Vec<u8>,
    },
    Response {
        client: usize,
        pending: PendingSync,
        bytes: Vec<u8>,
    },
}

/// What an appended event says: actor, kind, note, claimant, rating.
type Appended = (
    String,
    EventKind,
    Option<String>,
    Option<String>,
    Option<u8>,
);

fn describe(event: &WishEvent) -> Appended {
    (
        event.actor.as_str().to_owned(),
        event.kind,
        event.note.clone(),
        event.claimant.clone(),
        event.rating,
    )
}

/// A value a user typed into a record field.
#[derive(Clone, Debug)]
struct Typed {
    record: RecordId,
    field: &'static str,
    value: String,
}

/// What happened, for the coverage check and the summary.
#[derive(Default, Debug)]
struct Tally {
    ops_ok: usize,
    ops_refused: usize,
    kinds: BTreeMap<EventKind, usize>,
    household_edits: usize,
    exchanges: usize,
    dropped: usize,
    duplicated: usize,
    stale: usize,
    settle_passes: usize,
    conflicts: usize,
    resolved: usize,
    reversed: usize,
}

impl Tally {
    fn absorb(&mut self, other: &Tally) {
        self.ops_ok += other.ops_ok;
        self.ops_refused += other.ops_refused;
        for (kind, n) in &other.kinds {
            *self.kinds.entry(*kind).or_default() += n;
        }
        self.household_edits += other.household_edits;
        self.exchanges += other.exchanges;
        self.dropped += other.dropped;
        self.duplicated += other.duplicated;
        self.stale += other.stale;
        self.settle_passes += other.settle_passes;
        self.conflicts += other.conflicts;
        self.resolved += other.resolved;
        self.reversed += other.reversed;
    }
}

struct World {
    replicas: Vec<Replica>,
    households: Vec<HouseholdId>,
    wishes: Vec<WishId>,
    typed: Vec<Typed>,
    /// Every workflow event a replica appended: what it says.
    appended: Vec<(WishId, Appended)>,
    in_flight: Vec<InFlight>,
    counter: usize,
    tally: Tally,
}

impl World {
    fn new(replicas: Vec<Replica>) -> Self {
        Self {
            replicas,
            households: Vec::new(),
            wishes: Vec::new(),
            typed: Vec::new(),
            appended: Vec::new(),
            in_flight: Vec::new(),
            counter: 0,
            tally: Tally::default(),
        }
    }

    fn n(&self) -> usize {
        self.replicas.len()
    }

    fn pair(&mut self, a: usize, b: usize) -> (&mut Replica, &mut Replica) {
        assert_ne!(a, b);
        if a < b {
            let (left, right) = self.replicas.split_at_mut(b);
            (&mut left[a], &mut right[0])
        } else {
            let (left, right) = self.replicas.split_at_mut(a);
            (&mut right[0], &mut left[b])
        }
    }

    /// A text nobody typed before, so that its survival can be checked.
    fn unique(&mut self, text: &str) -> String {
        self.counter += 1;
        format!("{text}·{}", self.counter)
    }

    // ---- the network ------------------------------------------------------

    fn request(&mut self, client: usize, server: usize) -> (PendingSync, Vec<u8>) {
        let peer = self.replicas[server].peer_id();
        let c = &mut self.replicas[client];
        // Phone to phone: every change travels, whoever made it.
        let options = SyncOptions {
            scopes: c.scopes.clone(),
            peer_scopes: None,
            unsigned_too: true,
            learn_clock: false,
        };
        let (request, pending) = c
            .store
            .begin_sync_with(&peer, &options)
            .expect("begin_sync");
        let bytes = Message::Request(request).encode().expect("encode request");
        (pending, bytes)
    }

    fn serve(&mut self, server: usize, request: &[u8]) -> Vec<u8> {
        let Message::Request(decoded) = Message::decode(request).expect("decode request") else {
            panic!("not a request");
        };
        let s = &mut self.replicas[server];
        let policy = PeerPolicy::new(s.scopes.clone(), &decoded.scopes);
        sync::serve(&mut s.store, &policy, request).expect("serve")
    }

    fn finish(&mut self, client: usize, pending: PendingSync, response: &[u8]) -> SyncReport {
        let Message::Response(response) = Message::decode(response).expect("decode response")
        else {
            panic!("not a response");
        };
        let report = self.replicas[client]
            .store
            .finish_sync(pending, &response)
            .expect("finish_sync");
        assert!(
            report.rejected.is_empty(),
            "a phone refused a record: {report:?}"
        );
        assert!(
            report.skipped.is_empty(),
            "a phone could not apply a record: {report:?}"
        );
        report
    }

    /// A reliable client/server sync, round after round until nothing is left.
    fn sync(&mut self, client: usize, server: usize) -> SyncReport {
        let mut total = SyncReport::default();
        for _ in 0..MAX_ROUNDS {
            let (pending, request) = self.request(client, server);
            let response = self.serve(server, &request);
            let round = self.finish(client, pending, &response);
            let more = round.more;
            total.absorb(round);
            if !more {
                return total;
            }
        }
        panic!("sync {client} -> {server} still has more after {MAX_ROUNDS} rounds");
    }

    fn hold(&mut self, message: InFlight) {
        if self.in_flight.len() == MAX_IN_FLIGHT {
            self.in_flight.remove(0);
            self.tally.dropped += 1;
        }
        self.in_flight.push(message);
    }

    /// One client/server round with a fault.
    fn exchange(&mut self, client: usize, server: usize, fault: Fault) {
        self.tally.exchanges += 1;
        let (pending, request) = self.request(client, server);
        match fault {
            Fault::None => {
                let response = self.serve(server, &request);
                if self.finish(client, pending, &response).more {
                    // Finish the job like a real client would.
                    self.sync(client, server);
                }
            }
            Fault::DropRequest => self.tally.dropped += 1,
            Fault::DropResponse => {
                self.serve(server, &request);
                self.tally.dropped += 1;
            }
            Fault::DuplicateRequest => {
                let first = self.serve(server, &request);
                let second = self.serve(server, &request);
                self.tally.duplicated += 1;
                // Either answer may be the one that makes it back.
                let response = if first.len().is_multiple_of(2) {
                    first
                } else {
                    second
                };
                self.finish(client, pending, &response);
            }
            Fault::DuplicateResponse => {
                let response = self.serve(server, &request);
                self.finish(client, pending.clone(), &response);
                self.finish(client, pending, &response);
                self.tally.duplicated += 1;
            }
            Fault::HoldRequest => self.hold(InFlight::Request {
                client,
                server,
                pending,
                bytes: request,
            }),
            Fault::HoldResponse => {
                let bytes = self.serve(server, &request);
                self.hold(InFlight::Response {
                    client,
                    pending,
                    bytes,
                });
            }
        }
    }

    /// Delivers a held message now, possibly keeping a copy to deliver again.
    fn deliver(&mut self, pick: usize, keep: bool) {
        if self.in_flight.is_empty() {
            return;
        }
        let index = pick % self.in_flight.len();
        let message = if keep {
            self.tally.duplicated += 1;
            match &self.in_flight[index] {
                InFlight::Request {
                    client,
                    server,
                    pending,
                    bytes,
                } => InFlight::Request {
                    client: *client,
                    server: *server,
                    pending: pending.clone(),
                    bytes: bytes.clone(),
                },
                InFlight::Response {
                    client,
                    pending,
                    bytes,
                } => InFlight::Response {
                    client: *client,
                    pending: pending.clone(),
                    bytes: bytes.clone(),
                },
            }
        } else {
            self.in_flight.remove(index)
        };
        self.tally.stale += 1;
        match message {
            InFlight::Request {
                client,
                server,
                pending,
                bytes,
            } => {
                let response = self.serve(server, &bytes);
                self.finish(client, pending, &response);
            }
            InFlight::Response {
                client,
                pending,
                bytes,
            } => {
                self.finish(client, pending, &bytes);
            }
        }
    }

    /// Phone to phone through `PeerSession`s; the message numbered `drop_at`
    /// is lost (the session is abandoned), and a request may arrive twice.
    fn peer(&mut self, a: usize, b: usize, drop_at: Option<u8>, duplicate_request: bool) {
        self.tally.exchanges += 1;
        let (ra, rb) = self.pair(a, b);
        let mut sa = PeerSession::new(ra.scopes.clone());
        let mut sb = PeerSession::new(rb.scopes.clone());
        let mut message = sa.start(&ra.store).expect("peer start");
        let mut to_b = true;
        let mut dropped = false;
        let mut duplicated = false;
        for i in 0..(2 * MAX_ROUNDS + 2) {
            if drop_at == Some(u8::try_from(i).unwrap_or(u8::MAX)) {
                dropped = true;
                break;
            }
            let (store, session) = if to_b {
                (&mut rb.store, &mut sb)
            } else {
                (&mut ra.store, &mut sa)
            };
            let is_request = matches!(Message::decode(&message), Ok(Message::Request(_)));
            if duplicate_request && is_request {
                session
                    .receive(store, &message)
                    .expect("peer receive (duplicate)");
                duplicated = true;
            }
            match session.receive(store, &message).expect("peer receive") {
                Some(reply) => {
                    message = reply;
                    to_b = !to_b;
                }
                None => break,
            }
        }
        for session in [&sa, &sb] {
            let report = session.report();
            assert!(
                report.rejected.is_empty(),
                "a phone refused a record: {report:?}"
            );
            assert!(
                report.skipped.is_empty(),
                "a phone could not apply a record: {report:?}"
            );
        }
        self.tally.dropped += usize::from(dropped);
        self.tally.duplicated += usize::from(duplicated);
    }

    /// Delivers what is still held, then syncs every pair reliably until a
    /// whole pass changes nothing anywhere. Returns the passes it took.
    fn settle(&mut self) -> usize {
        while !self.in_flight.is_empty() {
            self.deliver(0, false);
        }
        let n = self.n();
        for pass in 0..MAX_SETTLE_PASSES {
            let before: Vec<i64> = self
                .replicas
                .iter()
                .map(|r| r.store.feed_seq().expect("feed_seq"))
                .collect();
            for i in 0..n {
                for j in (i + 1)..n {
                    let (client, server) = if pass % 2 == 0 { (i, j) } else { (j, i) };
                    self.sync(client, server);
                }
            }
            let after: Vec<i64> = self
                .replicas
                .iter()
                .map(|r| r.store.feed_seq().expect("feed_seq"))
                .collect();
            if before == after {
                self.tally.settle_passes += pass + 1;
                // One more pass in both directions of every pair: nothing
                // changes, and afterwards every replica knows what each
                // other one holds.
                for i in 0..n {
                    for j in 0..n {
                        if i != j {
                            self.sync(i, j);
                        }
                    }
                }
                let again: Vec<i64> = self
                    .replicas
                    .iter()
                    .map(|r| r.store.feed_seq().expect("feed_seq"))
                    .collect();
                assert_eq!(after, again, "a sync after quiescence changed something");
                return pass + 1;
            }
        }
        panic!("replicas still changing after {MAX_SETTLE_PASSES} passes of full syncs");
    }

    // ---- operations -------------------------------------------------------

    /// Runs one user operation on replica `r`. Operations the local workflow
    /// refuses are skipped; anything else that fails is a bug.
    fn op(&mut self, r: usize, op: &Op) {
        let outcome = match op {
            Op::Advance { wish, pick, text } => self.advance(r, *wish, *pick, text, 4),
            Op::Supervise { wish, pick, text } => self.supervise(r, *wish, *pick, text),
            Op::Event { wish, kind, pick } => self.event(r, *wish, *kind, *pick),
            Op::EditWish {
                wish,
                text,
                category,
                urgency,
            } => self.edit_wish(r, *wish, text.as_deref(), *category, *urgency),
            Op::EditHousehold {
                household,
                fields,
                members,
                add,
                remove,
            } => self.edit_household(r, *household, fields, *members, *add, *remove),
            Op::NewWish { household, text } => self.new_wish(r, *household, text),
            Op::Visit { household, notes } => self.visit(r, *household, notes),
        };
        match outcome {
            Ok(()) => self.tally.ops_ok += 1,
            Err(Error::NotAllowed(_) | Error::InvalidInput(_) | Error::NotFound(_)) => {
                self.tally.ops_refused += 1
            }
            Err(e) => panic!(
                "replica {r} ({}) failed {op:?}: {e}",
                self.replicas[r].author.role
            ),
        }
    }

    fn supervise(&mut self, r: usize, wish: usize, pick: u8, text: &str) -> sync_core::Result<()> {
        let r = if self.replicas[r].author.role == Role::Supervisor {
            r
        } else {
            1
        };
        let open = self.replicas[r].store.conflicts(&[], false)?;
        if !open.is_empty() && pick.is_multiple_of(2) {
            let conflict = &open[usize::from(pick / 2) % open.len()];
            let card: RecordId = conflict.record_id.parse()?;
            if let Some(index) = self.wishes.iter().position(|w| w.record() == card) {
                let target: EventId = conflict.event_id.parse()?;
                return self.resolve(r, index, target);
            }
        }
        // Supervisors close cards (reject, cancel) more readily than others.
        self.advance(r, wish, pick / 2, text, 2)
    }

    fn resolve(&mut self, r: usize, wish: usize, target: EventId) -> sync_core::Result<()> {
        let id = self.wish_id(wish);
        let input = EventInput {
            target: Some(target),
            ..EventInput::new(EventKind::ResolveConflict)
        };
        let replica = &mut self.replicas[r];
        replica.store.append_event(&replica.author, id, &input)?;
        self.tally.reversed += usize::from(input.reverse);
        let actor = replica.author.user.as_str().to_owned();
        self.appended
            .push((id, (actor, EventKind::ResolveConflict, None, None, None)));
        *self
            .tally
            .kinds
            .entry(EventKind::ResolveConflict)
            .or_default() += 1;
        self.tally.resolved += 1;
        Ok(())
    }

    fn wish_id(&self, pick: usize) -> WishId {
        self.wishes[pick % self.wishes.len()]
    }

    /// A step that the replica's role may take in the card's status as
    /// the replica sees it; one time in `close_one_in` a closing one
    /// (withdraw, reject, cancel) is among the choices.
    fn advance(
        &mut self,
        r: usize,
        wish: usize,
        pick: u8,
        text: &str,
        close_one_in: u8,
    ) -> sync_core::Result<()> {
        let id = self.wish_id(wish);
        let replica = &self.replicas[r];
        let Some(card) = replica.wish(id) else {
            return Err(Error::NotFound(id.to_string()));
        };
        let author = &replica.author;
        let mut candidates: Vec<EventKind> = EventKind::ALL
            .iter()
            .copied()
            .filter(|k| may_append(author.role, *k) && next_status(card.state.status, *k).is_some())
            .filter(|k| {
                !holder_only(author.role, *k)
                    || holds(card.state.holder.as_ref(), &author.user, None)
            })
            .filter(|k| {
                *k != EventKind::ResolveConflict || card.state.open_conflicts().next().is_some()
            })
            .collect();
        // Closing a card ends the game for it: do so less often.
        let closing = |k: &EventKind| {
            matches!(
                k,
                EventKind::Withdraw | EventKind::Reject | EventKind::Cancel
            )
        };
        if !pick.is_multiple_of(close_one_in) && candidates.iter().any(|k| !closing(k)) {
            candidates.retain(|k| !closing(k));
        }
        if candidates.is_empty() {
            return Err(Error::NotAllowed("nothing to do".into()));
        }
        // A supervisor who sees an open conflict often deals with it.
        if pick.is_multiple_of(2) && candidates.contains(&EventKind::ResolveConflict) {
            return self.event_on(r, wish, EventKind::ResolveConflict, pick / 2, Some(&card));
        }
        let kind = candidates.swap_remove(usize::from(pick / close_one_in) % candidates.len());
        if kind == EventKind::Edit {
            self.edit_wish(r, wish, Some(text), None, None)
        } else {
            self.event_on(r, wish, kind, pick, Some(&card))
        }
    }

    fn event(&mut self, r: usize, wish: usize, kind: EventKind, pick: u8) -> sync_core::Result<()> {
        self.event_on(r, wish, kind, pick, None)
    }

    /// Appends an event; `card` is the card as replica `r` holds it, if it
    /// was read already (documents are slow to read in debug builds, so the
    /// card is read only when the event needs it).
    fn event_on(
        &mut self,
        r: usize,
        wish: usize,
        kind: EventKind,
        pick: u8,
        card: Option<&WishCard>,
    ) -> sync_core::Result<()> {
        let id = self.wish_id(wish);
        let mut input = EventInput::new(kind);
        let note = NOTES[usize::from(pick) % NOTES.len()];
        match kind {
            EventKind::Reject | EventKind::RequestInfo => input.note = Some(self.unique(note)),
            EventKind::Withdraw | EventKind::Cancel | EventKind::Fulfil
                if !pick.is_multiple_of(2) =>
            {
                input.note = Some(self.unique(note));
            }
            EventKind::Assign => {
                input.claimant = Some(CLAIMANTS[usize::from(pick) % CLAIMANTS.len()].into())
            }
            // Now and then a rating out of range, which must be refused.
            EventKind::Confirm => {
                input.rating = Some(if pick.is_multiple_of(13) {
                    6
                } else {
                    1 + pick % 5
                })
            }
            EventKind::ResolveConflict => {
                let read;
                let card = match card {
                    Some(card) => card,
                    None => {
                        read = self.replicas[r]
                            .wish(id)
                            .ok_or_else(|| Error::NotFound(id.to_string()))?;
                        &read
                    }
                };
                let open: Vec<_> = card.state.open_conflicts().collect();
                let races: Vec<_> = open
                    .iter()
                    .filter(|c| {
                        c.kind == ConflictKind::Superseded
                            && matches!(c.event_kind, EventKind::Claim | EventKind::Assign)
                    })
                    .collect();
                let at = |n: usize| usize::from(pick) % n.max(1);
                if !races.is_empty() && !pick.is_multiple_of(3) {
                    // A lost claim is given the wish instead.
                    input.target = Some(races[at(races.len())].event);
                    input.reverse = true;
                } else {
                    input.target = Some(match open.get(at(open.len())) {
                        Some(conflict) => conflict.event,
                        None => EventId::random(),
                    });
                }
            }
            EventKind::Edit => return self.edit_wish(r, wish, Some("补充说明"), None, None),
            _ => {}
        }
        let replica = &mut self.replicas[r];
        replica.store.append_event(&replica.author, id, &input)?;
        let actor = replica.author.user.as_str().to_owned();
        let claimant = input.claimant.map(|c| c.trim().to_owned());
        self.appended
            .push((id, (actor, kind, input.note, claimant, input.rating)));
        *self.tally.kinds.entry(kind).or_default() += 1;
        if kind == EventKind::ResolveConflict {
            self.tally.resolved += 1;
        }
        Ok(())
    }

    fn edit_wish(
        &mut self,
        r: usize,
        wish: usize,
        text: Option<&str>,
        category: Option<Category>,
        urgency: Option<Urgency>,
    ) -> sync_core::Result<()> {
        let id = self.wish_id(wish);
        let text = text.map(|t| {
            if t.trim().is_empty() {
                t.to_owned()
            } else {
                self.unique(t)
            }
        });
        let patch = WishPatch {
            text: text.clone(),
            category,
            urgency,
            ..WishPatch::default()
        };
        let replica = &mut self.replicas[r];
        replica.store.update_wish(&replica.author, id, &patch)?;
        let actor = replica.author.user.as_str().to_owned();
        self.appended
            .push((id, (actor, EventKind::Edit, None, None, None)));
        *self.tally.kinds.entry(EventKind::Edit).or_default() += 1;
        let record = id.record();
        self.typed.extend(text.map(|value| Typed {
            record,
            field: "text",
            value,
        }));
        self.typed.extend(category.map(|c| Typed {
            record,
            field: "category",
            value: c.as_str().into(),
        }));
        self.typed.extend(urgency.map(|u| Typed {
            record,
            field: "urgency",
            value: u.as_str().into(),
        }));
        Ok(())
    }

    fn edit_household(
        &mut self,
        r: usize,
        household: usize,
        fields: &[(HField, String)],
        members: Option<u32>,
        add: Option<VulnerabilityTag>,
        remove: Option<VulnerabilityTag>,
    ) -> sync_core::Result<()> {
        let id = self.households[household % self.households.len()];
        let mut patch = HouseholdPatch {
            members,
            add_tags: add.into_iter().collect(),
            remove_tags: remove.into_iter().collect(),
            ..HouseholdPatch::default()
        };
        for (field, value) in fields {
            let value = Some(self.unique(value));
            match field {
                HField::Address => patch.address = value,
                HField::HeadName => patch.head_name = value,
                HField::Phone => patch.phone = value,
                HField::Notes => patch.notes = value,
            }
        }
        let replica = &mut self.replicas[r];
        replica
            .store
            .update_household(&replica.author, id, &patch)?;
        self.tally.household_edits += 1;
        let record = id.record();
        for (field, value) in [
            ("address", patch.address),
            ("head_name", patch.head_name),
            ("phone", patch.phone),
            ("notes", patch.notes),
        ] {
            self.typed.extend(value.map(|value| Typed {
                record,
                field,
                value,
            }));
        }
        Ok(())
    }

    fn new_wish(&mut self, r: usize, household: usize, text: &str) -> sync_core::Result<()> {
        let household = self.households[household % self.households.len()];
        let text = self.unique(text);
        let replica = &mut self.replicas[r];
        let id = replica.store.create_wish(
            &replica.author,
            &NewWish {
                household,
                text: text.clone(),
                category: Category::Other,
                urgency: Urgency::Normal,
                photos: Vec::new(),
            },
        )?;
        self.wishes.push(id);
        self.typed.push(Typed {
            record: id.record(),
            field: "text",
            value: text,
        });
        Ok(())
    }

    fn visit(&mut self, r: usize, household: usize, notes: &str) -> sync_core::Result<()> {
        let household = self.households[household % self.households.len()];
        let notes = self.unique(notes);
        let replica = &mut self.replicas[r];
        let now = replica.store.now();
        let id = replica.store.record_visit(
            &replica.author,
            &NewVisit {
                household,
                visited_at: now,
                notes: notes.clone(),
                needs: String::new(),
                gps: None,
                follow_up: None,
            },
        )?;
        self.typed.push(Typed {
            record: id.record(),
            field: "notes",
            value: notes,
        });
        Ok(())
    }

    // ---- the seed ---------------------------------------------------------

    /// Replica 0 (a worker) creates households and wish cards; each card is
    /// taken to its stage (draft, submitted, approved, claimed, fulfilled) by
    /// the roles that may do so, with reliable syncs in between, so that the
    /// random phase starts with every replica holding the same records.
    fn seed(&mut self, households: usize, wishes: &[(usize, u8)]) {
        let community = CommunityPath::new(COMMUNITY).expect("community");
        for h in 0..households {
            let fields = NewHousehold {
                address: self.unique("坑梓路3巷"),
                head_name: self.unique("李大爷"),
                phone: self.unique("138"),
                members: 1 + u32::try_from(h).unwrap_or(0),
                tags: [VulnerabilityTag::LivingAlone].into_iter().collect(),
                notes: String::new(),
            };
            let w = &mut self.replicas[0];
            let id = w
                .store
                .create_household(&w.author, &community, &fields)
                .expect("create household");
            for (field, value) in [
                ("address", fields.address),
                ("head_name", fields.head_name),
                ("phone", fields.phone),
            ] {
                self.typed.push(Typed {
                    record: id.record(),
                    field,
                    value,
                });
            }
            self.households.push(id);
        }
        for (h, _) in wishes {
            self.new_wish(0, *h, "给李大爷一台轮椅")
                .expect("create wish");
        }
        let stages: [(u8, usize, EventKind); 4] = [
            (1, 0, EventKind::Submit),
            (2, 1, EventKind::Approve),
            (3, 2, EventKind::Claim),
            (4, 2, EventKind::Fulfil),
        ];
        let mut previous = 0;
        for (stage, r, kind) in stages {
            if !wishes.iter().any(|(_, target)| *target >= stage) {
                break;
            }
            if r != previous {
                self.sync(r, previous);
                previous = r;
            }
            for (i, (_, target)) in wishes.iter().enumerate() {
                if *target >= stage {
                    self.event(r, i, kind, 0).expect("seed event");
                }
            }
        }
        self.sync(previous, 0);
        // Through replica 0 to everyone.
        for _ in 0..2 {
            for r in 1..self.n() {
                self.sync(r, 0);
            }
        }
    }

    // ---- the end ----------------------------------------------------------

    /// Every replica holds the same records, rows, statuses and conflicts,
    /// and nothing anybody appended or typed is lost.
    fn check(&self) -> Result<(), String> {
        let snapshots: Vec<Snapshot> = self.replicas.iter().map(Snapshot::of).collect();
        for (r, snap) in snapshots.iter().enumerate().skip(1) {
            snapshots[0]
                .same_as(snap)
                .map_err(|e| format!("replica {r} differs from replica 0: {e}"))?;
        }
        for (r, (replica, snapshot)) in self.replicas.iter().zip(&snapshots).enumerate() {
            snapshot
                .consistent()
                .map_err(|e| format!("replica {r}: {e}"))?;
            for (p, other) in self.replicas.iter().enumerate() {
                if p == r {
                    continue;
                }
                let peer = other.peer_id();
                let pending = replica
                    .store
                    .pending_changes(&peer)
                    .expect("pending_changes");
                let refused = replica.store.rejections(&peer).expect("rejections");
                if pending != 0 || !refused.is_empty() {
                    return Err(format!(
                        "replica {r} still has {pending} changes for replica {p} and refusals {refused:?}"
                    ));
                }
            }
        }
        // Every event appended anywhere is in the card, once; none was
        // added or altered on the way.
        let mut expected: BTreeMap<RecordId, Vec<Appended>> = BTreeMap::new();
        for (wish, appended) in &self.appended {
            expected
                .entry(wish.record())
                .or_default()
                .push(appended.clone());
        }
        for (id, record) in &snapshots[0].records {
            let mut found: Vec<Appended> = match record {
                Record::Wish(card) => card.events.iter().map(describe).collect(),
                _ => continue,
            };
            let mut wanted = expected.remove(id).unwrap_or_default();
            found.sort();
            wanted.sort();
            if found != wanted {
                return Err(format!(
                    "wish {id} has events {found:?}, expected {wanted:?}"
                ));
            }
        }
        if let Some((id, _)) = expected.iter().next() {
            return Err(format!("wish {id} is gone"));
        }
        let replica = &self.replicas[0];
        let mut histories: BTreeMap<RecordId, BTreeSet<(String, String)>> = BTreeMap::new();
        for typed in &self.typed {
            let values = match histories.entry(typed.record) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    let history = replica
                        .store
                        .history(typed.record)
                        .map_err(|e| format!("history: {e}"))?;
                    entry.insert(
                        history
                            .into_iter()
                            .flat_map(|h| h.fields)
                            .filter_map(|f| Some((f.field, f.to?)))
                            .collect(),
                    )
                }
            };
            let found = values.contains(&(typed.field.to_owned(), typed.value.clone()));
            if !found {
                return Err(format!("typed value lost from the history: {typed:?}"));
            }
        }
        Ok(())
    }
}

/// What one replica holds, in a form that compares across replicas.
struct Snapshot {
    heads: BTreeMap<String, Vec<u8>>,
    wishes: Vec<WishRow>,
    households: Vec<HouseholdRow>,
    visits: Vec<VisitRow>,
    conflicts: Vec<ConflictRow>,
    records: BTreeMap<RecordId, Record>,
    events: BTreeMap<RecordId, BTreeMap<EventId, WishEvent>>,
}

impl Snapshot {
    fn of(replica: &Replica) -> Self {
        let store = &replica.store;
        let heads: BTreeMap<String, Vec<u8>> = {
            let mut stmt = store
                .connection()
                .prepare("SELECT id, heads FROM records ORDER BY id")
                .expect("prepare");
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        let mut wishes = store
            .list_wishes(&WishFilter {
                limit: Some(500),
                ..WishFilter::default()
            })
            .expect("list_wishes")
            .items;
        for row in &mut wishes {
            row.updated_at = 0; // local write time
        }
        wishes.sort_by(|a, b| a.id.cmp(&b.id));
        let households = store
            .households(&[], None, 500, 0)
            .expect("households")
            .items;
        let mut visits = Vec::new();
        for h in &households {
            visits.extend(
                store
                    .visits(h.id.parse().expect("household id"))
                    .expect("visits"),
            );
        }
        let mut records = BTreeMap::new();
        let mut events = BTreeMap::new();
        for id in heads.keys() {
            let id: RecordId = id.parse().expect("record id");
            let mut record = store.record(id).expect("record");
            if let Record::Wish(card) = &mut record {
                events.insert(id, card.events.iter().map(|e| (e.id, e.clone())).collect());
                card.events.sort_by_key(|e| e.id);
            }
            records.insert(id, record);
        }
        Self {
            heads,
            wishes,
            households,
            visits,
            conflicts: store.conflicts(&[], true).expect("conflicts"),
            records,
            events,
        }
    }

    fn same_as(&self, other: &Snapshot) -> Result<(), String> {
        fn same<T: PartialEq + fmt::Debug>(what: &str, a: &T, b: &T) -> Result<(), String> {
            if a == b {
                Ok(())
            } else {
                Err(format!("{what}:\n  left:  {a:?}\n  right: {b:?}"))
            }
        }
        same(
            "record ids",
            &self.heads.keys().collect::<Vec<_>>(),
            &other.heads.keys().collect::<Vec<_>>(),
        )?;
        same("wish rows", &self.wishes, &other.wishes)?;
        same("household rows", &self.households, &other.households)?;
        same("visit rows", &self.visits, &other.visits)?;
        same("conflicts", &self.conflicts, &other.conflicts)?;
        for (id, record) in &self.records {
            same(&format!("record {id}"), record, &other.records[id])?;
        }
        same("events", &self.events, &other.events)?;
        same("document heads", &self.heads, &other.heads)?;
        Ok(())
    }
}

impl Snapshot {
    /// The materialized rows say what the documents say.
    fn consistent(&self) -> Result<(), String> {
        let wish_docs = self
            .records
            .values()
            .filter(|r| matches!(r, Record::Wish(_)))
            .count();
        let household_docs = self
            .records
            .values()
            .filter(|r| matches!(r, Record::Household(_)))
            .count();
        if wish_docs != self.wishes.len() || household_docs != self.households.len() {
            return Err(format!(
                "{} wish rows for {wish_docs} wish documents, {} household rows for {household_docs} households",
                self.wishes.len(),
                self.households.len()
            ));
        }
        for row in &self.wishes {
            let id: RecordId = row.id.parse().map_err(|e| format!("{e}"))?;
            let Some(Record::Wish(card)) = self.records.get(&id) else {
                return Err(format!("wish row {id} without a wish document"));
            };
            let s = &card.state;
            let open = i64::try_from(s.open_conflicts().count()).unwrap_or(i64::MAX);
            if row.status != s.status.as_str()
                || row.claimant != s.claimant
                || row.text != card.text
                || row.category != card.category.as_str()
                || row.urgency != card.urgency.as_str()
                || row.open_conflicts != open
                || row.rating != s.rating.map(i64::from)
                || row.submitted_at != s.submitted_at
                || row.reviewed_at != s.reviewed_at
                || row.fulfilled_at != s.fulfilled_at
                || row.confirmed_at != s.confirmed_at
            {
                return Err(format!(
                    "wish row {row:?} disagrees with its document state {s:?}"
                ));
            }
            let mut from_doc: Vec<(String, String, bool)> = s
                .conflicts
                .iter()
                .map(|c| (c.event.to_string(), c.kind.as_str().to_owned(), c.resolved))
                .collect();
            let mut from_rows: Vec<(String, String, bool)> = self
                .conflicts
                .iter()
                .filter(|c| c.record_id == row.id)
                .map(|c| (c.event_id.clone(), c.kind.clone(), c.resolved))
                .collect();
            from_doc.sort();
            from_rows.sort();
            if from_doc != from_rows {
                return Err(format!(
                    "conflict rows {from_rows:?} disagree with the document's {from_doc:?}"
                ));
            }
            // A losing event is kept in the document.
            let ids: BTreeSet<EventId> = card.events.iter().map(|e| e.id).collect();
            if ids.len() != card.events.len() {
                return Err(format!("wish {id} holds an event twice"));
            }
            if let Some(c) = s.conflicts.iter().find(|c| !ids.contains(&c.event)) {
                return Err(format!(
                    "conflict {c:?} names an event the card does not have"
                ));
            }
        }
        for row in &self.households {
            let id: RecordId = row.id.parse().map_err(|e| format!("{e}"))?;
            let Some(Record::Household(h)) = self.records.get(&id) else {
                return Err(format!("household row {id} without a household document"));
            };
            let tags: Vec<String> = h.tags.iter().map(|t| t.as_str().to_owned()).collect();
            if row.address != h.address
                || row.head_name != h.head_name
                || row.phone != h.phone
                || row.notes != h.notes
                || row.members != i64::from(h.members)
                || row.tags != tags
            {
                return Err(format!(
                    "household row {row:?} disagrees with its document {h:?}"
                ));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The generated scenario.

#[derive(Clone, Copy, Debug)]
enum HField {
    Address,
    HeadName,
    Phone,
    Notes,
}

#[derive(Clone, Debug)]
enum Op {
    /// A supervisor (this replica if it is one, else replica 1) reviews,
    /// dispatches or resolves a conflict it sees.
    Supervise {
        wish: usize,
        pick: u8,
        text: String,
    },
    /// Something the replica's role may do in the card's current status.
    Advance {
        wish: usize,
        pick: u8,
        text: String,
    },
    /// Any event, allowed or not.
    Event {
        wish: usize,
        kind: EventKind,
        pick: u8,
    },
    EditWish {
        wish: usize,
        text: Option<String>,
        category: Option<Category>,
        urgency: Option<Urgency>,
    },
    EditHousehold {
        household: usize,
        fields: Vec<(HField, String)>,
        members: Option<u32>,
        add: Option<VulnerabilityTag>,
        remove: Option<VulnerabilityTag>,
    },
    NewWish {
        household: usize,
        text: String,
    },
    Visit {
        household: usize,
        notes: String,
    },
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    DropRequest,
    DropResponse,
    DuplicateRequest,
    DuplicateResponse,
    HoldRequest,
    HoldResponse,
}

#[derive(Clone, Debug)]
enum Step {
    Op {
        replica: usize,
        op: Op,
    },
    /// Client/server exchange (as with a relay), with a fault.
    Exchange {
        client: usize,
        server: usize,
        fault: Fault,
    },
    /// Phone-to-phone session; message `drop_at` is lost.
    Peer {
        a: usize,
        b: usize,
        drop_at: Option<u8>,
        duplicate_request: bool,
    },
    /// A held message arrives now (and maybe again later).
    Deliver {
        pick: usize,
        keep: bool,
    },
}

#[derive(Clone, Debug)]
enum Clocks {
    /// One clock for everyone: every event has its own millisecond.
    Shared,
    /// Each replica its own clock, offset (skewed) by this many ms; equal
    /// offsets give concurrent events equal wall times.
    Skewed(Vec<i64>),
}

#[derive(Clone, Debug)]
struct Scenario {
    replicas: usize,
    extra_roles: Vec<Role>,
    street_supervisors: bool,
    clocks: Clocks,
    households: usize,
    wishes: Vec<(usize, u8)>,
    steps: Vec<Step>,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{1,8}",
        "[轮椅路灯修理帮助老人心愿]{1,6}",
        Just(" ".to_owned()), // refused: a wish needs text
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let wish = 0..8usize;
    let household = 0..4usize;
    let hfield = prop_oneof![
        Just(HField::Address),
        Just(HField::HeadName),
        Just(HField::Phone),
        Just(HField::Notes)
    ];
    prop_oneof![
        8 => (wish.clone(), any::<u8>(), text()).prop_map(|(wish, pick, text)| Op::Advance { wish, pick, text }),
        5 => (wish.clone(), any::<u8>(), text()).prop_map(|(wish, pick, text)| Op::Supervise { wish, pick, text }),
        3 => (wish.clone(), prop::sample::select(EventKind::ALL.to_vec()), any::<u8>())
            .prop_map(|(wish, kind, pick)| Op::Event { wish, kind, pick }),
        3 => (
            wish,
            prop::option::of(text()),
            prop::option::of(prop::sample::select(Category::ALL.to_vec())),
            prop::option::of(prop::sample::select(Urgency::ALL.to_vec())),
        )
            .prop_map(|(wish, text, category, urgency)| Op::EditWish { wish, text, category, urgency }),
        3 => (
            household.clone(),
            prop::collection::vec((hfield, text()), 0..=2),
            prop::option::of(0..6u32),
            prop::option::of(prop::sample::select(VulnerabilityTag::ALL.to_vec())),
            prop::option::of(prop::sample::select(VulnerabilityTag::ALL.to_vec())),
        )
            .prop_map(|(household, fields, members, add, remove)| Op::EditHousehold {
                household,
                fields,
                members,
                add,
                remove
            }),
        1 => (household.clone(), text()).prop_map(|(household, text)| Op::NewWish { household, text }),
        1 => (household, text()).prop_map(|(household, notes)| Op::Visit { household, notes }),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        3 => Just(Fault::None),
        1 => Just(Fault::DropRequest),
        1 => Just(Fault::DropResponse),
        1 => Just(Fault::DuplicateRequest),
        1 => Just(Fault::DuplicateResponse),
        1 => Just(Fault::HoldRequest),
        2 => Just(Fault::HoldResponse),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (0..5usize, op()).prop_map(|(replica, op)| Step::Op { replica, op }),
        4 => (0..5usize, 0..5usize, fault()).prop_map(|(client, server, fault)| Step::Exchange { client, server, fault }),
        3 => (0..5usize, 0..5usize, prop::option::weighted(0.3, 0..4u8), prop::bool::weighted(0.2)).prop_map(
            |(a, b, drop_at, duplicate_request)| Step::Peer { a, b, drop_at, duplicate_request }
        ),
        2 => (any::<usize>(), prop::bool::weighted(0.3)).prop_map(|(pick, keep)| Step::Deliver { pick, keep }),
    ]
}

/// Schedules have 10 to 40 steps; `CONVERGENCE_MAX_STEPS` raises the
/// upper bound for a longer soak.
fn max_steps() -> usize {
    std::env::var("CONVERGENCE_MAX_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
        .max(10)
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let role = prop_oneof![
        Just(Role::Worker),
        Just(Role::Volunteer),
        Just(Role::Supervisor)
    ];
    let clocks = prop_oneof![
        Just(Clocks::Shared),
        prop::collection::vec(prop_oneof![3 => 0..20i64, 1 => -60_000..60_000i64], 5)
            .prop_map(Clocks::Skewed),
    ];
    (
        3..=5usize,
        prop::collection::vec(role, 2),
        any::<bool>(),
        clocks,
        1..=2usize,
        prop::collection::vec((0..2usize, 0..=4u8), 2..=3),
        prop::collection::vec(step(), 10..=max_steps()),
    )
        .prop_map(
            |(replicas, extra_roles, street_supervisors, clocks, households, wishes, steps)| {
                Scenario {
                    replicas,
                    extra_roles,
                    street_supervisors,
                    clocks,
                    households,
                    wishes,
                    steps,
                }
            },
        )
}

fn build(scenario: &Scenario) -> World {
    let shared = test_clock(BASE_MS);
    let roles = [
        Role::Worker,
        Role::Supervisor,
        Role::Volunteer,
        scenario.extra_roles[0],
        scenario.extra_roles[1],
    ];
    let replicas = (0..scenario.replicas)
        .map(|i| {
            let clock = match &scenario.clocks {
                Clocks::Shared => shared.clone(),
                Clocks::Skewed(offsets) => test_clock(BASE_MS + offsets[i]),
            };
            let scope = if roles[i] == Role::Supervisor && scenario.street_supervisors {
                STREET
            } else {
                COMMUNITY
            };
            Replica::new(USERS[i], roles[i], scope, clock)
        })
        .collect();
    World::new(replicas)
}

fn run(scenario: &Scenario, settle: bool) -> Result<World, String> {
    let mut world = build(scenario);
    world.seed(scenario.households, &scenario.wishes);
    let n = world.n();
    for step in &scenario.steps {
        match step {
            Step::Op { replica, op } => world.op(replica % n, op),
            Step::Exchange {
                client,
                server,
                fault,
            } => {
                let (client, server) = distinct(*client, *server, n);
                world.exchange(client, server, *fault);
            }
            Step::Peer {
                a,
                b,
                drop_at,
                duplicate_request,
            } => {
                let (a, b) = distinct(*a, *b, n);
                world.peer(a, b, *drop_at, *duplicate_request);
            }
            Step::Deliver { pick, keep } => world.deliver(*pick, *keep),
        }
    }
    if settle {
        world.settle();
    }
    world.tally.conflicts = world.replicas[0]
        .store
        .conflicts(&[], true)
        .expect("conflicts")
        .len();
    world.check()?;
    Ok(world)
}

fn distinct(a: usize, b: usize, n: usize) -> (usize, usize) {
    let a = a % n;
    let b = b % n;
    if a == b { (a, (b + 1) % n) } else { (a, b) }
}

#[test]
fn replicas_converge_under_random_edits_events_and_delivery() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let total = RefCell::new(Tally::default());
    let result = runner.run(&scenario(), |scenario| {
        let world = run(&scenario, true).map_err(TestCaseError::fail)?;
        total.borrow_mut().absorb(&world.tally);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let total = total.into_inner();
    println!("{cases} cases: {total:#?}");
    // The generator must exercise the whole workflow, conflicts and faults.
    if cases >= 64 {
        for kind in EventKind::ALL {
            assert!(
                total.kinds.get(kind).is_some_and(|n| *n > 0),
                "no {kind} event was appended in {cases} cases: {total:?}"
            );
        }
        assert!(total.conflicts > 0, "no conflict in {cases} cases");
        assert!(total.resolved > 0, "no conflict resolved in {cases} cases");
        assert!(
            total.household_edits > 0,
            "no household edit in {cases} cases"
        );
        assert!(
            total.dropped > 0 && total.duplicated > 0 && total.stale > 0,
            "delivery faults missing in {cases} cases: {total:?}"
        );
    }
}

/// Without the settle phase the replicas generally differ: the check can fail.
#[test]
fn the_check_detects_replicas_that_have_not_synced() {
    let scenario = Scenario {
        replicas: 3,
        extra_roles: vec![Role::Worker, Role::Volunteer],
        street_supervisors: false,
        clocks: Clocks::Shared,
        households: 1,
        wishes: vec![(0, 0)],
        steps: vec![Step::Op {
            replica: 0,
            op: Op::EditWish {
                wish: 0,
                text: Some("换成助行器".into()),
                category: None,
                urgency: None,
            },
        }],
    };
    let err = match run(&scenario, false) {
        Ok(_) => panic!("unsynced replicas passed the convergence check"),
        Err(e) => e,
    };
    assert!(err.contains("differs"), "{err}");
    run(&scenario, true).expect("synced replicas converge");
}

// ---------------------------------------------------------------------------
// Deterministic regressions: the races named in the architecture brief.

/// Worker (0), supervisor (1), two volunteers (2, 3), one shared clock; one
/// household and one wish taken to `stage` (see [`World::seed`]).
fn race_world(stage: u8) -> World {
    let clock = test_clock(BASE_MS);
    let replicas = vec![
        Replica::new("wang", Role::Worker, COMMUNITY, clock.clone()),
        Replica::new("chen", Role::Supervisor, STREET, clock.clone()),
        Replica::new("li", Role::Volunteer, COMMUNITY, clock.clone()),
        Replica::new("zhao", Role::Volunteer, COMMUNITY, clock),
    ];
    let mut world = World::new(replicas);
    world.seed(1, &[(0, stage)]);
    world
}

/// Delivers replica `first`'s news to everyone, then `second`'s, through
/// replica `hub`, then settles.
fn deliver_in_order(world: &mut World, first: usize, second: usize, hub: usize) {
    world.sync(first, hub);
    for r in 0..world.n() {
        if r != hub && r != second {
            world.sync(r, hub);
        }
    }
    world.sync(second, hub);
    world.settle();
}

fn card(world: &World, r: usize) -> WishCard {
    world.replicas[r].wish(world.wishes[0]).expect("the wish")
}

#[test]
fn two_concurrent_claims_resolve_the_same_way_in_either_delivery_order() {
    for (first, second) in [(2, 3), (3, 2)] {
        let mut world = race_world(2);
        world.event(2, 0, EventKind::Claim, 0).expect("li claims");
        world.event(3, 0, EventKind::Claim, 0).expect("zhao claims");
        deliver_in_order(&mut world, first, second, 1);
        world.check().expect("converged");
        for r in 0..world.n() {
            let card = card(&world, r);
            assert_eq!(card.state.status, Status::Claimed);
            // li claimed first by the shared clock, whatever arrived first.
            assert_eq!(
                card.state.claimant.as_deref(),
                Some("li"),
                "replica {r}, order {first}->{second}"
            );
            let open: Vec<_> = card.state.open_conflicts().collect();
            assert_eq!(open.len(), 1, "replica {r}: {open:?}");
            assert_eq!(open[0].event_kind, EventKind::Claim);
            assert_eq!(open[0].kind, ConflictKind::Superseded);
            let rows = world.replicas[r]
                .store
                .conflicts(&[], false)
                .expect("conflicts");
            assert_eq!(rows.len(), 1);
        }
        // The supervisor resolves it; the losing claim stays, resolved, everywhere.
        world.op(
            1,
            &Op::Event {
                wish: 0,
                kind: EventKind::ResolveConflict,
                pick: 0,
            },
        );
        world.settle();
        world.check().expect("converged after resolving");
        for r in 0..world.n() {
            let card = card(&world, r);
            assert_eq!(card.state.conflicts.len(), 1);
            assert!(card.state.conflicts[0].resolved);
            assert_eq!(
                card.events
                    .iter()
                    .filter(|e| e.kind == EventKind::Claim)
                    .count(),
                2
            );
        }
    }
}

#[test]
fn a_claim_race_resolved_the_other_way_converges_in_either_delivery_order() {
    for (first, second) in [(2, 3), (3, 2)] {
        let mut world = race_world(2);
        world.event(2, 0, EventKind::Claim, 0).expect("li claims");
        world.event(3, 0, EventKind::Claim, 0).expect("zhao claims");
        deliver_in_order(&mut world, first, second, 1);
        // li won by the clock and lights the wish up.
        world.event(2, 0, EventKind::Fulfil, 1).expect("li fulfils");
        world.settle();
        // The supervisor gives the wish to zhao instead (pick 1 reverses a
        // claim race; see `event_on`).
        world.op(
            1,
            &Op::Event {
                wish: 0,
                kind: EventKind::ResolveConflict,
                pick: 1,
            },
        );
        world.settle();
        world.check().expect("converged after the reversal");
        for r in 0..world.n() {
            let card = card(&world, r);
            assert_eq!(card.state.status, Status::Claimed, "replica {r}");
            assert_eq!(card.state.claimant.as_deref(), Some("zhao"), "replica {r}");
            let overturned: Vec<_> = card
                .state
                .conflicts
                .iter()
                .filter(|c| c.kind == ConflictKind::Overturned)
                .collect();
            assert_eq!(
                overturned.len(),
                1,
                "li's claim, overturned: {:?}",
                card.state.conflicts
            );
            assert!(overturned[0].resolved);
            let open: Vec<_> = card.state.open_conflicts().collect();
            assert_eq!(open.len(), 1, "li's fulfilment no longer counts: {open:?}");
            assert_eq!(open[0].event_kind, EventKind::Fulfil);
        }
    }
}

#[test]
fn a_claim_racing_a_rejection_resolves_the_same_way_in_either_order() {
    // Which happened first by the clock decides; delivery order does not.
    for claim_first in [true, false] {
        for (first, second) in [(2, 1), (1, 2)] {
            let mut world = race_world(2);
            if claim_first {
                world.event(2, 0, EventKind::Claim, 0).expect("claim");
                world.event(1, 0, EventKind::Reject, 0).expect("reject");
            } else {
                world.event(1, 0, EventKind::Reject, 0).expect("reject");
                world.event(2, 0, EventKind::Claim, 0).expect("claim");
            }
            deliver_in_order(&mut world, first, second, 0);
            world.check().expect("converged");
            for r in 0..world.n() {
                let card = card(&world, r);
                let (status, loser) = if claim_first {
                    (Status::Claimed, EventKind::Reject)
                } else {
                    (Status::Rejected, EventKind::Claim)
                };
                assert_eq!(card.state.status, status, "replica {r}");
                let open: Vec<_> = card.state.open_conflicts().collect();
                assert_eq!(open.len(), 1, "replica {r}: {open:?}");
                assert_eq!(open[0].event_kind, loser);
            }
        }
    }
}

#[test]
fn an_edit_racing_a_withdrawal_is_flagged_and_the_text_kept_in_either_order() {
    for edit_first in [true, false] {
        for (first, second) in [(0, 1), (1, 0)] {
            let mut world = race_world(1);
            let edit = Op::EditWish {
                wish: 0,
                text: Some("改成助行器".into()),
                category: Some(Category::MobilityAid),
                urgency: None,
            };
            let withdraw = Op::Event {
                wish: 0,
                kind: EventKind::Withdraw,
                pick: 1,
            };
            if edit_first {
                world.op(0, &edit);
                world.op(1, &withdraw);
            } else {
                world.op(1, &withdraw);
                world.op(0, &edit);
            }
            assert_eq!(
                world.tally.ops_ok, 2,
                "both operations were allowed locally"
            );
            deliver_in_order(&mut world, first, second, 2);
            world
                .check()
                .expect("converged, edited text in the history");
            for r in 0..world.n() {
                let card = card(&world, r);
                assert_eq!(card.state.status, Status::Withdrawn, "replica {r}");
                let open: Vec<_> = card.state.open_conflicts().collect();
                assert_eq!(open.len(), 1, "replica {r}: {open:?}");
                assert_eq!(open[0].event_kind, EventKind::Edit);
                assert_eq!(open[0].kind, ConflictKind::EditOverridden);
                assert!(
                    card.text.starts_with("改成助行器"),
                    "the typed text is kept: {}",
                    card.text
                );
            }
        }
    }
}

#[test]
fn a_stale_response_and_a_lost_one_do_not_lose_edits() {
    let mut world = race_world(1);
    // Phone 0 edits, syncs with 1, but the answer is held back.
    world.op(
        0,
        &Op::EditWish {
            wish: 0,
            text: Some("第一次修改".into()),
            category: None,
            urgency: None,
        },
    );
    world.exchange(0, 1, Fault::HoldResponse);
    // Phone 0 edits again; this time the answer is lost.
    world.op(
        0,
        &Op::EditWish {
            wish: 0,
            text: Some("第二次修改".into()),
            category: None,
            urgency: Some(Urgency::Critical),
        },
    );
    world.exchange(0, 1, Fault::DropResponse);
    // Phone 1 requests info meanwhile, and the old answer finally arrives.
    world.op(
        1,
        &Op::Event {
            wish: 0,
            kind: EventKind::RequestInfo,
            pick: 0,
        },
    );
    world.deliver(0, true);
    world.deliver(0, false);
    assert_eq!(world.tally.ops_ok, 3);
    world.settle();
    world.check().expect("converged");
    let card = card(&world, 2);
    assert!(card.text.starts_with("第二次修改"), "{}", card.text);
    assert_eq!(card.urgency, Urgency::Critical);
    assert_eq!(card.state.status, Status::NeedsInfo);
}

// ---------------------------------------------------------------------------
// Problems found while writing the tests above, kept as regression tests.

/// Syncs a phone with a relay under the relay's policy for that phone.
fn relay_sync(phone: &mut Replica, relay: &mut Store) -> SyncReport {
    if relay
        .device(phone.author.device)
        .expect("directory")
        .is_none()
    {
        let key = phone.store.public_key().expect("device key");
        let registration = Registration {
            device: phone.author.device,
            user: &phone.author.user,
            name: "phone",
            kind: "phone",
            key: Some(key),
        };
        let now = relay.now();
        relay
            .enroll(
                &phone.author.user,
                phone.author.role,
                &phone.scopes,
                &registration,
                now,
            )
            .expect("enroll");
    }
    let policy = RelayPolicy::new(phone.author.device, phone.scopes.clone());
    let peer = PeerId::new("relay").expect("peer name");
    sync::drive(&mut phone.store, &peer, &phone.scopes.clone(), |request| {
        sync::serve(relay, &policy, &request)
    })
    .expect("relay sync")
}

/// Two workers edit the same card offline, meet and sync phone to phone,
/// then each syncs with the relay. Each phone's push carries the other
/// phone's change too (once the relay accepted a change only from its own
/// device, and neither edit ever reached the supervisor); signed, both go
/// through whoever delivers them.
#[test]
fn edits_exchanged_phone_to_phone_still_reach_the_relay() {
    let clock = test_clock(BASE_MS);
    let mut relay = Store::open_in_memory()
        .expect("relay")
        .with_clock(clock.clone());
    let mut world = World::new(vec![
        Replica::new("wang", Role::Worker, COMMUNITY, clock.clone()),
        Replica::new("li", Role::Worker, COMMUNITY, clock.clone()),
        Replica::new("chen", Role::Supervisor, STREET, clock),
    ]);
    world.seed(1, &[(0, 0)]);
    let wish = world.wishes[0];
    for r in 0..3 {
        relay_sync(&mut world.replicas[r], &mut relay);
    }
    // Offline, each worker edits a different field of the card.
    let (a, b) = world.pair(0, 1);
    let text = WishPatch {
        text: Some("两台轮椅".into()),
        ..WishPatch::default()
    };
    a.store
        .update_wish(&a.author, wish, &text)
        .expect("edit text");
    let urgency = WishPatch {
        urgency: Some(Urgency::Critical),
        ..WishPatch::default()
    };
    b.store
        .update_wish(&b.author, wish, &urgency)
        .expect("edit urgency");
    // They meet in the village and sync phone to phone.
    world.peer(0, 1, None, false);
    // Back in signal, both sync with the relay, a few times.
    let mut refused = Vec::new();
    for _ in 0..3 {
        for r in 0..2 {
            refused.extend(relay_sync(&mut world.replicas[r], &mut relay).rejected);
        }
    }
    relay_sync(&mut world.replicas[2], &mut relay);
    let card = world.replicas[2].wish(wish).expect("the wish");
    assert_eq!(
        (card.text.as_str(), card.urgency),
        ("两台轮椅", Urgency::Critical),
        "the supervisor never sees the edits; the relay refused: {refused:#?}"
    );
}

/// Phone to phone, the phone that answers the hello pushes every record it
/// changed, whatever the other phone's scopes: a supervisor's phone (street
/// scope) sends a household of another community, address included, to a
/// worker's phone. The worker's phone refuses to store it, and the
/// supervisor's phone then lists a spurious refusal for it.
#[test]
fn a_phone_sends_another_phone_only_records_of_its_scopes() {
    let clock = test_clock(BASE_MS);
    let mut worker = Replica::new("wang", Role::Worker, COMMUNITY, clock.clone());
    let mut supervisor = Replica::new("chen", Role::Supervisor, STREET, clock);
    let other = CommunityPath::new("lg/ys/other").expect("community");
    let secret = NewHousehold {
        address: "另一个社区的地址".into(),
        ..NewHousehold::default()
    };
    supervisor
        .store
        .create_household(&supervisor.author, &other, &secret)
        .expect("household");
    // The worker's phone starts; the supervisor's phone answers with a request.
    let mut ws = PeerSession::new(worker.scopes.clone());
    let mut ss = PeerSession::new(supervisor.scopes.clone());
    let hello = ws.start(&worker.store).expect("hello");
    let request = ss
        .receive(&mut supervisor.store, &hello)
        .expect("receive hello")
        .expect("a request");
    let Ok(Message::Request(decoded)) = Message::decode(&request) else {
        panic!("expected a request");
    };
    let response = ws
        .receive(&mut worker.store, &request)
        .expect("serve")
        .expect("a response");
    ss.receive(&mut supervisor.store, &response)
        .expect("finish");
    let refusals = supervisor
        .store
        .rejections(&worker.peer_id())
        .expect("rejections");
    assert!(
        decoded.push.is_empty() && refusals.is_empty(),
        "sent {} record(s) outside the worker's scopes; refusals now listed: {refusals:?}",
        decoded.push.len()
    );
}
