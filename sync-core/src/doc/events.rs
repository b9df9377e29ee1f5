//! Appending workflow events to a wish card: what a user asks for, checked
//! against their role, the card's status and who holds it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Author, RecordDoc, codec};
use crate::error::{Denied, Error, InvalidInput, RefusalCode, Result};
use crate::ids::{EventId, UnitId, UserId};
use crate::model::{MAX_PHOTOS, Photo, check_name, check_text};
use crate::workflow::{
    ConflictKind, EventKind, Folded, Hlc, Status, WishEvent, fold, holder_only, holds, may_append,
    next_status,
};

/// A workflow event a user asks to append.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct EventInput {
    /// The event's kind.
    pub kind: Option<EventKind>,
    /// Reason (reject, request_info, withdraw, cancel), note (fulfil) or comment (confirm).
    pub note: Option<String>,
    /// For assign: a claimant named in free text, who has no account.
    pub claimant: Option<String>,
    /// For assign: the registered volunteer the wish goes to.
    pub assignee: Option<UserId>,
    /// For claim: the partner unit the author claims for (they must be its
    /// member); for assign: the unit the wish goes to; for a unit member's
    /// check-in, fulfilment or release: their unit.
    pub unit: Option<UnitId>,
    /// The resident's rating 1–5, for confirm.
    pub rating: Option<u8>,
    /// The conflict (losing event) to resolve, for resolve_conflict.
    pub target: Option<EventId>,
    /// For resolve_conflict of a lost claim or assign: give the wish to the
    /// loser instead.
    #[serde(default)]
    pub reverse: bool,
    /// For fulfil: photos of the wish lit up, added to the card's photos
    /// with the event (the card's content is otherwise closed by then).
    #[serde(default)]
    pub photos: Vec<Photo>,
    /// The last event the author saw, when they decided on what an older
    /// copy of the card showed (a page loaded a while ago). The event is
    /// judged by the card as they saw it: if it was allowed then, it is
    /// appended, and loses to what happened since, as a race does.
    /// `None`: the card as it is now.
    pub seen: Option<EventId>,
}

impl EventInput {
    /// An event of this kind with no extra fields.
    pub fn new(kind: EventKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::default()
        }
    }

    /// Adds a reason or note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// The card as an author saw it: folded up to and including `seen`.
fn as_seen(events: &[WishEvent], now: &Folded, seen: Option<EventId>) -> Result<Folded> {
    let Some(seen) = seen else {
        return Ok(now.clone());
    };
    let mut sorted: Vec<&WishEvent> = events.iter().collect();
    sorted.sort_by_key(|e| (e.hlc, e.id));
    let position: HashMap<EventId, usize> =
        sorted.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    let Some(&upto) = position.get(&seen) else {
        return Err(Error::NotFound(format!("event {seen}")));
    };
    let known: Vec<WishEvent> = sorted[..=upto].iter().map(|e| (*e).clone()).collect();
    Ok(fold(&known))
}

impl RecordDoc {
    /// Appends a workflow event after checking the role and the card's
    /// status. Returns the card's status after it: not the event's target
    /// status when it lost a race (see [`EventInput::seen`]).
    pub fn append_event(
        &mut self,
        author: &Author,
        input: &EventInput,
        now_ms: i64,
    ) -> Result<Status> {
        let event = self.prepare_event(author, input, now_ms)?;
        self.change(author, now_ms, |tx| {
            codec::write_event(tx, &event)?;
            super::photos::add(tx, &input.photos)
        })?;
        Ok(self.wish()?.state.status)
    }

    /// Checks what [`RecordDoc::append_event`] checks, and changes nothing.
    pub fn check_event(&self, author: &Author, input: &EventInput, now_ms: i64) -> Result<()> {
        self.prepare_event(author, input, now_ms).map(drop)
    }

    /// Builds the event the author asks for, or says why the workflow refuses it.
    pub(super) fn prepare_event(
        &self,
        author: &Author,
        input: &EventInput,
        now_ms: i64,
    ) -> Result<WishEvent> {
        let kind = input
            .kind
            .ok_or_else(|| InvalidInput::new("an event needs a kind", ""))?;
        let card = self.wish()?;
        let now = &card.state;
        let state = as_seen(&card.events, now, input.seen)?;
        if !may_append(author.role, kind) {
            return Err(Error::NotAllowed(Denied::because(
                RefusalCode::RoleNotAllowed,
                format!("a {} may not {kind} a wish", author.role),
            )));
        }
        if next_status(state.status, kind).is_none() {
            return Err(Error::NotAllowed(Denied::because(
                RefusalCode::NotAllowedNow,
                format!("cannot {kind} a wish that is {}", state.status),
            )));
        }
        if holder_only(author.role, kind)
            && !holds(state.holder.as_ref(), &author.user, input.unit.as_ref())
        {
            return Err(Error::NotAllowed(Denied::because(
                RefusalCode::HolderOnly,
                format!("only the claimant may {kind} this wish"),
            )));
        }
        if let Some(note) = &input.note {
            check_text("note", note)?;
        }
        if !input.photos.is_empty() {
            if kind != EventKind::Fulfil {
                return Err(InvalidInput::new(
                    "only a fulfilment comes with photos",
                    kind.as_str(),
                )
                .into());
            }
            if card.photos.len() + input.photos.len() > MAX_PHOTOS {
                return Err(InvalidInput::new(format!("more than {MAX_PHOTOS} photos"), "").into());
            }
        }
        let needs_reason = matches!(kind, EventKind::Reject | EventKind::RequestInfo);
        if needs_reason && input.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(InvalidInput::new(format!("{kind} needs a reason"), "")
                .because(RefusalCode::ReasonRequired)
                .into());
        }
        let (claimant, assignee) = match kind {
            EventKind::Assign => match (&input.assignee, &input.unit, &input.claimant) {
                (None, None, claimant) => {
                    let claimant = claimant.as_deref().unwrap_or_default();
                    (Some(check_name("the claimant", claimant)?.to_owned()), None)
                }
                (assignee, _, _) => (None, assignee.clone()),
            },
            _ => (None, None),
        };
        let unit = match kind {
            EventKind::Claim
            | EventKind::Assign
            | EventKind::CheckIn
            | EventKind::Fulfil
            | EventKind::Release => input.unit.clone(),
            _ => None,
        };
        let rating = match kind {
            EventKind::Confirm => match input.rating {
                Some(r @ 1..=5) => Some(r),
                other => {
                    return Err(
                        InvalidInput::new("a rating is 1 to 5", &format!("{other:?}")).into(),
                    );
                }
            },
            _ => None,
        };
        let target = match kind {
            EventKind::ResolveConflict => {
                let target = input.target.ok_or_else(|| {
                    InvalidInput::new("resolve_conflict needs the conflict's id", "")
                })?;
                let Some(conflict) = now.open_conflicts().find(|c| c.event == target) else {
                    return Err(Error::NotFound(format!("open conflict {target}")));
                };
                let claim_race = conflict.kind == ConflictKind::Superseded
                    && matches!(conflict.event_kind, EventKind::Claim | EventKind::Assign);
                if input.reverse && !claim_race {
                    return Err(InvalidInput::new(
                        "only a lost claim or assignment can be resolved the other way",
                        conflict.event_kind.as_str(),
                    )
                    .into());
                }
                Some(target)
            }
            _ => None,
        };
        Ok(WishEvent {
            id: EventId::random(),
            kind,
            actor: author.user.clone(),
            role: author.role,
            device: author.device,
            // Above everything in the document, whatever the author saw: an
            // event comes after what it answers, and loses to what it did
            // not see.
            hlc: Hlc::next(now_ms, now.max_hlc),
            at: now_ms,
            base: input.seen.or(now.last_event),
            note: input.note.clone(),
            claimant,
            assignee,
            unit,
            rating,
            target,
            reverse: input.reverse && kind == EventKind::ResolveConflict,
        })
    }
}
