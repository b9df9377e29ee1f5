//! Names, partner units, the wish wall and points on PostgreSQL.

#![allow(unused_imports, unused_variables)] // TODO: filled in by the port

use std::collections::BTreeMap;

use sync_core::points::PointsRules;
use sync_core::store::{HeldCard, Leaderboards, LedgerEntry, Profile, Unit, WallCard};
use sync_core::workflow::Reader;
use sync_core::{ScopePath, UnitId, UserId};

use crate::error::AppResult;
use crate::store::People;
use crate::store::postgres::PgEngine;

impl People for PgEngine {
    fn set_place_name(&mut self, place: &ScopePath, name: Option<&str>) -> AppResult<()> {
        todo!()
    }

    fn place_names(&self) -> AppResult<BTreeMap<String, String>> {
        todo!()
    }

    fn put_unit(&mut self, id: &UnitId, name: &str, now: i64) -> AppResult<()> {
        todo!()
    }

    fn units(&self) -> AppResult<Vec<Unit>> {
        todo!()
    }

    fn set_profile(
        &mut self,
        user: &UserId,
        display_name: Option<&str>,
        phone: Option<&str>,
        unit: Option<Option<&UnitId>>,
    ) -> AppResult<()> {
        todo!()
    }

    fn profiles(&self) -> AppResult<BTreeMap<UserId, Profile>> {
        todo!()
    }

    fn wall(&self, reader: &Reader, scopes: &[ScopePath], limit: u32) -> AppResult<Vec<WallCard>> {
        todo!()
    }

    fn held_by(&self, reader: &Reader, scopes: &[ScopePath]) -> AppResult<Vec<HeldCard>> {
        todo!()
    }

    fn points_ledger(
        &self,
        scopes: &[ScopePath],
        rules: &PointsRules,
    ) -> AppResult<Vec<LedgerEntry>> {
        todo!()
    }

    fn leaderboards(&self, scopes: &[ScopePath], rules: &PointsRules) -> AppResult<Leaderboards> {
        todo!()
    }
}
