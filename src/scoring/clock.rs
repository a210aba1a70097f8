//! Which of two clicker timestamps is newer, and by how much, wrapped
//! clocks included.
//!
//! A timestamp is whatever the device's clock says in milliseconds, any
//! signed 64-bit value. The Espruino firmware sends `Date.now() | 0`: the
//! clock wrapped to 32 bits, which jumps from near +2^31 to near -2^31 every
//! 49.7 days. Plain comparison would call every score after that jump older
//! than the ones before it (late: stored but never broadcast). So when both
//! timestamps fit in 32 bits, one in the top quarter of that range
//! (2^30 to 2^31-1) and the other in the bottom quarter (-2^31 to
//! -2^30-1), the one in the bottom quarter is the newer: the clock wrapped
//! between them, less than 2^31 ms (24.8 days) apart. Every other pair
//! compares as plain numbers. The quarters keep the exception narrow: a
//! plain pair as far apart is weeks of a real clock, which no score retry
//! spans.

/// The edge of the wrap zones: 2^30 ms, about 12.4 days.
const QUARTER: i64 = 1 << 30;
/// Just before a 32-bit clock wraps, inclusive.
const TOP_QUARTER: (i64, i64) = (QUARTER, i32::MAX as i64);
/// Just after it wrapped, inclusive: where storage looks for the newest
/// score of a device whose largest timestamp is in the top quarter.
pub const BOTTOM_QUARTER: (i64, i64) = (i32::MIN as i64, -QUARTER - 1);

/// Where a timestamp lies relative to the 32-bit wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    /// 2^30 to 2^31-1: just before a 32-bit clock wraps.
    Top,
    /// -2^31 to -2^30-1: just after it wrapped.
    Bottom,
    /// Anywhere else, 64-bit values included.
    Plain,
}

fn zone(t: i64) -> Zone {
    if (TOP_QUARTER.0..=TOP_QUARTER.1).contains(&t) {
        Zone::Top
    } else if (BOTTOM_QUARTER.0..=BOTTOM_QUARTER.1).contains(&t) {
        Zone::Bottom
    } else {
        Zone::Plain
    }
}

/// Whether a score at `new` is newer than one at `old`.
pub fn is_newer(new: i64, old: i64) -> bool {
    match (zone(new), zone(old)) {
        (Zone::Bottom, Zone::Top) => true,
        (Zone::Top, Zone::Bottom) => false,
        _ => new > old,
    }
}

/// How long the device's clock ran from `old` to `new`, in ms, when `new`
/// is newer by [`is_newer`] (across a 32-bit wrap: the ms up to the wrap
/// and after it); `None` when it is not newer.
pub fn elapsed(old: i64, new: i64) -> Option<u64> {
    if !is_newer(new, old) {
        return None;
    }
    let span = match (zone(new), zone(old)) {
        (Zone::Bottom, Zone::Top) => i128::from(new) + (1i128 << 32) - i128::from(old),
        _ => i128::from(new) - i128::from(old),
    };
    // At most 2^64 - 1: two i64 values are never further apart.
    Some(u64::try_from(span).unwrap_or(u64::MAX))
}

/// The timestamps newer than `t`, as inclusive ranges (at most two), so
/// storage can ask an index whether a device has any.
pub fn newer_than(t: i64) -> Vec<(i64, i64)> {
    match zone(t) {
        // Everything above, but the top quarter comes before the wrap.
        Zone::Bottom => vec![(t + 1, TOP_QUARTER.0 - 1), (TOP_QUARTER.1 + 1, i64::MAX)],
        // Everything above, and the bottom quarter after the wrap.
        Zone::Top => vec![BOTTOM_QUARTER, (t + 1, i64::MAX)],
        Zone::Plain => t
            .checked_add(1)
            .map(|next| (next, i64::MAX))
            .into_iter()
            .collect(),
    }
}

/// Of a device's stored timestamps, given the largest (`max`) and the
/// largest in the bottom wrap quarter (`max_bottom`, if any), the newest.
pub fn newest(max: i64, max_bottom: Option<i64>) -> i64 {
    match max_bottom {
        Some(bottom) if zone(max) == Zone::Top => bottom,
        _ => max,
    }
}

/// Puts a device's series, in numeric order, into the order its clock ran:
/// when it holds timestamps in both wrap quarters, those in the bottom
/// quarter come last, since the clock wrapped between them. (The sort is
/// stable, so the rest keeps its order.)
pub fn sort_series<T>(series: &mut [T], timestamp: impl Fn(&T) -> i64) {
    let has = |z: Zone| series.iter().any(|s| zone(timestamp(s)) == z);
    if has(Zone::Top) && has(Zone::Bottom) {
        series.sort_by_key(|s| zone(timestamp(s)) == Zone::Bottom);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_wrapped_clock_moves_forward() {
        // Date.now() | 0 a few seconds before and after the wrap.
        let before = 2_147_480_000;
        let after = -2_147_476_840;
        assert!(is_newer(after, before));
        assert!(!is_newer(before, after));
        // Within one side of the wrap, plain order.
        assert!(is_newer(after + 1, after));
        assert!(is_newer(before + 1, before));
        assert!(is_newer(-5, -2_147_476_840));
        // Ordinary 64-bit milliseconds, and values that do not fit 32 bits.
        assert!(is_newer(1_700_000_000_001, 1_700_000_000_000));
        assert!(is_newer(1_700_000_000_000, before));
        assert!(!is_newer(-3_000_000_000, after));
        assert!(!is_newer(7, 7));
    }

    #[test]
    fn elapsed_time_runs_across_the_wrap() {
        // Date.now() | 0: 100 ms before the wrap to 50 ms after it.
        let before = i64::from(i32::MAX) - 99;
        let after = i64::from(i32::MIN) + 50;
        assert_eq!(elapsed(before, after), Some(150));
        assert_eq!(elapsed(after, before), None);
        assert_eq!(elapsed(-2_147_476_840, -2_147_476_830), Some(10));
        assert_eq!(elapsed(1_700_000_000_000, 1_700_000_000_005), Some(5));
        assert_eq!(elapsed(7, 7), None);
        assert_eq!(elapsed(i64::MIN, i64::MAX), Some(u64::MAX));
    }

    #[test]
    fn newest_of_a_series_across_the_wrap() {
        assert_eq!(newest(2_147_480_000, Some(-2_147_476_840)), -2_147_476_840);
        assert_eq!(newest(2_147_480_000, None), 2_147_480_000);
        assert_eq!(newest(5, Some(-2_147_476_840)), 5);
        assert_eq!(
            newest(1_700_000_000_000, Some(-2_147_476_840)),
            1_700_000_000_000
        );
    }

    #[test]
    fn a_series_across_the_wrap_runs_in_clock_order() {
        let mut series = vec![
            -2_147_480_000,
            -2_147_479_500,
            5,
            2_147_480_000,
            2_147_480_500,
        ];
        sort_series(&mut series, |t| *t);
        assert_eq!(
            series,
            [
                5,
                2_147_480_000,
                2_147_480_500,
                -2_147_480_000,
                -2_147_479_500
            ]
        );
        let mut plain = vec![-2_147_480_000, -5, 7];
        sort_series(&mut plain, |t| *t);
        assert_eq!(plain, [-2_147_480_000, -5, 7]);
    }

    fn interesting() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            any::<i32>().prop_map(i64::from),
            (-3i64..3).prop_map(|d| QUARTER + d),
            (-3i64..3).prop_map(|d| -QUARTER + d),
            (-3i64..3).prop_map(|d| i64::from(i32::MAX) + d),
            (-3i64..3).prop_map(|d| i64::from(i32::MIN) + d),
            Just(i64::MAX),
            Just(i64::MIN),
        ]
    }

    proptest! {
        /// The ranges storage asks about hold exactly the newer timestamps.
        #[test]
        fn ranges_match_the_rule(t in interesting(), u in interesting()) {
            let in_ranges = newer_than(t).iter().any(|&(lo, hi)| lo <= u && u <= hi);
            prop_assert_eq!(in_ranges, is_newer(u, t), "t={} u={}", t, u);
        }

        /// Elapsed time is there exactly when the clock moved forward, and
        /// over a wrap it is what the 32-bit clock ran.
        #[test]
        fn elapsed_matches_newer(a in interesting(), b in interesting()) {
            prop_assert_eq!(elapsed(a, b).is_some(), is_newer(b, a));
            if let (Ok(x), Ok(y), Some(ms)) = (i32::try_from(a), i32::try_from(b), elapsed(a, b)) {
                if ms < 1 << 31 {
                    prop_assert_eq!(i64::from(y.wrapping_sub(x)), ms as i64);
                }
            }
        }

        /// Never both newer than each other; equal is never newer.
        #[test]
        fn antisymmetric(a in interesting(), b in interesting()) {
            prop_assert!(!(is_newer(a, b) && is_newer(b, a)));
            prop_assert!(!is_newer(a, a));
        }
    }
}
