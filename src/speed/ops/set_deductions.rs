//! The organiser sets an entry's deductions (false starts, false
//! switches): refused for an unknown entry, a locked heat, or more false
//! switches than the event has switches.

use crate::judging::ops::Operation;
use crate::speed::guards;
use crate::speed::model::{EntryId, HeatState};
use crate::speed::SpeedError;
use crate::store::HeatChange;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetDeductions {
    pub entry: EntryId,
    pub false_starts: u32,
    pub false_switches: u32,
}

/// The entry's heat and event, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub heat: u32,
    pub state: Option<HeatState>,
    pub event: String,
    pub switches: u32,
}

impl Operation for SetDeductions {
    /// The entry, if there is one.
    type Facts = Option<Entry>;
    /// Update the entry, in this heat.
    type Plan = u32;
    type Written = ();
    /// The entry's heat.
    type Reply = u32;
    type Refusal = SpeedError;
    type Published = Vec<HeatChange>;

    fn decide(&self, entry: Option<Entry>) -> Result<u32, SpeedError> {
        let entry = entry.ok_or_else(|| guards::no_entry(self.entry))?;
        guards::deductions(
            entry.heat,
            entry.state,
            &entry.event,
            entry.switches,
            self.false_starts,
            self.false_switches,
        )?;
        Ok(entry.heat)
    }

    fn finish(&self, heat: u32, (): ()) -> Result<(u32, Vec<HeatChange>), SpeedError> {
        Ok((heat, vec![HeatChange::Edited(heat)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: Option<HeatState>) -> Option<Entry> {
        Some(Entry {
            heat: 2,
            state,
            event: "SRSS".into(),
            switches: 1,
        })
    }

    #[test]
    fn deductions_edit_the_entrys_heat() {
        let op = SetDeductions {
            entry: 5,
            false_starts: 1,
            false_switches: 1,
        };
        let heat = op.decide(entry(Some(HeatState::Pending))).unwrap();
        let (reply, published) = op.finish(heat, ()).unwrap();
        assert_eq!(reply, 2);
        assert_eq!(published, [HeatChange::Edited(2)]);
    }

    #[test]
    fn an_unknown_entry_a_locked_heat_and_too_many_switches_are_refused() {
        let op = SetDeductions {
            entry: 5,
            false_starts: 0,
            false_switches: 2,
        };
        assert!(matches!(op.decide(None), Err(SpeedError::NotFound(_))));
        assert!(matches!(
            op.decide(entry(Some(HeatState::Pending))),
            Err(SpeedError::Conflict(_))
        ));
        let fine = SetDeductions {
            false_switches: 0,
            ..op
        };
        assert!(fine.decide(entry(Some(HeatState::Stopped))).is_err());
    }
}
