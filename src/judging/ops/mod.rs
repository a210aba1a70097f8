//! Judging writes as decisions: each operation is a pure function from the
//! facts it needs (read by a store, in the write's transaction) to the writes
//! it makes, or to a refusal; and from what those writes stored (the ids a
//! database gives) to the reply and the change every subscriber is sent.
//! The rule lives here once; each engine only loads facts and applies
//! writes (`store/runner.rs` runs an operation on either).
//!
//! One file per operation, with its facts, its plan and its unit tests.

pub mod absent;
pub mod add_hack;
pub mod add_judge;
pub mod add_superlative;
pub mod assign;
pub mod clear_absences;
pub mod import_devpost;
pub mod import_judges;
pub mod issue_secret;
pub mod list_links;
pub mod note;
pub mod pause;
pub mod rank;
pub mod rate;
pub mod reissue_link;
pub mod unrate;
pub mod withdraw;

use super::error::JudgingError;
use super::model::DataStore;
use crate::store::ReceiveClock;

/// What a judging [`Operation::finish`] answers: the reply and the diff
/// to publish, if any.
pub type Finished<Reply> = Result<(Reply, Option<DataStore>), JudgingError>;

/// A judging write, decided without a database.
pub trait Operation {
    /// What the rule needs to know of the stored rows.
    type Facts;
    /// The writes the store makes.
    type Plan;
    /// What the writes stored that the rule could not know (ids).
    type Written;
    /// What the caller is answered.
    type Reply;
    /// Why the rule may refuse (a judging or a speed refusal).
    type Refusal;
    /// What every subscriber is told (`store::runner::Published`): a
    /// judging diff, heats that changed.
    type Published;

    /// Whether the reply is a secret. Such a write is never kept under an
    /// idempotency key (the stored answer would hold the secret in the
    /// clear): a repeat issues another.
    const REPLY_IS_SECRET: bool = false;

    /// Takes the node's receive time as the write enters the store, for an
    /// operation that records one (a heat's start or stop is a cut between
    /// the clickers' score stamps: see [`ReceiveClock`]).
    fn receive(&mut self, _clock: &ReceiveClock) {}

    /// The writes to make, or why none may be made.
    fn decide(&self, facts: Self::Facts) -> Result<Self::Plan, Self::Refusal>;

    /// The reply, and the change to publish (`None`: nothing changed that a
    /// subscriber sees); or a refusal only the writes could reveal (a
    /// unique key another node claimed between `load` and `apply`), after
    /// which the job's savepoint undoes the writes.
    #[allow(clippy::type_complexity)]
    fn finish(
        &self,
        plan: Self::Plan,
        written: Self::Written,
    ) -> Result<(Self::Reply, Self::Published), Self::Refusal>;
}

/// The refusals a judge's write about a hack begins with, in their order:
/// an unknown judge, then an unknown hack.
fn known_judge_and_hack(
    judge: i64,
    judge_exists: bool,
    hack: i64,
    hack_exists: bool,
) -> Result<(), JudgingError> {
    if !judge_exists {
        return Err(JudgingError::NoSuchJudge(judge));
    }
    if !hack_exists {
        return Err(JudgingError::NoSuchHack(hack));
    }
    Ok(())
}
