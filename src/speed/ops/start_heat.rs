//! The organiser starts a heat, at a cut of the receiving node's clock:
//! refused for a heat with no entries, one running or locked already, or
//! while another heat runs. The reply and the change name the clickers
//! the heat watches.

use crate::judging::ops::Operation;
use crate::scoring::DeviceId;
use crate::speed::guards;
use crate::speed::model::HeatState;
use crate::speed::SpeedError;
use crate::store::{HeatChange, ReceiveClock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartHeat {
    pub heat: u32,
    /// When it starts (a cut of the node's receive clock, ms, taken as
    /// the write enters the store).
    pub at: i64,
}

impl StartHeat {
    /// The write as the organiser asks it; the store sets [`StartHeat::at`].
    pub fn new(heat: u32) -> StartHeat {
        StartHeat { heat, at: 0 }
    }
}

/// What starting needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub state: Option<HeatState>,
    /// The heat running now, if any.
    pub running: Option<u32>,
}

impl Operation for StartHeat {
    type Facts = Facts;
    /// Start the heat.
    type Plan = ();
    /// The clickers of the heat's judges.
    type Written = Vec<DeviceId>;
    type Reply = Vec<DeviceId>;
    type Refusal = SpeedError;
    type Published = Vec<HeatChange>;

    fn receive(&mut self, clock: &ReceiveClock) {
        self.at = clock.cut();
    }

    fn decide(&self, facts: Facts) -> Result<(), SpeedError> {
        guards::start(self.heat, facts.state, facts.running)
    }

    fn finish(
        &self,
        (): (),
        devices: Vec<DeviceId>,
    ) -> Result<(Vec<DeviceId>, Vec<HeatChange>), SpeedError> {
        let started = HeatChange::Started {
            heat: self.heat,
            devices: devices.clone(),
        };
        Ok((devices, vec![started]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_heat_starts_when_none_runs() {
        let op = StartHeat { heat: 3, at: 1_000 };
        let pending = Facts {
            state: Some(HeatState::Pending),
            running: None,
        };
        op.decide(pending).unwrap();
        let busy = Facts {
            running: Some(2),
            ..pending
        };
        assert!(matches!(op.decide(busy), Err(SpeedError::Conflict(_))));
        let empty = Facts {
            state: None,
            running: None,
        };
        assert!(matches!(op.decide(empty), Err(SpeedError::NotFound(_))));
    }
}
