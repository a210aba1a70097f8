//! The ratings table on PostgreSQL: the facts a rating's rule reads and the
//! writes it applies (the rule: `judging/ops/rate.rs`), two round trips. The
//! rating row is read `FOR UPDATE`, and the batch already holds the floor
//! lock shared, the judge's row and the hack's absences (declared by
//! `PgStore::rate`), so what `load` read stays true until `apply`.

use super::floor::TOUCH;
use super::judging_rows::Floor;
use super::writer::PgTx;
use crate::judging::model::Absence;
use crate::judging::ops::rate::{Facts, Plan, Rate, Written};
use crate::store::runner::Storage;
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

impl Storage<Rate> for PgTx {
    async fn load(&mut self, op: &Rate) -> Result<Facts, StoreError> {
        let check = self.prepare_cached(RATE_CHECK).await?;
        let row = self.query_one(&check, &[&op.judge, &op.hack]).await?;
        let floor = Floor::from_row(&row);
        let before: Option<i64> = row.get(3);
        Ok(Facts {
            judge_exists: floor.judge,
            hack_exists: floor.hack,
            paused: floor.paused,
            before: before.map(|id| (id, row.get(4))),
        })
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
