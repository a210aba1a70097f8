//! A judge rates a hack (1 to 20): a new rating, a changed one (same row,
//! new value; also a taken-back one), or the same again (nothing to write
//! but the judge's activity). Rating a hack means someone met its team, so
//! whoever found the team absent before was early: its absences are cleared.

use super::{known_judge_and_hack, Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::{Absence, DataStore, Rating};
use crate::judging::validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub judge: i64,
    pub hack: i64,
    pub rating: i64,
}

impl Rate {
    pub const fn new(judge: i64, hack: i64, rating: i64) -> Rate {
        Rate {
            judge,
            hack,
            rating,
        }
    }
}

/// What rating needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub judge_exists: bool,
    pub hack_exists: bool,
    pub paused: bool,
    /// The pair's rating row, if there is one: (id, rating).
    pub before: Option<(i64, i64)>,
}

/// The writes. Every accepted rating records the judge's activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// The same rating again: nothing else to write, nothing to publish.
    Unchanged { id: i64 },
    /// A new value in row `id`, and the hack's absences cleared.
    Update { id: i64 },
    /// A new row, and the hack's absences cleared.
    Insert,
}

/// What the store wrote: the rating's row id and the absences it cleared
/// (as they are now, by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub id: i64,
    pub cleared: Vec<Absence>,
}

impl Operation for Rate {
    type Facts = Facts;
    type Plan = Plan;
    type Written = Written;
    type Reply = Rating;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, facts: Facts) -> Result<Plan, JudgingError> {
        validate::rating(self.rating)?;
        known_judge_and_hack(self.judge, facts.judge_exists, self.hack, facts.hack_exists)?;
        if facts.paused {
            return Err(JudgingError::Paused);
        }
        Ok(match facts.before {
            Some((id, old)) if old == self.rating => Plan::Unchanged { id },
            Some((id, _)) => Plan::Update { id },
            None => Plan::Insert,
        })
    }

    fn finish(&self, plan: Plan, written: Written) -> Finished<Rating> {
        let row = Rating {
            id: written.id,
            judge_id: self.judge,
            hack_id: self.hack,
            rating: self.rating,
        };
        let change = match plan {
            Plan::Unchanged { .. } => None,
            Plan::Update { .. } | Plan::Insert => Some(DataStore {
                ratings: vec![row.clone()],
                absences: written.cleared,
                ..DataStore::default()
            }),
        };
        Ok((row, change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        judge: 1,
        hack: 2,
        rating: 15,
    };
    const OPEN: Facts = Facts {
        judge_exists: true,
        hack_exists: true,
        paused: false,
        before: None,
    };

    #[test]
    fn refuses_an_unknown_judge_then_an_unknown_hack_then_a_pause() {
        let nobody = Facts {
            judge_exists: false,
            hack_exists: false,
            paused: true,
            ..OPEN
        };
        assert!(matches!(
            RATE.decide(nobody),
            Err(JudgingError::NoSuchJudge(1))
        ));
        let no_hack = Facts {
            judge_exists: true,
            ..nobody
        };
        assert!(matches!(
            RATE.decide(no_hack),
            Err(JudgingError::NoSuchHack(2))
        ));
        let paused = Facts {
            hack_exists: true,
            ..no_hack
        };
        assert!(matches!(RATE.decide(paused), Err(JudgingError::Paused)));
    }

    #[test]
    fn refuses_a_rating_out_of_range_before_anything_else() {
        for rating in [Rating::TAKEN_BACK, 21] {
            let err = Rate { rating, ..RATE }.decide(OPEN).unwrap_err();
            assert!(matches!(err, JudgingError::Invalid(_)), "{err}");
        }
    }

    #[test]
    fn a_taken_back_rating_is_rated_again_in_its_row() {
        let taken_back = Facts {
            before: Some((7, Rating::TAKEN_BACK)),
            ..OPEN
        };
        assert_eq!(RATE.decide(taken_back).unwrap(), Plan::Update { id: 7 });
    }

    #[test]
    fn a_first_rating_is_inserted_and_published_with_the_absences_it_cleared() {
        assert_eq!(RATE.decide(OPEN).unwrap(), Plan::Insert);
        let cleared = vec![Absence {
            id: 4,
            judge_id: 3,
            hack_id: 2,
            active: false,
        }];
        let (reply, change) = RATE
            .finish(
                Plan::Insert,
                Written {
                    id: 9,
                    cleared: cleared.clone(),
                },
            )
            .unwrap();
        assert_eq!(reply.id, 9);
        let change = change.expect("a new rating is published");
        assert_eq!(change.ratings, vec![reply]);
        assert_eq!(change.absences, cleared);
    }

    #[test]
    fn a_changed_rating_keeps_its_row_and_the_same_again_publishes_nothing() {
        let changed = Facts {
            before: Some((7, 3)),
            ..OPEN
        };
        assert_eq!(RATE.decide(changed).unwrap(), Plan::Update { id: 7 });
        let same = Facts {
            before: Some((7, 15)),
            ..OPEN
        };
        let plan = RATE.decide(same).unwrap();
        assert_eq!(plan, Plan::Unchanged { id: 7 });
        let (reply, change) = RATE
            .finish(
                plan,
                Written {
                    id: 7,
                    cleared: vec![],
                },
            )
            .unwrap();
        assert_eq!((reply.id, reply.rating), (7, 15));
        assert_eq!(change, None);
    }
}
