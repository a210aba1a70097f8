//! RopeScore-style marks from a clicker's score series, so a judged
//! speed-jump entry can be exported to RopeScore: each counted step becomes
//! one `{sequence, timestamp, schema: "step", value: 1}` mark.
//!
//! A clicker reports its running total, not individual clicks, so steps are
//! recovered from the increments: the first score counts up from 0, every
//! later increase adds that many steps at its timestamp, and a decrease
//! (the device was reset or a click undone) adds nothing and becomes the
//! new baseline. Marks are capped at [`MAX_MARKS`] so a corrupt series (say
//! a score of 2^62) cannot exhaust memory; no real entry comes close.

use serde::Serialize;

/// Most marks one series yields; steps beyond it are dropped.
pub const MAX_MARKS: usize = 1_000_000;

/// One counted step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Mark {
    /// 0, 1, 2, ... in order.
    pub sequence: u64,
    /// When the score that contained this step was reported, in ms.
    pub timestamp: i64,
    /// Always "step".
    pub schema: &'static str,
    /// Always 1: one step.
    pub value: i64,
}

/// Turns `(timestamp_ms, score)` pairs, in the order they were reported,
/// into step marks. At most [`MAX_MARKS`] are returned.
pub fn marks(series: &[(i64, i64)]) -> Vec<Mark> {
    let mut out = Vec::new();
    let mut baseline = 0i64;
    for &(timestamp, score) in series {
        let steps = score.saturating_sub(baseline).max(0);
        baseline = score;
        let room = MAX_MARKS - out.len();
        let steps = usize::try_from(steps).unwrap_or(usize::MAX).min(room);
        out.extend((0..steps).map(|_| Mark {
            sequence: 0,
            timestamp,
            schema: "step",
            value: 1,
        }));
        if out.len() == MAX_MARKS {
            break;
        }
    }
    for (sequence, mark) in out.iter_mut().enumerate() {
        mark.sequence = sequence as u64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn summary(marks: &[Mark]) -> Vec<(u64, i64)> {
        marks.iter().map(|m| (m.sequence, m.timestamp)).collect()
    }

    #[test]
    fn first_score_counts_from_zero_then_increments() {
        let m = marks(&[(1000, 2), (1500, 3), (1600, 3), (2000, 5)]);
        assert_eq!(
            summary(&m),
            [(0, 1000), (1, 1000), (2, 1500), (3, 2000), (4, 2000)]
        );
        assert!(m.iter().all(|m| m.value == 1 && m.schema == "step"));
    }

    #[test]
    fn a_decrease_moves_the_baseline_without_marks() {
        let m = marks(&[(0, 4), (10, 1), (20, 3), (30, 0), (40, 1)]);
        let at: Vec<i64> = m.iter().map(|m| m.timestamp).collect();
        assert_eq!(at, [0, 0, 0, 0, 20, 20, 40]);
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(marks(&[]).is_empty());
        assert!(marks(&[(5, 0), (6, 0)]).is_empty());
        assert!(marks(&[(5, -3)]).is_empty());
    }

    #[test]
    fn json_shape() {
        let json = serde_json::to_value(marks(&[(1700000000123, 1)])).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"sequence": 0, "timestamp": 1700000000123i64, "schema": "step", "value": 1}])
        );
    }

    #[test]
    fn capped() {
        let m = marks(&[(1, i64::MAX), (2, 5)]);
        assert_eq!(m.len(), MAX_MARKS);
        assert_eq!(m.last().unwrap().sequence, MAX_MARKS as u64 - 1);
        let m = marks(&[(1, MAX_MARKS as i64 - 1), (2, i64::MIN), (3, 7)]);
        assert_eq!(m.len(), MAX_MARKS);
        assert_eq!(m.last().unwrap().timestamp, 3);
    }

    proptest! {
        /// One mark per step of every increase (the first from 0), at the
        /// increase's timestamp, numbered 0.. in series order.
        #[test]
        fn marks_count_the_increases(series in prop::collection::vec((any::<i64>(), -5i64..200), 0..40)) {
            let mut expected = Vec::new();
            let mut baseline = 0;
            for &(timestamp, score) in &series {
                for _ in baseline..score {
                    expected.push((expected.len() as u64, timestamp));
                }
                baseline = score;
            }
            let m = marks(&series);
            prop_assert_eq!(summary(&m), expected);
            prop_assert!(m.iter().all(|m| m.value == 1 && m.schema == "step"));
        }
    }
}
