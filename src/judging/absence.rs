//! Assignment for teams judges found absent, as a pure step after
//! [`assign::plan`]: an absence is not a rating, so a hack whose judges
//! found nobody there gets further judges until `k` judges who have not
//! found it absent hold it, and on the route of a judge who found it absent
//! the hack stays last (they come back to it at the end).
//!
//! The planner is given absent pairs as fixed (like rated ones), so an
//! absent judge keeps the hack. New rows go to the least loaded judges who
//! neither hold the hack nor found it absent (ties by judge id), so the
//! result is deterministic and running assignment again changes nothing.

use std::collections::{HashMap, HashSet};

use super::assign::{HackRef, PlannedAssignment};

/// `plan` adjusted for `absent`, the (judge id, hack id) pairs with an
/// active absence; sorted by judge id, then priority, like the plan.
pub fn adjust(
    mut plan: Vec<PlannedAssignment>,
    absent: &HashSet<(i64, i64)>,
    hacks: &[HackRef],
    judges: &[i64],
    judges_per_hack: usize,
) -> Vec<PlannedAssignment> {
    if absent.is_empty() {
        return plan;
    }
    let location: HashMap<i64, i64> = hacks.iter().map(|h| (h.id, h.location)).collect();
    let mut touched: HashSet<i64> = absent.iter().map(|&(judge, _)| judge).collect();
    let mut absent_hacks: Vec<i64> = absent.iter().map(|&(_, hack)| hack).collect();
    absent_hacks.sort_unstable();
    absent_hacks.dedup();
    for hack in absent_hacks {
        if !location.contains_key(&hack) {
            continue;
        }
        let eligible: Vec<i64> = judges
            .iter()
            .copied()
            .filter(|&j| !absent.contains(&(j, hack)))
            .collect();
        let want = judges_per_hack.min(eligible.len());
        loop {
            let holders: HashSet<i64> = plan
                .iter()
                .filter(|p| p.hack_id == hack)
                .map(|p| p.judge_id)
                .collect();
            if eligible.iter().filter(|j| holders.contains(j)).count() >= want {
                break;
            }
            let load = |judge: i64| {
                plan.iter()
                    .filter(|p| p.judge_id == judge && location.contains_key(&p.hack_id))
                    .count()
            };
            let Some(judge) = eligible
                .iter()
                .copied()
                .filter(|j| !holders.contains(j))
                .min_by_key(|&j| (load(j), j))
            else {
                break;
            };
            plan.push(PlannedAssignment {
                row_id: None,
                judge_id: judge,
                hack_id: hack,
                priority: 0,
            });
            touched.insert(judge);
        }
    }
    // Routes of the judges concerned: table order, absent hacks last.
    for judge in touched {
        let mut route: Vec<&mut PlannedAssignment> =
            plan.iter_mut().filter(|p| p.judge_id == judge).collect();
        route.sort_by_key(|p| {
            (
                absent.contains(&(judge, p.hack_id)),
                location.get(&p.hack_id).copied().unwrap_or(i64::MAX),
                p.hack_id,
            )
        });
        for (priority, row) in route.into_iter().enumerate() {
            row.priority = priority as i64;
        }
    }
    plan.sort_by_key(|p| (p.judge_id, p.priority, p.hack_id));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judging::assign::{self, AssignmentRow};

    fn hacks(n: i64) -> Vec<HackRef> {
        (1..=n).map(|id| HackRef { id, location: id }).collect()
    }

    fn route(plan: &[PlannedAssignment], judge: i64) -> Vec<i64> {
        let mut rows: Vec<_> = plan.iter().filter(|p| p.judge_id == judge).collect();
        rows.sort_by_key(|p| p.priority);
        rows.iter().map(|p| p.hack_id).collect()
    }

    fn holders(plan: &[PlannedAssignment], hack: i64) -> Vec<i64> {
        let mut judges: Vec<i64> = plan
            .iter()
            .filter(|p| p.hack_id == hack)
            .map(|p| p.judge_id)
            .collect();
        judges.sort_unstable();
        judges
    }

    #[test]
    fn nothing_absent_changes_nothing() {
        let plan = assign::plan(&hacks(4), &[1, 2], &[], &HashSet::new(), 1);
        assert_eq!(
            adjust(plan.clone(), &HashSet::new(), &hacks(4), &[1, 2], 1),
            plan
        );
    }

    #[test]
    fn an_absent_hack_gets_another_judge_and_stays_last_for_the_first() {
        let h = hacks(4);
        let judges = [1, 2, 3];
        let plan = assign::plan(&h, &judges, &[], &HashSet::new(), 1);
        let first = holders(&plan, 2)[0];
        let absent = HashSet::from([(first, 2)]);
        let adjusted = adjust(plan, &absent, &h, &judges, 1);
        let now = holders(&adjusted, 2);
        assert_eq!(now.len(), 2, "topped up: {adjusted:?}");
        assert!(
            now.contains(&first),
            "the absent judge keeps it to come back"
        );
        assert_eq!(route(&adjusted, first).last(), Some(&2));
        // Priorities are 0..n-1 per judge.
        for judge in judges {
            let mut p: Vec<i64> = adjusted
                .iter()
                .filter(|r| r.judge_id == judge)
                .map(|r| r.priority)
                .collect();
            p.sort_unstable();
            assert_eq!(p, (0..p.len() as i64).collect::<Vec<_>>());
        }
    }

    #[test]
    fn running_assignment_again_changes_nothing() {
        let h = hacks(5);
        let judges = [1, 2, 3];
        let plan = assign::plan(&h, &judges, &[], &HashSet::new(), 2);
        let absent = HashSet::from([(holders(&plan, 3)[0], 3), (holders(&plan, 3)[1], 3)]);
        // What the store passes as fixed: ratings and absences.
        let rated = absent.clone();
        let first = adjust(plan, &absent, &h, &judges, 2);
        let stored: Vec<AssignmentRow> = first
            .iter()
            .enumerate()
            .map(|(i, p)| AssignmentRow {
                id: i as i64 + 1,
                judge_id: p.judge_id,
                hack_id: p.hack_id,
                priority: p.priority,
            })
            .collect();
        let again = adjust(
            assign::plan(&h, &judges, &stored, &rated, 2),
            &absent,
            &h,
            &judges,
            2,
        );
        assert!(assign::changes(&stored, &again).is_empty(), "{again:?}");
    }

    #[test]
    fn every_judge_absent_adds_no_one() {
        let h = hacks(2);
        let plan = assign::plan(&h, &[1, 2], &[], &HashSet::new(), 2);
        let absent = HashSet::from([(1, 1), (2, 1)]);
        let adjusted = adjust(plan.clone(), &absent, &h, &[1, 2], 2);
        assert_eq!(adjusted.len(), plan.len());
        assert_eq!(route(&adjusted, 1).last(), Some(&1));
    }
}
