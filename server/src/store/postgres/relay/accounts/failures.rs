//! Failed logins on PostgreSQL (`login_failures`), for the login throttle
//! every relay over the database applies to the same counts.

use crate::error::AppResult;
use crate::store::LoginFailures;
use crate::store::postgres::PgEngine;
use crate::store::postgres::error::Error;

pub(in crate::store::postgres::relay) fn record_login_failure(
    pg: &mut PgEngine,
    subject: &str,
    at: i64,
    quiet_since: i64,
) -> AppResult<()> {
    pg.block_on(async {
        let mut client = pg.store().client().await?;
        let tx = client.transaction().await?;
        // A quiet spell since the last failure ends the run. One statement,
        // so that a failure another relay records meanwhile is either seen
        // (and the run goes on) or not yet visible (and kept).
        tx.execute(
            "DELETE FROM login_failures WHERE subject = $1
               AND NOT EXISTS (SELECT 1 FROM login_failures WHERE subject = $1 AND at > $2)",
            &[&subject, &quiet_since],
        )
        .await?;
        tx.execute(
            "INSERT INTO login_failures (subject, at) VALUES ($1, $2)",
            &[&subject, &at],
        )
        .await?;
        tx.commit().await?;
        Ok::<_, Error>(())
    })?;
    Ok(())
}

pub(in crate::store::postgres::relay) fn login_failures(
    pg: &PgEngine,
    subject: &str,
) -> AppResult<LoginFailures> {
    let (count, last) = pg.block_on(async {
        let client = pg.store().client().await?;
        let stmt = client
            .prepare_cached("SELECT count(*), max(at) FROM login_failures WHERE subject = $1")
            .await?;
        let row = client.query_one(&stmt, &[&subject]).await?;
        Ok::<_, Error>((row.try_get::<_, i64>(0)?, row.try_get::<_, Option<i64>>(1)?))
    })?;
    Ok(LoginFailures {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        last,
    })
}

pub(in crate::store::postgres::relay) fn forget_login_failures(
    pg: &mut PgEngine,
    subject: &str,
) -> AppResult<()> {
    pg.block_on(async {
        let client = pg.store().client().await?;
        client
            .execute("DELETE FROM login_failures WHERE subject = $1", &[&subject])
            .await?;
        Ok::<_, Error>(())
    })?;
    Ok(())
}

pub(in crate::store::postgres::relay) fn forget_stale_login_failures(
    pg: &mut PgEngine,
    quiet_since: i64,
) -> AppResult<u64> {
    let subjects = pg.block_on(async {
        let client = pg.store().client().await?;
        let rows = client
            .query(
                "DELETE FROM login_failures WHERE subject IN
                   (SELECT subject FROM login_failures GROUP BY subject HAVING max(at) <= $1)
                 RETURNING subject",
                &[&quiet_since],
            )
            .await?;
        let mut subjects: Vec<String> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        subjects.sort_unstable();
        subjects.dedup();
        Ok::<_, Error>(subjects.len())
    })?;
    Ok(subjects as u64)
}
