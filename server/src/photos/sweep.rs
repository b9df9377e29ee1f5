//! Cleanup: photos no record has referred to for a grace period go, with
//! their thumbnails; so do files the database does not know (left by a
//! crash between putting a file and recording it) and uploads abandoned
//! half way.
//!
//! It is mark and sweep. The mark lists candidates; the sweep forgets each
//! only if, checked again inside its own write transaction, nothing refers
//! to it, and deletes the files only after that commits. A reference that
//! arrives between the mark and the sweep keeps its photo; one that
//! arrives after finds the photo pending, and its phone sends it again.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use sync_core::PhotoRef;

use super::storage_error;
use crate::error::AppResult;
use crate::state::AppState;

/// What a cleanup did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Photos removed (no record referred to them for the grace period).
    pub removed: u64,
    /// Candidates kept: a reference arrived after the mark.
    pub kept: u64,
    /// Files removed that the database did not know.
    pub orphans: u64,
    /// Uploads removed that nobody added to for the grace period.
    pub abandoned_uploads: u64,
}

/// The mark: photos nothing has referred to since `cutoff` (ms) or earlier.
pub async fn sweep_candidates(state: &AppState, cutoff: i64) -> AppResult<Vec<PhotoRef>> {
    state
        .db
        .run(move |store| store.photo_sweep_candidates(cutoff))
        .await
}

/// The sweep of `candidates`: each is forgotten if nothing refers to it
/// still, then its files are deleted.
pub async fn sweep_some(
    state: &AppState,
    candidates: Vec<PhotoRef>,
    cutoff: i64,
) -> AppResult<SweepReport> {
    let mut report = SweepReport::default();
    for sha in candidates {
        let key = sha.clone();
        let forgotten = state
            .db
            .run(move |store| store.forget_stored_photo(&key, cutoff))
            .await?;
        if forgotten {
            let storage = state.photos.storage.clone();
            state
                .photos
                .run(move || storage.delete(&sha))
                .await?
                .map_err(storage_error)?;
            report.removed += 1;
        } else {
            report.kept += 1;
        }
    }
    Ok(report)
}

/// A whole cleanup at `now` (ms): mark and sweep with the settings' grace
/// period, then unknown files and abandoned uploads as old as the grace.
pub async fn sweep(state: &AppState, now: i64) -> AppResult<SweepReport> {
    let grace = state.settings.photo_grace();
    let cutoff = now.saturating_sub(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
    let candidates = sweep_candidates(state, cutoff).await?;
    let mut report = sweep_some(state, candidates, cutoff).await?;
    report.orphans = remove_orphans(state, grace).await?;
    let staging = state.photos.staging.clone();
    report.abandoned_uploads = state
        .photos
        .run(move || staging.remove_stale(grace))
        .await?
        .map_err(storage_error)?;
    if report != SweepReport::default() {
        tracing::info!(?report, "photo cleanup");
    }
    Ok(report)
}

/// Deletes files older than `grace` that no stored photo row names.
async fn remove_orphans(state: &AppState, grace: Duration) -> AppResult<u64> {
    let storage = state.photos.storage.clone();
    let files = state
        .photos
        .run(move || storage.list())
        .await?
        .map_err(storage_error)?;
    let old_enough = SystemTime::now().checked_sub(grace);
    let old: Vec<PhotoRef> = files
        .into_iter()
        .filter(|(_, put)| old_enough.is_some_and(|limit| *put < limit))
        .map(|(sha, _)| sha)
        .collect();
    let unknown = state
        .db
        .run(move |store| {
            let mut unknown = Vec::new();
            for sha in old {
                if store.stored_photo(&sha)?.is_none() {
                    unknown.push(sha);
                }
            }
            Ok(unknown)
        })
        .await?;
    let count = unknown.len() as u64;
    let storage = state.photos.storage.clone();
    state
        .photos
        .run(move || unknown.iter().try_for_each(|sha| storage.delete(sha)))
        .await?
        .map_err(storage_error)?;
    Ok(count)
}
