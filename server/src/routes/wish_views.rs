//! What the wish endpoints answer: a card with what the caller may do
//! with it, a list row, and the state of each of a card's photos.

use serde::Serialize;
use sync_core::model::WishCard;
use sync_core::store::{CorrectedTimes, PhotoAccess, WishRow};
use sync_core::workflow::{fold_timed, may_append, next_status};
use sync_core::{EventId, EventKind, PhotoRef, Role, ScopePath};

use crate::error::AppResult;
use crate::store::RelayStore;

/// A wish card with its status and open conflicts at the top, and what the
/// caller may do with it now. Its times are the ones the relay corrected
/// for devices whose clocks were wrong; `clock_corrected` names the events
/// whose time was corrected, with the time their device wrote.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct WishDetail {
    #[serde(flatten)]
    card: WishCard,
    status: sync_core::Status,
    claimant: Option<String>,
    open_conflicts: usize,
    actions: Vec<Action>,
    clock_corrected: Vec<ClockCorrected>,
    /// Where each photo's bytes are.
    photo_states: Vec<PhotoState>,
    /// The caller may purge the card's photos (a supervisor or admin).
    can_purge_photos: bool,
}

/// An event whose time the relay corrected.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ClockCorrected {
    event: EventId,
    /// The time its device wrote (ms).
    written: i64,
}

impl WishDetail {
    pub(super) fn new(
        mut card: WishCard,
        times: &CorrectedTimes,
        role: Role,
        photo_states: Vec<PhotoState>,
    ) -> Self {
        let mut clock_corrected = Vec::new();
        if !times.is_empty() {
            card.state = fold_timed(&card.events, &|e| times.event(e));
            card.meta.created_at = times.created(card.meta.created_at);
            for event in &mut card.events {
                if let Some((at, _)) = times.corrected(&event.id) {
                    clock_corrected.push(ClockCorrected {
                        event: event.id,
                        written: event.at,
                    });
                    event.at = at;
                }
            }
        }
        let open_conflicts = card.state.open_conflicts().count();
        Self {
            status: card.state.status,
            claimant: card.state.claimant.clone(),
            actions: Action::available(role, card.state.status, open_conflicts),
            open_conflicts,
            card,
            clock_corrected,
            photo_states,
            can_purge_photos: matches!(role, Role::Supervisor | Role::Admin),
        }
    }
}

/// A row of a wish list, with what the caller may do with it now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct WishItem {
    #[serde(flatten)]
    row: WishRow,
    actions: Vec<Action>,
}

impl WishItem {
    pub(super) fn new(row: WishRow, role: Role) -> Self {
        let actions = match row.status.parse::<sync_core::Status>() {
            Ok(status) => Action::available(
                role,
                status,
                usize::try_from(row.open_conflicts).unwrap_or(0),
            ),
            Err(_) => Vec::new(),
        };
        Self { row, actions }
    }
}

/// The workflow actions this API offers, named as a client calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum Action {
    /// `review` with `approve`.
    Approve,
    /// `review` with `reject`.
    Reject,
    /// `review` with `needs_info`.
    NeedsInfo,
    /// `assign`.
    Assign,
    /// `fulfil`.
    Fulfil,
    /// `feedback`.
    Confirm,
    /// `conflicts/{id}/resolve`.
    ResolveConflict,
    /// `release`.
    Release,
    /// `cancel`.
    Cancel,
    /// `withdraw`.
    Withdraw,
}

impl Action {
    const ALL: [(Action, EventKind); 10] = [
        (Action::Approve, EventKind::Approve),
        (Action::Reject, EventKind::Reject),
        (Action::NeedsInfo, EventKind::RequestInfo),
        (Action::Assign, EventKind::Assign),
        (Action::Fulfil, EventKind::Fulfil),
        (Action::Confirm, EventKind::Confirm),
        (Action::ResolveConflict, EventKind::ResolveConflict),
        (Action::Release, EventKind::Release),
        (Action::Cancel, EventKind::Cancel),
        (Action::Withdraw, EventKind::Withdraw),
    ];

    /// What `role` may do to a card in `status`, by sync-core's rules (the
    /// store checks them again when the action comes).
    pub(super) fn available(
        role: Role,
        status: sync_core::Status,
        open_conflicts: usize,
    ) -> Vec<Action> {
        Self::ALL
            .iter()
            .filter(|(action, kind)| {
                may_append(role, *kind)
                    && next_status(status, *kind).is_some()
                    && (*action != Action::ResolveConflict || open_conflicts > 0)
            })
            .map(|(action, _)| *action)
            .collect()
    }
}

/// Where a photo's bytes are, as a card's reader sees it.
#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub(super) struct PhotoState {
    sha256: PhotoRef,
    /// `stored`, `pending` (not yet received) or `purged`.
    state: &'static str,
    /// For a pending photo: the device whose phone has it, by name.
    from: Option<String>,
    /// For a pending photo: since when the relay has known of it (ms).
    since: Option<i64>,
}

/// The state of each of `card`'s photos for a reader of `readable`.
pub(super) fn photo_states(
    store: &dyn RelayStore,
    readable: &[ScopePath],
    card: &WishCard,
) -> AppResult<Vec<PhotoState>> {
    card.photos
        .iter()
        .map(|photo| {
            let access = store.photo_access(readable, card.meta.id, &photo.sha256)?;
            let (state, from, since) = match access {
                PhotoAccess::Stored(_) => ("stored", None, None),
                PhotoAccess::Purged => ("purged", None, None),
                PhotoAccess::Pending { since, from } => {
                    let from = match from {
                        Some(device) => store
                            .device(device)?
                            .map(|d| super::photos::device_label(&d)),
                        None => None,
                    };
                    ("pending", from, Some(since))
                }
                // Not readable, or the reference is not indexed yet.
                PhotoAccess::NotFound => ("pending", None, None),
            };
            Ok(PhotoState {
                sha256: photo.sha256.clone(),
                state,
                from,
                since,
            })
        })
        .collect()
}
