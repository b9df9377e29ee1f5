//! The field app's store: a worker's records in sync-core's SQLite store,
//! the session, and the sync client's rounds as bytes. Calls take and give
//! JSON (sync-core's own serde shapes) so that the worker script passes
//! them through; the page moves bytes over HTTP and draws screens, and every
//! rule is sync-core's.

use serde::{Deserialize, Serialize};
use sync_core::doc::{Author, EventInput};
use sync_core::model::{HouseholdPatch, WishCard, WishPatch};
use sync_core::store::{PeerId, Rejection, WishFilter, WishRow};
use sync_core::sync::{Message, PendingSync, SyncReport};
use sync_core::workflow::{may_append, next_status};
use sync_core::{
    CommunityPath, EventKind, HouseholdId, NewHousehold, NewVisit, NewWish, Record, RecordId,
    Status, Store, WishId,
};

use crate::error::{FieldError, Result};
use crate::session::{self, Session};

/// The field app over one store.
pub struct FieldApp {
    pub(crate) store: Store,
    relay: PeerId,
    session: Option<Session>,
    /// The device clock when the login request was made, to learn the
    /// browser's clock error from the relay's answer.
    login_sent_at: Option<i64>,
    /// The round in flight: built, sent, its answer not applied yet.
    round: Option<PendingSync>,
}

impl std::fmt::Debug for FieldApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldApp")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

/// A new household and the community it is in.
#[derive(Debug, Deserialize)]
struct HouseholdForm {
    community: CommunityPath,
    #[serde(flatten)]
    fields: NewHousehold,
}

/// A workflow event the worker appends to a card.
#[derive(Debug, Deserialize)]
struct EventForm {
    kind: EventKind,
    #[serde(default)]
    note: Option<String>,
}

/// The records waiting to go to the relay.
#[derive(Debug, Serialize)]
struct Unsynced {
    count: usize,
    ids: Vec<RecordId>,
}

/// The events the field app offers on a card, where the workflow allows.
const WORKER_ACTIONS: [EventKind; 3] = [EventKind::Edit, EventKind::Submit, EventKind::Withdraw];

/// A card and the events its reader may append now.
#[derive(Debug, Serialize)]
struct CardView<'a> {
    card: &'a WishCard,
    allowed: Vec<&'static str>,
}

/// One sync round's outcome, for the page.
#[derive(Debug, Serialize)]
struct Round<'a> {
    #[serde(flatten)]
    report: &'a SyncReport,
    /// Records still waiting to go to the relay after this round.
    pending: u64,
}

impl FieldApp {
    /// The app over `store`, syncing with the relay at `relay_url` (the
    /// page's own origin).
    pub fn new(store: Store, relay_url: &str) -> Result<Self> {
        session::init(store.connection())?;
        let session = session::load(store.connection())?;
        Ok(Self {
            relay: PeerId::new(relay_url)?,
            store,
            session,
            login_sent_at: None,
            round: None,
        })
    }

    /// The store underneath (tests and benchmarks).
    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    fn session(&self) -> Result<&Session> {
        self.session
            .as_ref()
            .ok_or_else(|| FieldError::new("not_logged_in", "log in first; nothing was stored"))
    }

    pub(crate) fn author(&self) -> Result<Author> {
        Ok(self.session()?.author(self.store.id()))
    }

    /// The logged-in worker (JSON `{user, role, scopes}`), or `null`.
    pub fn account(&self) -> Result<String> {
        Ok(serde_json::to_string(
            &self.session.as_ref().map(Session::account),
        )?)
    }

    /// The body of `POST /v1/auth/login` for this browser: the credentials,
    /// and this store's device id and signing key.
    pub fn login_request(
        &mut self,
        username: &str,
        password: &str,
        device_name: &str,
    ) -> Result<String> {
        let key = self.store.public_key()?;
        self.login_sent_at = Some(self.store.device_clock());
        Ok(serde_json::json!({
            "username": username.trim(), "password": password,
            "device_id": self.store.id().to_string(), "device_name": device_name,
            "public_key": key.to_string(),
        })
        .to_string())
    }

    /// Opens the session the relay's login answer (JSON) carries, and learns
    /// the browser's clock error from it. Returns the account.
    pub fn login_response(&mut self, answer: &str) -> Result<String> {
        let tokens = session::parse_tokens(answer)?;
        if let Some(sent_at) = self.login_sent_at.take() {
            // Cheap phones' clocks are often wrong: stamp work by the relay's
            // time from the first record on.
            self.store.learn_clock(sent_at, tokens.server_time_ms)?;
        }
        let session = Session::new(tokens, self.store.now());
        session::save(self.store.connection(), &session)?;
        self.session = Some(session);
        self.account()
    }

    /// The access token for the next request, or `None` when it must be
    /// refreshed first.
    pub fn access_token(&self) -> Result<Option<String>> {
        let session = self.session()?;
        Ok((!session.needs_refresh(self.store.now())).then(|| session.access_token.clone()))
    }

    /// The body of `POST /v1/auth/refresh`.
    pub fn refresh_request(&mut self) -> Result<String> {
        let key = self.store.public_key()?;
        let session = self.session()?;
        Ok(serde_json::json!({
            "refresh_token": session.refresh_token, "public_key": key.to_string(),
        })
        .to_string())
    }

    /// Stores the new tokens of a refresh (the old refresh token no longer
    /// works) and returns the access token.
    pub fn refresh_response(&mut self, answer: &str) -> Result<String> {
        let session = Session::new(session::parse_tokens(answer)?, self.store.now());
        session::save(self.store.connection(), &session)?;
        let token = session.access_token.clone();
        self.session = Some(session);
        Ok(token)
    }

    /// Forgets the tokens. Records and unsent edits stay, and go at the next
    /// sync after a login.
    pub fn logout(&mut self) -> Result<()> {
        session::clear(self.store.connection())?;
        self.session = None;
        Ok(())
    }

    /// Builds the next sync request (the bytes of `POST /v1/sync`): the
    /// edits the relay lacks, and the cursor to pull from.
    pub fn sync_request(&mut self) -> Result<Vec<u8>> {
        let scopes = self.session()?.scopes.clone();
        let (request, pending) = self.store.begin_sync(&self.relay, &scopes)?;
        let bytes = Message::Request(request)
            .encode()
            .map_err(sync_core::Error::from)?;
        self.round = Some(pending);
        Ok(bytes)
    }

    /// Applies the relay's answer to the last request. Returns the round's
    /// report (JSON; `more` asks for another round). A round whose answer
    /// never came is simply built again: nothing is lost.
    pub fn sync_response(&mut self, answer: &[u8]) -> Result<String> {
        let pending = self
            .round
            .take()
            .ok_or_else(|| FieldError::invalid("no sync request is waiting for an answer"))?;
        let response = match Message::decode(answer) {
            Ok(Message::Response(response)) => response,
            Ok(_) => {
                return Err(FieldError::new(
                    "relay",
                    "the relay answered with something other than a sync response",
                ));
            }
            Err(e) => {
                return Err(FieldError::new(
                    "relay",
                    format!("the relay's answer cannot be read ({e}); the app may need an update"),
                ));
            }
        };
        let report = self.store.finish_sync(pending, &response)?;
        let pending = self.store.pending_changes(&self.relay)?;
        Ok(serde_json::to_string(&Round {
            report: &report,
            pending,
        })?)
    }

    /// The records not on the relay yet (JSON `{count, ids}`), refused ones
    /// aside.
    pub fn unsynced(&self) -> Result<String> {
        let ids = self.store.pending_records(&self.relay)?;
        Ok(serde_json::to_string(&Unsynced {
            count: ids.len(),
            ids,
        })?)
    }

    /// The edits the relay refused, newest first, with the reasons (JSON).
    pub fn refused(&self) -> Result<String> {
        let rows: Vec<Rejection> = self.store.rejections(&self.relay)?;
        Ok(serde_json::to_string(&rows)?)
    }

    /// Sends a refused edit again at the next sync.
    pub fn retry(&mut self, record_id: &str) -> Result<()> {
        let record: RecordId = record_id.parse()?;
        self.store.retry_rejected(&self.relay, record)?;
        Ok(())
    }

    /// Households in the worker's communities, matching `text` if given
    /// (Chinese included), as JSON rows `{items, total}`.
    pub fn households(&self, text: Option<String>, limit: u32, offset: u32) -> Result<String> {
        let scopes = &self.session()?.scopes;
        let page = self
            .store
            .households(scopes, text.as_deref(), limit, offset)?;
        Ok(serde_json::to_string(&page)?)
    }

    /// One household (JSON).
    pub fn household(&self, id: &str) -> Result<String> {
        let household: HouseholdId = id.parse()?;
        match self.store.record(household.record())? {
            Record::Household(h) => Ok(serde_json::to_string(&h)?),
            _ => Err(FieldError::new("not_found", format!("no household {id}"))),
        }
    }

    /// Creates a household from a form (JSON: `community` and the fields of
    /// a new household) and returns its id.
    pub fn create_household(&mut self, form: &str) -> Result<String> {
        let form: HouseholdForm = serde_json::from_str(form)?;
        let author = self.author()?;
        let id = self
            .store
            .create_household(&author, &form.community, &form.fields)?;
        Ok(id.to_string())
    }

    /// Changes the fields a patch (JSON) sets.
    pub fn update_household(&mut self, id: &str, patch: &str) -> Result<()> {
        let household: HouseholdId = id.parse()?;
        let patch: HouseholdPatch = serde_json::from_str(patch)?;
        let author = self.author()?;
        self.store.update_household(&author, household, &patch)?;
        Ok(())
    }

    /// Records a visit (JSON) and returns its id.
    pub fn record_visit(&mut self, visit: &str) -> Result<String> {
        let visit: NewVisit = serde_json::from_str(visit)?;
        let author = self.author()?;
        Ok(self.store.record_visit(&author, &visit)?.to_string())
    }

    /// A household's visits, most recent first (JSON rows).
    pub fn visits(&self, household_id: &str) -> Result<String> {
        let household: HouseholdId = household_id.parse()?;
        Ok(serde_json::to_string(&self.store.visits(household)?)?)
    }

    /// The visits made since `since` (ms) in the worker's communities.
    pub fn visits_since(&self, since: i64) -> Result<String> {
        let scopes = &self.session()?.scopes;
        Ok(serde_json::to_string(
            &self.store.visits_since(scopes, since, 200)?,
        )?)
    }

    /// Creates a draft card (JSON) and returns its id.
    pub fn create_wish(&mut self, wish: &str) -> Result<String> {
        let wish: NewWish = serde_json::from_str(wish)?;
        let author = self.author()?;
        Ok(self.store.create_wish(&author, &wish)?.to_string())
    }

    /// Edits a card's content (JSON patch) while the workflow allows it.
    pub fn update_wish(&mut self, id: &str, patch: &str) -> Result<()> {
        let wish: WishId = id.parse()?;
        let patch: WishPatch = serde_json::from_str(patch)?;
        let author = self.author()?;
        self.store.update_wish(&author, wish, &patch)?;
        Ok(())
    }

    /// Appends a workflow event (JSON `{kind, note}`: submit, withdraw, …)
    /// as the worker, and returns the card's new status.
    pub fn append_event(&mut self, id: &str, event: &str) -> Result<String> {
        let wish: WishId = id.parse()?;
        let form: EventForm = serde_json::from_str(event)?;
        let input = EventInput {
            note: form.note.filter(|n| !n.trim().is_empty()),
            ..EventInput::new(form.kind)
        };
        let author = self.author()?;
        let status: Status = self.store.append_event(&author, wish, &input)?;
        Ok(status.as_str().to_owned())
    }

    /// Wish cards in the worker's communities (JSON rows `{items, total}`),
    /// filtered by a JSON filter (status, text, household, …).
    pub fn wishes(&self, filter: &str) -> Result<String> {
        let mut filter: WishFilter = serde_json::from_str(filter)?;
        filter.scopes.clone_from(&self.session()?.scopes);
        let page = self.store.list_wishes(&filter)?;
        Ok(serde_json::to_string(&page)?)
    }

    /// Cards whose text contains `text` (Chinese included), in the worker's
    /// communities.
    pub fn search_wishes(&self, text: &str) -> Result<String> {
        let filter = WishFilter {
            scopes: self.session()?.scopes.clone(),
            q: Some(text.to_owned()),
            limit: Some(100),
            ..WishFilter::default()
        };
        let rows: Vec<WishRow> = self.store.list_wishes(&filter)?.items;
        Ok(serde_json::to_string(&rows)?)
    }

    /// One card with its events and their fold, and what the worker may do
    /// with it now (JSON `{card, allowed}`; sync-core's workflow decides).
    pub fn wish(&self, id: &str) -> Result<String> {
        let wish: WishId = id.parse()?;
        let Record::Wish(card) = self.store.record(wish.record())? else {
            return Err(FieldError::new("not_found", format!("no wish card {id}")));
        };
        let role = self.session()?.role;
        let allowed: Vec<&str> = WORKER_ACTIONS
            .iter()
            .filter(|&&kind| {
                may_append(role, kind) && next_status(card.state.status, kind).is_some()
            })
            .map(|kind| kind.as_str())
            .collect();
        Ok(serde_json::to_string(&CardView {
            card: &card,
            allowed,
        })?)
    }
}
