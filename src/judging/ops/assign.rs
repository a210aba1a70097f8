//! The organiser assigns hacks to judges, `judges_per_hack` judges each
//! (the rule: [`assign::decide`]). Running it again tops up: rated rows
//! stay, new hacks and judges are worked in. The store remembers
//! `judges_per_hack` for results' coverage, and the rows written are
//! published as one change.

use super::{Finished, Operation};
use crate::judging::assign::{self, PlannedAssignment};
use crate::judging::error::JudgingError;
use crate::judging::model::{DataStore, JudgeHack};
use crate::judging::outcomes::Assigned;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assign {
    pub judges_per_hack: i64,
}

/// The rows to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Assignments in the whole plan.
    pub total: usize,
    /// Existing rows given another judge or place, under their own ids.
    pub moved: Vec<JudgeHack>,
    /// New rows, to be given ids.
    pub new: Vec<PlannedAssignment>,
}

impl Operation for Assign {
    /// Every judging row: the plan is made from the whole event.
    type Facts = DataStore;
    type Plan = Plan;
    /// The ids of the new rows, in [`Plan::new`]'s order.
    type Written = Vec<i64>;
    type Reply = Assigned;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, data: DataStore) -> Result<Plan, JudgingError> {
        let decided = assign::decide(&data, self.judges_per_hack as usize)?;
        let (moved, new): (Vec<_>, Vec<_>) = decided
            .changes
            .into_iter()
            .partition(|row| row.row_id.is_some());
        let moved = moved
            .into_iter()
            .filter_map(|row| {
                Some(JudgeHack {
                    id: row.row_id?,
                    judge_id: row.judge_id,
                    hack_id: row.hack_id,
                    priority: row.priority,
                })
            })
            .collect();
        Ok(Plan {
            total: decided.total,
            moved,
            new,
        })
    }

    fn finish(&self, plan: Plan, ids: Vec<i64>) -> Finished<Assigned> {
        let created: Vec<JudgeHack> = plan
            .new
            .iter()
            .zip(ids)
            .map(|(row, id)| JudgeHack {
                id,
                judge_id: row.judge_id,
                hack_id: row.hack_id,
                priority: row.priority,
            })
            .collect();
        let change = (!(created.is_empty() && plan.moved.is_empty())).then(|| {
            let mut rows = plan.moved.clone();
            rows.extend(created.iter().cloned());
            rows.sort_by_key(|r| r.id);
            DataStore {
                judge_hacks: rows,
                ..DataStore::default()
            }
        });
        let assigned = Assigned {
            judges_per_hack: self.judges_per_hack,
            created,
            updated: plan.moved,
            total: plan.total,
        };
        Ok((assigned, change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judging::model::{Hack, Judge};

    fn event(hacks: i64, judges: i64) -> DataStore {
        DataStore {
            hacks: (1..=hacks)
                .map(|id| Hack {
                    id,
                    name: format!("Hack {id}"),
                    description: String::new(),
                    location: id,
                })
                .collect(),
            judges: (1..=judges)
                .map(|id| Judge {
                    id,
                    name: format!("Judge {id}"),
                    email: format!("j{id}@example.org"),
                })
                .collect(),
            ..DataStore::default()
        }
    }

    #[test]
    fn nothing_to_assign_is_refused_before_anything_is_written() {
        let op = Assign { judges_per_hack: 1 };
        assert!(matches!(
            op.decide(event(2, 0)),
            Err(JudgingError::NothingToAssign("judges"))
        ));
        assert!(matches!(
            op.decide(event(0, 2)),
            Err(JudgingError::NothingToAssign("hacks"))
        ));
    }

    #[test]
    fn a_first_run_creates_every_row_and_publishes_them_in_id_order() {
        let op = Assign { judges_per_hack: 2 };
        let plan = op.decide(event(3, 2)).unwrap();
        assert!(plan.moved.is_empty());
        assert_eq!(plan.new.len(), 6);
        assert_eq!(plan.total, 6);
        let ids: Vec<i64> = (10..16).rev().collect();
        let (assigned, change) = op.finish(plan, ids).unwrap();
        assert_eq!(assigned.created.len(), 6);
        assert_eq!(assigned.judges_per_hack, 2);
        let published: Vec<i64> = change.unwrap().judge_hacks.iter().map(|r| r.id).collect();
        assert_eq!(published, (10..16).collect::<Vec<_>>());
    }

    #[test]
    fn a_run_that_changes_nothing_publishes_nothing() {
        let op = Assign { judges_per_hack: 1 };
        let mut data = event(2, 1);
        let plan = op.decide(data.clone()).unwrap();
        let (assigned, _) = op.finish(plan, vec![1, 2]).unwrap();
        data.judge_hacks = assigned.created;
        let again = op.decide(data).unwrap();
        assert!(again.new.is_empty() && again.moved.is_empty());
        let (assigned, change) = op.finish(again, Vec::new()).unwrap();
        assert_eq!(assigned.total, 2);
        assert!(change.is_none());
    }
}
