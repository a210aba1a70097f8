//! What each subscriber sees, as pure functions: an in-memory mirror of the
//! judging tables that committed diffs are applied to, the merging of
//! several diffs into one, and the scoping of a database or a diff to a
//! viewer.
//!
//! Scoping: the admin sees everything. A judge sees every hack, superlative
//! and eligibility row, every judge's name (with the email blanked for other
//! judges), and only its own assignments, ratings and placements. Of the
//! hacks, a judge gets in full only *its own*: those on its route (its
//! `judgeHacks`) and those it rated or placed; every other hack comes with
//! an empty description (id, name and table stay, so clients that merge by
//! id keep working). That keeps a judge's state a few kB per hack it visits
//! instead of every story of the event. A story longer than
//! [`MAX_DESCRIPTION_CHARS`] (a Devpost import keeps stories whole) reaches
//! judges shortened, with a visible mark; the admin gets it whole.
//! Of the judging floor, a judge sees the pause and withdrawals, and only
//! its own absences and notes.

use std::collections::{BTreeMap, BTreeSet};

use crate::judging::model::{
    Absence, DataStore, Hack, Judge, JudgeHack, JudgingStatus, Note, Rating, Superlative,
    SuperlativeHack, SuperlativePlacement, Withdrawal,
};
use crate::judging::validate::MAX_DESCRIPTION_CHARS;

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
    /// (judge, hack) for each hack a judge has its own (route, rating or
    /// placement), with how many rows make it so.
    own: BTreeMap<(i64, i64), u32>,
}

/// The (judge, hack) pairs a row makes a judge's own; hack 0 stands for
/// none (a placement's unchosen place, or a row with one pair).
trait Owns {
    fn owns(&self) -> [(i64, i64); 2];
}

impl Owns for JudgeHack {
    fn owns(&self) -> [(i64, i64); 2] {
        [(self.judge_id, self.hack_id), (self.judge_id, 0)]
    }
}

impl Owns for Rating {
    fn owns(&self) -> [(i64, i64); 2] {
        [(self.judge_id, self.hack_id), (self.judge_id, 0)]
    }
}

impl Owns for SuperlativePlacement {
    fn owns(&self) -> [(i64, i64); 2] {
        [
            (self.judge_id, self.first_choice_id),
            (self.judge_id, self.second_choice_id),
        ]
    }
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
        /// Upserts like `upsert`, moving the pairs the old row owned to the new one.
        fn upsert_owning<T: Owns>(
            table: &mut BTreeMap<i64, T>,
            own: &mut BTreeMap<(i64, i64), u32>,
            rows: Vec<T>,
            id: impl Fn(&T) -> i64,
        ) {
            for row in rows {
                for pair in row.owns().into_iter().filter(|p| p.1 != 0) {
                    *own.entry(pair).or_default() += 1;
                }
                let Some(old) = table.insert(id(&row), row) else {
                    continue;
                };
                for pair in old.owns().into_iter().filter(|p| p.1 != 0) {
                    if let Some(count) = own.get_mut(&pair) {
                        *count -= 1;
                        if *count == 0 {
                            own.remove(&pair);
                        }
                    }
                }
            }
        }
        upsert(&mut self.hacks, diff.hacks, |r| r.id);
        upsert(&mut self.judges, diff.judges, |r| r.id);
        upsert_owning(
            &mut self.judge_hacks,
            &mut self.own,
            diff.judge_hacks,
            |r| r.id,
        );
        upsert(&mut self.superlatives, diff.superlatives, |r| r.id);
        upsert_owning(
            &mut self.superlative_placements,
            &mut self.own,
            diff.superlative_placements,
            |r| r.id,
        );
        upsert_owning(&mut self.ratings, &mut self.own, diff.ratings, |r| r.id);
        upsert(&mut self.superlative_hacks, diff.superlative_hacks, |r| {
            r.id
        });
        upsert(&mut self.absences, diff.absences, |r| r.id);
        upsert(&mut self.notes, diff.notes, |r| r.id);
        upsert(&mut self.judging_status, diff.judging_status, |r| r.id);
        upsert(&mut self.withdrawals, diff.withdrawals, |r| r.id);
    }

    /// Whether `hack` is one of `judge`'s own.
    fn owns(&self, judge: i64, hack: i64) -> bool {
        self.own.contains_key(&(judge, hack))
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
        let hacks = match viewer {
            Viewer::Admin => rows(&self.hacks, |_| true),
            Viewer::Judge(me) => self
                .hacks
                .values()
                .map(|h| hack_for_judge(h, self.owns(me, h.id)))
                .collect(),
        };
        DataStore {
            hacks,
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
    let mut diffs = diffs.into_iter();
    let Some(first) = diffs.next() else {
        return DataStore::default();
    };
    let Some(second) = diffs.next() else {
        // One diff (an import, say) is passed on as is, without a copy.
        return first;
    };
    let mut merged = Mirror::default();
    for diff in [first, second].into_iter().chain(diffs) {
        merged.apply(diff);
    }
    // Moved out rather than copied: a burst of changes can be many MB.
    DataStore {
        hacks: merged.hacks.into_values().collect(),
        judges: merged.judges.into_values().collect(),
        judge_hacks: merged.judge_hacks.into_values().collect(),
        superlatives: merged.superlatives.into_values().collect(),
        superlative_placements: merged.superlative_placements.into_values().collect(),
        ratings: merged.ratings.into_values().collect(),
        superlative_hacks: merged.superlative_hacks.into_values().collect(),
        absences: merged.absences.into_values().collect(),
        notes: merged.notes.into_values().collect(),
        judging_status: merged.judging_status.into_values().collect(),
        withdrawals: merged.withdrawals.into_values().collect(),
    }
}

impl Mirror {
    /// The part of `diff` that `viewer` may see, with the mirror as it was
    /// before `diff`. A judge gets each hack of the diff in full when it is
    /// (or becomes) its own, else without its description; and a hack that
    /// becomes its own without being in the diff (assignment gave it to the
    /// judge, say) comes along in full, so the judge's copy gains its story.
    pub fn scope(&self, diff: &DataStore, viewer: Viewer) -> DataStore {
        self.scope_with(diff, viewer, false)
    }

    /// Like [`Mirror::scope`] for a diff the mirror already holds (changes
    /// read back from the change log for a resuming client): what the judge
    /// owned before it is no longer known, so every hack its own rows in
    /// `diff` refer to comes in full, as it would have when first gained.
    /// The client ends with what live partials would have left it; a hack it
    /// had in full already may come again.
    pub fn scope_applied(&self, diff: &DataStore, viewer: Viewer) -> DataStore {
        self.scope_with(diff, viewer, true)
    }

    fn scope_with(&self, diff: &DataStore, viewer: Viewer, applied: bool) -> DataStore {
        let me = match viewer {
            Viewer::Admin => return diff.clone(),
            Viewer::Judge(me) => me,
        };
        fn mine<T: Clone>(rows: &[T], me: i64, judge: impl Fn(&T) -> i64) -> Vec<T> {
            rows.iter().filter(|r| judge(r) == me).cloned().collect()
        }
        let judge_hacks = mine(&diff.judge_hacks, me, |r| r.judge_id);
        let superlative_placements = mine(&diff.superlative_placements, me, |r| r.judge_id);
        let ratings = mine(&diff.ratings, me, |r| r.judge_id);
        let gained: BTreeSet<i64> = judge_hacks
            .iter()
            .flat_map(Owns::owns)
            .chain(ratings.iter().flat_map(Owns::owns))
            .chain(superlative_placements.iter().flat_map(Owns::owns))
            .map(|(_, hack)| hack)
            .filter(|&hack| hack != 0 && (applied || !self.owns(me, hack)))
            .collect();
        let mut hacks: Vec<Hack> = diff
            .hacks
            .iter()
            .map(|h| hack_for_judge(h, gained.contains(&h.id) || self.owns(me, h.id)))
            .collect();
        for id in &gained {
            if !diff.hacks.iter().any(|h| h.id == *id) {
                if let Some(hack) = self.hacks.get(id) {
                    hacks.push(hack_for_judge(hack, true));
                }
            }
        }
        DataStore {
            hacks,
            judges: diff.judges.iter().map(|j| judge_row(j, viewer)).collect(),
            judge_hacks,
            superlatives: diff.superlatives.clone(),
            superlative_placements,
            ratings,
            superlative_hacks: diff.superlative_hacks.clone(),
            absences: mine(&diff.absences, me, |r| r.judge_id),
            notes: mine(&diff.notes, me, |r| r.judge_id),
            judging_status: diff.judging_status.clone(),
            withdrawals: diff.withdrawals.clone(),
        }
    }
}

/// Cuts every hack description in `data` to at most `chars` characters, an
/// ellipsis marking a cut: for a page that shows only the start of each
/// story (`?preview=` of the HTTP API's state and event stream).
pub fn preview(data: &mut DataStore, chars: usize) {
    for hack in &mut data.hacks {
        if hack.description.len() > chars {
            if let Some((cut, _)) = hack.description.char_indices().nth(chars) {
                hack.description.truncate(cut);
                hack.description.push('…');
            }
        }
    }
}

/// The mark at the end of a story shortened for judges.
fn shortened_mark(chars: usize) -> String {
    format!("\n\n[… shortened for judges: the whole story is {chars} characters long]")
}

/// A hack as a judge gets it: `own`, its story (shortened with a mark if
/// longer than [`MAX_DESCRIPTION_CHARS`]); otherwise without it.
fn hack_for_judge(hack: &Hack, own: bool) -> Hack {
    let description = if !own {
        String::new()
    } else if hack.description.len() <= MAX_DESCRIPTION_CHARS {
        hack.description.clone()
    } else {
        let chars = hack.description.chars().count();
        if chars <= MAX_DESCRIPTION_CHARS {
            hack.description.clone()
        } else {
            let mark = shortened_mark(chars);
            let keep = MAX_DESCRIPTION_CHARS - mark.chars().count();
            let mut text: String = hack.description.chars().take(keep).collect();
            text.push_str(&mark);
            text
        }
    };
    Hack {
        id: hack.id,
        name: hack.name.clone(),
        description,
        location: hack.location,
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
        assert_eq!(Mirror::default().scope(&data, Viewer::Admin), data);
        assert_eq!(Mirror::new(data.clone()).snapshot(Viewer::Admin), data);
    }

    #[test]
    fn a_judge_sees_only_its_own_private_rows() {
        let data = sample();
        let seen = Mirror::default().scope(&data, Viewer::Judge(2));
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
        let mirror = Mirror::default();
        assert!(mirror.scope(&diff, Viewer::Judge(2)).is_empty());
        assert_eq!(mirror.scope(&diff, Viewer::Judge(1)), diff);
    }

    fn hack(id: i64, description: &str) -> Hack {
        Hack {
            id,
            name: format!("Hack {id}"),
            description: description.into(),
            location: id,
        }
    }

    fn assignment(id: i64, judge_id: i64, hack_id: i64) -> JudgeHack {
        JudgeHack {
            id,
            judge_id,
            hack_id,
            priority: 0,
        }
    }

    fn described(data: &DataStore) -> Vec<(i64, bool)> {
        data.hacks
            .iter()
            .map(|h| (h.id, !h.description.is_empty()))
            .collect()
    }

    #[test]
    fn a_judge_gets_stories_only_of_its_own_hacks() {
        let mut mirror = Mirror::new(DataStore {
            hacks: (1..=4).map(|id| hack(id, "a story")).collect(),
            judges: vec![judge(1), judge(2)],
            judge_hacks: vec![assignment(1, 1, 1), assignment(2, 2, 2)],
            ratings: vec![rating(1, 1, 3, 12)],
            superlative_placements: vec![SuperlativePlacement {
                id: 1,
                judge_id: 1,
                superlative_id: 1,
                first_choice_id: 4,
                second_choice_id: 0,
            }],
            ..Default::default()
        });
        let full = mirror.snapshot(Viewer::Admin);
        assert!(described(&full).iter().all(|(_, d)| *d));
        assert_eq!(
            described(&mirror.snapshot(Viewer::Judge(1))),
            [(1, true), (2, false), (3, true), (4, true)]
        );
        let seen = mirror.snapshot(Viewer::Judge(2));
        assert_eq!(
            described(&seen),
            [(1, false), (2, true), (3, false), (4, false)]
        );
        assert_eq!(seen.hacks[0].name, "Hack 1");
        assert_eq!(seen.hacks[0].location, 1);

        // An edit of hacks 1 and 2: each judge gets its own in full.
        let edit = DataStore {
            hacks: vec![hack(1, "new"), hack(2, "new")],
            ..Default::default()
        };
        assert_eq!(
            described(&mirror.scope(&edit, Viewer::Judge(2))),
            [(1, false), (2, true)]
        );
        // Assignment gives judge 2 hack 3: the diff brings its story along.
        let assign = DataStore {
            judge_hacks: vec![assignment(3, 2, 3)],
            ..Default::default()
        };
        let partial = mirror.scope(&assign, Viewer::Judge(2));
        assert_eq!(described(&partial), [(3, true)]);
        assert!(mirror.scope(&assign, Viewer::Judge(1)).is_empty());
        mirror.apply(assign);
        assert_eq!(
            described(&mirror.snapshot(Viewer::Judge(2))),
            [(1, false), (2, true), (3, true), (4, false)]
        );
        // The row moving to judge 1 takes hack 3 off judge 2's route.
        mirror.apply(DataStore {
            judge_hacks: vec![assignment(3, 1, 3)],
            ..Default::default()
        });
        assert_eq!(
            described(&mirror.snapshot(Viewer::Judge(2))),
            [(1, false), (2, true), (3, false), (4, false)]
        );
    }

    #[test]
    fn long_stories_reach_judges_shortened_with_a_mark() {
        let long = "é".repeat(MAX_DESCRIPTION_CHARS + 5);
        let mirror = Mirror::new(DataStore {
            hacks: vec![hack(1, &long), hack(2, &"x".repeat(MAX_DESCRIPTION_CHARS))],
            judge_hacks: vec![assignment(1, 1, 1), assignment(2, 1, 2)],
            ..Default::default()
        });
        assert_eq!(mirror.snapshot(Viewer::Admin).hacks[0].description, long);
        let seen = mirror.snapshot(Viewer::Judge(1));
        let shortened = &seen.hacks[0].description;
        assert_eq!(shortened.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(shortened.starts_with("éé"));
        assert!(
            shortened.ends_with("the whole story is 10005 characters long]"),
            "{shortened}"
        );
        assert_eq!(seen.hacks[1].description.len(), MAX_DESCRIPTION_CHARS);
    }

    #[test]
    fn previews_cut_descriptions_with_an_ellipsis() {
        let mut data = DataStore {
            hacks: vec![hack(1, "ééé long"), hack(2, "short"), hack(3, "")],
            ..Default::default()
        };
        preview(&mut data, 5);
        let cut: Vec<_> = data.hacks.iter().map(|h| h.description.as_str()).collect();
        assert_eq!(cut, ["ééé l…", "short", ""]);
        preview(&mut data, 0);
        assert_eq!(data.hacks[1].description, "…");
        assert_eq!(data.hacks[2].description, "");
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
