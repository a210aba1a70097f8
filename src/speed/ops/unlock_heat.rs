//! The organiser unlocks a stopped heat's results, to correct them.

use crate::judging::ops::Operation;
use crate::speed::guards;
use crate::speed::model::HeatState;
use crate::speed::SpeedError;
use crate::store::HeatChange;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnlockHeat {
    pub heat: u32,
}

impl Operation for UnlockHeat {
    /// The heat's state, if it has entries.
    type Facts = Option<HeatState>;
    type Plan = ();
    type Written = ();
    type Reply = ();
    type Refusal = SpeedError;
    type Published = Vec<HeatChange>;

    fn decide(&self, state: Option<HeatState>) -> Result<(), SpeedError> {
        guards::unlock(self.heat, state)
    }

    fn finish(&self, (): (), (): ()) -> Result<((), Vec<HeatChange>), SpeedError> {
        Ok(((), vec![HeatChange::Edited(self.heat)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stopped_heat_unlocks() {
        let op = UnlockHeat { heat: 4 };
        op.decide(Some(HeatState::Stopped)).unwrap();
        assert!(op.decide(Some(HeatState::Running)).is_err());
        assert!(op.decide(None).is_err());
        let (_, published) = op.finish((), ()).unwrap();
        assert_eq!(published, [HeatChange::Edited(4)]);
    }
}
