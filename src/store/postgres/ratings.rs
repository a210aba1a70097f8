//! The ratings table on PostgreSQL: the facts rating and taking back read
//! and the writes they apply (the rules: `judging/ops/rate.rs`,
//! `unrate.rs`), two round trips each. The rating row is read `FOR UPDATE`,
//! and the batch already holds the floor lock shared and the judge's row
//! (and, for a rating, the hack's absences), declared in their
//! [`PgOperation`] impls below, so what `load` read stays true until `apply`.

use super::floor::TOUCH;
use super::judging_rows::Floor;
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::PgFuture;
use crate::judging::error::JudgingError;
use crate::judging::model::{Absence, Rating};
use crate::judging::ops::rate::{Facts, Plan, Rate, Written};
use crate::judging::ops::unrate::{self, Unrate};
use crate::store::runner::{self, Storage};
use crate::store::{now_ms, StoreError};

/// What a rating needs to find ($1: the judge, $2: the hack): whether both
/// exist, whether judging is paused (the columns of [`Floor`]), and the
/// pair's rating row if there is one (id, rating), locked.
const RATE_CHECK: &str = "SELECT EXISTS (SELECT 1 FROM judges WHERE id = $1),
            EXISTS (SELECT 1 FROM hacks WHERE id = $2),
            COALESCE((SELECT paused FROM judging_status WHERE id = 1), FALSE),
            old.id, old.rating
     FROM (SELECT 1) AS one
     LEFT JOIN (SELECT id, rating FROM ratings WHERE judge_id = $1 AND hack_id = $2
                FOR UPDATE) AS old ON TRUE";

/// A rating's writes ($1: judge, $2: hack, $3: rating, $4: now, $5: the
/// row to update, or NULL to add one): the judge's activity, the rating,
/// and the hack's absences cleared. Answers the rating's id and the cleared
/// absences' ids and judges, by id. A row another node added since the
/// check is updated in place (`ON CONFLICT`), keeping its id.
const RATE_WRITE: &str = "WITH touched AS (
         INSERT INTO judge_activity (judge_id, last_action_at) VALUES ($1, $4)
         ON CONFLICT (judge_id) DO UPDATE SET last_action_at = excluded.last_action_at
     ), updated AS (
         UPDATE ratings SET rating = $3 WHERE id = $5 RETURNING id
     ), inserted AS (
         INSERT INTO ratings (judge_id, hack_id, rating)
         SELECT $1, $2, $3 WHERE $5::BIGINT IS NULL
         ON CONFLICT (judge_id, hack_id) DO UPDATE SET rating = excluded.rating
         RETURNING id
     ), cleared AS (
         UPDATE absences SET active = FALSE WHERE hack_id = $2 AND active
         RETURNING id, judge_id
     )
     SELECT (SELECT id FROM updated UNION ALL SELECT id FROM inserted),
            ARRAY(SELECT id FROM cleared ORDER BY id),
            ARRAY(SELECT judge_id FROM cleared ORDER BY id)";

/// Taking back ($1: the judge, $2: the time, $3: the rating's row): the
/// judge's activity and the row's new value.
const UNRATE_WRITE: &str = "WITH touched AS (
         INSERT INTO judge_activity (judge_id, last_action_at) VALUES ($1, $2)
         ON CONFLICT (judge_id) DO UPDATE SET last_action_at = excluded.last_action_at
     )
     UPDATE ratings SET rating = $4 WHERE id = $3";

/// What rating and taking back read ([`RATE_CHECK`]).
async fn facts(tx: &PgTx, judge: i64, hack: i64) -> Result<Facts, StoreError> {
    let check = tx.prepare_cached(RATE_CHECK).await?;
    let row = tx.query_one(&check, &[&judge, &hack]).await?;
    let floor = Floor::from_row(&row);
    let before: Option<i64> = row.get(3);
    Ok(Facts {
        judge_exists: floor.judge,
        hack_exists: floor.hack,
        paused: floor.paused,
        before: before.map(|id| (id, row.get(4))),
    })
}

impl Storage<Rate> for PgTx {
    async fn load(&mut self, op: &Rate) -> Result<Facts, StoreError> {
        facts(self, op.judge, op.hack).await
    }

    async fn apply(&mut self, op: &Rate, plan: &Plan) -> Result<Written, StoreError> {
        let now = now_ms();
        let before = match *plan {
            Plan::Unchanged { id } => {
                let touch = self.prepare_cached(TOUCH).await?;
                self.execute(&touch, &[&op.judge, &now]).await?;
                return Ok(Written {
                    id,
                    cleared: Vec::new(),
                });
            }
            Plan::Update { id } => Some(id),
            Plan::Insert => None,
        };
        let write = self.prepare_cached(RATE_WRITE).await?;
        let written = self
            .query_one(&write, &[&op.judge, &op.hack, &op.rating, &now, &before])
            .await?;
        let ids: Vec<i64> = written.get(1);
        let judges: Vec<i64> = written.get(2);
        let cleared = ids
            .into_iter()
            .zip(judges)
            .map(|(id, judge_id)| Absence {
                id,
                judge_id,
                hack_id: op.hack,
                active: false,
            })
            .collect();
        Ok(Written {
            id: written.get(0),
            cleared,
        })
    }
}

impl Storage<Unrate> for PgTx {
    async fn load(&mut self, op: &Unrate) -> Result<Facts, StoreError> {
        facts(self, op.judge, op.hack).await
    }

    async fn apply(&mut self, op: &Unrate, plan: &unrate::Plan) -> Result<(), StoreError> {
        let write = self.prepare_cached(UNRATE_WRITE).await?;
        self.execute(
            &write,
            &[&op.judge, &now_ms(), &plan.id, &Rating::TAKEN_BACK],
        )
        .await?;
        Ok(())
    }
}

/// Rating locks the floor shared (a pause waits), the judge's row and the
/// hack's absences (which it clears).
impl PgOperation for Rate {
    fn locks(&self) -> Locks {
        Locks::shared(Advisory::Floor)
            .judges([self.judge])
            .absences_of(self.hack)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Rating, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

/// Taking back locks the floor shared and the judge's row.
impl PgOperation for Unrate {
    fn locks(&self) -> Locks {
        Locks::shared(Advisory::Floor).judges([self.judge])
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Rating, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}
