//! Queries over the materialized rows: lists, filters, search, conflicts.
//! None of them loads an Automerge document.

use rusqlite::types::Value as Sql;
use rusqlite::{Row, params_from_iter};
use serde::{Deserialize, Serialize};

use super::Store;
use super::search::match_expression;
use crate::error::Result;
use crate::ids::{HouseholdId, ScopePath};
use crate::model::{Category, Urgency};
use crate::workflow::Status;

/// Which wish cards to list. Empty fields do not filter (and may be left
/// out of its JSON).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WishFilter {
    /// Only cards in one of these scopes (the caller's scopes); empty means all.
    pub scopes: Vec<ScopePath>,
    /// Only cards under this scope.
    pub scope: Option<ScopePath>,
    /// Only cards with this status.
    pub status: Option<Status>,
    /// Only this category.
    pub category: Option<Category>,
    /// Only this urgency.
    pub urgency: Option<Urgency>,
    /// Only cards of this household.
    pub household: Option<HouseholdId>,
    /// Full-text query (Chinese included).
    pub q: Option<String>,
    /// Only cards created at or after this time (ms).
    pub created_from: Option<i64>,
    /// Only cards created before this time (ms).
    pub created_to: Option<i64>,
    /// Oldest submission first (a review queue) instead of most recently updated first.
    pub oldest_first: bool,
    /// Page size (default 50, at most 500).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

/// One page of results and the total number of matches.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// How many rows match in all.
    pub total: u64,
}

/// A wish card's materialized row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WishRow {
    /// Card id.
    pub id: String,
    /// Household id.
    pub household: String,
    /// Community path.
    pub community: String,
    /// Current status.
    pub status: String,
    /// Category.
    pub category: String,
    /// Urgency.
    pub urgency: String,
    /// The wish.
    pub text: String,
    /// Who wrote it.
    pub created_by: String,
    /// When it was created (ms).
    pub created_at: i64,
    /// First submission (ms).
    pub submitted_at: Option<i64>,
    /// First review decision (ms).
    pub reviewed_at: Option<i64>,
    /// Fulfilment (ms).
    pub fulfilled_at: Option<i64>,
    /// Resident's confirmation (ms).
    pub confirmed_at: Option<i64>,
    /// Current claimant, as text (see [`crate::workflow::Holder::label`]).
    pub claimant: Option<String>,
    /// The registered volunteer (or worker) who holds it.
    pub holder_user: Option<String>,
    /// The partner unit that holds it.
    pub holder_unit: Option<String>,
    /// When its holder checked in at the community (ms).
    pub checked_in_at: Option<i64>,
    /// Resident's rating.
    pub rating: Option<i64>,
    /// Unresolved conflicts.
    pub open_conflicts: i64,
    /// Last write to this store (ms).
    pub updated_at: i64,
}

impl WishRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            household: r.get("household_id")?,
            community: r.get("community")?,
            status: r.get("status")?,
            category: r.get("category")?,
            urgency: r.get("urgency")?,
            text: r.get("text")?,
            created_by: r.get("created_by")?,
            created_at: r.get("created_at")?,
            submitted_at: r.get("submitted_at")?,
            reviewed_at: r.get("reviewed_at")?,
            fulfilled_at: r.get("fulfilled_at")?,
            confirmed_at: r.get("confirmed_at")?,
            claimant: r.get("claimant")?,
            holder_user: r.get("holder_user")?,
            holder_unit: r.get("holder_unit")?,
            checked_in_at: r.get("checked_in_at")?,
            rating: r.get("rating")?,
            open_conflicts: r.get("open_conflicts")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

/// A household's materialized row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HouseholdRow {
    /// Household id.
    pub id: String,
    /// Community path.
    pub community: String,
    /// Address.
    pub address: String,
    /// Head of household.
    pub head_name: String,
    /// Phone.
    pub phone: String,
    /// Members.
    pub members: i64,
    /// Vulnerability tags.
    pub tags: Vec<String>,
    /// Notes.
    pub notes: String,
}

/// A visit's materialized row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitRow {
    /// Visit id.
    pub id: String,
    /// Household id.
    pub household: String,
    /// Community path.
    pub community: String,
    /// The worker who visited.
    pub worker: String,
    /// When (ms).
    pub visited_at: i64,
    /// Notes.
    pub notes: String,
    /// Needs observed.
    pub needs: String,
    /// Follow-up date (ms).
    pub follow_up: Option<i64>,
}

/// A conflict's materialized row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConflictRow {
    /// The wish card.
    pub record_id: String,
    /// The losing event (the conflict's id).
    pub event_id: String,
    /// Community path.
    pub community: String,
    /// The losing event's kind.
    pub event_kind: String,
    /// Why it lost.
    pub kind: String,
    /// The event it lost to.
    pub winner: Option<String>,
    /// The card's status when it lost.
    pub status: String,
    /// Whether a supervisor resolved it.
    pub resolved: bool,
}

/// Builds `(community = s OR community BETWEEN s/ and s0)` for each scope;
/// a range on the index rather than a LIKE.
pub(crate) fn scope_clause(column: &str, scopes: &[&ScopePath], args: &mut Vec<Sql>) -> String {
    let parts: Vec<String> = scopes
        .iter()
        .map(|s| {
            let base = s.as_str().to_owned();
            args.push(Sql::Text(base.clone()));
            args.push(Sql::Text(format!("{base}/")));
            args.push(Sql::Text(format!("{base}0")));
            let n = args.len();
            format!(
                "({column} = ?{} OR ({column} > ?{} AND {column} < ?{}))",
                n - 2,
                n - 1,
                n
            )
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

impl Store {
    /// Lists wish cards matching a filter, one page at a time.
    pub fn list_wishes(&self, filter: &WishFilter) -> Result<Page<WishRow>> {
        let mut args: Vec<Sql> = Vec::new();
        let mut wheres: Vec<String> = Vec::new();
        if !filter.scopes.is_empty() {
            let scopes: Vec<&ScopePath> = filter.scopes.iter().collect();
            wheres.push(scope_clause("w.community", &scopes, &mut args));
        }
        if let Some(scope) = &filter.scope {
            wheres.push(scope_clause("w.community", &[scope], &mut args));
        }
        let mut eq = |column: &str, value: Option<String>| {
            if let Some(value) = value {
                args.push(Sql::Text(value));
                wheres.push(format!("{column} = ?{}", args.len()));
            }
        };
        eq("w.status", filter.status.map(|s| s.as_str().to_owned()));
        eq("w.category", filter.category.map(|s| s.as_str().to_owned()));
        eq("w.urgency", filter.urgency.map(|s| s.as_str().to_owned()));
        eq("w.household_id", filter.household.map(|h| h.to_string()));
        if let Some(from) = filter.created_from {
            args.push(Sql::Integer(from));
            wheres.push(format!("w.created_at >= ?{}", args.len()));
        }
        if let Some(to) = filter.created_to {
            args.push(Sql::Integer(to));
            wheres.push(format!("w.created_at < ?{}", args.len()));
        }
        if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
            let Some(expr) = match_expression(q) else {
                return Ok(Page {
                    items: Vec::new(),
                    total: 0,
                });
            };
            args.push(Sql::Text(expr));
            wheres.push(format!(
                "w.rid IN (SELECT rowid FROM search WHERE search MATCH ?{})",
                args.len()
            ));
        }
        let where_sql = if wheres.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wheres.join(" AND "))
        };
        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM wishes w {where_sql}"))?
            .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
        let order = if filter.oldest_first {
            "coalesce(w.submitted_at, w.created_at) ASC, w.id"
        } else {
            "w.updated_at DESC, w.id"
        };
        let limit = filter.limit.unwrap_or(50).clamp(1, 500);
        let offset = filter.offset.unwrap_or(0);
        let sql = format!(
            "SELECT w.* FROM wishes w {where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let items = stmt
            .query_map(params_from_iter(args.iter()), WishRow::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// Finds wish cards whose text contains `q` (Chinese or not).
    pub fn search_wishes(&self, q: &str) -> Result<Vec<WishRow>> {
        Ok(self
            .list_wishes(&WishFilter {
                q: Some(q.to_owned()),
                limit: Some(500),
                ..WishFilter::default()
            })?
            .items)
    }

    /// Lists households under the given scopes (all if empty), optionally
    /// matching a full-text query over address, name and notes.
    pub fn households(
        &self,
        scopes: &[ScopePath],
        q: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<HouseholdRow>> {
        let mut args: Vec<Sql> = Vec::new();
        let mut wheres = Vec::new();
        if !scopes.is_empty() {
            let scopes: Vec<&ScopePath> = scopes.iter().collect();
            wheres.push(scope_clause("h.community", &scopes, &mut args));
        }
        let from = "households h";
        if let Some(q) = q.filter(|q| !q.trim().is_empty()) {
            let Some(expr) = match_expression(q) else {
                return Ok(Page {
                    items: Vec::new(),
                    total: 0,
                });
            };
            args.push(Sql::Text(expr));
            wheres.push(format!(
                "h.rid IN (SELECT rowid FROM search WHERE search MATCH ?{})",
                args.len()
            ));
        }
        let where_sql = if wheres.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wheres.join(" AND "))
        };
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM {from} {where_sql}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        let sql = format!(
            "SELECT h.* FROM {from} {where_sql} ORDER BY h.community, h.address, h.id LIMIT {} OFFSET {offset}",
            limit.clamp(1, 500)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let items = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                let tags: String = r.get("tags")?;
                Ok(HouseholdRow {
                    id: r.get("id")?,
                    community: r.get("community")?,
                    address: r.get("address")?,
                    head_name: r.get("head_name")?,
                    phone: r.get("phone")?,
                    members: r.get("members")?,
                    tags: tags
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    notes: r.get("notes")?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// A household's visits, most recent first.
    pub fn visits(&self, household: HouseholdId) -> Result<Vec<VisitRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT * FROM visits WHERE household_id = ?1 ORDER BY visited_at DESC, id")?;
        let rows = stmt
            .query_map([household.to_string()], visit_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Visits made at or after `since` (ms), under the given scopes (all if
    /// empty), most recent first: a worker's day.
    pub fn visits_since(
        &self,
        scopes: &[ScopePath],
        since: i64,
        limit: u32,
    ) -> Result<Vec<VisitRow>> {
        let mut args = vec![Sql::Integer(since)];
        let mut wheres = vec!["visited_at >= ?1".to_owned()];
        if !scopes.is_empty() {
            let scopes: Vec<&ScopePath> = scopes.iter().collect();
            wheres.push(scope_clause("community", &scopes, &mut args));
        }
        let sql = format!(
            "SELECT * FROM visits WHERE {} ORDER BY visited_at DESC, id LIMIT {}",
            wheres.join(" AND "),
            limit.clamp(1, 500)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), visit_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Conflicts under the given scopes (all if empty); unresolved only unless asked.
    pub fn conflicts(
        &self,
        scopes: &[ScopePath],
        include_resolved: bool,
    ) -> Result<Vec<ConflictRow>> {
        let mut args: Vec<Sql> = Vec::new();
        let mut wheres = Vec::new();
        if !scopes.is_empty() {
            let scopes: Vec<&ScopePath> = scopes.iter().collect();
            wheres.push(scope_clause("community", &scopes, &mut args));
        }
        if !include_resolved {
            wheres.push("resolved = 0".to_owned());
        }
        let where_sql = if wheres.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wheres.join(" AND "))
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT * FROM conflicts {where_sql} ORDER BY record_id, event_id"
        ))?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                Ok(ConflictRow {
                    record_id: r.get("record_id")?,
                    event_id: r.get("event_id")?,
                    community: r.get("community")?,
                    event_kind: r.get("event_kind")?,
                    kind: r.get("kind")?,
                    winner: r.get("winner")?,
                    status: r.get("status")?,
                    resolved: r.get("resolved")?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

fn visit_row(r: &Row<'_>) -> rusqlite::Result<VisitRow> {
    Ok(VisitRow {
        id: r.get("id")?,
        household: r.get("household_id")?,
        community: r.get("community")?,
        worker: r.get("worker")?,
        visited_at: r.get("visited_at")?,
        notes: r.get("notes")?,
        needs: r.get("needs")?,
        follow_up: r.get("follow_up")?,
    })
}
