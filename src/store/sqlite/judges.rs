//! The judges table on SQLite, for adding a judge: who holds the email,
//! and the insert (the rule: `judging/ops/add_judge.rs`). The single
//! writer keeps what `load` read true until `apply`.

use rusqlite::{params, OptionalExtension};

use super::writer::Tx;
use crate::judging::inputs::NewJudge;
use crate::judging::ops::add_judge::{email_key, Claimed};
use crate::store::runner::Storage;
use crate::store::StoreError;

impl Storage<NewJudge> for Tx<'_> {
    async fn load(&mut self, op: &NewJudge) -> Result<Option<i64>, StoreError> {
        Ok(self
            .prepare_cached("SELECT id FROM judges WHERE email_key = ?1")?
            .query_row([email_key(&op.email)], |r| r.get(0))
            .optional()?)
    }

    async fn apply(&mut self, op: &NewJudge, (): &()) -> Result<Claimed, StoreError> {
        self.prepare_cached("INSERT INTO judges (name, email, email_key) VALUES (?1, ?2, ?3)")?
            .execute(params![op.name, op.email, email_key(&op.email)])?;
        Ok(Claimed::Added(self.last_insert_rowid()))
    }
}
