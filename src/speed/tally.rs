//! A judge's tally for an entry from the counts its clicker reported during
//! the heat. A clicker reports its running total, and judges may or may not
//! reset it to zero before a heat, so the tally is what the clicker *added*:
//! it starts from the count the clicker showed when the heat started; a rise
//! adds steps; a drop to exactly zero is a reset (it adds nothing and the
//! count goes on from zero); any other drop is an undo of that many steps
//! (the firmware's minus button).

/// The tally from `baseline` (the clicker's count when the heat started, 0
/// if it had none) and the counts it reported during the heat, in order.
/// Never below zero: undos cannot take back more than was counted.
pub fn tally(baseline: i64, counts: impl IntoIterator<Item = i64>) -> i64 {
    let mut previous = baseline;
    let mut total: i64 = 0;
    for count in counts {
        if count != 0 {
            total = total.saturating_add(count.saturating_sub(previous));
        }
        previous = count;
    }
    total.max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (baseline, counts during the heat, tally), worked by hand.
    const CASES: &[(i64, &[i64], i64)] = &[
        // Reset to zero before the heat: the count is the tally.
        (0, &[1, 2, 3, 50, 101], 101),
        // Not reset: the clicker showed 87 when the heat started; 87 -> 188 is 101.
        (87, &[88, 120, 188], 101),
        // Reset at the start of the heat (a drop to exactly zero), then counted.
        (87, &[0, 1, 2, 101], 101),
        // Reset in the middle: 40 counted, reset, 61 more.
        (0, &[10, 40, 0, 30, 61], 101),
        // Undo: 50, minus twice (48), up to 103: 50 - 2 + 55 = 103.
        (0, &[50, 49, 48, 103], 103),
        // Undo from a carried-over count: 200 -> 230, minus 5 -> 225: 25.
        (200, &[230, 225], 25),
        // Nothing reported during the heat.
        (87, &[], 0),
        // A reset with nothing after it.
        (87, &[0], 0),
        // An undo below the start cannot make a negative tally.
        (10, &[9], 0),
        // A repeated count adds nothing.
        (0, &[5, 5, 5], 5),
        // Two resets in a row are one reset.
        (30, &[0, 0, 7], 7),
    ];

    #[test]
    fn hand_worked_cases() {
        for &(baseline, counts, want) in CASES {
            assert_eq!(
                tally(baseline, counts.iter().copied()),
                want,
                "baseline {baseline}, counts {counts:?}"
            );
        }
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let max = (1i64 << 53) - 1;
        assert_eq!(tally(0, [max, 0, max]), 2 * max);
    }
}
