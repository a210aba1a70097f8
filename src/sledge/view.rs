//! What each subscriber sees, as pure functions: an in-memory mirror of the
//! judging tables that committed diffs are applied to, the merging of
//! several diffs into one, and the scoping of a database or a diff to a
//! viewer.
//!
//! Scoping: the admin sees everything. A judge sees every hack, superlative
//! and eligibility row, every judge's name (with the email blanked for other
//! judges), and only its own assignments, ratings and placements; of the
//! judging floor, the pause and withdrawals, and only its own absences and
//! notes.

use std::collections::BTreeMap;

use crate::judging::model::{
    Absence, DataStore, Hack, Judge, JudgeHack, JudgingStatus, Note, Rating, Superlative,
    SuperlativeHack, SuperlativePlacement, Withdrawal,
};

/// Who is looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Viewer {
    Admin,
    Judge(i64),
}

/// Every judging row, keyed by id; applying a diff upserts its rows, which is
/// exactly how clients merge updates.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mirror {
    hacks: BTreeMap<i64, Hack>,
    judges: BTreeMap<i64, Judge>,
    judge_hacks: BTreeMap<i64, JudgeHack>,
    superlatives: BTreeMap<i64, Superlative>,
    superlative_placements: BTreeMap<i64, SuperlativePlacement>,
    ratings: BTreeMap<i64, Rating>,
    superlative_hacks: BTreeMap<i64, SuperlativeHack>,
    absences: BTreeMap<i64, Absence>,
    notes: BTreeMap<i64, Note>,
    judging_status: BTreeMap<i64, JudgingStatus>,
    withdrawals: BTreeMap<i64, Withdrawal>,
}

impl Mirror {
    /// A mirror holding `data`.
    pub fn new(data: DataStore) -> Mirror {
        let mut mirror = Mirror::default();
        mirror.apply(data);
        mirror
    }

    /// Upserts every row of `diff` by id.
    pub fn apply(&mut self, diff: DataStore) {
        fn upsert<T>(table: &mut BTreeMap<i64, T>, rows: Vec<T>, id: impl Fn(&T) -> i64) {
            for row in rows {
                table.insert(id(&row), row);
            }
        }
        upsert(&mut self.hacks, diff.hacks, |r| r.id);
        upsert(&mut self.judges, diff.judges, |r| r.id);
        upsert(&mut self.judge_hacks, diff.judge_hacks, |r| r.id);
        upsert(&mut self.superlatives, diff.superlatives, |r| r.id);
        upsert(
            &mut self.superlative_placements,
            diff.superlative_placements,
            |r| r.id,
        );
        upsert(&mut self.ratings, diff.ratings, |r| r.id);
        upsert(&mut self.superlative_hacks, diff.superlative_hacks, |r| {
            r.id
        });
        upsert(&mut self.absences, diff.absences, |r| r.id);
        upsert(&mut self.notes, diff.notes, |r| r.id);
        upsert(&mut self.judging_status, diff.judging_status, |r| r.id);
        upsert(&mut self.withdrawals, diff.withdrawals, |r| r.id);
    }

    /// The whole state as `viewer` may see it, rows in id order.
    pub fn snapshot(&self, viewer: Viewer) -> DataStore {
        fn rows<T: Clone>(table: &BTreeMap<i64, T>, keep: impl Fn(&T) -> bool) -> Vec<T> {
            table.values().filter(|r| keep(r)).cloned().collect()
        }
        let mine = |judge: i64| match viewer {
            Viewer::Admin => true,
            Viewer::Judge(me) => judge == me,
        };
        DataStore {
            hacks: rows(&self.hacks, |_| true),
            judges: self.judges.values().map(|j| judge_row(j, viewer)).collect(),
            judge_hacks: rows(&self.judge_hacks, |r| mine(r.judge_id)),
            superlatives: rows(&self.superlatives, |_| true),
            superlative_placements: rows(&self.superlative_placements, |r| mine(r.judge_id)),
            ratings: rows(&self.ratings, |r| mine(r.judge_id)),
            superlative_hacks: rows(&self.superlative_hacks, |_| true),
            absences: rows(&self.absences, |r| mine(r.judge_id)),
            notes: rows(&self.notes, |r| mine(r.judge_id)),
            judging_status: rows(&self.judging_status, |_| true),
            withdrawals: rows(&self.withdrawals, |_| true),
        }
    }
}

/// Several diffs in commit order as one: a later row with the same id
/// replaces an earlier one, as it would on the client.
pub fn coalesce(diffs: impl IntoIterator<Item = DataStore>) -> DataStore {
    let mut merged = Mirror::default();
    for diff in diffs {
        merged.apply(diff);
    }
    merged.snapshot(Viewer::Admin)
}

/// The part of `data` (a whole database or a diff) that `viewer` may see.
pub fn scope(data: &DataStore, viewer: Viewer) -> DataStore {
    let me = match viewer {
        Viewer::Admin => return data.clone(),
        Viewer::Judge(me) => me,
    };
    fn mine<T: Clone>(rows: &[T], me: i64, judge: impl Fn(&T) -> i64) -> Vec<T> {
        rows.iter().filter(|r| judge(r) == me).cloned().collect()
    }
    DataStore {
        hacks: data.hacks.clone(),
        judges: data.judges.iter().map(|j| judge_row(j, viewer)).collect(),
        judge_hacks: mine(&data.judge_hacks, me, |r| r.judge_id),
        superlatives: data.superlatives.clone(),
        superlative_placements: mine(&data.superlative_placements, me, |r| r.judge_id),
        ratings: mine(&data.ratings, me, |r| r.judge_id),
        superlative_hacks: data.superlative_hacks.clone(),
        absences: mine(&data.absences, me, |r| r.judge_id),
        notes: mine(&data.notes, me, |r| r.judge_id),
        judging_status: data.judging_status.clone(),
        withdrawals: data.withdrawals.clone(),
    }
}

/// A judge row as `viewer` sees it: other judges' emails are blanked.
fn judge_row(judge: &Judge, viewer: Viewer) -> Judge {
    match viewer {
        Viewer::Judge(me) if me != judge.id => Judge {
            email: String::new(),
            ..judge.clone()
        },
        _ => judge.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(id: i64) -> Judge {
        Judge {
            id,
            name: format!("Judge {id}"),
            email: format!("j{id}@example.org"),
        }
    }

    fn rating(id: i64, judge_id: i64, hack_id: i64, rating: i64) -> Rating {
        Rating {
            id,
            judge_id,
            hack_id,
            rating,
        }
    }

    fn absence(id: i64, judge_id: i64) -> Absence {
        Absence {
            id,
            judge_id,
            hack_id: 1,
            active: true,
        }
    }

    fn note(id: i64, judge_id: i64) -> Note {
        Note {
            id,
            judge_id,
            hack_id: 1,
            text: format!("note of judge {judge_id}"),
        }
    }

    fn sample() -> DataStore {
        DataStore {
            hacks: vec![Hack {
                id: 1,
                name: "Tally".into(),
                description: "".into(),
                location: 4,
            }],
            judges: vec![judge(1), judge(2)],
            judge_hacks: vec![
                JudgeHack {
                    id: 1,
                    judge_id: 1,
                    hack_id: 1,
                    priority: 0,
                },
                JudgeHack {
                    id: 2,
                    judge_id: 2,
                    hack_id: 1,
                    priority: 0,
                },
            ],
            superlatives: vec![Superlative {
                id: 1,
                name: "Best".into(),
            }],
            superlative_placements: vec![
                SuperlativePlacement {
                    id: 1,
                    judge_id: 1,
                    superlative_id: 1,
                    first_choice_id: 1,
                    second_choice_id: 0,
                },
                SuperlativePlacement {
                    id: 2,
                    judge_id: 2,
                    superlative_id: 1,
                    first_choice_id: 0,
                    second_choice_id: 0,
                },
            ],
            ratings: vec![rating(1, 1, 1, 10), rating(2, 2, 1, 15)],
            superlative_hacks: vec![SuperlativeHack {
                id: 1,
                superlative_id: 1,
                hack_id: 1,
            }],
            absences: vec![absence(1, 1), absence(2, 2)],
            notes: vec![note(1, 1), note(2, 2)],
            judging_status: vec![JudgingStatus {
                id: 1,
                paused: true,
            }],
            withdrawals: vec![Withdrawal {
                id: 1,
                hack_id: 1,
                withdrawn: true,
            }],
        }
    }

    #[test]
    fn admin_sees_everything() {
        let data = sample();
        assert_eq!(scope(&data, Viewer::Admin), data);
        assert_eq!(Mirror::new(data.clone()).snapshot(Viewer::Admin), data);
    }

    #[test]
    fn a_judge_sees_only_its_own_private_rows() {
        let data = sample();
        let seen = scope(&data, Viewer::Judge(2));
        assert_eq!(seen.hacks, data.hacks);
        assert_eq!(seen.superlatives, data.superlatives);
        assert_eq!(seen.superlative_hacks, data.superlative_hacks);
        assert_eq!(
            seen.judges,
            vec![
                Judge {
                    email: String::new(),
                    ..judge(1)
                },
                judge(2)
            ]
        );
        assert_eq!(seen.ratings, vec![rating(2, 2, 1, 15)]);
        assert_eq!(seen.absences, vec![absence(2, 2)]);
        assert_eq!(seen.notes, vec![note(2, 2)]);
        assert_eq!(seen.judging_status, data.judging_status);
        assert_eq!(seen.withdrawals, data.withdrawals);
        assert!(seen.judge_hacks.iter().all(|r| r.judge_id == 2));
        assert!(seen.superlative_placements.iter().all(|r| r.judge_id == 2));
        assert_eq!(seen.judge_hacks.len(), 1);
        assert_eq!(seen.superlative_placements.len(), 1);
        // The mirror's snapshot scopes the same way.
        assert_eq!(Mirror::new(data).snapshot(Viewer::Judge(2)), seen);
    }

    #[test]
    fn another_judges_rating_is_an_empty_diff_for_a_judge() {
        let diff = DataStore {
            ratings: vec![rating(9, 1, 1, 3)],
            ..Default::default()
        };
        assert!(scope(&diff, Viewer::Judge(2)).is_empty());
        assert_eq!(scope(&diff, Viewer::Judge(1)), diff);
    }

    #[test]
    fn applying_a_diff_replaces_rows_by_id() {
        let mut mirror = Mirror::new(sample());
        mirror.apply(DataStore {
            ratings: vec![rating(1, 1, 1, 20), rating(3, 1, 2, 5)],
            ..Default::default()
        });
        let ratings = mirror.snapshot(Viewer::Admin).ratings;
        assert_eq!(
            ratings,
            vec![rating(1, 1, 1, 20), rating(2, 2, 1, 15), rating(3, 1, 2, 5)]
        );
    }

    #[test]
    fn coalescing_keeps_the_last_version_of_each_row() {
        let first = DataStore {
            ratings: vec![rating(1, 1, 1, 4)],
            judges: vec![judge(1)],
            ..Default::default()
        };
        let second = DataStore {
            ratings: vec![rating(1, 1, 1, 9)],
            ..Default::default()
        };
        let merged = coalesce([first, second]);
        assert_eq!(merged.ratings, vec![rating(1, 1, 1, 9)]);
        assert_eq!(merged.judges, vec![judge(1)]);
    }
}
