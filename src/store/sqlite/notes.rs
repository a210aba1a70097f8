//! The notes table on SQLite: the facts a note's rule reads and the writes
//! it applies (the rule: `judging/ops/note.rs`).

use rusqlite::{params, OptionalExtension};

use super::floor::touch;
use super::judging_rows::{exists, Table};
use super::writer::Tx;
use crate::judging::ops::note::{Facts, Plan, WriteNote};
use crate::store::runner::Storage;
use crate::store::{now_ms, StoreError};

impl Storage<WriteNote> for Tx<'_> {
    async fn load(&mut self, op: &WriteNote) -> Result<Facts, StoreError> {
        Ok(Facts {
            judge_exists: exists(self, Table::Judges, op.judge)?,
            hack_exists: exists(self, Table::Hacks, op.hack)?,
            before: self
                .prepare_cached("SELECT id, text FROM notes WHERE judge_id = ?1 AND hack_id = ?2")?
                .query_row([op.judge, op.hack], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?,
        })
    }

    async fn apply(&mut self, op: &WriteNote, plan: &Plan) -> Result<i64, StoreError> {
        touch(self, op.judge)?;
        Ok(match *plan {
            Plan::Unchanged { id } => id,
            Plan::Update { id } => {
                self.prepare_cached("UPDATE notes SET text = ?1, updated_at = ?2 WHERE id = ?3")?
                    .execute(params![op.text, now_ms(), id])?;
                id
            }
            Plan::Insert => {
                self.prepare_cached(
                    "INSERT INTO notes (judge_id, hack_id, text, updated_at)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![op.judge, op.hack, op.text, now_ms()])?;
                self.last_insert_rowid()
            }
        })
    }
}
