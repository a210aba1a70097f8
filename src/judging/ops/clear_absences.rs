//! The organiser says a team is back: every active absence of its hack is
//! cleared, and the reply lists the rows cleared. A hack with none clears
//! nothing and publishes nothing.

use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::{Absence, DataStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearAbsences {
    pub hack: i64,
}

impl Operation for ClearAbsences {
    /// Whether the hack exists.
    type Facts = bool;
    /// Clear the hack's active absences.
    type Plan = ();
    /// The rows cleared, as they now are.
    type Written = Vec<Absence>;
    type Reply = Vec<Absence>;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, hack_exists: bool) -> Result<(), JudgingError> {
        if !hack_exists {
            return Err(JudgingError::NoSuchHack(self.hack));
        }
        Ok(())
    }

    fn finish(&self, (): (), cleared: Vec<Absence>) -> Finished<Vec<Absence>> {
        let change = (!cleared.is_empty()).then(|| DataStore {
            absences: cleared.clone(),
            ..DataStore::default()
        });
        Ok((cleared, change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_hack_is_refused() {
        let op = ClearAbsences { hack: 9 };
        assert!(matches!(op.decide(false), Err(JudgingError::NoSuchHack(9))));
    }

    #[test]
    fn clearing_nothing_publishes_nothing() {
        let op = ClearAbsences { hack: 1 };
        op.decide(true).unwrap();
        let (reply, change) = op.finish((), Vec::new()).unwrap();
        assert!(reply.is_empty());
        assert!(change.is_none());
    }

    #[test]
    fn the_cleared_rows_are_answered_and_published() {
        let op = ClearAbsences { hack: 1 };
        let cleared = vec![Absence {
            id: 4,
            judge_id: 2,
            hack_id: 1,
            active: false,
        }];
        let (reply, change) = op.finish((), cleared.clone()).unwrap();
        assert_eq!(reply, cleared);
        assert_eq!(change.unwrap().absences, cleared);
    }
}
