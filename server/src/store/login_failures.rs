//! Failed logins in the SQLite store (sync-core's schema 10), for the
//! relay's login throttle: one row per failure, by subject.

use rusqlite::{Connection, params};

use super::LoginFailures;
use crate::error::AppResult;

pub(super) fn record(conn: &Connection, subject: &str, at: i64, quiet_since: i64) -> AppResult<()> {
    let tx = conn.unchecked_transaction()?;
    // A quiet spell since the last failure ends the run.
    tx.prepare_cached(
        "DELETE FROM login_failures WHERE subject = ?1
           AND NOT EXISTS (SELECT 1 FROM login_failures WHERE subject = ?1 AND at > ?2)",
    )?
    .execute(params![subject, quiet_since])?;
    tx.prepare_cached("INSERT INTO login_failures (subject, at) VALUES (?1, ?2)")?
        .execute(params![subject, at])?;
    tx.commit()?;
    Ok(())
}

pub(super) fn of(conn: &Connection, subject: &str) -> AppResult<LoginFailures> {
    let (count, last): (i64, Option<i64>) = conn
        .prepare_cached("SELECT count(*), max(at) FROM login_failures WHERE subject = ?1")?
        .query_row([subject], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(LoginFailures {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        last,
    })
}

pub(super) fn forget(conn: &Connection, subject: &str) -> AppResult<()> {
    conn.prepare_cached("DELETE FROM login_failures WHERE subject = ?1")?
        .execute([subject])?;
    Ok(())
}

pub(super) fn forget_stale(conn: &Connection, quiet_since: i64) -> AppResult<u64> {
    let tx = conn.unchecked_transaction()?;
    let subjects: i64 = tx.query_row(
        "SELECT count(*) FROM (SELECT subject FROM login_failures
                                GROUP BY subject HAVING max(at) <= ?1)",
        [quiet_since],
        |r| r.get(0),
    )?;
    tx.execute(
        "DELETE FROM login_failures WHERE subject IN
           (SELECT subject FROM login_failures GROUP BY subject HAVING max(at) <= ?1)",
        [quiet_since],
    )?;
    tx.commit()?;
    Ok(u64::try_from(subjects).unwrap_or(0))
}
