//! The organiser adds a hack. Nothing is refused here: the core has
//! checked the fields, and a hack's name need not be unique.

use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::inputs::NewHack;
use crate::judging::model::{DataStore, Hack};

impl Operation for NewHack {
    type Facts = ();
    /// Insert the hack.
    type Plan = ();
    /// The new hack's id.
    type Written = i64;
    type Reply = Hack;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, (): ()) -> Result<(), JudgingError> {
        Ok(())
    }

    fn finish(&self, (): (), id: i64) -> Finished<Hack> {
        let row = Hack {
            id,
            name: self.name.clone(),
            description: self.description.clone(),
            location: self.location,
        };
        let change = DataStore {
            hacks: vec![row.clone()],
            ..DataStore::default()
        };
        Ok((row, Some(change)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_hack_is_published_as_stored() {
        let hack = NewHack {
            name: "Tally".into(),
            description: "counts things".into(),
            location: 12,
        };
        hack.decide(()).unwrap();
        let (row, change) = hack.finish((), 7).unwrap();
        assert_eq!((row.id, row.name.as_str(), row.location), (7, "Tally", 12));
        assert_eq!(change.unwrap().hacks, vec![row]);
    }
}
