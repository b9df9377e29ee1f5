//! Households, visits and wish cards: each call translates its arguments,
//! makes one sync-core call as the logged-in user, and translates back.
//! Every rule (who may do what, which status follows) is sync-core's.

use sync_core::doc::EventInput;
use sync_core::model::HouseholdPatch as CorePatch;
use sync_core::{EventKind, HouseholdId, Record, RecordId, ScopePath, Status, WishId};

use crate::error::{DoorstepError, Result};
use crate::store::FieldStore;
use crate::types::{
    ChangeOrigin, Household, HouseholdFilter, HouseholdPatch, NewHousehold, NewVisit, NewWish,
    Visit, Wish, WishFilter, WishPatch, WishSummary,
};

impl FieldStore {
    /// Appends a workflow event to a card as the logged-in user.
    fn event(&self, id: &str, input: EventInput) -> Result<Status> {
        let wish: WishId = id.parse()?;
        let status = {
            let mut inner = self.shared.inner();
            let author = inner.author()?;
            inner.store.append_event(&author, wish, &input)?
        };
        self.shared
            .notify(vec![wish.to_string()], ChangeOrigin::Local);
        Ok(status)
    }

    fn record(&self, id: RecordId) -> Result<Record> {
        Ok(self.shared.inner().store.record(id)?)
    }
}

fn event(kind: EventKind, note: Option<String>) -> EventInput {
    EventInput {
        note: note.filter(|n| !n.trim().is_empty()),
        ..EventInput::new(kind)
    }
}

#[uniffi::export]
impl FieldStore {
    /// Creates a household and returns its id.
    pub fn create_household(&self, household: NewHousehold) -> Result<String> {
        let (community, fields) = household.to_core()?;
        let id = {
            let mut inner = self.shared.inner();
            let author = inner.author()?;
            inner.store.create_household(&author, &community, &fields)?
        };
        self.shared
            .notify(vec![id.to_string()], ChangeOrigin::Local);
        Ok(id.to_string())
    }

    /// Changes the fields of a household that `patch` sets.
    pub fn update_household(&self, id: String, patch: HouseholdPatch) -> Result<()> {
        let household: HouseholdId = id.parse()?;
        let patch = CorePatch::from(patch);
        {
            let mut inner = self.shared.inner();
            let author = inner.author()?;
            inner.store.update_household(&author, household, &patch)?;
        }
        self.shared.notify(vec![id], ChangeOrigin::Local);
        Ok(())
    }

    /// One household.
    pub fn household(&self, id: String) -> Result<Household> {
        let household: HouseholdId = id.parse()?;
        match self.record(household.record())? {
            Record::Household(h) => Ok(h.into()),
            _ => Err(DoorstepError::NotFound(format!(
                "not found: household {id}"
            ))),
        }
    }

    /// Households on this phone, by community and text.
    pub fn households(&self, filter: HouseholdFilter) -> Result<Vec<Household>> {
        let scopes = filter
            .community
            .as_deref()
            .map(ScopePath::new)
            .transpose()?
            .into_iter()
            .collect::<Vec<_>>();
        let page = self.shared.inner().store.households(
            &scopes,
            filter.text.as_deref(),
            filter.limit.unwrap_or(50),
            filter.offset.unwrap_or(0),
        )?;
        Ok(page.items.into_iter().map(Household::from).collect())
    }

    /// Records a visit to a household and returns its id.
    pub fn record_visit(&self, visit: NewVisit) -> Result<String> {
        let id = {
            let mut inner = self.shared.inner();
            let author = inner.author()?;
            let fields = visit.to_core(inner.store.now())?;
            inner.store.record_visit(&author, &fields)?
        };
        self.shared
            .notify(vec![id.to_string()], ChangeOrigin::Local);
        Ok(id.to_string())
    }

    /// A household's visits, most recent first.
    pub fn visits(&self, household_id: String) -> Result<Vec<Visit>> {
        let household: HouseholdId = household_id.parse()?;
        let rows = self.shared.inner().store.visits(household)?;
        Ok(rows.into_iter().map(Visit::from).collect())
    }

    /// Creates a draft wish card and returns its id.
    pub fn create_wish(&self, wish: NewWish) -> Result<String> {
        let fields = wish.to_core()?;
        let id = {
            let mut inner = self.shared.inner();
            let author = inner.author()?;
            inner.store.create_wish(&author, &fields)?
        };
        self.shared
            .notify(vec![id.to_string()], ChangeOrigin::Local);
        Ok(id.to_string())
    }

    /// Edits a card's content (while it is a draft, submitted or sent back).
    pub fn update_wish(&self, id: String, patch: WishPatch) -> Result<()> {
        let wish: WishId = id.parse()?;
        let patch = patch.to_core()?;
        {
            let mut inner = self.shared.inner();
            let author = inner.author()?;
            inner.store.update_wish(&author, wish, &patch)?;
        }
        self.shared.notify(vec![id], ChangeOrigin::Local);
        Ok(())
    }

    /// Sends a card for review (again, after it was sent back). Returns its
    /// new status.
    pub fn submit_wish(&self, id: String) -> Result<Status> {
        self.event(&id, EventInput::new(EventKind::Submit))
    }

    /// Withdraws a card (the resident no longer needs it).
    pub fn withdraw_wish(&self, id: String, reason: String) -> Result<Status> {
        self.event(&id, event(EventKind::Withdraw, Some(reason)))
    }

    /// Wish cards on this phone, by status, text (Chinese included) and
    /// community.
    pub fn wishes(&self, filter: WishFilter) -> Result<Vec<WishSummary>> {
        let filter = filter.to_core()?;
        let page = self.shared.inner().store.list_wishes(&filter)?;
        page.items.into_iter().map(WishSummary::try_from).collect()
    }

    /// One card with its status, its event history and its open conflicts.
    pub fn wish(&self, id: String) -> Result<Wish> {
        let wish: WishId = id.parse()?;
        match self.record(wish.record())? {
            Record::Wish(card) => Ok(card.into()),
            _ => Err(DoorstepError::NotFound(format!("not found: wish {id}"))),
        }
    }

    /// Takes an approved wish on (as the logged-in volunteer or worker).
    pub fn claim_wish(&self, id: String) -> Result<Status> {
        self.event(&id, EventInput::new(EventKind::Claim))
    }

    /// Gives a claimed wish back; it is approved again.
    #[uniffi::method(default(reason = None))]
    pub fn release_wish(&self, id: String, reason: Option<String>) -> Result<Status> {
        self.event(&id, event(EventKind::Release, reason))
    }

    /// Records that the claimant reported at the community (报到) before
    /// doing the work.
    pub fn check_in_wish(&self, id: String) -> Result<Status> {
        self.event(&id, EventInput::new(EventKind::CheckIn))
    }

    /// Reports a claimed wish done ("lit up").
    pub fn fulfil_wish(&self, id: String, note: String) -> Result<Status> {
        self.event(&id, event(EventKind::Fulfil, Some(note)))
    }

    /// Records the resident's confirmation of a fulfilled wish, with a
    /// rating from 1 to 5.
    #[uniffi::method(default(comment = None))]
    pub fn confirm_wish(&self, id: String, rating: u8, comment: Option<String>) -> Result<Status> {
        self.event(
            &id,
            EventInput {
                rating: Some(rating),
                ..event(EventKind::Confirm, comment)
            },
        )
    }
}
