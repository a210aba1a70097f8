//! The judges table on PostgreSQL, for adding a judge: who holds the
//! email, and the insert (the rule: `judging/ops/add_judge.rs`). The batch
//! holds the import lock (imports claim emails too); the email's unique key
//! settles any race left, and the insert then reports the holder.

use super::judging::{email_owner, insert_judge};
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::PgFuture;
use crate::judging::error::JudgingError;
use crate::judging::inputs::NewJudge;
use crate::judging::model::Judge;
use crate::judging::ops::add_judge::{email_key, Claimed};
use crate::store::runner::{self, Storage};
use crate::store::StoreError;

impl Storage<NewJudge> for PgTx {
    async fn load(&mut self, op: &NewJudge) -> Result<Option<i64>, StoreError> {
        email_owner(self, &email_key(&op.email)).await
    }

    async fn apply(&mut self, op: &NewJudge, (): &()) -> Result<Claimed, StoreError> {
        let claimed = insert_judge(self, &op.name, &op.email, &email_key(&op.email)).await?;
        Ok(match claimed {
            Ok(id) => Claimed::Added(id),
            Err(other) => Claimed::Taken(other),
        })
    }
}

/// Adding a judge takes the import lock: imports claim emails too.
impl PgOperation for NewJudge {
    fn locks(&self) -> Locks {
        Locks::exclusive(Advisory::Import)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Judge, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}
