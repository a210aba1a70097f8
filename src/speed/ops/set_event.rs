//! The organiser sets an event's number of switches (the event is created
//! if new). Nothing is refused here: the API checked the name and count.
//! Results are not edited by it, so nothing is published.

use crate::judging::ops::Operation;
use crate::speed::SpeedError;
use crate::store::HeatChange;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetEvent {
    pub name: String,
    pub switches: u32,
}

impl Operation for SetEvent {
    type Facts = ();
    /// Insert or update the event.
    type Plan = ();
    type Written = ();
    type Reply = ();
    type Refusal = SpeedError;
    type Published = Vec<HeatChange>;

    fn decide(&self, (): ()) -> Result<(), SpeedError> {
        Ok(())
    }

    fn finish(&self, (): (), (): ()) -> Result<((), Vec<HeatChange>), SpeedError> {
        Ok(((), Vec::new()))
    }
}
