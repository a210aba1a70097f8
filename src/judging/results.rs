//! Results for the organiser: hacks ranked by normalised score, superlative
//! rankings from judges' first and second choices, and what judging still
//! lacks (hacks short of ratings, judges with hacks left to rate).
//!
//! # Normalisation
//!
//! Judges use the 1..20 scale differently, and each judge sees only some
//! hacks, so raw means reward hacks that drew generous judges. Each rating
//! is therefore read against its judge's own habits. With all counted
//! ratings `r` (N of them), a judge `j`'s ratings (n_j of them), and the
//! prior weight `M` = [`PRIOR_WEIGHT`] = 2:
//!
//! ```text
//! G    = mean of all r                     V    = population variance of all r
//! m_j  = mean of j's ratings               v_j  = population variance of j's
//! m'_j = (n_j m_j + M G) / (n_j + M)       v'_j = (n_j v_j + M V) / (n_j + M)
//! z    = (r - m'_j) / sqrt(v'_j)           (z = 0 if v'_j = 0, i.e. V = 0)
//! hack score       z_h = mean of z over the hack's ratings
//! normalized       = G + z_h * sqrt(V)
//! ```
//!
//! Shrinking toward the global figures is what makes judges with few
//! ratings workable: a judge with one rating or with no spread would
//! otherwise have an undefined z, and a judge with few ratings is not
//! trusted to define their own scale (a judge who rated two hacks 19 may
//! simply have seen two good hacks). With many ratings a judge's own mean
//! and spread dominate: a judge keeps the fraction `M / (n_j + M)` of their
//! offset from the global mean (2/7 with five ratings, 1/6 with ten).
//! `normalized` is back on the rating scale so it reads like a rating, but
//! it may fall outside 1..20.
//!
//! Because z is an increasing affine function of the rating for each judge,
//! judges who agree on order but not on scale (harsh, generous, narrow,
//! wide) rank a set of hacks they all rated exactly as one of them would.
//!
//! Ranks are standard competition ranks (1, 2, 2, 4); scores within
//! [`TIE_EPSILON`] of the previous one tie.
//!
//! Counted ratings are those for known hacks with a value in 1..=20; if a
//! judge has several ratings for one hack, the one with the highest id
//! counts.

use super::assign::AssignmentRow;
use super::model::{Rating, SuperlativeHack, SuperlativePlacement};
use super::validate;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Weight, in ratings, of the global mean and variance in each judge's.
pub const PRIOR_WEIGHT: f64 = 2.0;
/// Normalised scores closer than this are shown as a tie.
pub const TIE_EPSILON: f64 = 1e-9;
/// Superlative points for a judge's first and second choice.
pub const FIRST_CHOICE_POINTS: u64 = 2;
pub const SECOND_CHOICE_POINTS: u64 = 1;

/// A hack, judge or superlative: what results show of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

/// Everything results are computed from.
#[derive(Debug, Clone, Copy)]
pub struct ResultsInput<'a> {
    pub hacks: &'a [Named],
    pub judges: &'a [Named],
    pub assignments: &'a [AssignmentRow],
    pub ratings: &'a [Rating],
    pub superlatives: &'a [Named],
    pub placements: &'a [SuperlativePlacement],
    pub eligibility: &'a [SuperlativeHack],
    /// Ratings each hack should get (k).
    pub judges_per_hack: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Results {
    /// Ranked hacks first (by rank, then id), then unrated hacks by id.
    pub hacks: Vec<HackResult>,
    /// By superlative id.
    pub superlatives: Vec<SuperlativeResult>,
    pub coverage: Coverage,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HackResult {
    pub hack_id: i64,
    pub name: String,
    /// Number of counted ratings.
    pub ratings: usize,
    /// Raw mean rating; None without ratings.
    pub mean: Option<f64>,
    /// Normalised score on the rating scale; None without ratings.
    pub normalized: Option<f64>,
    /// Competition rank by `normalized`; None without ratings.
    pub rank: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuperlativeResult {
    pub superlative_id: i64,
    pub name: String,
    /// Hacks with points, best first (ties by hack id).
    pub ranking: Vec<SuperlativeEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuperlativeEntry {
    pub hack_id: i64,
    pub points: u64,
    pub rank: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    /// Hacks with fewer ratings than judges per hack, fewest first.
    pub hacks_short: Vec<HackShort>,
    /// Judges with assigned hacks left to rate, most left first.
    pub judges_behind: Vec<JudgeBehind>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HackShort {
    pub hack_id: i64,
    pub name: String,
    pub ratings: usize,
    /// How many more ratings it needs.
    pub needed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JudgeBehind {
    pub judge_id: i64,
    pub name: String,
    /// Distinct hacks assigned.
    pub assigned: usize,
    /// Of those, how many this judge has rated.
    pub rated: usize,
    /// The rest, in the judge's visiting order.
    pub unrated: Vec<i64>,
}

/// Computes the results.
pub fn compute(input: &ResultsInput) -> Results {
    let hack_ids: HashSet<i64> = input.hacks.iter().map(|h| h.id).collect();
    let ratings = counted_ratings(input.ratings, &hack_ids);
    Results {
        hacks: rank_hacks(input.hacks, &ratings),
        superlatives: rank_superlatives(input, &hack_ids),
        coverage: coverage(input, &ratings),
    }
}

/// (judge, hack) -> rating, for ratings that count.
fn counted_ratings(rows: &[Rating], hacks: &HashSet<i64>) -> BTreeMap<(i64, i64), i64> {
    let mut latest: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
    for row in rows {
        if !hacks.contains(&row.hack_id) || validate::rating(row.rating).is_err() {
            continue;
        }
        let entry = latest
            .entry((row.judge_id, row.hack_id))
            .or_insert((row.id, row.rating));
        if row.id > entry.0 {
            *entry = (row.id, row.rating);
        }
    }
    latest.into_iter().map(|(k, (_, r))| (k, r)).collect()
}

/// Population mean and variance; None for no values.
fn mean_variance(values: impl Iterator<Item = f64> + Clone) -> Option<(f64, f64)> {
    let n = values.clone().count();
    if n == 0 {
        return None;
    }
    let mean = values.clone().sum::<f64>() / n as f64;
    let variance = values.map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    Some((mean, variance))
}

/// The standardised score of each counted rating, as in the module docs,
/// with the global mean and standard deviation.
fn standardise(ratings: &BTreeMap<(i64, i64), i64>) -> (BTreeMap<(i64, i64), f64>, f64, f64) {
    let Some((global_mean, global_var)) = mean_variance(ratings.values().map(|&r| r as f64)) else {
        return (BTreeMap::new(), 0.0, 0.0);
    };
    let mut by_judge: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (&(judge, _), &r) in ratings {
        by_judge.entry(judge).or_default().push(r as f64);
    }
    let scale: HashMap<i64, (f64, f64)> = by_judge
        .into_iter()
        .map(|(judge, rs)| {
            let n = rs.len() as f64;
            let (mean, var) = mean_variance(rs.iter().copied()).expect("a judge here has ratings");
            let mean = (n * mean + PRIOR_WEIGHT * global_mean) / (n + PRIOR_WEIGHT);
            let var = (n * var + PRIOR_WEIGHT * global_var) / (n + PRIOR_WEIGHT);
            (judge, (mean, var.sqrt()))
        })
        .collect();
    let z = ratings
        .iter()
        .map(|(&(judge, hack), &r)| {
            let (mean, sd) = scale[&judge];
            let z = if sd > 0.0 {
                (r as f64 - mean) / sd
            } else {
                0.0
            };
            ((judge, hack), z)
        })
        .collect();
    (z, global_mean, global_var.sqrt())
}

fn rank_hacks(hacks: &[Named], ratings: &BTreeMap<(i64, i64), i64>) -> Vec<HackResult> {
    let (z, global_mean, global_sd) = standardise(ratings);
    let mut per_hack: HashMap<i64, (Vec<f64>, Vec<f64>)> = HashMap::new();
    for (&(judge, hack), &r) in ratings {
        let entry = per_hack.entry(hack).or_default();
        entry.0.push(r as f64);
        entry.1.push(z[&(judge, hack)]);
    }
    let mut seen = HashSet::new();
    let mut results: Vec<HackResult> = hacks
        .iter()
        .filter(|h| seen.insert(h.id))
        .map(|h| {
            let (raw, zs) = per_hack.get(&h.id).cloned().unwrap_or_default();
            let mean_of =
                |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            HackResult {
                hack_id: h.id,
                name: h.name.clone(),
                ratings: raw.len(),
                mean: mean_of(&raw),
                normalized: mean_of(&zs).map(|z| global_mean + z * global_sd),
                rank: None,
            }
        })
        .collect();
    results.sort_by(|a, b| match (a.normalized, b.normalized) {
        (Some(x), Some(y)) => y.total_cmp(&x).then(a.hack_id.cmp(&b.hack_id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.hack_id.cmp(&b.hack_id),
    });
    let scores: Vec<f64> = results.iter().filter_map(|r| r.normalized).collect();
    for (result, rank) in results.iter_mut().zip(competition_ranks(&scores, |a, b| {
        (a - b).abs() <= TIE_EPSILON
    })) {
        result.rank = Some(rank);
    }
    // Scores within epsilon but not equal may sit out of id order.
    results.sort_by_key(|r| (r.rank.is_none(), r.rank, r.hack_id));
    results
}

/// Ranks of values sorted best first: 1, 2, 2, 4 where `tie` holds between
/// neighbours.
fn competition_ranks<T>(sorted: &[T], tie: impl Fn(&T, &T) -> bool) -> Vec<usize> {
    let mut ranks: Vec<usize> = Vec::with_capacity(sorted.len());
    for i in 0..sorted.len() {
        let rank = if i > 0 && tie(&sorted[i - 1], &sorted[i]) {
            ranks[i - 1]
        } else {
            i + 1
        };
        ranks.push(rank);
    }
    ranks
}

fn rank_superlatives(input: &ResultsInput, hacks: &HashSet<i64>) -> Vec<SuperlativeResult> {
    let mut eligible: HashMap<i64, HashSet<i64>> = HashMap::new();
    for row in input.eligibility {
        eligible
            .entry(row.superlative_id)
            .or_default()
            .insert(row.hack_id);
    }
    // One placement per judge and superlative: the latest row.
    let mut latest: BTreeMap<(i64, i64), &SuperlativePlacement> = BTreeMap::new();
    for row in input.placements {
        let entry = latest
            .entry((row.judge_id, row.superlative_id))
            .or_insert(row);
        if row.id > entry.id {
            *entry = row;
        }
    }
    let mut superlatives: Vec<&Named> = input.superlatives.iter().collect();
    superlatives.sort_by_key(|s| s.id);
    superlatives.dedup_by_key(|s| s.id);
    superlatives
        .into_iter()
        .map(|superlative| {
            let may_win = |hack: i64| {
                hack != 0
                    && hacks.contains(&hack)
                    && eligible
                        .get(&superlative.id)
                        .is_none_or(|set| set.contains(&hack))
            };
            let mut points: BTreeMap<i64, u64> = BTreeMap::new();
            for p in latest
                .values()
                .filter(|p| p.superlative_id == superlative.id)
            {
                if may_win(p.first_choice_id) {
                    *points.entry(p.first_choice_id).or_default() += FIRST_CHOICE_POINTS;
                }
                // The same hack named twice is one choice, not three points.
                if p.second_choice_id != p.first_choice_id && may_win(p.second_choice_id) {
                    *points.entry(p.second_choice_id).or_default() += SECOND_CHOICE_POINTS;
                }
            }
            let mut entries: Vec<(i64, u64)> = points.into_iter().collect();
            entries.sort_by_key(|&(hack, points)| (std::cmp::Reverse(points), hack));
            let ranks = competition_ranks(&entries, |a, b| a.1 == b.1);
            SuperlativeResult {
                superlative_id: superlative.id,
                name: superlative.name.clone(),
                ranking: entries
                    .into_iter()
                    .zip(ranks)
                    .map(|((hack_id, points), rank)| SuperlativeEntry {
                        hack_id,
                        points,
                        rank,
                    })
                    .collect(),
            }
        })
        .collect()
}

fn coverage(input: &ResultsInput, ratings: &BTreeMap<(i64, i64), i64>) -> Coverage {
    let k = input.judges_per_hack;
    let mut count: HashMap<i64, usize> = HashMap::new();
    for &(_, hack) in ratings.keys() {
        *count.entry(hack).or_default() += 1;
    }
    let mut seen = HashSet::new();
    let mut hacks_short: Vec<HackShort> = input
        .hacks
        .iter()
        .filter(|h| seen.insert(h.id))
        .filter_map(|h| {
            let n = count.get(&h.id).copied().unwrap_or(0);
            (n < k).then(|| HackShort {
                hack_id: h.id,
                name: h.name.clone(),
                ratings: n,
                needed: k - n,
            })
        })
        .collect();
    hacks_short.sort_by_key(|h| (h.ratings, h.hack_id));

    let hack_ids: HashSet<i64> = input.hacks.iter().map(|h| h.id).collect();
    // judge -> hack -> lowest priority it is assigned at
    let mut assigned: HashMap<i64, BTreeMap<i64, i64>> = HashMap::new();
    for row in input
        .assignments
        .iter()
        .filter(|r| hack_ids.contains(&r.hack_id))
    {
        let priority = assigned
            .entry(row.judge_id)
            .or_default()
            .entry(row.hack_id)
            .or_insert(row.priority);
        *priority = (*priority).min(row.priority);
    }
    let mut seen = BTreeSet::new();
    let mut judges_behind: Vec<JudgeBehind> = input
        .judges
        .iter()
        .filter(|j| seen.insert(j.id))
        .filter_map(|judge| {
            let hacks = assigned.get(&judge.id)?;
            let mut unrated: Vec<(i64, i64)> = hacks
                .iter()
                .filter(|(hack, _)| !ratings.contains_key(&(judge.id, **hack)))
                .map(|(&hack, &priority)| (priority, hack))
                .collect();
            if unrated.is_empty() {
                return None;
            }
            unrated.sort_unstable();
            Some(JudgeBehind {
                judge_id: judge.id,
                name: judge.name.clone(),
                assigned: hacks.len(),
                rated: hacks.len() - unrated.len(),
                unrated: unrated.into_iter().map(|(_, hack)| hack).collect(),
            })
        })
        .collect();
    judges_behind.sort_by_key(|j| (std::cmp::Reverse(j.unrated.len()), j.judge_id));
    Coverage {
        hacks_short,
        judges_behind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[derive(Default)]
    struct Fixture {
        hacks: Vec<Named>,
        judges: Vec<Named>,
        assignments: Vec<AssignmentRow>,
        ratings: Vec<Rating>,
        superlatives: Vec<Named>,
        placements: Vec<SuperlativePlacement>,
        eligibility: Vec<SuperlativeHack>,
        k: usize,
    }

    impl Fixture {
        fn new(hacks: usize, judges: usize) -> Self {
            let named = |prefix: &str, n: usize| {
                (1..=n as i64)
                    .map(|id| Named {
                        id,
                        name: format!("{prefix} {id}"),
                    })
                    .collect()
            };
            Fixture {
                hacks: named("Hack", hacks),
                judges: named("Judge", judges),
                k: 3,
                ..Fixture::default()
            }
        }

        fn rate(&mut self, judge_id: i64, hack_id: i64, rating: i64) -> &mut Self {
            let id = self.ratings.len() as i64 + 1;
            self.ratings.push(Rating {
                id,
                judge_id,
                hack_id,
                rating,
            });
            self
        }

        fn assign(&mut self, judge_id: i64, hack_id: i64, priority: i64) -> &mut Self {
            let id = self.assignments.len() as i64 + 1;
            self.assignments.push(AssignmentRow {
                id,
                judge_id,
                hack_id,
                priority,
            });
            self
        }

        fn place(
            &mut self,
            judge_id: i64,
            superlative_id: i64,
            first: i64,
            second: i64,
        ) -> &mut Self {
            let id = self.placements.len() as i64 + 1;
            self.placements.push(SuperlativePlacement {
                id,
                judge_id,
                superlative_id,
                first_choice_id: first,
                second_choice_id: second,
            });
            self
        }

        fn compute(&self) -> Results {
            compute(&ResultsInput {
                hacks: &self.hacks,
                judges: &self.judges,
                assignments: &self.assignments,
                ratings: &self.ratings,
                superlatives: &self.superlatives,
                placements: &self.placements,
                eligibility: &self.eligibility,
                judges_per_hack: self.k,
            })
        }
    }

    fn by_id(results: &Results) -> BTreeMap<i64, HackResult> {
        results
            .hacks
            .iter()
            .map(|h| (h.hack_id, h.clone()))
            .collect()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn json_shape() {
        let mut f = Fixture::new(2, 1);
        f.k = 2;
        f.superlatives = vec![Named {
            id: 5,
            name: "Best Hardware".into(),
        }];
        f.rate(1, 1, 10)
            .assign(1, 1, 0)
            .assign(1, 2, 1)
            .place(1, 5, 2, 0);
        let value = serde_json::to_value(f.compute()).unwrap();
        assert_eq!(
            value,
            json!({
                "hacks": [
                    {"hackId": 1, "name": "Hack 1", "ratings": 1, "mean": 10.0, "normalized": 10.0, "rank": 1},
                    {"hackId": 2, "name": "Hack 2", "ratings": 0, "mean": null, "normalized": null, "rank": null},
                ],
                "superlatives": [
                    {"superlativeId": 5, "name": "Best Hardware", "ranking": [{"hackId": 2, "points": 2, "rank": 1}]},
                ],
                "coverage": {
                    "hacksShort": [
                        {"hackId": 2, "name": "Hack 2", "ratings": 0, "needed": 2},
                        {"hackId": 1, "name": "Hack 1", "ratings": 1, "needed": 1},
                    ],
                    "judgesBehind": [
                        {"judgeId": 1, "name": "Judge 1", "assigned": 2, "rated": 1, "unrated": [2]},
                    ],
                },
            })
        );
    }

    #[test]
    fn nothing_rated() {
        let results = Fixture::new(3, 2).compute();
        assert!(results
            .hacks
            .iter()
            .all(|h| h.rank.is_none() && h.mean.is_none()));
        let ids: Vec<i64> = results.hacks.iter().map(|h| h.hack_id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(results.coverage.hacks_short.len(), 3);
    }

    #[test]
    fn formula_worked_by_hand() {
        // Judge 1 rates hacks 1, 2, 3 with 4, 8, 12; judge 2 rates only hack
        // 1, with 20. All ratings: 4, 8, 12, 20.
        let mut f = Fixture::new(3, 2);
        f.rate(1, 1, 4).rate(1, 2, 8).rate(1, 3, 12).rate(2, 1, 20);
        let r = by_id(&f.compute());

        // Mean (4 + 8 + 12 + 20) / 4 = 11, variance 35.
        let g: f64 = 11.0;
        let v: f64 = (49.0 + 9.0 + 1.0 + 81.0) / 4.0;
        // Judge 1: n 3, mean 8, variance 32/3; judge 2: n 1, mean 20, variance 0.
        let (m1, s1) = (
            (3.0 * 8.0 + 2.0 * g) / 5.0,
            ((32.0 + 2.0 * v) / 5.0_f64).sqrt(),
        );
        let (m2, s2) = ((20.0 + 2.0 * g) / 3.0, ((2.0 * v) / 3.0_f64).sqrt());
        assert!((m1 - 9.2).abs() < 1e-12 && (m2 - 14.0).abs() < 1e-12);
        let z1 = ((4.0 - m1) / s1 + (20.0 - m2) / s2) / 2.0;
        let z2 = (8.0 - m1) / s1;
        let z3 = (12.0 - m1) / s1;
        assert!(close(r[&1].normalized, g + z1 * v.sqrt()));
        assert!(close(r[&2].normalized, g + z2 * v.sqrt()));
        assert!(close(r[&3].normalized, g + z3 * v.sqrt()));
        // Raw means tie hacks 1 and 3 at 12; normalised, judge 2's lone 20
        // is partly discounted as that judge's habit and hack 3 wins.
        assert_eq!((r[&1].mean, r[&3].mean), (Some(12.0), Some(12.0)));
        assert_eq!(
            (r[&3].rank, r[&1].rank, r[&2].rank),
            (Some(1), Some(2), Some(3))
        );
    }

    #[test]
    fn judge_without_spread_is_finite_and_shrunk() {
        // Judge 2 gives everything 15; judge 1 spreads out.
        let mut f = Fixture::new(3, 2);
        f.rate(1, 1, 2).rate(1, 2, 10).rate(1, 3, 18);
        f.rate(2, 1, 15).rate(2, 2, 15).rate(2, 3, 15);
        let r = by_id(&f.compute());
        assert!(r.values().all(|h| h.normalized.is_some_and(f64::is_finite)));
        // Judge 2 adds the same to every hack, so judge 1's order stands.
        assert_eq!(
            (r[&3].rank, r[&2].rank, r[&1].rank),
            (Some(1), Some(2), Some(3))
        );
        let all = [2.0, 10.0, 18.0, 15.0, 15.0, 15.0];
        let g = all.iter().sum::<f64>() / 6.0;
        let v = all.iter().map(|x| (x - g).powi(2)).sum::<f64>() / 6.0;
        let m2 = (3.0 * 15.0 + 2.0 * g) / 5.0;
        let s2 = (2.0 * v / 5.0).sqrt();
        let m1 = (3.0 * 10.0 + 2.0 * g) / 5.0;
        let s1 = ((3.0 * 128.0 / 3.0 + 2.0 * v) / 5.0).sqrt();
        let z = ((10.0 - m1) / s1 + (15.0 - m2) / s2) / 2.0;
        assert!(close(r[&2].normalized, g + z * v.sqrt()));
    }

    #[test]
    fn all_ratings_equal_means_all_tie() {
        let mut f = Fixture::new(3, 2);
        f.rate(1, 1, 7).rate(1, 2, 7).rate(2, 3, 7);
        let results = f.compute();
        assert!(results
            .hacks
            .iter()
            .all(|h| h.rank == Some(1) && close(h.normalized, 7.0)));
    }

    #[test]
    fn harsh_and_generous_rank_like_one_fair_judge() {
        let quality = [3, 6, 1, 4, 4, 2, 5];
        let mut fair = Fixture::new(quality.len(), 1);
        let mut panel = Fixture::new(quality.len(), 2);
        for (i, &q) in quality.iter().enumerate() {
            let hack = i as i64 + 1;
            fair.rate(1, hack, 3 * q + 1);
            panel.rate(1, hack, q); // harsh: 1..6 of 20
            panel.rate(2, hack, 2 * q + 8); // generous: 10..20
        }
        let ranks = |r: &Results| -> Vec<(i64, Option<usize>)> {
            r.hacks.iter().map(|h| (h.hack_id, h.rank)).collect()
        };
        let fair = fair.compute();
        assert_eq!(ranks(&fair), ranks(&panel.compute()));
        // 6, 5, 4, 4, 3, 2, 1: hacks 4 and 5 tie for third.
        let order: Vec<_> = fair
            .hacks
            .iter()
            .map(|h| (h.hack_id, h.rank.unwrap()))
            .collect();
        assert_eq!(
            order,
            [(2, 1), (7, 2), (4, 3), (5, 3), (1, 5), (6, 6), (3, 7)]
        );
    }

    #[test]
    fn normalisation_undoes_most_of_a_judges_offset() {
        // Two judges see disjoint halves of equal quality; judge 2 adds 10.
        let mut f = Fixture::new(10, 2);
        for q in 1..=5 {
            f.rate(1, q, q);
            f.rate(2, q + 5, q + 10);
        }
        let r = by_id(&f.compute());
        // Raw: judge 2's worst beats judge 1's best.
        assert!(r[&6].mean > r[&5].mean);
        // Normalised: judge 1's best beats judge 2's worst. Measured in steps
        // of one quality point, judge 2's hacks keep an edge of 10 * 2/7
        // (the prior weight over ratings plus weight) instead of 10.
        assert!(r[&5].normalized > r[&6].normalized);
        let score = |h: i64| r[&h].normalized.unwrap();
        let step = score(2) - score(1);
        for q in 1..=5 {
            let edge = (score(q + 5) - score(q)) / step;
            assert!((edge - 20.0 / 7.0).abs() < 1e-9, "quality {q}: edge {edge}");
        }
    }

    #[test]
    fn ties_rank_1_2_2_4_and_unrated_come_last() {
        let mut f = Fixture::new(6, 1);
        f.rate(1, 4, 18).rate(1, 3, 12).rate(1, 1, 12).rate(1, 6, 5);
        let order: Vec<_> = f
            .compute()
            .hacks
            .iter()
            .map(|h| (h.hack_id, h.rank))
            .collect();
        assert_eq!(
            order,
            [
                (4, Some(1)),
                (1, Some(2)),
                (3, Some(2)),
                (6, Some(4)),
                (2, None),
                (5, None)
            ]
        );
    }

    #[test]
    fn which_ratings_count() {
        let mut f = Fixture::new(2, 1);
        f.rate(1, 1, 3) // replaced by the later rating below
            .rate(1, 1, 9)
            .rate(1, 2, 0) // out of range
            .rate(1, 2, 21)
            .rate(1, 99, 20); // unknown hack
        let r = by_id(&f.compute());
        assert_eq!((r[&1].ratings, r[&1].mean), (1, Some(9.0)));
        assert_eq!((r[&2].ratings, r[&2].rank), (0, None));
    }

    #[test]
    fn superlative_points_ties_and_eligibility() {
        let mut f = Fixture::new(5, 4);
        f.superlatives = vec![
            Named {
                id: 2,
                name: "Open".into(),
            },
            Named {
                id: 1,
                name: "Hardware".into(),
            },
            Named {
                id: 3,
                name: "Unloved".into(),
            },
        ];
        // Hardware: only hacks 1, 2 and 3 entered.
        f.eligibility = [1, 2, 3]
            .iter()
            .map(|&hack_id| SuperlativeHack {
                id: hack_id,
                superlative_id: 1,
                hack_id,
            })
            .collect();
        f.place(1, 1, 1, 2) // 1: +2, 2: +1
            .place(2, 1, 4, 2) // 4 not eligible: 2: +1
            .place(3, 1, 3, 3) // same hack twice: 3: +2 once
            .place(4, 1, 0, 0) // nothing chosen
            .place(1, 2, 5, 4) // open: 5: +2, 4: +1
            .place(2, 2, 4, 0) // 4: +2
            .place(3, 2, 9, 5) // unknown hack 9 ignored: 5: +1
            .place(4, 2, 1, 2) // replaced by the next row
            .place(4, 2, 0, 1) // 1: +1
            .place(1, 7, 1, 2); // unknown superlative
        let results = f.compute();
        type Entry = (i64, u64, usize);
        let table: Vec<(i64, Vec<Entry>)> = results
            .superlatives
            .iter()
            .map(|s| {
                (
                    s.superlative_id,
                    s.ranking
                        .iter()
                        .map(|e| (e.hack_id, e.points, e.rank))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            table,
            [
                (1, vec![(1, 2, 1), (2, 2, 1), (3, 2, 1)]),
                (2, vec![(4, 3, 1), (5, 3, 1), (1, 1, 3)]),
                (3, vec![]),
            ]
        );
        assert_eq!(results.superlatives[0].name, "Hardware");
    }

    #[test]
    fn coverage_lists_what_is_missing() {
        let mut f = Fixture::new(3, 3);
        f.k = 2;
        // Judge 1: hacks 3, 1, 2 in that order, rated 1.
        f.assign(1, 3, 0)
            .assign(1, 1, 1)
            .assign(1, 2, 2)
            .rate(1, 1, 10);
        // Judge 2: all done. Judge 3: one left, and a row for an unknown hack.
        f.assign(2, 1, 0).rate(2, 1, 12);
        f.assign(3, 2, 0)
            .assign(3, 3, 1)
            .assign(3, 99, 2)
            .rate(3, 2, 8);
        let c = f.compute().coverage;
        let short: Vec<_> = c
            .hacks_short
            .iter()
            .map(|h| (h.hack_id, h.ratings, h.needed))
            .collect();
        assert_eq!(short, [(3, 0, 2), (2, 1, 1)]);
        assert_eq!(
            c.judges_behind,
            [
                JudgeBehind {
                    judge_id: 1,
                    name: "Judge 1".into(),
                    assigned: 3,
                    rated: 1,
                    unrated: vec![3, 2],
                },
                JudgeBehind {
                    judge_id: 3,
                    name: "Judge 3".into(),
                    assigned: 2,
                    rated: 1,
                    unrated: vec![3],
                },
            ]
        );
    }

    proptest! {
        /// Judges who agree on order but use the scale differently (any
        /// slope 1..3 and offset keeping 1..20) and all rate every hack rank
        /// the hacks by that order, ties included.
        #[test]
        fn scale_differences_do_not_change_the_ranking(
            quality in prop::collection::vec(1i64..=6, 1..25),
            scales in prop::collection::vec((1i64..=3, 0i64..=14), 1..6),
        ) {
            let mut f = Fixture::new(quality.len(), scales.len());
            for (j, &(slope, offset)) in scales.iter().enumerate() {
                let offset = offset.min(20 - 6 * slope);
                for (h, &q) in quality.iter().enumerate() {
                    f.rate(j as i64 + 1, h as i64 + 1, slope * q + offset);
                }
            }
            let results = f.compute();
            for h in &results.hacks {
                let q = quality[h.hack_id as usize - 1];
                let better = quality.iter().filter(|&&o| o > q).count();
                prop_assert_eq!(h.rank, Some(better + 1), "hack {} quality {}", h.hack_id, q);
            }
        }

        /// Whatever the ratings, scores are finite, ranks are competition
        /// ranks in score order, and the order is by rank then id.
        #[test]
        fn ranks_are_consistent(
            ratings in prop::collection::vec((1i64..=6, 1i64..=12, 1i64..=20), 0..60),
        ) {
            let mut f = Fixture::new(12, 6);
            for (judge, hack, rating) in ratings {
                f.rate(judge, hack, rating);
            }
            let hacks = f.compute().hacks;
            let rated: Vec<&HackResult> = hacks.iter().filter(|h| h.rank.is_some()).collect();
            prop_assert!(hacks[rated.len()..].iter().all(|h| h.ratings == 0 && h.normalized.is_none()));
            for (i, h) in rated.iter().enumerate() {
                let score = h.normalized.unwrap();
                prop_assert!(score.is_finite());
                let above = rated.iter().filter(|o| o.normalized.unwrap() > score + TIE_EPSILON).count();
                prop_assert_eq!(h.rank, Some(above + 1));
                if i > 0 {
                    prop_assert!((rated[i - 1].rank, rated[i - 1].hack_id) < (h.rank, h.hack_id));
                }
            }
        }
    }
}
