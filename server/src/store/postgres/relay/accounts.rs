//! Accounts on PostgreSQL: users, devices, refresh tokens, dashboard
//! sessions, and the audit log.

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
use crate::store::{Changes, Headroom, Usage};

pub(super) fn insert_user(
    pg: &mut PgEngine,
    username: &UserId,
    role: Role,
    scopes: &[ScopePath],
    password_hash: &str,
    now: i64,
) -> AppResult<()> {
    todo!()
}

pub(super) fn user(pg: &PgEngine, username: &str) -> AppResult<Option<User>> {
    todo!()
}

pub(super) fn list_users(pg: &PgEngine) -> AppResult<Vec<User>> {
    todo!()
}

pub(super) fn disable_user(pg: &mut PgEngine, username: &str, now: i64) -> AppResult<()> {
    todo!()
}

pub(super) fn enable_user(pg: &mut PgEngine, username: &str) -> AppResult<()> {
    todo!()
}

pub(super) fn set_password(
    pg: &mut PgEngine,
    username: &UserId,
    password_hash: &str,
    one_time_until: Option<i64>,
    now: i64,
) -> AppResult<()> {
    todo!()
}

pub(super) fn append_audit(pg: &mut PgEngine, entry: &crate::audit::Entry) -> AppResult<()> {
    todo!()
}

pub(super) fn audit_log(
    pg: &PgEngine,
    filter: &crate::audit::Filter,
) -> AppResult<Vec<crate::audit::Stored>> {
    todo!()
}

pub(super) fn set_role(
    pg: &mut PgEngine,
    username: &UserId,
    role: Option<Role>,
    scopes: &[ScopePath],
) -> AppResult<()> {
    todo!()
}

pub(super) fn credentials(pg: &PgEngine, username: &str) -> AppResult<Option<Credentials>> {
    todo!()
}

pub(super) fn register_device(
    pg: &mut PgEngine,
    user: &UserId,
    device: DeviceId,
    name: &str,
    kind: &str,
    key: Option<PublicKey>,
    now: i64,
) -> AppResult<()> {
    todo!()
}

pub(super) fn device(pg: &PgEngine, id: DeviceId) -> AppResult<Option<Device>> {
    todo!()
}

pub(super) fn list_devices(pg: &PgEngine) -> AppResult<Vec<Device>> {
    todo!()
}

pub(super) fn revoke_device(
    pg: &mut PgEngine,
    id: DeviceId,
    kind: RevokeKind,
    now: i64,
) -> AppResult<()> {
    todo!()
}

pub(super) fn device_seen(pg: &mut PgEngine, id: DeviceId, now: i64) -> AppResult<()> {
    todo!()
}

pub(super) fn web_device(
    pg: &mut PgEngine,
    user: &UserId,
    secret: &[u8],
    now: i64,
) -> AppResult<DeviceId> {
    todo!()
}

pub(super) fn issue_refresh(
    pg: &mut PgEngine,
    device: DeviceId,
    ttl_ms: i64,
    now: i64,
) -> AppResult<String> {
    todo!()
}

pub(super) fn rotate_refresh(
    pg: &mut PgEngine,
    token: &str,
    ttl_ms: i64,
    now: i64,
) -> AppResult<(User, DeviceId, String)> {
    todo!()
}

pub(super) fn start_web_session(
    pg: &mut PgEngine,
    user: &UserId,
    secret: &[u8],
    ttl_ms: i64,
    now: i64,
) -> AppResult<String> {
    todo!()
}

pub(super) fn web_session(pg: &PgEngine, secret: &str, now: i64) -> AppResult<Option<WebSession>> {
    todo!()
}

pub(super) fn end_web_session(pg: &mut PgEngine, secret: &str, now: i64) -> AppResult<()> {
    todo!()
}
