//! The scoring rules of IJRU speed events, as RopeScore's rulesets apply
//! them: the IJRU average of the judges' tallies, 10-step deductions, the
//! reskip condition and the ranking. Pure functions, worked by hand in the
//! tests below.

/// Steps taken off for each false start or false switch.
pub const DEDUCTION_STEPS: i64 = 10;

/// Two tallies this close (or closer) are "within 3 steps": no reskip.
pub const RESKIP_SPREAD: i64 = 3;

/// The IJRU average: four or more values drop the highest and the lowest and
/// average the rest; three average the two closest (on a tie, the higher
/// pair); two their mean; one itself; none `None`.
pub fn ijru_average(values: &[i64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let mean = |s: &[i64]| s.iter().map(|&x| x as f64).sum::<f64>() / s.len() as f64;
    match v.len() {
        0 => None,
        1 | 2 => Some(mean(&v)),
        3 => {
            let low = v[1] - v[0];
            let high = v[2] - v[1];
            Some(if low < high {
                mean(&v[..2])
            } else {
                mean(&v[1..])
            })
        }
        n => Some(mean(&v[1..n - 1])),
    }
}

/// A head judge's deduction in steps.
pub fn deduction(false_starts: u32, false_switches: u32) -> i64 {
    DEDUCTION_STEPS * (i64::from(false_starts) + i64::from(false_switches))
}

/// A reskip is allowed when no two tallies are within [`RESKIP_SPREAD`]
/// steps of each other. A single tally has no pair within 3 either, so an
/// entry counted by one judge may be reskipped: RopeScore's rulesets
/// (`ijru.speed@1.0.0`, "withinThree" false) decide it so.
pub fn reskip(tallies: &[i64]) -> bool {
    let mut v = tallies.to_vec();
    v.sort_unstable();
    !v.is_empty() && v.windows(2).all(|w| w[1] - w[0] > RESKIP_SPREAD)
}

/// `x` rounded to 2 decimals (half away from zero).
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// An entry's official result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// The IJRU average of the tallies, rounded to 2 decimals.
    pub a: f64,
    /// The IJRU average of the deductions given, rounded to 2 decimals.
    pub m: f64,
    /// `a - m` (unrounded parts), rounded to 2 decimals.
    pub r: f64,
    pub reskip: bool,
}

/// The result of `tallies` (one per judge) less `deductions` (one per judge
/// who gave them); `None` without any tally.
pub fn outcome(tallies: &[i64], deductions: &[i64]) -> Option<Outcome> {
    let a = ijru_average(tallies)?;
    let m = ijru_average(deductions).unwrap_or(0.0);
    Some(Outcome {
        a: round2(a),
        m: round2(m),
        r: round2(a - m),
        reskip: reskip(tallies),
    })
}

/// Ranks for results (`None`: no result, no rank): highest first, equal
/// results share a rank and the next rank skips (1, 1, 3).
pub fn ranks(results: &[Option<f64>]) -> Vec<Option<u32>> {
    // Compared in hundredths, the precision results are rounded to.
    let key = |r: f64| (r * 100.0).round() as i64;
    results
        .iter()
        .map(|r| {
            let mine = key((*r)?);
            let better = results.iter().flatten().filter(|o| key(**o) > mine).count();
            Some(better as u32 + 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (tallies, false starts, false switches, a, m, R, reskip), worked by hand.
    type Case = (&'static [i64], u32, u32, f64, f64, f64, bool);
    const CASES: &[Case] = &[
        // One judge: that tally; no second tally within 3, so a reskip is allowed.
        (&[87], 0, 0, 87.0, 0.0, 87.0, true),
        // Two: the mean; 101 and 104 are within 3, no reskip.
        (&[101, 104], 0, 0, 102.5, 0.0, 102.5, false),
        // Two 4 apart: reskip.
        (&[100, 104], 0, 0, 102.0, 0.0, 102.0, true),
        // Three: 100, 102, 107: 100-102 (2) is closer than 102-107 (5) -> 101.
        (&[107, 100, 102], 0, 0, 101.0, 0.0, 101.0, false),
        // Three: 90, 98, 100: 98-100 (2) closest -> 99; one false start: 89.
        (&[90, 100, 98], 1, 0, 99.0, 10.0, 89.0, false),
        // Three, equally close pairs 96-100 and 100-104: the higher pair -> 102.
        (&[96, 100, 104], 0, 0, 102.0, 0.0, 102.0, true),
        // Three identical.
        (&[50, 50, 50], 0, 0, 50.0, 0.0, 50.0, false),
        // Four: drop 95 and 110, mean of 100 and 101 = 100.5; 1 start + 2 switches = 30.
        (&[110, 100, 95, 101], 1, 2, 100.5, 30.0, 70.5, false),
        // Five: drop 80 and 120, mean of 100, 101, 102 = 101.
        (&[120, 100, 80, 101, 102], 0, 1, 101.0, 10.0, 91.0, false),
        // Five, thirds: drop 10 and 200, mean of 100, 100, 101 = 100.333.. -> 100.33.
        (&[100, 101, 200, 10, 100], 0, 0, 100.33, 0.0, 100.33, false),
        // Five, two-thirds: drop 90 and 150, mean of 100, 101, 101 = 100.666.. -> 100.67.
        (&[90, 100, 101, 101, 150], 0, 0, 100.67, 0.0, 100.67, false),
        // Four with every pair more than 3 apart: reskip; mean of 20 and 30.
        (&[10, 20, 30, 40], 0, 0, 25.0, 0.0, 25.0, true),
        // Exactly 3 apart counts as within 3: no reskip.
        (&[10, 13, 30, 40], 0, 0, 21.5, 0.0, 21.5, false),
        // All zero (nobody clicked).
        (&[0, 0, 0, 0], 0, 0, 0.0, 0.0, 0.0, false),
    ];

    #[test]
    fn hand_worked_cases() {
        for &(tallies, starts, switches, a, m, r, reskip) in CASES {
            let got = outcome(tallies, &[deduction(starts, switches)]).unwrap();
            let want = Outcome { a, m, r, reskip };
            assert_eq!(
                got, want,
                "tallies {tallies:?}, {starts} starts, {switches} switches"
            );
        }
    }

    #[test]
    fn no_tallies_no_result() {
        assert_eq!(outcome(&[], &[10]), None);
        assert_eq!(ijru_average(&[]), None);
    }

    #[test]
    fn deductions_are_ijru_averaged_too() {
        // Three judges gave 0, 10 and 10: the closest pair is 10-10 -> 10.
        assert_eq!(ijru_average(&[0, 10, 10]), Some(10.0));
        assert_eq!(deduction(1, 3), 40);
    }

    #[test]
    fn equal_results_share_a_rank() {
        let results = [
            Some(90.5),
            None,
            Some(101.0),
            Some(90.5),
            Some(88.0),
            Some(101.0),
        ];
        assert_eq!(
            ranks(&results),
            [Some(3), None, Some(1), Some(3), Some(5), Some(1)]
        );
        // 100.33 from thirds equals a typed 100.33.
        assert_eq!(
            ranks(&[Some(round2(301.0 / 3.0)), Some(100.33)]),
            [Some(1), Some(1)]
        );
    }
}
