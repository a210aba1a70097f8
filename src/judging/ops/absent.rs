//! A judge finds nobody at a hack's table ("Not here: come back later"):
//! the judge's absence for the hack becomes active (the same row again if
//! the judge marked it before) and the hack moves to the end of the judge's
//! route, to be visited last. Marking an active absence again changes
//! nothing. Refused while judging is paused, like rating.

use super::{known_judge_and_hack, Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::{Absence, DataStore, JudgeHack};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkAbsent {
    pub judge: i64,
    pub hack: i64,
}

impl MarkAbsent {
    pub const fn new(judge: i64, hack: i64) -> MarkAbsent {
        MarkAbsent { judge, hack }
    }
}

/// What marking needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub judge_exists: bool,
    pub hack_exists: bool,
    pub paused: bool,
    /// The pair's absence, if there is one: (id, active).
    pub before: Option<(i64, bool)>,
    /// The judge's route: its assignment rows.
    pub route: Vec<JudgeHack>,
}

/// The writes. Every accepted mark records the judge's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Already active: nothing else to write, nothing to publish.
    Unchanged { id: i64 },
    /// Row `id` active again; the route row moved, if it moves.
    Reactivate { id: i64, moved: Option<JudgeHack> },
    /// A new active row; the route row moved, if it moves.
    Insert { moved: Option<JudgeHack> },
}

impl Operation for MarkAbsent {
    type Facts = Facts;
    type Plan = Plan;
    /// The absence's row id.
    type Written = i64;
    type Reply = Absence;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, facts: Facts) -> Result<Plan, JudgingError> {
        known_judge_and_hack(self.judge, facts.judge_exists, self.hack, facts.hack_exists)?;
        if facts.paused {
            return Err(JudgingError::Paused);
        }
        let moved = route_end(&facts.route, self.hack);
        Ok(match facts.before {
            Some((id, true)) => Plan::Unchanged { id },
            Some((id, false)) => Plan::Reactivate { id, moved },
            None => Plan::Insert { moved },
        })
    }

    fn finish(&self, plan: Plan, id: i64) -> Finished<Absence> {
        let row = Absence {
            id,
            judge_id: self.judge,
            hack_id: self.hack,
            active: true,
        };
        let moved = match plan {
            Plan::Unchanged { .. } => return Ok((row, None)),
            Plan::Reactivate { moved, .. } | Plan::Insert { moved } => moved,
        };
        let change = DataStore {
            absences: vec![row.clone()],
            judge_hacks: moved.into_iter().collect(),
            ..DataStore::default()
        };
        Ok((row, Some(change)))
    }
}

/// The hack's route row moved after every other (last priority + 1), or
/// `None` when the hack is not on the route or is already last alone.
fn route_end(route: &[JudgeHack], hack: i64) -> Option<JudgeHack> {
    let row = route.iter().find(|r| r.hack_id == hack)?;
    let last = route.iter().map(|r| r.priority).max()?;
    let others_at_last = route.iter().any(|r| r.priority == last && r.id != row.id);
    if row.priority == last && !others_at_last {
        return None;
    }
    Some(JudgeHack {
        priority: last + 1,
        ..row.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARK: MarkAbsent = MarkAbsent { judge: 1, hack: 2 };

    fn stop(id: i64, hack_id: i64, priority: i64) -> JudgeHack {
        JudgeHack {
            id,
            judge_id: 1,
            hack_id,
            priority,
        }
    }

    fn open(route: Vec<JudgeHack>) -> Facts {
        Facts {
            judge_exists: true,
            hack_exists: true,
            paused: false,
            before: None,
            route,
        }
    }

    #[test]
    fn refuses_an_unknown_judge_then_an_unknown_hack_then_a_pause() {
        let mut facts = Facts {
            judge_exists: false,
            hack_exists: false,
            paused: true,
            ..open(vec![])
        };
        assert!(matches!(
            MARK.decide(facts.clone()),
            Err(JudgingError::NoSuchJudge(1))
        ));
        facts.judge_exists = true;
        assert!(matches!(
            MARK.decide(facts.clone()),
            Err(JudgingError::NoSuchHack(2))
        ));
        facts.hack_exists = true;
        assert!(matches!(MARK.decide(facts), Err(JudgingError::Paused)));
    }

    #[test]
    fn the_hack_moves_after_every_other_stop_unless_it_is_last_alone() {
        let route = vec![stop(10, 2, 0), stop(11, 3, 1), stop(12, 4, 2)];
        assert_eq!(
            MARK.decide(open(route)).unwrap(),
            Plan::Insert {
                moved: Some(stop(10, 2, 3))
            }
        );
        let last = vec![stop(10, 3, 0), stop(11, 2, 1)];
        assert_eq!(
            MARK.decide(open(last)).unwrap(),
            Plan::Insert { moved: None }
        );
        let tied = vec![stop(10, 3, 1), stop(11, 2, 1)];
        assert_eq!(
            MARK.decide(open(tied)).unwrap(),
            Plan::Insert {
                moved: Some(stop(11, 2, 2))
            }
        );
        let elsewhere = vec![stop(10, 3, 0)];
        assert_eq!(
            MARK.decide(open(elsewhere)).unwrap(),
            Plan::Insert { moved: None }
        );
    }

    #[test]
    fn marking_again_reuses_the_row_and_an_active_one_publishes_nothing() {
        let route = vec![stop(10, 2, 0), stop(11, 3, 1)];
        let cleared = Facts {
            before: Some((7, false)),
            ..open(route.clone())
        };
        let plan = MARK.decide(cleared).unwrap();
        let moved = Some(stop(10, 2, 2));
        assert_eq!(
            plan,
            Plan::Reactivate {
                id: 7,
                moved: moved.clone()
            }
        );
        let (reply, change) = MARK.finish(plan, 7).unwrap();
        assert!(reply.active);
        let change = change.unwrap();
        assert_eq!(change.absences, vec![reply]);
        assert_eq!(change.judge_hacks, moved.into_iter().collect::<Vec<_>>());
        let active = Facts {
            before: Some((7, true)),
            ..open(route)
        };
        let plan = MARK.decide(active).unwrap();
        assert_eq!(plan, Plan::Unchanged { id: 7 });
        assert_eq!(MARK.finish(plan, 7).unwrap().1, None);
    }
}
