//! The organiser pauses judging (ratings, placements, absences and undos
//! are refused until it resumes) or resumes it. Setting what is already set
//! changes nothing and publishes nothing.

use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::{DataStore, JudgingStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetPaused {
    pub paused: bool,
}

impl Operation for SetPaused {
    /// Whether judging is paused now.
    type Facts = bool;
    /// Whether anything changes.
    type Plan = bool;
    type Written = ();
    type Reply = JudgingStatus;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, paused_now: bool) -> Result<bool, JudgingError> {
        Ok(paused_now != self.paused)
    }

    fn finish(&self, changes: bool, (): ()) -> Finished<JudgingStatus> {
        let row = JudgingStatus {
            id: 1,
            paused: self.paused,
        };
        let change = changes.then(|| DataStore {
            judging_status: vec![row.clone()],
            ..DataStore::default()
        });
        Ok((row, change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pausing_publishes_the_status_row_once() {
        let pause = SetPaused { paused: true };
        let (row, change) = pause.finish(pause.decide(false).unwrap(), ()).unwrap();
        assert_eq!(
            row,
            JudgingStatus {
                id: 1,
                paused: true
            }
        );
        assert_eq!(change.unwrap().judging_status, vec![row]);
        assert_eq!(
            pause.finish(pause.decide(true).unwrap(), ()).unwrap().1,
            None
        );
    }
}
