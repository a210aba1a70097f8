//! One SCORE of a device, stored durably: new (the device's newest, to be
//! broadcast), late (a newer one is stored already; by the device's clock,
//! so a 32-bit wrap is no step back) or a retry of one stored (same device
//! and timestamp). The hot path: it loads nothing, and one write stores the
//! row and says whether a newer one exists.

use std::convert::Infallible;

use crate::judging::ops::Operation;
use crate::scoring::{clock, DeviceId, ScoreOutcome};
use crate::store::Score;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordScore {
    pub device: DeviceId,
    pub timestamp: i64,
    pub score: i64,
    /// `None` for a draft-1 SCORE, which carries no message id.
    pub msg_id: Option<i64>,
    /// When this server received it (its receive clock), ms since the Unix epoch.
    pub received_at: i64,
}

/// Store the row unless its (device, timestamp) is stored, and look for a
/// stored timestamp of the device in these inclusive ranges: the newer
/// ones, at most two (see [`clock::newer_than`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    pub newer: Vec<(i64, i64)>,
}

/// What the write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// False: the row was stored already (a retry).
    pub inserted: bool,
    /// A newer timestamp of the device was stored before this one.
    pub newer_exists: bool,
}

impl Operation for RecordScore {
    type Facts = ();
    type Plan = Insert;
    type Written = Stored;
    type Reply = ScoreOutcome;
    type Refusal = Infallible;
    /// The score, for every node's listeners (late ones too: a scoreboard
    /// keeps the series).
    type Published = Option<Score>;

    fn decide(&self, (): ()) -> Result<Insert, Infallible> {
        Ok(Insert {
            newer: clock::newer_than(self.timestamp),
        })
    }

    fn finish(
        &self,
        _: Insert,
        stored: Stored,
    ) -> Result<(ScoreOutcome, Option<Score>), Infallible> {
        if !stored.inserted {
            return Ok((ScoreOutcome::Duplicate, None));
        }
        let outcome = if stored.newer_exists {
            ScoreOutcome::Late
        } else {
            ScoreOutcome::New
        };
        let change = Score {
            device: self.device,
            timestamp: self.timestamp,
            score: self.score,
        };
        Ok((outcome, Some(change)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(timestamp: i64) -> RecordScore {
        RecordScore {
            device: 5,
            timestamp,
            score: 31,
            msg_id: Some(2),
            received_at: 1_000,
        }
    }

    #[test]
    fn a_plain_timestamp_looks_above_itself_only() {
        let Ok(plan) = score(100).decide(());
        assert_eq!(plan.newer, [(101, i64::MAX)]);
        let Ok(plan) = score(i64::MAX).decide(());
        assert_eq!(plan.newer, [], "nothing is newer");
    }

    #[test]
    fn near_the_wrap_the_bottom_quarter_counts_as_newer() {
        let Ok(plan) = score(2_147_483_000).decide(());
        assert_eq!(
            plan.newer,
            [clock::BOTTOM_QUARTER, (2_147_483_001, i64::MAX)]
        );
    }

    #[test]
    fn the_outcome_follows_what_the_write_found() {
        let op = score(100);
        let Ok(plan) = op.decide(());
        let found = |inserted, newer_exists| {
            let Ok(done) = op.finish(
                plan.clone(),
                Stored {
                    inserted,
                    newer_exists,
                },
            );
            done
        };
        let published = Some(Score {
            device: 5,
            timestamp: 100,
            score: 31,
        });
        assert_eq!(found(true, false), (ScoreOutcome::New, published));
        assert_eq!(found(true, true), (ScoreOutcome::Late, published));
        assert_eq!(found(false, true), (ScoreOutcome::Duplicate, None));
    }
}
