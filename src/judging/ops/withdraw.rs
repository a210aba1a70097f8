//! The organiser withdraws a hack from judging (it leaves the results and
//! gets no new judges) or brings it back. Setting what is already set
//! changes nothing and publishes nothing.

use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::{DataStore, Withdrawal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withdraw {
    pub hack: i64,
    pub withdrawn: bool,
}

impl Withdraw {
    pub const fn new(hack: i64, withdrawn: bool) -> Withdraw {
        Withdraw { hack, withdrawn }
    }
}

/// What withdrawing needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub hack_exists: bool,
    /// The hack's withdrawal row, if there is one: (id, withdrawn).
    pub before: Option<(i64, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Unchanged { id: i64 },
    Update { id: i64 },
    Insert,
}

impl Operation for Withdraw {
    type Facts = Facts;
    type Plan = Plan;
    /// The withdrawal's row id.
    type Written = i64;
    type Reply = Withdrawal;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, facts: Facts) -> Result<Plan, JudgingError> {
        if !facts.hack_exists {
            return Err(JudgingError::NoSuchHack(self.hack));
        }
        Ok(match facts.before {
            Some((id, was)) if was == self.withdrawn => Plan::Unchanged { id },
            Some((id, _)) => Plan::Update { id },
            None => Plan::Insert,
        })
    }

    fn finish(&self, plan: Plan, id: i64) -> Finished<Withdrawal> {
        let row = Withdrawal {
            id,
            hack_id: self.hack,
            withdrawn: self.withdrawn,
        };
        let change = match plan {
            Plan::Unchanged { .. } => None,
            Plan::Update { .. } | Plan::Insert => Some(DataStore {
                withdrawals: vec![row.clone()],
                ..DataStore::default()
            }),
        };
        Ok((row, change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: Withdraw = Withdraw {
        hack: 3,
        withdrawn: true,
    };

    #[test]
    fn refuses_an_unknown_hack() {
        let facts = Facts {
            hack_exists: false,
            before: None,
        };
        assert!(matches!(
            OUT.decide(facts),
            Err(JudgingError::NoSuchHack(3))
        ));
    }

    #[test]
    fn a_change_is_published_in_the_hacks_one_row_and_the_same_again_is_not() {
        let fresh = Facts {
            hack_exists: true,
            before: None,
        };
        assert_eq!(OUT.decide(fresh).unwrap(), Plan::Insert);
        let back = Facts {
            before: Some((8, false)),
            ..fresh
        };
        let plan = OUT.decide(back).unwrap();
        assert_eq!(plan, Plan::Update { id: 8 });
        let (reply, change) = OUT.finish(plan, 8).unwrap();
        assert_eq!(change.unwrap().withdrawals, vec![reply]);
        let same = Facts {
            before: Some((8, true)),
            ..fresh
        };
        let plan = OUT.decide(same).unwrap();
        assert_eq!(plan, Plan::Unchanged { id: 8 });
        assert_eq!(OUT.finish(plan, 8).unwrap().1, None);
    }
}
