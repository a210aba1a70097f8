//! The organiser adds entries (from a heat list or one by one): all of
//! them, or none when one is refused, naming it by its index. Each entry
//! is checked against what is stored and against the entries before it in
//! the same request: its heat must be open to change, its station free,
//! and its panel's clickers registered and judging no other station of the
//! heat. New events and heats are created as entries name them.

use std::collections::{HashMap, HashSet};

use super::heats_edited;
use crate::judging::ops::Operation;
use crate::scoring::DeviceId;
use crate::speed::guards::{self, Clicker};
use crate::speed::model::{EntryId, HeatState, NewEntry};
use crate::speed::SpeedError;
use crate::store::HeatChange;

#[derive(Debug, Clone)]
pub struct AddEntries {
    pub entries: Vec<NewEntry>,
}

/// What is stored of the heats, stations and clickers the entries name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Each named heat's state (`None`: no such heat yet).
    pub heats: HashMap<u32, Option<HeatState>>,
    /// The name of the entry at each named (heat, station) that has one.
    pub stations: HashMap<(u32, u32), String>,
    /// The panels' clickers that ever connected.
    pub registered: HashSet<DeviceId>,
    /// The station each panel clicker judges in each named heat.
    pub judging: HashMap<(u32, DeviceId), u32>,
}

impl Operation for AddEntries {
    type Facts = Facts;
    /// Insert every entry, in order.
    type Plan = ();
    /// The new entries' ids, in order.
    type Written = Vec<EntryId>;
    type Reply = Vec<EntryId>;
    /// The first refused entry's index, and why.
    type Refusal = (usize, SpeedError);
    type Published = Vec<HeatChange>;

    fn decide(&self, mut facts: Facts) -> Result<(), (usize, SpeedError)> {
        for (index, entry) in self.entries.iter().enumerate() {
            facts.admit(entry).map_err(|e| (index, e))?;
        }
        Ok(())
    }

    fn finish(
        &self,
        (): (),
        ids: Vec<EntryId>,
    ) -> Result<(Vec<EntryId>, Vec<HeatChange>), (usize, SpeedError)> {
        Ok((ids, heats_edited(self.entries.iter().map(|e| e.heat))))
    }
}

impl Facts {
    /// Counts what a store read of a panel's clickers in `heat`.
    pub fn note_panel(&mut self, heat: u32, clickers: impl IntoIterator<Item = Clicker>) {
        for clicker in clickers {
            if clicker.registered {
                self.registered.insert(clicker.device);
            }
            if let Some(station) = clicker.elsewhere {
                self.judging.insert((heat, clicker.device), station);
            }
        }
    }

    /// Checks `entry` against the facts, then counts it among them, so the
    /// entries after it see it as stored.
    fn admit(&mut self, entry: &NewEntry) -> Result<(), SpeedError> {
        let heat = entry.heat;
        guards::editable(heat, self.heats.get(&heat).copied().flatten())?;
        if let Some(name) = self.stations.get(&(heat, entry.station)) {
            return Err(guards::station_taken(heat, entry.station, name));
        }
        if let Some(judges) = &entry.judges {
            let panel: Vec<Clicker> = judges
                .devices
                .iter()
                .map(|&device| Clicker {
                    device,
                    registered: self.registered.contains(&device),
                    elsewhere: self.judging.get(&(heat, device)).copied(),
                })
                .collect();
            guards::panel(heat, &panel)?;
            for &device in &judges.devices {
                self.judging.insert((heat, device), entry.station);
            }
        }
        self.stations
            .insert((heat, entry.station), entry.name.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speed::Judges;

    fn entry(heat: u32, station: u32, name: &str, devices: &[DeviceId]) -> NewEntry {
        NewEntry {
            event: "SRSS".into(),
            heat,
            station,
            name: name.into(),
            club: None,
            judges: (!devices.is_empty()).then(|| Judges::new(devices.to_vec(), None).unwrap()),
        }
    }

    fn facts() -> Facts {
        Facts {
            registered: [1, 2, 3].into_iter().collect(),
            ..Facts::default()
        }
    }

    #[test]
    fn entries_are_checked_against_the_ones_before_them() {
        let twice = AddEntries {
            entries: vec![entry(1, 1, "Ada", &[1]), entry(1, 1, "Bo", &[2])],
        };
        let (index, refused) = twice.decide(facts()).unwrap_err();
        assert_eq!(index, 1);
        assert!(
            refused.to_string().contains("already has an entry (Ada)"),
            "{refused}"
        );

        let one_clicker = AddEntries {
            entries: vec![entry(1, 1, "Ada", &[1]), entry(1, 2, "Bo", &[1])],
        };
        let (index, refused) = one_clicker.decide(facts()).unwrap_err();
        assert_eq!(index, 1);
        assert!(
            refused.to_string().contains("already judges station 1"),
            "{refused}"
        );
    }

    #[test]
    fn stored_facts_refuse_and_other_heats_are_free() {
        let mut stored = facts();
        stored.heats.insert(2, Some(HeatState::Running));
        let op = AddEntries {
            entries: vec![entry(1, 1, "Ada", &[1]), entry(2, 1, "Bo", &[])],
        };
        assert_eq!(op.decide(stored).unwrap_err().0, 1);
        let mut busy = Facts::default();
        let stored_panel = Clicker {
            device: 3,
            registered: true,
            elsewhere: Some(4),
        };
        busy.note_panel(1, [stored_panel]);
        let (_, refused) = AddEntries {
            entries: vec![entry(1, 1, "Ada", &[3])],
        }
        .decide(busy)
        .unwrap_err();
        assert!(
            refused.to_string().contains("already judges station 4"),
            "{refused}"
        );
        let unknown = AddEntries {
            entries: vec![entry(1, 1, "Ada", &[9])],
        };
        assert!(unknown.decide(facts()).is_err());
        let fine = AddEntries {
            entries: vec![entry(1, 1, "Ada", &[1]), entry(2, 1, "Bo", &[1])],
        };
        fine.decide(facts()).unwrap();
        let (ids, published) = fine.finish((), vec![5, 6]).unwrap();
        assert_eq!(ids, [5, 6]);
        assert_eq!(published, [HeatChange::Edited(1), HeatChange::Edited(2)]);
    }
}
