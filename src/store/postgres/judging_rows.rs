//! What every PostgreSQL module of the judging tables shares: the checks
//! that referenced rows exist, and the advisory locks that stand in for
//! SQLite's single writer where several nodes write at once.
//!
//! The floor lock: writes that check the pause or change what assignment
//! reads (ratings, placements, absences, withdrawals) hold it shared; the
//! pause and assignment hold it exclusive. So a rating is never taken after
//! a pause another node committed, and assignment reads ratings and
//! absences no other node is changing. Transaction-scoped: it is released
//! when the node's batch commits.
//!
//! The batch takes it, with every other lock its jobs declare, before any
//! job runs (see [`super::locks`]): by a statement of its own before the
//! statements it guards, as it must be, since in READ COMMITTED each
//! statement reads a snapshot taken when it starts, so a statement that
//! waited for the lock would read what was there before the lock holder
//! committed.

use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use super::writer::PgTx;
use crate::store::StoreError;

/// What a judge's action on a hack must find before it is taken: both
/// rows, and judging not paused.
pub(super) struct Floor {
    pub judge: bool,
    pub hack: bool,
    pub paused: bool,
}

/// Reads [`Floor`] ($1: the judge, $2: the hack).
pub(super) const FLOOR_STATE: &str = "SELECT EXISTS (SELECT 1 FROM judges WHERE id = $1),
            EXISTS (SELECT 1 FROM hacks WHERE id = $2),
            COALESCE((SELECT paused FROM judging_status WHERE id = 1), FALSE)";

impl Floor {
    pub(super) fn from_row(row: &tokio_postgres::Row) -> Floor {
        Floor {
            judge: row.get(0),
            hack: row.get(1),
            paused: row.get(2),
        }
    }
}

/// Reads [`Floor`] for `judge` and `hack` in one statement.
pub(super) async fn floor_state(tx: &PgTx, judge: i64, hack: i64) -> Result<Floor, StoreError> {
    let statement = tx.prepare_cached(FLOOR_STATE).await?;
    let row = tx.query_one(&statement, &[&judge, &hack]).await?;
    Ok(Floor::from_row(&row))
}

/// The statements of `sql`, prepared (once per connection) before any of
/// them runs, so statements sent together run in the order given.
pub(super) async fn prepare_all<const N: usize>(
    tx: &PgTx,
    sql: [&'static str; N],
) -> Result<[Statement; N], StoreError> {
    let mut statements = Vec::with_capacity(N);
    for sql in sql {
        statements.push(tx.prepare_cached(sql).await?);
    }
    Ok(statements
        .try_into()
        .unwrap_or_else(|_: Vec<Statement>| unreachable!("one statement per SQL text")))
}

/// The tables whose rows other rows refer to.
#[derive(Clone, Copy)]
pub(super) enum Table {
    Hacks,
    Judges,
    Superlatives,
}

/// Whether row `id` of `table` exists, as the job's transaction sees it.
pub(super) async fn exists(tx: &PgTx, table: Table, id: i64) -> Result<bool, StoreError> {
    let sql = match table {
        Table::Hacks => "SELECT 1 FROM hacks WHERE id = $1",
        Table::Judges => "SELECT 1 FROM judges WHERE id = $1",
        Table::Superlatives => "SELECT 1 FROM superlatives WHERE id = $1",
    };
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.query_opt(&statement, &[&id]).await?.is_some())
}

/// The rows of `statement` run with `params`. The future owns the list of
/// parameters, so a job can start many (one per row, from an iterator)
/// before awaiting any: they go out together, in order, in one round trip.
pub(super) async fn query_with<const N: usize>(
    tx: &PgTx,
    statement: &Statement,
    params: [&(dyn ToSql + Sync); N],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    tx.query(statement, &params).await
}

/// The id in the first row a statement `RETURNING id` answered.
pub(super) fn returned_id(rows: &[Row]) -> Result<i64, StoreError> {
    rows.first()
        .map(|r| r.get(0))
        .ok_or_else(|| StoreError::Postgres("an insert returned no id".into()))
}
