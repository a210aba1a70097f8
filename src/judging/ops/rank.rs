//! A judge names its first and second choice of hack for a superlative
//! (0: not chosen). Ranking again replaces the placement in its row; the
//! same choices again write nothing but the judge's activity, and publish
//! nothing. Refused while judging is paused, like rating.

use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::inputs::Ranking;
use crate::judging::model::{DataStore, SuperlativePlacement};

/// What ranking needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub judge_exists: bool,
    pub superlative_exists: bool,
    pub paused: bool,
    /// Whether each choice names a hack (true for 0, "not chosen").
    pub first_exists: bool,
    pub second_exists: bool,
    /// The pair's placement, if there is one: (id, first, second).
    pub before: Option<(i64, i64, i64)>,
}

/// The writes. Every accepted ranking records the judge's activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Unchanged { id: i64 },
    Update { id: i64 },
    Insert,
}

impl Operation for Ranking {
    type Facts = Facts;
    type Plan = Plan;
    /// The placement's row id.
    type Written = i64;
    type Reply = SuperlativePlacement;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, facts: Facts) -> Result<Plan, JudgingError> {
        let (first, second) = (self.first_choice_id, self.second_choice_id);
        if first != 0 && first == second {
            return Err(JudgingError::SameChoice(first));
        }
        if !facts.judge_exists {
            return Err(JudgingError::NoSuchJudge(self.judge_id));
        }
        if !facts.superlative_exists {
            return Err(JudgingError::NoSuchSuperlative(self.superlative_id));
        }
        if facts.paused {
            return Err(JudgingError::Paused);
        }
        for (field, id, exists) in [
            ("firstId", first, facts.first_exists),
            ("secondId", second, facts.second_exists),
        ] {
            if !exists {
                return Err(JudgingError::NoSuchChoice { field, id });
            }
        }
        Ok(match facts.before {
            Some((id, f, s)) if (f, s) == (first, second) => Plan::Unchanged { id },
            Some((id, _, _)) => Plan::Update { id },
            None => Plan::Insert,
        })
    }

    fn finish(&self, plan: Plan, id: i64) -> Finished<SuperlativePlacement> {
        let row = SuperlativePlacement {
            id,
            judge_id: self.judge_id,
            superlative_id: self.superlative_id,
            first_choice_id: self.first_choice_id,
            second_choice_id: self.second_choice_id,
        };
        let change = match plan {
            Plan::Unchanged { .. } => None,
            Plan::Update { .. } | Plan::Insert => Some(DataStore {
                superlative_placements: vec![row.clone()],
                ..DataStore::default()
            }),
        };
        Ok((row, change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANK: Ranking = Ranking {
        judge_id: 1,
        superlative_id: 2,
        first_choice_id: 3,
        second_choice_id: 0,
    };
    const OPEN: Facts = Facts {
        judge_exists: true,
        superlative_exists: true,
        paused: false,
        first_exists: true,
        second_exists: true,
        before: None,
    };

    #[test]
    fn refuses_in_order_the_same_hack_twice_nobody_no_superlative_a_pause_no_such_choice() {
        let same = Ranking {
            second_choice_id: 3,
            ..RANK
        };
        assert!(matches!(
            same.decide(OPEN),
            Err(JudgingError::SameChoice(3))
        ));
        let mut facts = Facts {
            judge_exists: false,
            superlative_exists: false,
            paused: true,
            first_exists: false,
            second_exists: false,
            before: None,
        };
        assert!(matches!(
            RANK.decide(facts),
            Err(JudgingError::NoSuchJudge(1))
        ));
        facts.judge_exists = true;
        assert!(matches!(
            RANK.decide(facts),
            Err(JudgingError::NoSuchSuperlative(2))
        ));
        facts.superlative_exists = true;
        assert!(matches!(RANK.decide(facts), Err(JudgingError::Paused)));
        facts.paused = false;
        assert!(matches!(
            RANK.decide(facts),
            Err(JudgingError::NoSuchChoice {
                field: "firstId",
                id: 3
            })
        ));
        facts.first_exists = true;
        assert!(matches!(
            RANK.decide(facts),
            Err(JudgingError::NoSuchChoice {
                field: "secondId",
                id: 0
            })
        ));
    }

    #[test]
    fn a_new_or_changed_placement_is_published_and_the_same_again_is_not() {
        assert_eq!(RANK.decide(OPEN).unwrap(), Plan::Insert);
        let changed = Facts {
            before: Some((4, 5, 0)),
            ..OPEN
        };
        let plan = RANK.decide(changed).unwrap();
        assert_eq!(plan, Plan::Update { id: 4 });
        let (reply, change) = RANK.finish(plan, 4).unwrap();
        assert_eq!(change.unwrap().superlative_placements, vec![reply]);
        let same = Facts {
            before: Some((4, 3, 0)),
            ..OPEN
        };
        let plan = RANK.decide(same).unwrap();
        assert_eq!(plan, Plan::Unchanged { id: 4 });
        assert_eq!(RANK.finish(plan, 4).unwrap().1, None);
    }
}
