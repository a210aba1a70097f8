//! The notes table on PostgreSQL: the facts a note's rule reads and the
//! writes it applies (the rule: `judging/ops/note.rs`). The note is read
//! `FOR UPDATE` under the judge's row lock (declared below);
//! a note another node added since is updated in place (`ON CONFLICT`).

use super::floor::touch;
use super::judging_rows::{exists, Table};
use super::locks::Locks;
use super::perform::PgOperation;
use super::writer::PgTx;
use super::PgFuture;
use crate::judging::error::JudgingError;
use crate::judging::model::Note;
use crate::judging::ops::note::{Facts, Plan, WriteNote};
use crate::store::runner::{self, Storage};
use crate::store::{now_ms, StoreError};

impl Storage<WriteNote> for PgTx {
    async fn load(&mut self, op: &WriteNote) -> Result<Facts, StoreError> {
        let judge_exists = exists(self, Table::Judges, op.judge).await?;
        let hack_exists = exists(self, Table::Hacks, op.hack).await?;
        let select = self
            .prepare_cached(
                "SELECT id, text FROM notes WHERE judge_id = $1 AND hack_id = $2 FOR UPDATE",
            )
            .await?;
        let before = self.query_opt(&select, &[&op.judge, &op.hack]).await?;
        Ok(Facts {
            judge_exists,
            hack_exists,
            before: before.map(|r| (r.get(0), r.get(1))),
        })
    }

    async fn apply(&mut self, op: &WriteNote, plan: &Plan) -> Result<i64, StoreError> {
        touch(self, op.judge).await?;
        Ok(match *plan {
            Plan::Unchanged { id } => id,
            Plan::Update { id } => {
                let update = self
                    .prepare_cached("UPDATE notes SET text = $1, updated_at = $2 WHERE id = $3")
                    .await?;
                self.execute(&update, &[&op.text, &now_ms(), &id]).await?;
                id
            }
            Plan::Insert => {
                let insert = self
                    .prepare_cached(
                        "INSERT INTO notes (judge_id, hack_id, text, updated_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (judge_id, hack_id) DO UPDATE
                         SET text = excluded.text, updated_at = excluded.updated_at
                         RETURNING id",
                    )
                    .await?;
                self.query_one(&insert, &[&op.judge, &op.hack, &op.text, &now_ms()])
                    .await?
                    .get(0)
            }
        })
    }
}

/// A note locks only the judge's row: notes are taken while judging is
/// paused.
impl PgOperation for WriteNote {
    fn locks(&self) -> Locks {
        Locks::none().judges([self.judge])
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Note, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}
