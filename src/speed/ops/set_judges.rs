//! The organiser sets an entry's judges (its panel of clickers and head
//! judge): refused for an unknown entry, a running or locked heat, a
//! clicker that never connected, or one that judges another station of the
//! heat.

use crate::judging::ops::Operation;
use crate::speed::guards::{self, Clicker};
use crate::speed::model::{EntryId, HeatState};
use crate::speed::{Judges, SpeedError};
use crate::store::HeatChange;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetJudges {
    pub entry: EntryId,
    pub judges: Judges,
}

/// An entry as setting its judges sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub heat: u32,
    pub state: Option<HeatState>,
    /// The new panel's clickers, in its order.
    pub panel: Vec<Clicker>,
}

impl Operation for SetJudges {
    /// The entry, if there is one.
    type Facts = Option<Entry>;
    /// Write the panel, in this heat.
    type Plan = u32;
    type Written = ();
    /// The entry's heat.
    type Reply = u32;
    type Refusal = SpeedError;
    type Published = Vec<HeatChange>;

    fn decide(&self, entry: Option<Entry>) -> Result<u32, SpeedError> {
        let entry = entry.ok_or_else(|| guards::no_entry(self.entry))?;
        guards::editable(entry.heat, entry.state)?;
        guards::panel(entry.heat, &entry.panel)?;
        Ok(entry.heat)
    }

    fn finish(&self, heat: u32, (): ()) -> Result<(u32, Vec<HeatChange>), SpeedError> {
        Ok((heat, vec![HeatChange::Edited(heat)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clicker(device: u32, registered: bool, elsewhere: Option<u32>) -> Clicker {
        Clicker {
            device,
            registered,
            elsewhere,
        }
    }

    fn op() -> SetJudges {
        SetJudges {
            entry: 7,
            judges: Judges::new(vec![1, 2], None).unwrap(),
        }
    }

    fn entry(state: HeatState, panel: Vec<Clicker>) -> Option<Entry> {
        Some(Entry {
            heat: 3,
            state: Some(state),
            panel,
        })
    }

    #[test]
    fn a_free_panel_is_written_and_its_heat_edited() {
        let free = vec![clicker(1, true, None), clicker(2, true, None)];
        let heat = op().decide(entry(HeatState::Pending, free)).unwrap();
        assert_eq!(
            op().finish(heat, ()).unwrap(),
            (3, vec![HeatChange::Edited(3)])
        );
    }

    #[test]
    fn the_first_clicker_at_fault_names_the_refusal() {
        let panel = vec![clicker(1, true, Some(4)), clicker(2, false, None)];
        let refused = op().decide(entry(HeatState::Pending, panel)).unwrap_err();
        assert!(
            refused.to_string().contains("already judges station 4"),
            "{refused}"
        );
        let unknown = vec![clicker(1, false, None)];
        let refused = op().decide(entry(HeatState::Pending, unknown)).unwrap_err();
        assert!(refused.to_string().contains("not registered"), "{refused}");
        let running = op().decide(entry(HeatState::Running, Vec::new()));
        assert!(running.is_err());
        assert!(matches!(op().decide(None), Err(SpeedError::NotFound(_))));
    }
}
