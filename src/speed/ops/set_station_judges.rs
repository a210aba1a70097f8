//! The organiser sets the judges of a station in every heat still open to
//! change (pending or unlocked): running and locked heats keep theirs.
//! Refused when no such entry is at the station, or when the panel fails
//! in one of them (then no heat changes).

use super::heats_edited;
use super::set_judges::Entry;
use crate::judging::ops::Operation;
use crate::speed::guards;
use crate::speed::model::EntryId;
use crate::speed::{Judges, SpeedError};
use crate::store::HeatChange;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetStationJudges {
    pub station: u32,
    pub judges: Judges,
}

impl Operation for SetStationJudges {
    /// The entries at the station, by heat, as setting judges sees each.
    type Facts = Vec<(EntryId, Entry)>;
    /// The entries to write the panel to, with their heats.
    type Plan = Vec<(EntryId, u32)>;
    type Written = ();
    /// The heats changed.
    type Reply = Vec<u32>;
    type Refusal = SpeedError;
    type Published = Vec<HeatChange>;

    fn decide(&self, entries: Vec<(EntryId, Entry)>) -> Result<Vec<(EntryId, u32)>, SpeedError> {
        let mut plan = Vec::new();
        for (id, entry) in entries {
            if guards::editable(entry.heat, entry.state).is_err() {
                continue;
            }
            guards::panel(entry.heat, &entry.panel)?;
            plan.push((id, entry.heat));
        }
        if plan.is_empty() {
            return Err(guards::no_editable_entry_at(self.station));
        }
        Ok(plan)
    }

    fn finish(
        &self,
        plan: Vec<(EntryId, u32)>,
        (): (),
    ) -> Result<(Vec<u32>, Vec<HeatChange>), SpeedError> {
        let heats: Vec<u32> = plan.iter().map(|&(_, heat)| heat).collect();
        let edited = heats_edited(heats.iter().copied());
        Ok((heats, edited))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speed::guards::Clicker;
    use crate::speed::model::HeatState;

    fn at(heat: u32, state: HeatState, free: bool) -> Entry {
        Entry {
            heat,
            state: Some(state),
            panel: vec![Clicker {
                device: 9,
                registered: true,
                elsewhere: (!free).then_some(2),
            }],
        }
    }

    fn op() -> SetStationJudges {
        SetStationJudges {
            station: 1,
            judges: Judges::new(vec![9], None).unwrap(),
        }
    }

    #[test]
    fn open_heats_change_and_running_or_locked_ones_keep_their_judges() {
        let facts = vec![
            (10, at(1, HeatState::Stopped, true)),
            (11, at(2, HeatState::Pending, true)),
            (12, at(3, HeatState::Running, true)),
            (13, at(4, HeatState::Unlocked, true)),
        ];
        let plan = op().decide(facts).unwrap();
        assert_eq!(plan, [(11, 2), (13, 4)]);
        let (heats, published) = op().finish(plan, ()).unwrap();
        assert_eq!(heats, [2, 4]);
        assert_eq!(published, [HeatChange::Edited(2), HeatChange::Edited(4)]);
    }

    #[test]
    fn a_busy_clicker_or_no_open_heat_is_refused() {
        let busy = vec![(11, at(2, HeatState::Pending, false))];
        assert!(matches!(op().decide(busy), Err(SpeedError::Conflict(_))));
        let closed = vec![(10, at(1, HeatState::Stopped, true))];
        assert!(matches!(op().decide(closed), Err(SpeedError::NotFound(_))));
    }
}
