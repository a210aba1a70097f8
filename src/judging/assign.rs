//! Automatic assignment of hacks to judges: every hack gets enough judges,
//! every judge about the same number of hacks, and each judge's list is in
//! table order so their walk is short.
//!
//! Rows of `judgeHacks` are never deleted (clients merge rows by id and the
//! protocol has no deletion), so [`plan`] returns every existing row exactly
//! once, plus new rows. A row keeps its hack for life; a row whose judge has
//! rated its hack also keeps its judge ("fixed"); any other row on a known
//! judge and hack is "movable" and may be handed to another judge.
//!
//! # Guarantees
//!
//! Known judges and hacks are the ones passed in; the load of a judge is the
//! number of rows they hold for known hacks.
//!
//! 1. Every existing row appears once (row ids are taken to be unique), with
//!    its hack; fixed rows also keep their judge. Rows for unknown hacks and fixed rows of unknown judges
//!    are passed through untouched. A movable row of an unknown judge is
//!    handed to a known judge (when there is one).
//! 2. Every known hack is held by at least `min(k, known judges)` distinct
//!    known judges. More are kept only when existing rows already give it
//!    more; nothing is created beyond that.
//! 3. No judge holds a hack twice, unless the input already did so on
//!    fixed rows, or a hack has more rows than there are judges.
//! 4. Balance: for any two known judges `a`, `b` with
//!    `load(a) >= load(b) + 2`, there is no chain `a = j0, j1, .., jm = b`
//!    of distinct judges in which each `j(i)` holds a movable row for a hack
//!    that `j(i+1)` does not hold (such a chain would let one row move down
//!    it and even the two loads out). In particular, when no row is fixed
//!    and the input holds no (judge, hack) pair twice, all loads differ by
//!    at most one. With fixed rows, a judge may stay above the others only
//!    because their fixed rows put them there.
//! 5. Each judge's priorities are 0..n-1 in order of (location, hack id), so
//!    the walk is one pass along the tables; rows of unknown hacks come last.
//! 6. Idempotence: feeding the output back in (new rows given ids) yields the
//!    same judges and priorities. Adding hacks or judges later tops up and
//!    rebalances without touching fixed rows.
//!
//! Deterministic: no randomness, and no dependence on hash order.
//!
//! # Method
//!
//! Fresh slots are laid out the way a caller would by hand: list the hacks
//! in table order `k` times over and cut that list into equal consecutive
//! runs, one per judge. Each judge then covers a stretch of neighbouring
//! tables (short walks), the `k` judges of a hack come from different
//! stretches, and judges start at different tables rather than all crowding
//! table 1. Existing rows bend this layout (a judge at capacity passes the
//! slot on), after which a repair pass moves movable rows down chains of
//! judges from the most to the least loaded until guarantee 4 holds. Each
//! move lowers the sum of squared loads, so the pass ends.

use serde::Serialize;

use super::absence;
use super::error::JudgingError;
use super::model::DataStore;
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet, VecDeque};

/// Judges per hack when the organiser has not chosen.
pub const DEFAULT_JUDGES_PER_HACK: usize = 3;

/// A hack as assignment sees it: where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HackRef {
    pub id: i64,
    /// Table number; judges visit in increasing order.
    pub location: i64,
}

/// An existing `judgeHacks` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssignmentRow {
    pub id: i64,
    pub judge_id: i64,
    pub hack_id: i64,
    pub priority: i64,
}

impl From<&crate::judging::model::JudgeHack> for AssignmentRow {
    fn from(row: &crate::judging::model::JudgeHack) -> AssignmentRow {
        AssignmentRow {
            id: row.id,
            judge_id: row.judge_id,
            hack_id: row.hack_id,
            priority: row.priority,
        }
    }
}

/// One row of the plan: an existing row (`row_id` Some, possibly with a new
/// judge or priority) or a row to create (`row_id` None).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedAssignment {
    pub row_id: Option<i64>,
    pub judge_id: i64,
    pub hack_id: i64,
    pub priority: i64,
}

/// Plans the assignment of hacks to judges; see the module docs for what is
/// guaranteed. `rated` holds the (judge id, hack id) pairs that have a
/// rating; `judges_per_hack` is `k`. The plan is sorted by judge id, then
/// priority.
pub fn plan(
    hacks: &[HackRef],
    judges: &[i64],
    existing: &[AssignmentRow],
    rated: &HashSet<(i64, i64)>,
    judges_per_hack: usize,
) -> Vec<PlannedAssignment> {
    let mut planner = Planner::new(hacks, judges, existing, rated);
    planner.fill(judges_per_hack);
    planner.rebalance();
    planner.finish()
}

/// The assignment for the judging state as it is: withdrawn
/// hacks get no new judges (their rows pass through); a rated row stays
/// with its judge, and so does a row whose judge found the team absent (to
/// come back to it last, not counting toward coverage: [`absence::adjust`]).
/// A taken-back rating no longer holds its row. The one rule both stores
/// apply; refused when there is nothing to assign.
pub fn decide(data: &DataStore, judges_per_hack: usize) -> Result<Decided, JudgingError> {
    if data.judges.is_empty() {
        return Err(JudgingError::NothingToAssign("judges"));
    }
    if data.hacks.is_empty() {
        return Err(JudgingError::NothingToAssign("hacks"));
    }
    let withdrawn: HashSet<i64> = data
        .withdrawals
        .iter()
        .filter(|w| w.withdrawn)
        .map(|w| w.hack_id)
        .collect();
    let hacks: Vec<HackRef> = data
        .hacks
        .iter()
        .filter(|h| !withdrawn.contains(&h.id))
        .map(|h| HackRef {
            id: h.id,
            location: h.location,
        })
        .collect();
    let judges: Vec<i64> = data.judges.iter().map(|j| j.id).collect();
    let existing: Vec<AssignmentRow> = data.judge_hacks.iter().map(AssignmentRow::from).collect();
    let absent: HashSet<(i64, i64)> = data
        .absences
        .iter()
        .filter(|a| a.active)
        .map(|a| (a.judge_id, a.hack_id))
        .collect();
    let fixed: HashSet<(i64, i64)> = data
        .ratings
        .iter()
        .filter(|r| !r.taken_back())
        .map(|r| (r.judge_id, r.hack_id))
        .chain(absent.iter().copied())
        .collect();
    let plan = plan(&hacks, &judges, &existing, &fixed, judges_per_hack);
    let plan = absence::adjust(plan, &absent, &hacks, &judges, judges_per_hack);
    Ok(Decided {
        total: plan.len(),
        changes: changes(&existing, &plan),
    })
}

/// What [`decide`] decided.
#[derive(Debug)]
pub struct Decided {
    /// Assignments in the whole plan.
    pub total: usize,
    /// The rows to write: new, or moved (`row_id` set).
    pub changes: Vec<PlannedAssignment>,
}

/// The part of a plan that differs from the existing rows: new rows and
/// rows whose judge or priority changed. This is what to store and send.
pub fn changes(existing: &[AssignmentRow], plan: &[PlannedAssignment]) -> Vec<PlannedAssignment> {
    let before: HashMap<i64, &AssignmentRow> = existing.iter().map(|r| (r.id, r)).collect();
    plan.iter()
        .filter(|p| match p.row_id.and_then(|id| before.get(&id)) {
            Some(old) => {
                (old.judge_id, old.hack_id, old.priority) != (p.judge_id, p.hack_id, p.priority)
            }
            None => true,
        })
        .copied()
        .collect()
}

struct Row {
    id: Option<i64>,
    judge: i64,
    judge_idx: Option<usize>,
    hack: i64,
    /// Position of the hack in table order; None for an unknown hack.
    hack_idx: Option<usize>,
    fixed: bool,
}

struct Planner {
    judges: Vec<i64>,
    /// Known hacks sorted by (location, id); indices below are into this.
    hacks: Vec<HackRef>,
    rows: Vec<Row>,
    /// `count[j * hacks.len() + h]`: rows judge j holds for hack h.
    count: Vec<u32>,
    load: Vec<usize>,
}

impl Planner {
    fn new(
        hacks: &[HackRef],
        judges: &[i64],
        existing: &[AssignmentRow],
        rated: &HashSet<(i64, i64)>,
    ) -> Self {
        let mut seen = HashSet::new();
        let judges: Vec<i64> = judges.iter().copied().filter(|j| seen.insert(*j)).collect();
        let judge_index: HashMap<i64, usize> =
            judges.iter().enumerate().map(|(i, &j)| (j, i)).collect();
        let mut seen = HashSet::new();
        let mut hacks: Vec<HackRef> = hacks
            .iter()
            .copied()
            .filter(|h| seen.insert(h.id))
            .collect();
        hacks.sort_by_key(|h| (h.location, h.id));
        let hack_index: HashMap<i64, usize> =
            hacks.iter().enumerate().map(|(i, h)| (h.id, i)).collect();

        // Row id order, so the outcome does not depend on the caller's order.
        let mut existing: Vec<&AssignmentRow> = existing.iter().collect();
        existing.sort_by_key(|r| r.id);
        let rows = existing
            .into_iter()
            .map(|r| Row {
                id: Some(r.id),
                judge: r.judge_id,
                judge_idx: judge_index.get(&r.judge_id).copied(),
                hack: r.hack_id,
                hack_idx: hack_index.get(&r.hack_id).copied(),
                fixed: rated.contains(&(r.judge_id, r.hack_id)),
            })
            .collect();
        let mut planner = Planner {
            count: vec![0; judges.len() * hacks.len()],
            load: vec![0; judges.len()],
            judges,
            hacks,
            rows,
        };
        for i in 0..planner.rows.len() {
            if let (Some(j), Some(h)) = (planner.rows[i].judge_idx, planner.rows[i].hack_idx) {
                planner.add(j, h);
            }
        }
        planner
    }

    fn cell(&self, j: usize, h: usize) -> usize {
        j * self.hacks.len() + h
    }

    fn holds(&self, j: usize, h: usize) -> bool {
        self.count[self.cell(j, h)] > 0
    }

    fn add(&mut self, j: usize, h: usize) {
        let c = self.cell(j, h);
        self.count[c] += 1;
        self.load[j] += 1;
    }

    fn move_row(&mut self, r: usize, to: usize) {
        let h = self.rows[r]
            .hack_idx
            .expect("only rows of known hacks move");
        if let Some(from) = self.rows[r].judge_idx {
            let c = self.cell(from, h);
            self.count[c] -= 1;
            self.load[from] -= 1;
        }
        self.rows[r].judge = self.judges[to];
        self.rows[r].judge_idx = Some(to);
        self.add(to, h);
    }

    fn movable(&self, r: usize) -> bool {
        let row = &self.rows[r];
        !row.fixed && row.hack_idx.is_some() && row.judge_idx.is_some()
    }

    /// Gives every hack its judges, reusing rows that have no proper judge
    /// (unknown judge, or a second row for the same judge) before creating.
    fn fill(&mut self, k: usize) {
        let (nj, nh) = (self.judges.len(), self.hacks.len());
        if nj == 0 || nh == 0 {
            return;
        }
        // Which movable rows may stay put: one per (judge, hack), and none
        // where a fixed row already covers the pair.
        let mut taken = vec![false; nj * nh];
        for row in self.rows.iter().filter(|r| r.fixed) {
            if let (Some(j), Some(h)) = (row.judge_idx, row.hack_idx) {
                taken[j * nh + h] = true;
            }
        }
        let mut homeless: Vec<VecDeque<usize>> = vec![VecDeque::new(); nh];
        for (r, row) in self.rows.iter().enumerate() {
            let Some(h) = row.hack_idx.filter(|_| !row.fixed) else {
                continue;
            };
            match row.judge_idx {
                Some(j) if !taken[j * nh + h] => taken[j * nh + h] = true,
                _ => homeless[h].push_back(r),
            }
        }

        let minimum = k.min(nj);
        let mut slots = Vec::new(); // (copy number, hack)
        let mut copies = 0;
        for (h, homeless) in homeless.iter().enumerate() {
            let distinct = (0..nj).filter(|&j| self.holds(j, h)).count();
            let wanted = minimum.max(distinct + homeless.len()).min(nj);
            slots.extend((distinct..wanted).map(|copy| (copy, h)));
            copies = copies.max(wanted);
        }
        slots.sort_unstable();
        let total = self.load.iter().sum::<usize>() + slots.len();
        let cap = total.div_ceil(nj);
        for (copy, h) in slots {
            // Where this slot falls when the hack list, repeated `copies`
            // times, is cut into `nj` equal runs.
            let ideal = (copy * nh + h) * nj / (copies * nh);
            let eligible = |j: &usize| !self.holds(*j, h);
            let ring = (0..nj).map(|off| (ideal + off) % nj);
            let j = ring
                .clone()
                .filter(eligible)
                .find(|&j| self.load[j] < cap)
                .or_else(|| ring.filter(eligible).min_by_key(|&j| self.load[j]))
                .expect("a hack never wants more judges than exist");
            match homeless[h].pop_front() {
                Some(r) => self.move_row(r, j),
                None => {
                    self.rows.push(Row {
                        id: None,
                        judge: self.judges[j],
                        judge_idx: Some(j),
                        hack: self.hacks[h].id,
                        hack_idx: Some(h),
                        fixed: false,
                    });
                    self.add(j, h);
                }
            }
        }
    }

    /// Moves movable rows down chains of judges until guarantee 4 holds.
    fn rebalance(&mut self) {
        let nj = self.judges.len();
        let mut movable: Vec<Vec<usize>> = vec![Vec::new(); nj];
        for r in (0..self.rows.len()).filter(|&r| self.movable(r)) {
            movable[self.rows[r].judge_idx.unwrap()].push(r);
        }
        loop {
            let mut levels = self.load.clone();
            levels.sort_unstable();
            levels.dedup();
            let Some(&max) = levels.last() else {
                return;
            };
            // Lightest judges first, so rows flow to where they are most needed.
            let chain = levels
                .iter()
                .take_while(|&&level| level + 2 <= max)
                .find_map(|&level| self.chain_down_to(level, &movable));
            let Some(chain) = chain else {
                return;
            };
            for step in chain.windows(2) {
                let (from, to) = (step[0], step[1]);
                let pick = self.pick_row(&movable[from], to);
                let r = movable[from].swap_remove(pick);
                self.move_row(r, to);
                movable[to].push(r);
            }
        }
    }

    /// The heaviest judge at least two above `level` with a chain down to a
    /// judge at `level`, and the (shortest) chain, heaviest first. One
    /// breadth-first search backwards from all judges at `level` at once
    /// finds it, which keeps a pass cheap even when many heavy judges are
    /// stuck with fixed rows.
    fn chain_down_to(&self, level: usize, movable: &[Vec<usize>]) -> Option<Vec<usize>> {
        let nj = self.judges.len();
        let mut next = vec![usize::MAX; nj];
        let mut queue = VecDeque::new();
        for j in (0..nj).filter(|&j| self.load[j] == level) {
            next[j] = j;
            queue.push_back(j);
        }
        let mut best: Option<usize> = None;
        while let Some(y) = queue.pop_front() {
            for x in 0..nj {
                if next[x] == usize::MAX
                    && movable[x]
                        .iter()
                        .any(|&r| !self.holds(y, self.rows[r].hack_idx.unwrap()))
                {
                    next[x] = y;
                    queue.push_back(x);
                    if self.load[x] >= level + 2 && best.is_none_or(|b| self.load[x] > self.load[b])
                    {
                        best = Some(x);
                    }
                }
            }
        }
        let mut chain = vec![best?];
        loop {
            let last = *chain.last().unwrap();
            if next[last] == last {
                return Some(chain);
            }
            chain.push(next[last]);
        }
    }

    /// Which of `from`'s movable rows to hand to `to` (an index into
    /// `candidates`): rows not yet stored first (nobody has seen them), then
    /// the hack nearest to a table `to` already visits (keeps their walk
    /// short), then the one `from` would visit last.
    fn pick_row(&self, candidates: &[usize], to: usize) -> usize {
        let nh = self.hacks.len();
        let visited: Vec<i64> = (0..nh)
            .filter(|&h| self.holds(to, h))
            .map(|h| self.hacks[h].location)
            .collect();
        (0..candidates.len())
            .filter(|&i| !self.holds(to, self.rows[candidates[i]].hack_idx.unwrap()))
            .min_by_key(|&i| {
                let row = &self.rows[candidates[i]];
                let h = row.hack_idx.unwrap();
                let location = self.hacks[h].location;
                let distance = visited.iter().map(|&l| l.abs_diff(location)).min();
                (row.id.is_some(), distance, Reverse(h), row.id)
            })
            .expect("a chain step always has a row to move")
    }

    fn finish(self) -> Vec<PlannedAssignment> {
        let mut rows = self.rows;
        rows.sort_by_key(|r| {
            (
                r.judge,
                r.hack_idx.unwrap_or(usize::MAX),
                r.hack,
                r.id.is_none(),
                r.id,
            )
        });
        let mut plan = Vec::with_capacity(rows.len());
        let mut priority = 0;
        for (i, row) in rows.iter().enumerate() {
            if i > 0 && rows[i - 1].judge != row.judge {
                priority = 0;
            }
            plan.push(PlannedAssignment {
                row_id: row.id,
                judge_id: row.judge,
                hack_id: row.hack,
                priority,
            });
            priority += 1;
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An existing assignment row, not yet ordered.
    fn row(id: i64, judge_id: i64, hack_id: i64) -> AssignmentRow {
        AssignmentRow {
            id,
            judge_id,
            hack_id,
            priority: 0,
        }
    }
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn hacks_at(locations: &[i64]) -> Vec<HackRef> {
        locations
            .iter()
            .enumerate()
            .map(|(i, &location)| HackRef {
                id: i as i64 + 1,
                location,
            })
            .collect()
    }

    fn as_rows(plan: &[PlannedAssignment], next_id: i64) -> Vec<AssignmentRow> {
        plan.iter()
            .enumerate()
            .map(|(i, p)| AssignmentRow {
                id: p.row_id.unwrap_or(next_id + i as i64),
                judge_id: p.judge_id,
                hack_id: p.hack_id,
                priority: p.priority,
            })
            .collect()
    }

    /// judge -> hacks in priority order
    fn walks(plan: &[PlannedAssignment]) -> BTreeMap<i64, Vec<i64>> {
        let mut walks: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
        for p in plan {
            walks
                .entry(p.judge_id)
                .or_default()
                .push((p.priority, p.hack_id));
        }
        walks
            .into_iter()
            .map(|(j, mut w)| {
                w.sort();
                (j, w.into_iter().map(|(_, h)| h).collect())
            })
            .collect()
    }

    #[test]
    fn fresh_layout_is_contiguous_runs_in_table_order() {
        // Tables 1..6 hold hacks 11, 12, 14, 15, 13, 16.
        let hacks = [
            HackRef {
                id: 14,
                location: 3,
            },
            HackRef {
                id: 11,
                location: 1,
            },
            HackRef {
                id: 16,
                location: 6,
            },
            HackRef {
                id: 12,
                location: 2,
            },
            HackRef {
                id: 15,
                location: 4,
            },
            HackRef {
                id: 13,
                location: 5,
            },
        ];
        let plan = plan(&hacks, &[1, 2, 3], &[], &HashSet::new(), 2);
        assert!(plan.iter().all(|p| p.row_id.is_none()));
        let w = walks(&plan);
        // Hack list twice over, cut in three runs of four.
        assert_eq!(w[&1], [11, 12, 14, 15]);
        assert_eq!(w[&2], [11, 12, 13, 16]);
        assert_eq!(w[&3], [14, 15, 13, 16]);
    }

    #[test]
    fn fewer_judges_than_k_means_everyone_sees_everything() {
        let plan = plan(&hacks_at(&[5, 1, 3]), &[7, 8], &[], &HashSet::new(), 3);
        let w = walks(&plan);
        assert_eq!(w[&7], [2, 3, 1]);
        assert_eq!(w[&8], [2, 3, 1]);
    }

    #[test]
    fn nothing_to_do() {
        assert!(plan(&[], &[], &[], &HashSet::new(), 3).is_empty());
        assert!(plan(&hacks_at(&[1]), &[], &[], &HashSet::new(), 3).is_empty());
        assert!(plan(&[], &[1, 2], &[], &HashSet::new(), 3).is_empty());
        // No judges: existing rows pass through with fresh priorities.
        let existing = [AssignmentRow {
            id: 9,
            judge_id: 4,
            hack_id: 1,
            priority: 7,
        }];
        let out = plan(&hacks_at(&[1]), &[], &existing, &HashSet::new(), 3);
        assert_eq!(
            out,
            [PlannedAssignment {
                row_id: Some(9),
                judge_id: 4,
                hack_id: 1,
                priority: 0
            }]
        );
    }

    #[test]
    fn rated_rows_stay_and_unrated_rows_move_to_new_judges() {
        let hacks = hacks_at(&[1, 2, 3, 4]);
        let first = plan(&hacks, &[1], &[], &HashSet::new(), 1);
        assert_eq!(walks(&first)[&1], [1, 2, 3, 4]);
        let existing = as_rows(&first, 100);
        let rated: HashSet<_> = [(1, 1), (1, 2), (1, 3)].into();
        // A second judge arrives after judge 1 rated three hacks: only hack 4
        // can move, and it does, with its row id.
        let second = plan(&hacks, &[1, 2], &existing, &rated, 1);
        let w = walks(&second);
        assert_eq!(w[&1], [1, 2, 3]);
        assert_eq!(w[&2], [4]);
        assert!(second.iter().all(|p| p.row_id.is_some()));
        let moved = changes(&existing, &second);
        assert_eq!(moved.len(), 1);
        assert_eq!(
            (moved[0].judge_id, moved[0].hack_id, moved[0].priority),
            (2, 4, 0)
        );
    }

    #[test]
    fn chains_balance_what_one_move_cannot() {
        // Judge 1 (3 rows) can only give away hack 1, which judge 3 (1 row)
        // already holds; judge 2 can take hack 1 and pass hack 4 on to 3.
        let hacks = hacks_at(&[1, 2, 3, 4, 5]);
        let existing = [
            row(1, 1, 1),
            row(2, 1, 2),
            row(3, 1, 3),
            row(4, 2, 4),
            row(5, 2, 5),
            row(6, 3, 1),
        ];
        let rated: HashSet<_> = [(1, 2), (1, 3), (2, 5), (3, 1)].into();
        let out = plan(&hacks, &[1, 2, 3], &existing, &rated, 1);
        let w = walks(&out);
        assert_eq!(w[&1], [2, 3]);
        assert_eq!(w[&2], [1, 5]);
        assert_eq!(w[&3], [1, 4]);
        let moved: Vec<_> = changes(&existing, &out)
            .iter()
            .map(|p| (p.row_id, p.judge_id))
            .collect();
        assert!(
            moved.contains(&(Some(1), 2)) && moved.contains(&(Some(4), 3)),
            "{moved:?}"
        );
    }

    #[test]
    fn a_fixed_heavy_judge_stays_heavy() {
        let hacks = hacks_at(&[1, 2, 3, 4, 5]);
        let existing: Vec<_> = (1..=5)
            .map(|h| AssignmentRow {
                id: h,
                judge_id: 1,
                hack_id: h,
                priority: h - 1,
            })
            .collect();
        let rated: HashSet<_> = (1..=5).map(|h| (1, h)).collect();
        let out = plan(&hacks, &[1, 2], &existing, &rated, 1);
        // Nothing may move and every hack already has its one judge.
        assert_eq!(out.len(), 5);
        assert!(out.iter().all(|p| p.judge_id == 1));
    }

    #[test]
    fn rows_of_unknown_judges_are_reused_and_unknown_hacks_pass_through() {
        let hacks = hacks_at(&[1, 2]);
        let existing = [
            row(1, 99, 1), // unknown judge, unrated: reused
            row(2, 98, 2), // unknown judge, rated: kept as is
            row(3, 1, 77), // unknown hack: kept as is, walked last
        ];
        let rated: HashSet<_> = [(98, 2)].into();
        let out = plan(&hacks, &[1], &existing, &rated, 1);
        let by_id: BTreeMap<_, _> = out.iter().map(|p| (p.row_id, *p)).collect();
        assert_eq!(by_id[&Some(1)].judge_id, 1);
        assert_eq!(by_id[&Some(1)].priority, 0);
        assert_eq!(by_id[&Some(2)].judge_id, 98);
        assert_eq!(by_id[&Some(3)].judge_id, 1);
        assert_eq!(by_id[&Some(3)].priority, 2);
        // Hack 2 needed a known judge; the rated row of judge 98 does not count.
        assert_eq!(by_id[&None].hack_id, 2);
        assert_eq!(by_id[&None].judge_id, 1);
        assert_eq!(by_id[&None].priority, 1);
    }

    #[test]
    fn duplicate_rows_are_spread_out_when_possible() {
        let hacks = hacks_at(&[1]);
        let row = |id| AssignmentRow {
            id,
            judge_id: 1,
            hack_id: 1,
            priority: 0,
        };
        let out = plan(
            &hacks,
            &[1, 2, 3],
            &[row(1), row(2), row(3), row(4)],
            &HashSet::new(),
            2,
        );
        // Three judges can take three of the four rows; the fourth stays a
        // duplicate on its judge rather than vanish.
        assert_eq!(out.len(), 4);
        let judges: BTreeSet<_> = out.iter().map(|p| p.judge_id).collect();
        assert_eq!(judges.len(), 3);
    }

    #[test]
    fn spread_judges_start_at_different_tables() {
        let hacks: Vec<_> = (1..=30).map(|i| HackRef { id: i, location: i }).collect();
        let judges: Vec<i64> = (1..=10).collect();
        let out = plan(&hacks, &judges, &[], &HashSet::new(), 3);
        let firsts: BTreeSet<i64> = walks(&out).values().map(|w| w[0]).collect();
        // Runs of nine along the tables repeated three times: only the two
        // runs that wrap past the last table also start at table 1.
        assert_eq!(firsts, BTreeSet::from([1, 4, 7, 10, 13, 16, 19, 22]));
        assert!(walks(&out).values().all(|w| w.len() == 9));
    }

    #[test]
    fn large_event_is_fast_enough() {
        let hacks: Vec<_> = (1..=600).map(|i| HackRef { id: i, location: i }).collect();
        let judges: Vec<i64> = (1..=80).collect();
        let out = plan(&hacks, &judges, &[], &HashSet::new(), 3);
        assert_eq!(out.len(), 1800);
        // Thirty more judges arrive after a third of the rows were rated.
        let existing = as_rows(&out, 10_000);
        let rated: HashSet<_> = existing
            .iter()
            .filter(|r| r.id % 3 == 0)
            .map(|r| (r.judge_id, r.hack_id))
            .collect();
        let more: Vec<i64> = (1..=110).collect();
        let again = plan(&hacks, &more, &existing, &rated, 3);
        let loads: BTreeSet<usize> = more
            .iter()
            .map(|j| again.iter().filter(|p| p.judge_id == *j).count())
            .collect();
        assert!(loads.len() <= 2, "{loads:?}");
    }

    // ---- property tests ----

    struct Case {
        hacks: Vec<HackRef>,
        judges: Vec<i64>,
        existing: Vec<AssignmentRow>,
        rated: HashSet<(i64, i64)>,
        k: usize,
    }

    impl std::fmt::Debug for Case {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "hacks {:?}\njudges {:?}\nexisting {:?}\nrated {:?}\nk {}",
                self.hacks, self.judges, self.existing, self.rated, self.k
            )
        }
    }

    /// Hacks with ids 1..=n at random tables (ties included), judges with
    /// ids 101.., existing rows on distinct random (judge, hack) pairs with
    /// shuffled row ids, some rated, plus some ratings without a row.
    fn case() -> impl Strategy<Value = Case> {
        (
            0usize..60,
            0usize..15,
            1usize..5,
            prop::collection::vec(0i64..40, 60),
            prop::collection::vec(
                (any::<u8>(), any::<u8>(), any::<bool>(), any::<u16>()),
                0..250,
            ),
            prop::collection::vec((any::<u8>(), any::<u8>()), 0..5),
        )
            .prop_map(|(nh, nj, k, locations, rows, stray)| {
                let hacks = (0..nh)
                    .map(|i| HackRef {
                        id: i as i64 + 1,
                        location: locations[i],
                    })
                    .collect();
                let judges: Vec<i64> = (0..nj as i64).map(|j| 101 + j).collect();
                let mut existing = Vec::new();
                let mut rated = HashSet::new();
                let mut pairs = HashSet::new();
                if nh > 0 && nj > 0 {
                    for (j, h, is_rated, id) in rows {
                        let pair = (101 + (j as usize % nj) as i64, 1 + (h as usize % nh) as i64);
                        if pairs.insert(pair) {
                            existing.push(AssignmentRow {
                                id: id as i64 * 1000 + existing.len() as i64,
                                judge_id: pair.0,
                                hack_id: pair.1,
                                priority: 0,
                            });
                            if is_rated {
                                rated.insert(pair);
                            }
                        }
                    }
                    for (j, h) in stray {
                        rated
                            .insert((101 + (j as usize % nj) as i64, 1 + (h as usize % nh) as i64));
                    }
                }
                Case {
                    hacks,
                    judges,
                    existing,
                    rated,
                    k,
                }
            })
    }

    /// Checks guarantees 1-5 of the module docs for inputs without
    /// duplicate pairs, unknown judges or unknown hacks.
    fn check(case: &Case, out: &[PlannedAssignment]) -> Result<(), TestCaseError> {
        let judges: BTreeSet<i64> = case.judges.iter().copied().collect();
        let location: HashMap<i64, i64> = case.hacks.iter().map(|h| (h.id, h.location)).collect();

        // 1. every existing row exactly once, same hack; rated rows fixed.
        let mut seen = HashSet::new();
        for p in out {
            if let Some(id) = p.row_id {
                prop_assert!(seen.insert(id), "row {} twice", id);
            }
        }
        let by_id: HashMap<i64, &PlannedAssignment> = out
            .iter()
            .filter_map(|p| p.row_id.map(|id| (id, p)))
            .collect();
        prop_assert_eq!(seen.len(), case.existing.len());
        for row in &case.existing {
            let p = by_id.get(&row.id).copied();
            prop_assert!(p.is_some(), "row {} missing", row.id);
            let p = p.unwrap();
            prop_assert_eq!(p.hack_id, row.hack_id);
            if case.rated.contains(&(row.judge_id, row.hack_id)) {
                prop_assert_eq!(p.judge_id, row.judge_id, "rated row {} moved", row.id);
            }
        }

        // 3. no pair twice; all judges known.
        let mut pairs = HashSet::new();
        for p in out {
            prop_assert!(judges.contains(&p.judge_id));
            prop_assert!(
                pairs.insert((p.judge_id, p.hack_id)),
                "pair {:?} twice",
                (p.judge_id, p.hack_id)
            );
        }

        // 2. coverage.
        let wanted = case.k.min(judges.len());
        for h in &case.hacks {
            let n = out.iter().filter(|p| p.hack_id == h.id).count();
            prop_assert!(
                n >= wanted,
                "hack {} has {} judges, wants {}",
                h.id,
                n,
                wanted
            );
        }

        // 5. priorities are 0..n in (location, id) order.
        for (judge, walk) in walks(out) {
            let mut priorities: Vec<i64> = out
                .iter()
                .filter(|p| p.judge_id == judge)
                .map(|p| p.priority)
                .collect();
            priorities.sort();
            prop_assert_eq!(priorities, (0..walk.len() as i64).collect::<Vec<_>>());
            let keys: Vec<(i64, i64)> = walk.iter().map(|h| (location[h], *h)).collect();
            prop_assert!(keys.windows(2).all(|w| w[0] < w[1]), "walk {:?}", keys);
        }

        // 4. no chain from a judge to one at least two lighter.
        let load = |j: i64| out.iter().filter(|p| p.judge_id == j).count();
        let holds: HashSet<(i64, i64)> = pairs;
        let movable = |j: i64| -> Vec<i64> {
            out.iter()
                .filter(|p| p.judge_id == j && !case.rated.contains(&(j, p.hack_id)))
                .map(|p| p.hack_id)
                .collect()
        };
        for &a in &judges {
            let mut reached = BTreeSet::from([a]);
            let mut queue = vec![a];
            while let Some(x) = queue.pop() {
                let hacks = movable(x);
                for &y in &judges {
                    if !reached.contains(&y) && hacks.iter().any(|h| !holds.contains(&(y, *h))) {
                        reached.insert(y);
                        queue.push(y);
                    }
                }
            }
            for &b in &reached {
                prop_assert!(
                    load(b) + 2 > load(a),
                    "judge {} ({} rows) could pass a row down to judge {} ({} rows)",
                    a,
                    load(a),
                    b,
                    load(b)
                );
            }
        }
        if !out
            .iter()
            .any(|p| case.rated.contains(&(p.judge_id, p.hack_id)))
        {
            let loads: Vec<usize> = judges.iter().map(|&j| load(j)).collect();
            if let (Some(min), Some(max)) = (loads.iter().min(), loads.iter().max()) {
                prop_assert!(max - min <= 1, "nothing rated, yet loads {:?}", loads);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn plan_keeps_its_promises(case in case()) {
            let out = plan(&case.hacks, &case.judges, &case.existing, &case.rated, case.k);
            check(&case, &out)?;
        }

        #[test]
        fn plan_is_idempotent(case in case()) {
            let out = plan(&case.hacks, &case.judges, &case.existing, &case.rated, case.k);
            let stored = as_rows(&out, 1 << 40);
            let again = plan(&case.hacks, &case.judges, &stored, &case.rated, case.k);
            prop_assert_eq!(&again, &plan_with_ids(&out, 1 << 40));
            prop_assert!(changes(&stored, &again).is_empty());
        }

        #[test]
        fn plan_tops_up_when_hacks_and_judges_arrive(
            case in case(),
            more_hacks in 0usize..10,
            more_judges in 0usize..4,
            rate in prop::collection::vec(any::<bool>(), 300),
        ) {
            let out = plan(&case.hacks, &case.judges, &case.existing, &case.rated, case.k);
            let stored = as_rows(&out, 1 << 40);
            // Judges rate some of what they were given, then the room grows.
            let mut rated = case.rated.clone();
            for (row, yes) in stored.iter().zip(&rate) {
                if *yes {
                    rated.insert((row.judge_id, row.hack_id));
                }
            }
            let mut hacks = case.hacks.clone();
            let first_new = hacks.len() as i64 + 1;
            hacks.extend((0..more_hacks as i64).map(|i| HackRef { id: first_new + i, location: i * 3 }));
            let mut judges = case.judges.clone();
            let first_judge = 101 + judges.len() as i64;
            judges.extend((0..more_judges as i64).map(|j| first_judge + j));
            let later = Case { hacks, judges, existing: stored, rated, k: case.k };
            let again = plan(&later.hacks, &later.judges, &later.existing, &later.rated, later.k);
            check(&later, &again)?;
        }
    }

    fn plan_with_ids(plan: &[PlannedAssignment], next_id: i64) -> Vec<PlannedAssignment> {
        as_rows(plan, next_id)
            .into_iter()
            .map(|r| PlannedAssignment {
                row_id: Some(r.id),
                judge_id: r.judge_id,
                hack_id: r.hack_id,
                priority: r.priority,
            })
            .collect()
    }
}
