//! The judging tables in PostgreSQL: hacks, judges, assignments, ratings,
//! prizes, judges' secrets and sign-in links, and the judging floor, with
//! the same rules as SQLite's (`crate::store::judging`, `judging_bulk`,
//! `judge_links`, `floor`).
//!
//! PLACEHOLDER: being written; every method answers an error until then.

use std::collections::HashMap;

use tokio_postgres::GenericClient;

use super::PgStore;
use crate::judging::devpost::Project;
use crate::judging::inputs::{NewHack, NewJudge, Ranking};
use crate::judging::judges_csv;
use crate::judging::model::{
    Absence, DataStore, Hack, Judge, JudgingStatus, Note, Rating, Superlative,
    SuperlativePlacement, Withdrawal,
};
use crate::judging::outcomes::{Assigned, DevpostImported, JudgesImported};
use crate::store::traits::{LinkToken, LinkTokens};
use crate::store::{CurrentLink, LinkLookup, StoreError, WriteError};

fn todo_pg<T, E: From<StoreError>>(what: &str) -> Result<T, E> {
    Err(StoreError::Worker(format!("{what} is not written for PostgreSQL yet")).into())
}

/// Every row of every judging table, read by `client` (in the caller's snapshot).
pub(super) async fn load_all(_client: &impl GenericClient) -> Result<DataStore, StoreError> {
    todo_pg("load_all")
}

impl PgStore {
    pub async fn add_hack(&self, _hack: NewHack) -> Result<Hack, WriteError> {
        todo_pg("add_hack")
    }

    pub async fn add_judge(&self, _judge: NewJudge) -> Result<Judge, WriteError> {
        todo_pg("add_judge")
    }

    pub async fn add_superlative(&self, _name: String) -> Result<Superlative, WriteError> {
        todo_pg("add_superlative")
    }

    pub async fn rate(&self, _judge: i64, _hack: i64, _rating: i64) -> Result<Rating, WriteError> {
        todo_pg("rate")
    }

    pub async fn rank(&self, _ranking: Ranking) -> Result<SuperlativePlacement, WriteError> {
        todo_pg("rank")
    }

    pub async fn issue_judge_secret(&self, _judge: i64) -> Result<String, WriteError> {
        todo_pg("issue_judge_secret")
    }

    pub async fn judge_for_secret(&self, _secret: String) -> Result<Option<i64>, StoreError> {
        todo_pg("judge_for_secret")
    }

    pub async fn judge_exists(&self, _id: i64) -> Result<bool, StoreError> {
        todo_pg("judge_exists")
    }

    pub async fn load_all(&self) -> Result<DataStore, StoreError> {
        todo_pg("load_all")
    }

    pub async fn import_devpost(&self, _projects: Vec<Project>) -> Result<DevpostImported, WriteError> {
        todo_pg("import_devpost")
    }

    pub async fn import_judges(&self, _judges: Vec<(u64, judges_csv::NewJudge)>) -> Result<JudgesImported, WriteError> {
        todo_pg("import_judges")
    }

    pub async fn assign(&self, _judges_per_hack: i64) -> Result<Assigned, WriteError> {
        todo_pg("assign")
    }

    pub async fn judges_per_hack(&self) -> Result<Option<i64>, StoreError> {
        todo_pg("judges_per_hack")
    }

    pub async fn set_paused(&self, _paused: bool) -> Result<JudgingStatus, WriteError> {
        todo_pg("set_paused")
    }

    pub async fn mark_absent(&self, _judge: i64, _hack: i64) -> Result<Absence, WriteError> {
        todo_pg("mark_absent")
    }

    pub async fn clear_absences(&self, _hack: i64) -> Result<Vec<Absence>, WriteError> {
        todo_pg("clear_absences")
    }

    pub async fn set_withdrawn(&self, _hack: i64, _withdrawn: bool) -> Result<Withdrawal, WriteError> {
        todo_pg("set_withdrawn")
    }

    pub async fn note(&self, _judge: i64, _hack: i64, _text: String) -> Result<Note, WriteError> {
        todo_pg("note")
    }

    pub async fn judge_activity(&self) -> Result<HashMap<i64, i64>, StoreError> {
        todo_pg("judge_activity")
    }

    pub async fn current_judge_links(&self, _judges: Vec<i64>, _token_for: LinkTokens) -> Result<Vec<CurrentLink>, WriteError> {
        todo_pg("current_judge_links")
    }

    pub async fn replace_judge_link(&self, _judge: i64, _token_for: LinkToken, _expires_at: Option<i64>) -> Result<(String, i64), WriteError> {
        todo_pg("replace_judge_link")
    }

    pub async fn judge_for_link(&self, _token: String) -> Result<LinkLookup, StoreError> {
        todo_pg("judge_for_link")
    }
}
