//! Display names: of places (园山街道, 西坑社区), of people (胡志强), and the
//! partner units (结对单位) whose members claim wishes for them. The relay
//! fills these; a phone's copy stays empty.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::{Error, InvalidInput, Result};
use crate::ids::{ScopePath, UnitId, UserId};
use crate::model::check_name;

/// A partner unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Its short id.
    pub id: UnitId,
    /// Its display name (县水务局).
    pub name: String,
    /// Its members' logins.
    pub members: Vec<UserId>,
}

/// How a user is shown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Their display name (胡志强), if one is set.
    pub display_name: Option<String>,
    /// Their phone number, if given.
    pub phone: Option<String>,
    /// The partner unit they belong to.
    pub unit: Option<UnitId>,
}

/// Checks a phone number: digits, spaces, `+ - ( )`, 3 to 32 characters.
pub fn check_phone(phone: &str) -> std::result::Result<&str, InvalidInput> {
    let phone = phone.trim();
    let ok = (3..=32).contains(&phone.chars().count())
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
    if ok {
        Ok(phone)
    } else {
        Err(InvalidInput::new(
            "a phone number is 3-32 digits, spaces or + - ( )",
            phone,
        ))
    }
}

impl Store {
    /// Names a place, or (`None`) forgets its name.
    pub fn set_place_name(&mut self, place: &ScopePath, name: Option<&str>) -> Result<()> {
        match name {
            Some(name) => {
                let name = check_name("a place's name", name)?;
                self.connection().execute(
                    "INSERT INTO places (path, name) VALUES (?1, ?2)
                     ON CONFLICT (path) DO UPDATE SET name = excluded.name",
                    params![place.as_str(), name],
                )?;
            }
            None => {
                self.connection()
                    .execute("DELETE FROM places WHERE path = ?1", [place.as_str()])?;
            }
        }
        Ok(())
    }

    /// Every named place: path to name.
    pub fn place_names(&self) -> Result<BTreeMap<String, String>> {
        let mut stmt = self
            .connection()
            .prepare_cached("SELECT path, name FROM places")?;
        let names = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(names)
    }

    /// Adds a partner unit, or renames one.
    pub fn put_unit(&mut self, id: &UnitId, name: &str, now: i64) -> Result<()> {
        let name = check_name("a unit's name", name)?;
        self.connection().execute(
            "INSERT INTO units (id, name, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            params![id.as_str(), name, now],
        )?;
        Ok(())
    }

    /// Every partner unit with its members, by id.
    pub fn units(&self) -> Result<Vec<Unit>> {
        let conn = self.connection();
        let rows: Vec<(String, String)> = conn
            .prepare_cached("SELECT id, name FROM units ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut members = conn.prepare_cached(
            "SELECT username FROM users WHERE unit = ?1 AND disabled = 0 ORDER BY username",
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, name) in rows {
            let names = members
                .query_map([&id], |r| r.get::<_, String>(0))?
                .map(|n| Ok(UserId::new(n?)?))
                .collect::<Result<Vec<_>>>()?;
            out.push(Unit {
                id: UnitId::new(id)?,
                name,
                members: names,
            });
        }
        Ok(out)
    }

    /// Sets how a user is shown and which unit they belong to. Each field
    /// given replaces the old value; an empty text clears it.
    pub fn set_profile(
        &mut self,
        user: &UserId,
        display_name: Option<&str>,
        phone: Option<&str>,
        unit: Option<Option<&UnitId>>,
    ) -> Result<()> {
        let exists: bool = self.connection().query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
            [user.as_str()],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(Error::NotFound(format!("user {user}")));
        }
        let tx = self.conn_mut().transaction()?;
        if let Some(name) = display_name {
            let name = match name.trim() {
                "" => None,
                name => Some(check_name("a display name", name)?),
            };
            tx.execute(
                "UPDATE users SET display_name = ?2 WHERE username = ?1",
                params![user.as_str(), name],
            )?;
        }
        if let Some(phone) = phone {
            let phone = match phone.trim() {
                "" => None,
                phone => Some(check_phone(phone)?),
            };
            tx.execute(
                "UPDATE users SET phone = ?2 WHERE username = ?1",
                params![user.as_str(), phone],
            )?;
        }
        if let Some(unit) = unit {
            if let Some(unit) = unit {
                let known: Option<String> = tx
                    .query_row("SELECT id FROM units WHERE id = ?1", [unit.as_str()], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if known.is_none() {
                    return Err(Error::NotFound(format!("partner unit {unit}")));
                }
            }
            tx.execute(
                "UPDATE users SET unit = ?2 WHERE username = ?1",
                params![user.as_str(), unit.map(UnitId::as_str)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every user's profile, by login.
    pub fn profiles(&self) -> Result<BTreeMap<UserId, Profile>> {
        let mut stmt = self
            .connection()
            .prepare_cached("SELECT username, display_name, phone, unit FROM users")?;
        type Row = (String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<Row> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(user, display_name, phone, unit)| {
                Ok((
                    UserId::new(user)?,
                    Profile {
                        display_name,
                        phone,
                        unit: unit.map(UnitId::new).transpose()?,
                    },
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_digits_and_a_few_signs() {
        assert_eq!(check_phone(" 138-0013-8000 ").unwrap(), "138-0013-8000");
        assert!(check_phone("call me").is_err());
        assert!(check_phone("1\u{202e}2").is_err());
    }
}
