//! Why the judging domain refuses an operation, in words the person who
//! sent it can act on. Storage failures are not refusals: they travel beside
//! these (see `crate::store::WriteError`).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validate::ValidationError;

/// Why a judging operation was refused by a rule of the data (nothing was
/// written).
#[derive(Debug, Error)]
pub enum JudgingError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(
        "judge {0} does not exist (judges are numbered from 1 in the order add-judge created them)"
    )]
    NoSuchJudge(i64),
    #[error(
        "hack {0} does not exist (hacks are numbered from 1 in the order add-hack created them)"
    )]
    NoSuchHack(i64),
    #[error("superlative {0} does not exist (superlatives are numbered from 1 in the order add-superlative created them)")]
    NoSuchSuperlative(i64),
    #[error("{field} {id} names no hack: use 0 for \"not chosen\" or the id of an existing hack")]
    NoSuchChoice { field: &'static str, id: i64 },
    #[error("judge {judge} has no rating of hack {hack} to take back")]
    NoSuchRating { judge: i64, hack: i64 },
    #[error("firstId and secondId are both {0}: the first and second choice must be different hacks (0 means \"not chosen\")")]
    SameChoice(i64),
    #[error("judge {judge} already has the email {email:?} (emails are compared ignoring case)")]
    DuplicateEmail { email: String, judge: i64 },
    #[error("row {row}: judge {judge} already has the email {email:?} (emails are compared ignoring case); nothing was imported, fix or remove the row and import the file again")]
    EmailTakenOnRow { row: u64, email: String, judge: i64 },
    #[error("there are no {0} yet: add or import them before running assignment")]
    NothingToAssign(&'static str),
    #[error("judging is paused by the organiser: ratings, placements and absences are not taken until judging resumes; nothing was changed, send it again then")]
    Paused,
    #[error("judgesPerHack {0} is out of range: each hack can have from 1 to {max} judges", max = super::inputs::MAX_JUDGES_PER_HACK)]
    JudgesPerHack(i64),
    /// A refusal answered again to a repeated request (an idempotency key):
    /// the first answer's kind and words.
    #[error("{}", .0.message)]
    Replayed(Box<Replayed>),
}

/// What sort of rule a refusal broke: what protocols tell callers apart by
/// (an HTTP status), kept with a refusal that is answered again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RefusalKind {
    /// The input itself is wrong.
    Invalid,
    /// An id names nothing.
    NotFound,
    /// The input conflicts with what is stored (or judging is paused).
    Conflict,
}

/// A refusal as first answered, answered again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub kind: RefusalKind,
    pub message: String,
    /// The CSV row it names, if any.
    pub row: Option<u64>,
}

impl JudgingError {
    pub fn kind(&self) -> RefusalKind {
        match self {
            JudgingError::Invalid(_)
            | JudgingError::SameChoice(_)
            | JudgingError::JudgesPerHack(_) => RefusalKind::Invalid,
            JudgingError::NoSuchJudge(_)
            | JudgingError::NoSuchHack(_)
            | JudgingError::NoSuchSuperlative(_)
            | JudgingError::NoSuchChoice { .. }
            | JudgingError::NoSuchRating { .. } => RefusalKind::NotFound,
            JudgingError::DuplicateEmail { .. }
            | JudgingError::EmailTakenOnRow { .. }
            | JudgingError::NothingToAssign(_)
            | JudgingError::Paused => RefusalKind::Conflict,
            JudgingError::Replayed(replayed) => replayed.kind,
        }
    }

    /// The CSV row the refusal names, if any.
    pub fn row(&self) -> Option<u64> {
        match self {
            JudgingError::EmailTakenOnRow { row, .. } => Some(*row),
            JudgingError::Replayed(replayed) => replayed.row,
            _ => None,
        }
    }
}
