//! The organiser's view of the judging floor, as a pure function of the
//! state: per judge, how far along their route they are, where they go next
//! and how long since they last did anything; per hack, its ratings against
//! the coverage target and the absences judges reported, flagged once enough
//! different judges found the team away.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::model::DataStore;

/// Minutes without an action after which a judge stands out as idle.
pub const IDLE_MINUTES: i64 = 10;

/// What the floor view is computed from.
pub struct FloorInput<'a> {
    pub data: &'a DataStore,
    /// Each judge's last action, milliseconds since the Unix epoch.
    pub last_action: &'a HashMap<i64, i64>,
    pub now_ms: i64,
    pub judges_per_hack: i64,
    /// Different judges with an active absence that flag a hack.
    pub absent_flag_judges: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Floor {
    pub paused: bool,
    pub judges_per_hack: i64,
    pub absent_flag_judges: usize,
    pub idle_minutes: i64,
    pub judges: Vec<JudgeOnFloor>,
    pub hacks: Vec<HackOnFloor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JudgeOnFloor {
    pub judge_id: i64,
    pub name: String,
    /// Hacks on the judge's route (withdrawn ones left out).
    pub assigned: usize,
    /// Of those, how many the judge has rated.
    pub rated: usize,
    /// The first unrated hack on the route, in visiting order.
    pub next_hack_id: Option<i64>,
    pub next_table: Option<i64>,
    pub last_action_at: Option<i64>,
    /// Whole minutes since the last action; `None` before the first.
    pub minutes_since_action: Option<i64>,
    /// Over [`IDLE_MINUTES`] since the last action, with work left.
    pub idle: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HackOnFloor {
    pub hack_id: i64,
    pub name: String,
    pub location: i64,
    pub ratings: usize,
    /// The coverage target (judges per hack).
    pub target: i64,
    /// Judges whose absence mark is active (nobody rated the hack since).
    pub absent_by: Vec<i64>,
    /// Enough different judges found the team absent: the organiser should look.
    pub flagged: bool,
    pub withdrawn: bool,
}

pub fn compute(input: &FloorInput<'_>) -> Floor {
    let data = input.data;
    let withdrawn: BTreeSet<i64> = data
        .withdrawals
        .iter()
        .filter(|w| w.withdrawn)
        .map(|w| w.hack_id)
        .collect();
    let rated: BTreeSet<(i64, i64)> = data
        .ratings
        .iter()
        .filter(|r| !r.taken_back())
        .map(|r| (r.judge_id, r.hack_id))
        .collect();
    let location: HashMap<i64, i64> = data.hacks.iter().map(|h| (h.id, h.location)).collect();

    let judges = data
        .judges
        .iter()
        .map(|judge| {
            let mut route: Vec<_> = data
                .judge_hacks
                .iter()
                .filter(|a| a.judge_id == judge.id && !withdrawn.contains(&a.hack_id))
                .collect();
            route.sort_by_key(|a| (a.priority, a.id));
            let done = route
                .iter()
                .filter(|a| rated.contains(&(judge.id, a.hack_id)))
                .count();
            let next = route
                .iter()
                .find(|a| !rated.contains(&(judge.id, a.hack_id)))
                .map(|a| a.hack_id);
            let last = input.last_action.get(&judge.id).copied();
            let minutes = last.map(|at| (input.now_ms - at).max(0) / 60_000);
            JudgeOnFloor {
                judge_id: judge.id,
                name: judge.name.clone(),
                assigned: route.len(),
                rated: done,
                next_hack_id: next,
                next_table: next.and_then(|h| location.get(&h).copied()),
                last_action_at: last,
                minutes_since_action: minutes,
                idle: next.is_some() && minutes.is_some_and(|m| m >= IDLE_MINUTES),
            }
        })
        .collect();

    let hacks = data
        .hacks
        .iter()
        .map(|hack| {
            let absent_by: BTreeSet<i64> = data
                .absences
                .iter()
                .filter(|a| a.active && a.hack_id == hack.id)
                .map(|a| a.judge_id)
                .collect();
            let is_withdrawn = withdrawn.contains(&hack.id);
            HackOnFloor {
                hack_id: hack.id,
                name: hack.name.clone(),
                location: hack.location,
                ratings: data
                    .ratings
                    .iter()
                    .filter(|r| r.hack_id == hack.id && !r.taken_back())
                    .count(),
                target: input.judges_per_hack,
                flagged: !is_withdrawn && absent_by.len() >= input.absent_flag_judges,
                absent_by: absent_by.into_iter().collect(),
                withdrawn: is_withdrawn,
            }
        })
        .collect();

    Floor {
        paused: data.judging_status.iter().any(|s| s.paused),
        judges_per_hack: input.judges_per_hack,
        absent_flag_judges: input.absent_flag_judges,
        idle_minutes: IDLE_MINUTES,
        judges,
        hacks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judging::model::{Absence, Hack, Judge, JudgeHack, Rating, Withdrawal};

    fn data() -> DataStore {
        let hack = |id| Hack {
            id,
            name: format!("Hack {id}"),
            description: String::new(),
            location: id * 10,
        };
        let judge = |id| Judge {
            id,
            name: format!("Judge {id}"),
            email: String::new(),
        };
        let assign = |id, judge_id, hack_id, priority| JudgeHack {
            id,
            judge_id,
            hack_id,
            priority,
        };
        let absent = |id, judge_id, hack_id, active| Absence {
            id,
            judge_id,
            hack_id,
            active,
        };
        DataStore {
            hacks: vec![hack(1), hack(2), hack(3)],
            judges: vec![judge(1), judge(2), judge(3)],
            judge_hacks: vec![
                assign(1, 1, 1, 0),
                assign(2, 1, 2, 3),
                assign(3, 1, 3, 1),
                assign(4, 2, 1, 0),
                assign(5, 3, 2, 0),
            ],
            ratings: vec![Rating {
                id: 1,
                judge_id: 1,
                hack_id: 1,
                rating: 12,
            }],
            absences: vec![
                absent(1, 1, 2, true),
                absent(2, 3, 2, true),
                absent(3, 2, 3, false),
                absent(4, 2, 1, true),
            ],
            ..Default::default()
        }
    }

    fn floor(data: &DataStore, flag: usize) -> Floor {
        let activity = HashMap::from([(1, 0), (2, 11 * 60_000)]);
        compute(&FloorInput {
            data,
            last_action: &activity,
            now_ms: 12 * 60_000,
            judges_per_hack: 2,
            absent_flag_judges: flag,
        })
    }

    #[test]
    fn judges_progress_next_table_and_idleness() {
        let f = floor(&data(), 2);
        let j1 = &f.judges[0];
        assert_eq!((j1.assigned, j1.rated), (3, 1));
        // Hack 2 was moved to the end of the route (priority 3): 3 comes first.
        assert_eq!((j1.next_hack_id, j1.next_table), (Some(3), Some(30)));
        assert_eq!(j1.minutes_since_action, Some(12));
        assert!(j1.idle);
        let j2 = &f.judges[1];
        assert_eq!(j2.minutes_since_action, Some(1));
        assert!(!j2.idle);
        assert_eq!(f.judges[2].minutes_since_action, None);
        assert!(!f.judges[2].idle);
    }

    #[test]
    fn a_hack_is_flagged_by_enough_different_judges_with_active_absences() {
        let f = floor(&data(), 2);
        assert_eq!(f.hacks[1].absent_by, vec![1, 3]);
        assert!(f.hacks[1].flagged);
        // One active absence, one cleared: not flagged.
        assert!(!f.hacks[0].flagged && !f.hacks[2].flagged);
        assert_eq!(f.hacks[0].ratings, 1);
        assert_eq!(f.hacks[0].target, 2);
        // A threshold of 3 judges flags nothing here.
        assert!(floor(&data(), 3).hacks.iter().all(|h| !h.flagged));
    }

    #[test]
    fn withdrawn_hacks_leave_routes_and_are_not_flagged() {
        let mut d = data();
        d.withdrawals.push(Withdrawal {
            id: 1,
            hack_id: 2,
            withdrawn: true,
        });
        let f = floor(&d, 2);
        assert!(f.hacks[1].withdrawn && !f.hacks[1].flagged);
        assert_eq!(f.judges[0].assigned, 2);
        assert_eq!(f.judges[2].next_hack_id, None);
    }
}
