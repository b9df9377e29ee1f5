//! The part of the relay's store that knows names, partner units, the wish
//! wall and points. The rules (who reads what, what earns points) are
//! sync-core's; this is where the relay keeps and reads them.

use std::collections::BTreeMap;

use sync_core::points::PointsRules;
use sync_core::store::{HeldCard, Leaderboards, LedgerEntry, Profile, Unit, WallCard};
use sync_core::workflow::Reader;
use sync_core::{ScopePath, Store, UnitId, UserId};

use crate::error::AppResult;

/// Names, units, the wall and points. Every [`super::RelayStore`] is one.
pub trait People {
    /// Names a place (`None`: forgets its name).
    fn set_place_name(&mut self, place: &ScopePath, name: Option<&str>) -> AppResult<()>;

    /// Every named place: path to display name.
    fn place_names(&self) -> AppResult<BTreeMap<String, String>>;

    /// Adds or renames a partner unit.
    fn put_unit(&mut self, id: &UnitId, name: &str, now: i64) -> AppResult<()>;

    /// Every partner unit, with its members.
    fn units(&self) -> AppResult<Vec<Unit>>;

    /// Sets a user's display name, phone and unit; `None` leaves a field
    /// as it is, an empty text clears it.
    fn set_profile(
        &mut self,
        user: &UserId,
        display_name: Option<&str>,
        phone: Option<&str>,
        unit: Option<Option<&UnitId>>,
    ) -> AppResult<()>;

    /// Every user's profile.
    fn profiles(&self) -> AppResult<BTreeMap<UserId, Profile>>;

    /// The approved wishes of `scopes` on `reader`'s wall.
    fn wall(&self, reader: &Reader, scopes: &[ScopePath], limit: u32) -> AppResult<Vec<WallCard>>;

    /// The wishes `reader` or their unit holds or held.
    fn held_by(&self, reader: &Reader, scopes: &[ScopePath]) -> AppResult<Vec<HeldCard>>;

    /// The points ledger of `scopes`.
    fn points_ledger(
        &self,
        scopes: &[ScopePath],
        rules: &PointsRules,
    ) -> AppResult<Vec<LedgerEntry>>;

    /// Leaderboards of `scopes`.
    fn leaderboards(&self, scopes: &[ScopePath], rules: &PointsRules) -> AppResult<Leaderboards>;
}

impl People for Store {
    fn set_place_name(&mut self, place: &ScopePath, name: Option<&str>) -> AppResult<()> {
        Ok(Store::set_place_name(self, place, name)?)
    }

    fn place_names(&self) -> AppResult<BTreeMap<String, String>> {
        Ok(Store::place_names(self)?)
    }

    fn put_unit(&mut self, id: &UnitId, name: &str, now: i64) -> AppResult<()> {
        Ok(Store::put_unit(self, id, name, now)?)
    }

    fn units(&self) -> AppResult<Vec<Unit>> {
        Ok(Store::units(self)?)
    }

    fn set_profile(
        &mut self,
        user: &UserId,
        display_name: Option<&str>,
        phone: Option<&str>,
        unit: Option<Option<&UnitId>>,
    ) -> AppResult<()> {
        Ok(Store::set_profile(self, user, display_name, phone, unit)?)
    }

    fn profiles(&self) -> AppResult<BTreeMap<UserId, Profile>> {
        Ok(Store::profiles(self)?)
    }

    fn wall(&self, reader: &Reader, scopes: &[ScopePath], limit: u32) -> AppResult<Vec<WallCard>> {
        Ok(Store::wall(self, reader, scopes, limit)?)
    }

    fn held_by(&self, reader: &Reader, scopes: &[ScopePath]) -> AppResult<Vec<HeldCard>> {
        Ok(Store::held_by(self, reader, scopes)?)
    }

    fn points_ledger(
        &self,
        scopes: &[ScopePath],
        rules: &PointsRules,
    ) -> AppResult<Vec<LedgerEntry>> {
        Ok(Store::points_ledger(self, scopes, rules)?)
    }

    fn leaderboards(&self, scopes: &[ScopePath], rules: &PointsRules) -> AppResult<Leaderboards> {
        Ok(Store::leaderboards(self, scopes, rules)?)
    }
}
