//! What the lists' queries are built from: a WHERE clause with numbered
//! parameters, scopes as sync-core's `scope_clause` reads them, a search
//! narrowed through the inverted index, and pages cut after the search's
//! last check.

use deadpool_postgres::{Client, Transaction};
use sync_core::ScopePath;
use sync_core::store::{Page, QueryPart, query_parts};
use tokio_postgres::IsolationLevel;
use tokio_postgres::types::ToSql;

use crate::store::postgres::error::Result as PgResult;

/// A parameter of a query built at run time.
type Param = Box<dyn ToSql + Sync + Send>;

/// The conditions of a query and their parameters, numbered in order.
#[derive(Default)]
pub(super) struct Filter {
    clauses: Vec<String>,
    params: Vec<Param>,
}

impl Filter {
    /// Adds a parameter and returns its placeholder (`$n`).
    pub(super) fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// Adds a condition.
    pub(super) fn push(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// `column = value`, when there is a value.
    pub(super) fn eq(&mut self, column: &str, value: Option<impl ToSql + Sync + Send + 'static>) {
        if let Some(value) = value {
            let p = self.param(value);
            self.push(format!("{column} = {p}"));
        }
    }

    /// Only rows whose community `column` is one of `scopes` or under one
    /// (a scope holds itself and the paths below it, as sync-core's
    /// `scope_clause` says); no condition for no scopes. The prefix is
    /// compared by equality, which no collation changes.
    pub(super) fn scopes(&mut self, column: &str, scopes: &[ScopePath]) {
        if scopes.is_empty() {
            return;
        }
        let paths: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let p = self.param(paths);
        self.push(format!(
            "({column} = ANY({p}) OR EXISTS (SELECT 1 FROM unnest({p}::text[]) AS scope(path)
                WHERE substr({column}, 1, length(path) + 1) = path || '/'))"
        ));
    }

    /// Only rows whose search row `s` holds every term a match needs
    /// (each phrase's terms, the first character of a prefix): the
    /// inverted index's candidates, which [`matches`] then checks.
    pub(super) fn search(&mut self, s: &str, parts: &[QueryPart]) {
        let mut terms: Vec<String> = Vec::new();
        let mut initials: Vec<String> = Vec::new();
        for part in parts {
            match part {
                QueryPart::Phrase(phrase) => terms.extend(phrase.iter().cloned()),
                QueryPart::Prefix(prefix) => {
                    initials.extend(prefix.chars().next().map(String::from))
                }
            }
        }
        if !terms.is_empty() {
            let p = self.param(terms);
            self.push(format!("{s}.terms @> {p}"));
        }
        if !initials.is_empty() {
            let p = self.param(initials);
            self.push(format!("{s}.initials @> {p}"));
        }
    }

    /// `WHERE …`, or nothing without conditions.
    pub(super) fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The parameters, for the query.
    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// What a list's text query asks for.
pub(super) enum Search {
    /// No query: every row.
    All,
    /// A query with nothing to search for: no row.
    Nothing,
    /// Rows matching every part.
    Parts(Vec<QueryPart>),
}

impl Search {
    /// The search `q` asks for, as sync-core's lists read it: a blank
    /// query is none, one without terms matches nothing.
    pub(super) fn of(q: Option<&str>) -> Search {
        match q.filter(|q| !q.trim().is_empty()) {
            None => Search::All,
            Some(q) => {
                let parts = query_parts(q);
                if parts.is_empty() {
                    Search::Nothing
                } else {
                    Search::Parts(parts)
                }
            }
        }
    }
}

/// Whether a record with search terms `terms` matches every part, as
/// SQLite's FTS5 query of the same parts does.
pub(super) fn matches(parts: &[QueryPart], terms: &[String]) -> bool {
    parts.iter().all(|part| part.matches(terms))
}

/// The page `limit` rows long after `offset` of all `rows` matching, and
/// how many match.
pub(super) fn page_of<T>(rows: Vec<T>, limit: u32, offset: u32) -> Page<T> {
    let total = rows.len() as u64;
    let items = rows
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Page { items, total }
}

/// An empty page.
pub(super) fn no_page<T>() -> Page<T> {
    Page {
        items: Vec::new(),
        total: 0,
    }
}

/// A read-only transaction on one snapshot, for a read of several
/// statements (a count and its page) that must agree.
pub(super) async fn snapshot(client: &mut Client) -> PgResult<Transaction<'_>> {
    Ok(client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}
