//! The absences table on PostgreSQL, for marking a team absent: the facts
//! the rule reads and the writes it applies (the rule:
//! `judging/ops/absent.rs`). The batch locks the floor shared, the judge's
//! row (which covers a new absence row and the judge's route) and the
//! hack's absences; the absence and the route are read `FOR UPDATE`, and an
//! absence another node added since is made active in place (`ON CONFLICT`).

use super::floor::touch;
use super::judging_rows::floor_state;
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::PgFuture;
use crate::judging::error::JudgingError;
use crate::judging::model::{Absence, JudgeHack};
use crate::judging::ops::absent::{Facts, MarkAbsent, Plan};
use crate::store::runner::{self, Storage};
use crate::store::{now_ms, StoreError};

impl Storage<MarkAbsent> for PgTx {
    async fn load(&mut self, op: &MarkAbsent) -> Result<Facts, StoreError> {
        let floor = floor_state(self, op.judge, op.hack).await?;
        let select = self
            .prepare_cached(
                "SELECT id, active FROM absences WHERE judge_id = $1 AND hack_id = $2
                 FOR UPDATE",
            )
            .await?;
        let before = self
            .query_opt(&select, &[&op.judge, &op.hack])
            .await?
            .map(|r| (r.get(0), r.get(1)));
        let route = self
            .prepare_cached(
                "SELECT id, judge_id, hack_id, priority FROM judge_hacks WHERE judge_id = $1
                 FOR UPDATE",
            )
            .await?;
        let route = self
            .query(&route, &[&op.judge])
            .await?
            .into_iter()
            .map(|r| JudgeHack {
                id: r.get(0),
                judge_id: r.get(1),
                hack_id: r.get(2),
                priority: r.get(3),
            })
            .collect();
        Ok(Facts {
            judge_exists: floor.judge,
            hack_exists: floor.hack,
            paused: floor.paused,
            before,
            route,
        })
    }

    async fn apply(&mut self, op: &MarkAbsent, plan: &Plan) -> Result<i64, StoreError> {
        touch(self, op.judge).await?;
        let (id, moved) = match plan {
            Plan::Unchanged { id } => return Ok(*id),
            Plan::Reactivate { id, moved } => {
                let update = self
                    .prepare_cached(
                        "UPDATE absences SET active = TRUE, marked_at = $1 WHERE id = $2",
                    )
                    .await?;
                self.execute(&update, &[&now_ms(), id]).await?;
                (*id, moved)
            }
            Plan::Insert { moved } => {
                let insert = self
                    .prepare_cached(
                        "INSERT INTO absences (judge_id, hack_id, active, marked_at)
                         VALUES ($1, $2, TRUE, $3)
                         ON CONFLICT (judge_id, hack_id) DO UPDATE
                         SET active = TRUE, marked_at = excluded.marked_at
                         RETURNING id",
                    )
                    .await?;
                let row = self
                    .query_one(&insert, &[&op.judge, &op.hack, &now_ms()])
                    .await?;
                (row.get(0), moved)
            }
        };
        if let Some(row) = moved {
            let update = self
                .prepare_cached("UPDATE judge_hacks SET priority = $1 WHERE id = $2")
                .await?;
            self.execute(&update, &[&row.priority, &row.id]).await?;
        }
        Ok(id)
    }
}

/// Marking locks the floor shared (a pause waits), the judge's row (its
/// route, a new absence row) and the hack's absences (the row it changes).
impl PgOperation for MarkAbsent {
    fn locks(&self) -> Locks {
        Locks::shared(Advisory::Floor)
            .judges([self.judge])
            .absences_of(self.hack)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Absence, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}
