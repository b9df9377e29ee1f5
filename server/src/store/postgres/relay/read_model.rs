//! The materialized rows and search terms on PostgreSQL, and the lists
//! and statistics read from them.

#![allow(unused_imports, unused_variables)] // TODO: filled in by the port

use std::collections::HashMap;
use std::sync::Arc;

use sync_core::doc::{EventInput, HistoryEntry};
use sync_core::keys::{DeviceKey, PublicKey};
use sync_core::model::WishPatch;
use sync_core::store::{
    ConflictRow, CorrectedTimes, HouseholdRow, Page, RevokeKind, StatsReport, VisitRow, WishExtras,
    WishFilter, WishRow,
};
use sync_core::sync::{Decision, Held, Policy, Refusal, SyncRequest, SyncResponse};
use sync_core::{
    Author, DeviceId, HouseholdId, Record, RecordId, Role, ScopePath, Status, UserId, WishId,
};

use crate::accounts::{Credentials, Device, User, WebSession};
use crate::error::AppResult;
use crate::store::postgres::PgEngine;
use crate::store::postgres::error::Result as PgResult;
use crate::store::{Changes, Headroom, Usage};
use deadpool_postgres::Transaction;
use sync_core::sync::storage::RecordWrite;

/// Replaces the materialized rows, search terms and photo references of
/// `write`'s record, inside the transaction that stores it.
pub(in crate::store::postgres) async fn materialize(
    tx: &Transaction<'_>,
    write: &RecordWrite<'_>,
) -> PgResult<()> {
    Ok(())
}

pub(super) fn list_wishes(pg: &PgEngine, filter: &WishFilter) -> AppResult<Page<WishRow>> {
    todo!()
}

pub(super) fn wish_extras(pg: &PgEngine, ids: &[String]) -> AppResult<HashMap<String, WishExtras>> {
    todo!()
}

pub(super) fn households(
    pg: &PgEngine,
    scopes: &[ScopePath],
    q: Option<&str>,
    limit: u32,
    offset: u32,
) -> AppResult<Page<HouseholdRow>> {
    todo!()
}

pub(super) fn visits(pg: &PgEngine, household: HouseholdId) -> AppResult<Vec<VisitRow>> {
    todo!()
}

pub(super) fn conflicts(
    pg: &PgEngine,
    scopes: &[ScopePath],
    include_resolved: bool,
) -> AppResult<Vec<ConflictRow>> {
    todo!()
}

pub(super) fn stats(pg: &PgEngine, scopes: &[ScopePath]) -> AppResult<StatsReport> {
    todo!()
}

pub(super) fn changes(pg: &PgEngine, scopes: &[ScopePath], since: i64) -> AppResult<Changes> {
    todo!()
}

pub(super) fn usage(pg: &PgEngine) -> AppResult<Usage> {
    todo!()
}
