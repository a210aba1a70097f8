//! The superlative placements table on PostgreSQL: the facts ranking reads
//! and the writes it applies (the rule: `judging/ops/rank.rs`). The
//! placement is read `FOR UPDATE` under the floor lock (shared) and the
//! judge's row lock its batch takes; a placement another node added since
//! is updated in place (`ON CONFLICT`), keeping its id.

use super::floor::{is_paused, touch};
use super::judging_rows::{exists, Table};
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::PgFuture;
use crate::judging::error::JudgingError;
use crate::judging::inputs::Ranking;
use crate::judging::model::SuperlativePlacement;
use crate::judging::ops::rank::{Facts, Plan};
use crate::store::runner::{self, Storage};
use crate::store::StoreError;

/// Whether a choice names a hack (0, "not chosen", does).
async fn choice_exists(tx: &PgTx, id: i64) -> Result<bool, StoreError> {
    Ok(id == 0 || exists(tx, Table::Hacks, id).await?)
}

impl Storage<Ranking> for PgTx {
    async fn load(&mut self, op: &Ranking) -> Result<Facts, StoreError> {
        let select = self
            .prepare_cached(
                "SELECT id, first_choice_id, second_choice_id FROM superlative_placements
                 WHERE judge_id = $1 AND superlative_id = $2 FOR UPDATE",
            )
            .await?;
        let before = self
            .query_opt(&select, &[&op.judge_id, &op.superlative_id])
            .await?
            .map(|r| (r.get(0), r.get(1), r.get(2)));
        Ok(Facts {
            judge_exists: exists(self, Table::Judges, op.judge_id).await?,
            superlative_exists: exists(self, Table::Superlatives, op.superlative_id).await?,
            paused: is_paused(self).await?,
            first_exists: choice_exists(self, op.first_choice_id).await?,
            second_exists: choice_exists(self, op.second_choice_id).await?,
            before,
        })
    }

    async fn apply(&mut self, op: &Ranking, plan: &Plan) -> Result<i64, StoreError> {
        touch(self, op.judge_id).await?;
        let (first, second) = (op.first_choice_id, op.second_choice_id);
        Ok(match *plan {
            Plan::Unchanged { id } => id,
            Plan::Update { id } => {
                let update = self
                    .prepare_cached(
                        "UPDATE superlative_placements
                         SET first_choice_id = $1, second_choice_id = $2 WHERE id = $3",
                    )
                    .await?;
                self.execute(&update, &[&first, &second, &id]).await?;
                id
            }
            Plan::Insert => {
                let insert = self
                    .prepare_cached(
                        "INSERT INTO superlative_placements
                         (judge_id, superlative_id, first_choice_id, second_choice_id)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (judge_id, superlative_id) DO UPDATE
                         SET first_choice_id = excluded.first_choice_id,
                             second_choice_id = excluded.second_choice_id
                         RETURNING id",
                    )
                    .await?;
                self.query_one(
                    &insert,
                    &[&op.judge_id, &op.superlative_id, &first, &second],
                )
                .await?
                .get(0)
            }
        })
    }
}

/// Ranking locks the floor shared (a pause waits) and the judge's row.
impl PgOperation for Ranking {
    fn locks(&self) -> Locks {
        Locks::shared(Advisory::Floor).judges([self.judge_id])
    }

    fn run<'a>(
        &'a self,
        tx: &'a mut PgTx,
    ) -> PgFuture<'a, Result<SuperlativePlacement, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}
