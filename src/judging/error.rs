//! Why the judging domain refuses an operation, in words the person who
//! sent it can act on. Storage failures are not refusals: they travel beside
//! these (see `crate::store::WriteError`).

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
}
