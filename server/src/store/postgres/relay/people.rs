//! Names, partner units, the wish wall and points on PostgreSQL.
//!
//! The rules are sync-core's: who reads what on the wall
//! ([`reads_wall`], [`HeldCard::seen_by`], over [`Reader`]), and what a
//! confirmed wish earns ([`Confirmed::entry`], [`Leaderboards::of`]). This
//! reads the rows they judge from the materialized cards, in the order the
//! SQLite store reads them. Text is never ordered by the database (whose
//! collation may not be bytewise): units and their members are sorted here.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use sync_core::model::check_name;
use sync_core::points::PointsRules;
use sync_core::store::{
    Confirmed, Delivery, HeldCard, Leaderboards, LedgerEntry, Profile, Unit, WallCard, check_phone,
    reads_wall,
};
use sync_core::workflow::{Holder, Reader};
use sync_core::{CommunityPath, InvalidInput, RecordId, ScopePath, UnitId, UserId, WishId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::store::People;
use crate::store::postgres::PgEngine;
use crate::store::postgres::error::{Error, Result};

/// SQL true when `column`, a community's path (`district/street/community`),
/// lies within one of the scopes of text-array parameter `$param`: it is the
/// community, its street or its district. The same test as SQLite's byte
/// ranges, without relying on the database's collation.
pub(super) fn in_scopes(column: &str, param: usize) -> String {
    format!(
        "({column} = ANY(${param})
          OR split_part({column}, '/', 1) = ANY(${param})
          OR split_part({column}, '/', 1) || '/' || split_part({column}, '/', 2) = ANY(${param}))"
    )
}

/// The scopes as the text array [`in_scopes`] takes.
pub(super) fn scope_texts(scopes: &[ScopePath]) -> Vec<&str> {
    scopes.iter().map(ScopePath::as_str).collect()
}

/// Input sync-core refuses, as the relay answers it.
fn invalid(e: InvalidInput) -> AppError {
    sync_core::Error::from(e).into()
}

/// A stored value sync-core refuses to read.
fn corrupt(e: impl std::fmt::Display) -> Error {
    Error::Corrupt(e.to_string())
}

fn wish_id(row: &Row, column: usize) -> Result<WishId> {
    let id: Uuid = row.try_get(column)?;
    Ok(WishId::from_record(RecordId::from_bytes(*id.as_bytes())))
}

fn parsed<T: std::str::FromStr>(row: &Row, column: usize) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    row.try_get::<_, &str>(column)?.parse().map_err(corrupt)
}

fn rating(row: &Row, column: usize) -> Result<Option<u8>> {
    Ok(row
        .try_get::<_, Option<i64>>(column)?
        .and_then(|r| u8::try_from(r).ok()))
}

fn user_id(name: Option<String>) -> Result<Option<UserId>> {
    name.map(UserId::new).transpose().map_err(corrupt)
}

fn unit_id(id: Option<String>) -> Result<Option<UnitId>> {
    id.map(UnitId::new).transpose().map_err(corrupt)
}

const CARD_COLUMNS: &str =
    "w.id, w.text, w.category, w.urgency, w.community, w.reviewed_at, w.last_event";

/// A wall card from the first columns of `row` ([`CARD_COLUMNS`]).
fn wall_card(row: &Row) -> Result<WallCard> {
    Ok(WallCard {
        id: wish_id(row, 0)?,
        text: row.try_get(1)?,
        category: parsed(row, 2)?,
        urgency: parsed(row, 3)?,
        community: CommunityPath::new(row.try_get::<_, String>(4)?).map_err(corrupt)?,
        approved_at: row.try_get(5)?,
        seen: row
            .try_get::<_, Option<&str>>(6)?
            .map(str::parse)
            .transpose()
            .map_err(corrupt)?,
    })
}

fn held_card(row: &Row) -> Result<HeldCard> {
    let delivery = row
        .try_get::<_, Option<String>>(14)?
        .map(|address| -> Result<Delivery> {
            Ok(Delivery {
                address,
                contact: row.try_get::<_, Option<String>>(15)?.unwrap_or_default(),
                phone: row.try_get::<_, Option<String>>(16)?.unwrap_or_default(),
            })
        })
        .transpose()?;
    Ok(HeldCard {
        card: wall_card(row)?,
        status: parsed(row, 7)?,
        holder: Holder {
            user: user_id(row.try_get(8)?)?,
            unit: unit_id(row.try_get(9)?)?,
            name: None,
        },
        theirs: false,
        checked_in_at: row.try_get(10)?,
        fulfilled_at: row.try_get(11)?,
        confirmed_at: row.try_get(12)?,
        rating: rating(row, 13)?,
        delivery,
    })
}

fn confirmed(row: &Row) -> Result<Confirmed> {
    Ok(Confirmed {
        wish: wish_id(row, 0)?,
        community: CommunityPath::new(row.try_get::<_, String>(1)?).map_err(corrupt)?,
        urgency: parsed(row, 2)?,
        category: parsed(row, 3)?,
        rating: rating(row, 4)?,
        holder: Holder {
            user: user_id(row.try_get(5)?)?,
            unit: unit_id(row.try_get(6)?)?,
            name: None,
        },
        confirmed_at: row.try_get(7)?,
    })
}

/// Whether user `user` exists.
async fn user_exists(client: &impl GenericClient, user: &UserId) -> Result<bool> {
    let stmt = client
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
        .await?;
    Ok(client
        .query_one(&stmt, &[&user.as_str()])
        .await?
        .try_get(0)?)
}

impl People for PgEngine {
    fn set_place_name(&mut self, place: &ScopePath, name: Option<&str>) -> AppResult<()> {
        let name = name
            .map(|n| check_name("a place's name", n))
            .transpose()
            .map_err(invalid)?;
        self.block_on(async {
            let client = self.store().client().await?;
            match name {
                Some(name) => {
                    client
                        .execute(
                            "INSERT INTO places (path, name) VALUES ($1, $2)
                             ON CONFLICT (path) DO UPDATE SET name = EXCLUDED.name",
                            &[&place.as_str(), &name],
                        )
                        .await?
                }
                None => {
                    client
                        .execute("DELETE FROM places WHERE path = $1", &[&place.as_str()])
                        .await?
                }
            };
            Ok::<_, Error>(())
        })?;
        Ok(())
    }

    fn place_names(&self) -> AppResult<BTreeMap<String, String>> {
        Ok(self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client
                .prepare_cached("SELECT path, name FROM places")
                .await?;
            client
                .query(&stmt, &[])
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_>>()
        })?)
    }

    fn put_unit(&mut self, id: &UnitId, name: &str, now: i64) -> AppResult<()> {
        let name = check_name("a unit's name", name).map_err(invalid)?;
        self.block_on(async {
            let client = self.store().client().await?;
            client
                .execute(
                    "INSERT INTO units (id, name, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
                    &[&id.as_str(), &name, &now],
                )
                .await?;
            Ok::<_, Error>(())
        })?;
        Ok(())
    }

    fn units(&self) -> AppResult<Vec<Unit>> {
        // One statement, one snapshot: each unit with its enabled members.
        let rows = self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT n.id, n.name, u.username FROM units n
                       LEFT JOIN users u ON u.unit = n.id AND u.disabled_at IS NULL",
                )
                .await?;
            client
                .query(&stmt, &[])
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<Vec<(String, String, Option<String>)>>>()
        })?;
        // By id and by login, byte for byte, as SQLite orders them.
        let mut units: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        for (id, name, member) in rows {
            let unit = units.entry(id).or_insert_with(|| (name, Vec::new()));
            unit.1.extend(member);
        }
        let units = units
            .into_iter()
            .map(|(id, (name, mut members))| {
                members.sort();
                Ok(Unit {
                    id: UnitId::new(id).map_err(corrupt)?,
                    name,
                    members: members
                        .into_iter()
                        .map(|m| UserId::new(m).map_err(corrupt))
                        .collect::<Result<_>>()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(units)
    }

    fn set_profile(
        &mut self,
        user: &UserId,
        display_name: Option<&str>,
        phone: Option<&str>,
        unit: Option<Option<&UnitId>>,
    ) -> AppResult<()> {
        self.block_on(async {
            let mut client = self.store().client().await?;
            let tx = client.transaction().await.map_err(Error::from)?;
            if !user_exists(&tx, user).await? {
                return Err(sync_core::Error::NotFound(format!("user {user}")).into());
            }
            if let Some(name) = display_name {
                let name = match name.trim() {
                    "" => None,
                    name => Some(check_name("a display name", name).map_err(invalid)?),
                };
                tx.execute(
                    "UPDATE users SET display_name = $2 WHERE username = $1",
                    &[&user.as_str(), &name],
                )
                .await
                .map_err(Error::from)?;
            }
            if let Some(phone) = phone {
                let phone = match phone.trim() {
                    "" => None,
                    phone => Some(check_phone(phone).map_err(invalid)?),
                };
                tx.execute(
                    "UPDATE users SET phone = $2 WHERE username = $1",
                    &[&user.as_str(), &phone],
                )
                .await
                .map_err(Error::from)?;
            }
            if let Some(unit) = unit {
                if let Some(unit) = unit {
                    let known = tx
                        .query_opt("SELECT id FROM units WHERE id = $1", &[&unit.as_str()])
                        .await
                        .map_err(Error::from)?;
                    if known.is_none() {
                        return Err(
                            sync_core::Error::NotFound(format!("partner unit {unit}")).into()
                        );
                    }
                }
                tx.execute(
                    "UPDATE users SET unit = $2 WHERE username = $1",
                    &[&user.as_str(), &unit.map(UnitId::as_str)],
                )
                .await
                .map_err(Error::from)?;
            }
            tx.commit().await.map_err(Error::from)?;
            Ok(())
        })
    }

    fn profiles(&self) -> AppResult<BTreeMap<UserId, Profile>> {
        let rows = self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client
                .prepare_cached("SELECT username, display_name, phone, unit FROM users")
                .await?;
            Ok::<_, Error>(client.query(&stmt, &[]).await?)
        })?;
        let profiles = rows
            .iter()
            .map(|r| {
                Ok((
                    UserId::new(r.try_get::<_, String>(0)?).map_err(corrupt)?,
                    Profile {
                        display_name: r.try_get(1)?,
                        phone: r.try_get(2)?,
                        unit: unit_id(r.try_get(3)?)?,
                    },
                ))
            })
            .collect::<Result<_>>()?;
        Ok(profiles)
    }

    fn wall(&self, reader: &Reader, scopes: &[ScopePath], limit: u32) -> AppResult<Vec<WallCard>> {
        if scopes.is_empty() || !reads_wall(reader) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM wishes w
              WHERE w.status = 'approved' AND {}
              ORDER BY w.reviewed_at NULLS FIRST, w.id LIMIT $2",
            in_scopes("w.community", 1)
        );
        Ok(self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client.prepare_cached(&sql).await?;
            client
                .query(&stmt, &[&scope_texts(scopes), &i64::from(limit)])
                .await?
                .iter()
                .map(wall_card)
                .collect::<Result<Vec<_>>>()
        })?)
    }

    fn held_by(&self, reader: &Reader, scopes: &[ScopePath]) -> AppResult<Vec<HeldCard>> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {CARD_COLUMNS}, w.status, w.holder_user, w.holder_unit,
                    w.checked_in_at, w.fulfilled_at, w.confirmed_at, w.rating,
                    h.address, h.head_name, h.phone
               FROM wishes w LEFT JOIN households h ON h.id = w.household_id
              WHERE (w.holder_user = $1 OR ($2::text IS NOT NULL AND w.holder_unit = $2)
                     OR EXISTS (SELECT 1 FROM wish_takers t WHERE t.record_id = w.id
                                AND (t.username = $1 OR ($2::text IS NOT NULL AND t.unit = $2))))
                AND {}
              ORDER BY w.updated_at DESC, w.id",
            in_scopes("w.community", 3)
        );
        let unit = reader.unit.as_ref().map(UnitId::as_str);
        let cards = self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client.prepare_cached(&sql).await?;
            client
                .query(&stmt, &[&reader.user.as_str(), &unit, &scope_texts(scopes)])
                .await?
                .iter()
                .map(held_card)
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(cards
            .into_iter()
            .filter_map(|card| card.seen_by(reader))
            .collect())
    }

    fn points_ledger(
        &self,
        scopes: &[ScopePath],
        rules: &PointsRules,
    ) -> AppResult<Vec<LedgerEntry>> {
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, community, urgency, category, rating, holder_user, holder_unit, confirmed_at
               FROM wishes
              WHERE status = 'confirmed' AND (holder_user IS NOT NULL OR holder_unit IS NOT NULL)
                AND {}
              ORDER BY confirmed_at DESC NULLS LAST, id",
            in_scopes("community", 1)
        );
        let wishes = self.block_on(async {
            let client = self.store().client().await?;
            let stmt = client.prepare_cached(&sql).await?;
            client
                .query(&stmt, &[&scope_texts(scopes)])
                .await?
                .iter()
                .map(confirmed)
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(wishes
            .into_iter()
            .filter_map(|wish| wish.entry(rules))
            .collect())
    }

    fn leaderboards(&self, scopes: &[ScopePath], rules: &PointsRules) -> AppResult<Leaderboards> {
        Ok(Leaderboards::of(&self.points_ledger(scopes, rules)?))
    }
}
