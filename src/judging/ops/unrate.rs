//! A judge takes a rating back ("undo"). Rows are never deleted, so the
//! rating's row stays with the value [`Rating::TAKEN_BACK`]: subscribers
//! merging by id see it go, results and exports skip it, and rating the
//! hack again reuses the row. Taking back is a change to results, so it is
//! refused while judging is paused, like rating itself.

use super::{known_judge_and_hack, Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::{DataStore, Rating};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unrate {
    pub judge: i64,
    pub hack: i64,
}

/// What taking back needs to know: the same as rating.
pub type Facts = super::rate::Facts;

/// The write: row `id` becomes the taken-back rating, and the judge's
/// activity is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub id: i64,
}

impl Operation for Unrate {
    type Facts = Facts;
    type Plan = Plan;
    type Written = ();
    /// The row as it now is (rating [`Rating::TAKEN_BACK`]).
    type Reply = Rating;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, facts: Facts) -> Result<Plan, JudgingError> {
        known_judge_and_hack(self.judge, facts.judge_exists, self.hack, facts.hack_exists)?;
        if facts.paused {
            return Err(JudgingError::Paused);
        }
        match facts.before {
            Some((id, rating)) if rating != Rating::TAKEN_BACK => Ok(Plan { id }),
            _ => Err(JudgingError::NoSuchRating {
                judge: self.judge,
                hack: self.hack,
            }),
        }
    }

    fn finish(&self, plan: Plan, (): ()) -> Finished<Rating> {
        let row = Rating {
            id: plan.id,
            judge_id: self.judge,
            hack_id: self.hack,
            rating: Rating::TAKEN_BACK,
        };
        let change = DataStore {
            ratings: vec![row.clone()],
            ..DataStore::default()
        };
        Ok((row, Some(change)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNRATE: Unrate = Unrate { judge: 1, hack: 2 };
    const RATED: Facts = Facts {
        judge_exists: true,
        hack_exists: true,
        paused: false,
        before: Some((7, 15)),
    };

    #[test]
    fn refuses_an_unknown_judge_then_an_unknown_hack_then_a_pause() {
        let nobody = Facts {
            judge_exists: false,
            hack_exists: false,
            paused: true,
            ..RATED
        };
        assert!(matches!(
            UNRATE.decide(nobody),
            Err(JudgingError::NoSuchJudge(1))
        ));
        let no_hack = Facts {
            judge_exists: true,
            ..nobody
        };
        assert!(matches!(
            UNRATE.decide(no_hack),
            Err(JudgingError::NoSuchHack(2))
        ));
        let paused = Facts {
            hack_exists: true,
            ..no_hack
        };
        assert!(matches!(UNRATE.decide(paused), Err(JudgingError::Paused)));
    }

    #[test]
    fn refuses_when_there_is_nothing_to_take_back() {
        for before in [None, Some((7, Rating::TAKEN_BACK))] {
            let err = UNRATE.decide(Facts { before, ..RATED }).unwrap_err();
            assert!(matches!(
                err,
                JudgingError::NoSuchRating { judge: 1, hack: 2 }
            ));
            assert_eq!(err.kind(), crate::judging::error::RefusalKind::NotFound);
        }
    }

    #[test]
    fn takes_back_the_row_in_place_and_publishes_it() {
        let plan = UNRATE.decide(RATED).unwrap();
        assert_eq!(plan, Plan { id: 7 });
        let (reply, change) = UNRATE.finish(plan, ()).unwrap();
        assert_eq!((reply.id, reply.rating), (7, Rating::TAKEN_BACK));
        assert!(reply.taken_back());
        assert_eq!(change.expect("published").ratings, vec![reply]);
    }
}
