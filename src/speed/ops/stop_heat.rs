//! The organiser stops a running heat, at a cut of the receiving node's
//! clock (never before it started), and its results lock; an unlocked heat
//! is locked again as it was (its scores stay those of its run).

use crate::judging::ops::Operation;
use crate::speed::guards::{self, Stop};
use crate::speed::model::HeatState;
use crate::speed::SpeedError;
use crate::store::{HeatChange, ReceiveClock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopHeat {
    pub heat: u32,
    /// When a running heat stops (a cut of the node's receive clock, ms, taken as
    /// the write enters the store).
    pub at: i64,
}

impl StopHeat {
    /// The write as the organiser asks it; the store sets [`StopHeat::at`].
    pub fn new(heat: u32) -> StopHeat {
        StopHeat { heat, at: 0 }
    }
}

impl Operation for StopHeat {
    /// The heat's state, if it has entries.
    type Facts = Option<HeatState>;
    type Plan = Stop;
    type Written = ();
    type Reply = ();
    type Refusal = SpeedError;
    type Published = Vec<HeatChange>;

    fn receive(&mut self, clock: &ReceiveClock) {
        self.at = clock.cut();
    }

    fn decide(&self, state: Option<HeatState>) -> Result<Stop, SpeedError> {
        guards::stop(self.heat, state)
    }

    fn finish(&self, _: Stop, (): ()) -> Result<((), Vec<HeatChange>), SpeedError> {
        Ok(((), vec![HeatChange::Stopped(self.heat)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_heat_is_cut_an_unlocked_one_relocked_and_others_refused() {
        let op = StopHeat { heat: 1, at: 5 };
        assert_eq!(op.decide(Some(HeatState::Running)).unwrap(), Stop::Cut);
        assert_eq!(op.decide(Some(HeatState::Unlocked)).unwrap(), Stop::Relock);
        assert!(op.decide(Some(HeatState::Pending)).is_err());
        let (_, published) = op.finish(Stop::Cut, ()).unwrap();
        assert_eq!(published, [HeatChange::Stopped(1)]);
    }
}
