//! The organiser adds a superlative (a special prize). Nothing is refused:
//! the core has checked the name.

use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::inputs::NewSuperlative;
use crate::judging::model::{DataStore, Superlative};

impl Operation for NewSuperlative {
    type Facts = ();
    /// Insert the superlative.
    type Plan = ();
    /// The new superlative's id.
    type Written = i64;
    type Reply = Superlative;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, (): ()) -> Result<(), JudgingError> {
        Ok(())
    }

    fn finish(&self, (): (), id: i64) -> Finished<Superlative> {
        let row = Superlative {
            id,
            name: self.name.clone(),
        };
        let change = DataStore {
            superlatives: vec![row.clone()],
            ..DataStore::default()
        };
        Ok((row, Some(change)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_superlative_is_published_as_stored() {
        let prize = NewSuperlative::new("Best hardware");
        prize.decide(()).unwrap();
        let (row, change) = prize.finish((), 3).unwrap();
        assert_eq!((row.id, row.name.as_str()), (3, "Best hardware"));
        assert_eq!(change.unwrap().superlatives, vec![row]);
    }
}
