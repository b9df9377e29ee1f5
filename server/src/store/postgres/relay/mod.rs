//! The PostgreSQL store as the relay's whole store ([`RelayStore`], with
//! [`People`] and [`PhotoIndex`]): what one relay writes, every relay over
//! the database reads. Each method is one step of its module:
//!
//! - [`records`]: records as documents (read, history, a supervisor's
//!   event or edit under the record's row lock), held updates, the feed;
//! - [`read_model`]: the materialized rows and search terms, written in a
//!   record's own transaction, and the lists and statistics read from them;
//! - [`accounts`]: users, devices, refresh tokens, dashboard sessions, the
//!   audit log, failed logins;
//! - `people` and `photos`: names, units, the wall and points, and the
//!   photo index.

mod accounts;
mod people;
mod photos;
pub(super) mod read_model;
mod records;

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

use super::PgEngine;
use crate::accounts::{Credentials, Device, User, WebSession};
use crate::error::AppResult;
use crate::store::{Changes, Headroom, LoginFailures, PoolFigures, RelayStore, Usage};

impl RelayStore for PgEngine {
    fn serve_sync(
        &mut self,
        policy: &dyn Policy,
        request: &SyncRequest,
    ) -> AppResult<SyncResponse> {
        records::serve_sync(self, policy, request)
    }

    fn record(&self, id: RecordId) -> AppResult<Option<Record>> {
        records::record(self, id)
    }

    fn history(&self, id: RecordId) -> AppResult<Vec<HistoryEntry>> {
        records::history(self, id)
    }

    fn corrected_times(&self, id: RecordId) -> AppResult<CorrectedTimes> {
        records::corrected_times(self, id)
    }

    fn check_event(
        &self,
        user: &UserId,
        role: Role,
        id: WishId,
        input: &EventInput,
    ) -> AppResult<()> {
        records::check_event(self, user, role, id, input)
    }

    fn append_event(
        &mut self,
        author: &Author,
        key: &DeviceKey,
        id: WishId,
        input: &EventInput,
    ) -> AppResult<Status> {
        records::append_event(self, author, key, id, input)
    }

    fn edit_wish(
        &mut self,
        author: &Author,
        key: &DeviceKey,
        id: WishId,
        patch: &WishPatch,
    ) -> AppResult<()> {
        records::edit_wish(self, author, key, id, patch)
    }

    fn list_wishes(&self, filter: &WishFilter) -> AppResult<Page<WishRow>> {
        read_model::list_wishes(self, filter)
    }

    fn wish_extras(&self, ids: &[String]) -> AppResult<HashMap<String, WishExtras>> {
        read_model::wish_extras(self, ids)
    }

    fn households(
        &self,
        scopes: &[ScopePath],
        q: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> AppResult<Page<HouseholdRow>> {
        read_model::households(self, scopes, q, limit, offset)
    }

    fn visits(&self, household: HouseholdId) -> AppResult<Vec<VisitRow>> {
        read_model::visits(self, household)
    }

    fn conflicts(
        &self,
        scopes: &[ScopePath],
        include_resolved: bool,
    ) -> AppResult<Vec<ConflictRow>> {
        read_model::conflicts(self, scopes, include_resolved)
    }

    fn stats(&self, scopes: &[ScopePath]) -> AppResult<StatsReport> {
        read_model::stats(self, scopes)
    }

    fn changes(&self, scopes: &[ScopePath], since: i64) -> AppResult<Changes> {
        read_model::changes(self, scopes, since)
    }

    fn usage(&self) -> AppResult<Usage> {
        read_model::usage(self)
    }

    fn feed_position(&mut self) -> AppResult<(u64, i64)> {
        records::feed_position(self)
    }

    fn probe_write(&mut self) -> AppResult<()> {
        records::probe_write(self)
    }

    fn set_size_limit(&mut self, bytes: Option<u64>) -> AppResult<()> {
        records::set_size_limit(self, bytes)
    }

    fn headroom(&self) -> AppResult<Headroom> {
        records::headroom(self)
    }

    fn held(&self, scopes: &[ScopePath], decided: bool) -> AppResult<Vec<Held>> {
        records::held(self, scopes, decided)
    }

    fn decide_held(
        &mut self,
        id: i64,
        decision: Decision,
        by: &UserId,
        relay_secret: Arc<[u8]>,
        now: i64,
    ) -> AppResult<Result<(), Refusal>> {
        records::decide_held(self, id, decision, by, relay_secret, now)
    }

    fn insert_user(
        &mut self,
        username: &UserId,
        role: Role,
        scopes: &[ScopePath],
        password_hash: &str,
        now: i64,
    ) -> AppResult<()> {
        accounts::insert_user(self, username, role, scopes, password_hash, now)
    }

    fn user(&self, username: &str) -> AppResult<Option<User>> {
        accounts::user(self, username)
    }

    fn list_users(&self) -> AppResult<Vec<User>> {
        accounts::list_users(self)
    }

    fn disable_user(&mut self, username: &str, now: i64) -> AppResult<()> {
        accounts::disable_user(self, username, now)
    }

    fn enable_user(&mut self, username: &str) -> AppResult<()> {
        accounts::enable_user(self, username)
    }

    fn set_password(
        &mut self,
        username: &UserId,
        password_hash: &str,
        one_time_until: Option<i64>,
        now: i64,
    ) -> AppResult<()> {
        accounts::set_password(self, username, password_hash, one_time_until, now)
    }

    fn append_audit(&mut self, entry: &crate::audit::Entry) -> AppResult<()> {
        accounts::append_audit(self, entry)
    }

    fn audit_log(&self, filter: &crate::audit::Filter) -> AppResult<Vec<crate::audit::Stored>> {
        accounts::audit_log(self, filter)
    }

    fn set_role(
        &mut self,
        username: &UserId,
        role: Option<Role>,
        scopes: &[ScopePath],
    ) -> AppResult<()> {
        accounts::set_role(self, username, role, scopes)
    }

    fn credentials(&self, username: &str) -> AppResult<Option<Credentials>> {
        accounts::credentials(self, username)
    }

    fn register_device(
        &mut self,
        user: &UserId,
        device: DeviceId,
        name: &str,
        kind: &str,
        key: Option<PublicKey>,
        now: i64,
    ) -> AppResult<()> {
        accounts::register_device(self, user, device, name, kind, key, now)
    }

    fn device(&self, id: DeviceId) -> AppResult<Option<Device>> {
        accounts::device(self, id)
    }

    fn list_devices(&self) -> AppResult<Vec<Device>> {
        accounts::list_devices(self)
    }

    fn revoke_device(&mut self, id: DeviceId, kind: RevokeKind, now: i64) -> AppResult<()> {
        accounts::revoke_device(self, id, kind, now)
    }

    fn device_seen(&mut self, id: DeviceId, now: i64) -> AppResult<()> {
        accounts::device_seen(self, id, now)
    }

    fn web_device(&mut self, user: &UserId, secret: &[u8], now: i64) -> AppResult<DeviceId> {
        accounts::web_device(self, user, secret, now)
    }

    fn issue_refresh(&mut self, device: DeviceId, ttl_ms: i64, now: i64) -> AppResult<String> {
        accounts::issue_refresh(self, device, ttl_ms, now)
    }

    fn rotate_refresh(
        &mut self,
        token: &str,
        ttl_ms: i64,
        now: i64,
    ) -> AppResult<(User, DeviceId, String)> {
        accounts::rotate_refresh(self, token, ttl_ms, now)
    }

    fn start_web_session(
        &mut self,
        user: &UserId,
        secret: &[u8],
        ttl_ms: i64,
        now: i64,
    ) -> AppResult<String> {
        accounts::start_web_session(self, user, secret, ttl_ms, now)
    }

    fn web_session(&self, secret: &str, now: i64) -> AppResult<Option<WebSession>> {
        accounts::web_session(self, secret, now)
    }

    fn end_web_session(&mut self, secret: &str, now: i64) -> AppResult<()> {
        accounts::end_web_session(self, secret, now)
    }

    fn record_login_failure(&mut self, subject: &str, at: i64, quiet_since: i64) -> AppResult<()> {
        accounts::record_login_failure(self, subject, at, quiet_since)
    }

    fn login_failures(&self, subject: &str) -> AppResult<LoginFailures> {
        accounts::login_failures(self, subject)
    }

    fn forget_login_failures(&mut self, subject: &str) -> AppResult<()> {
        accounts::forget_login_failures(self, subject)
    }

    fn forget_stale_login_failures(&mut self, quiet_since: i64) -> AppResult<u64> {
        accounts::forget_stale_login_failures(self, quiet_since)
    }

    fn pool(&self) -> Option<PoolFigures> {
        let status = self.store().pool_status();
        Some(PoolFigures {
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
            max: status.max_size,
        })
    }
}
