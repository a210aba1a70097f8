//! The organiser adds a judge. An email belongs to one judge only,
//! compared ignoring case ([`email_key`]). The rule reads who holds the
//! email; on PostgreSQL another node may claim it between that read and the
//! insert, which only the database's unique key can see: the insert then
//! reports the holder ([`Claimed::Taken`]) and the rule refuses, as it
//! would have on the read.

use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::inputs::NewJudge;
use crate::judging::model::{DataStore, Judge};

/// What an email is compared by: emails differing only in case are one.
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// What the insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// The new judge's id.
    Added(i64),
    /// The email's key was taken first, by this judge.
    Taken(i64),
}

impl Operation for NewJudge {
    /// The judge who has the email already, if any.
    type Facts = Option<i64>;
    /// Insert the judge.
    type Plan = ();
    type Written = Claimed;
    type Reply = Judge;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    fn decide(&self, holder: Option<i64>) -> Result<(), JudgingError> {
        match holder {
            Some(other) => Err(self.taken_by(other)),
            None => Ok(()),
        }
    }

    fn finish(&self, (): (), claimed: Claimed) -> Finished<Judge> {
        let id = match claimed {
            Claimed::Added(id) => id,
            Claimed::Taken(other) => return Err(self.taken_by(other)),
        };
        let row = Judge {
            id,
            name: self.name.clone(),
            email: self.email.clone(),
        };
        let change = DataStore {
            judges: vec![row.clone()],
            ..DataStore::default()
        };
        Ok((row, Some(change)))
    }
}

impl NewJudge {
    fn taken_by(&self, judge: i64) -> JudgingError {
        JudgingError::DuplicateEmail {
            email: self.email.clone(),
            judge,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> NewJudge {
        NewJudge {
            name: "Ada".into(),
            email: "Ada@Example.org".into(),
        }
    }

    #[test]
    fn emails_compare_ignoring_case() {
        assert_eq!(email_key("Ada@Example.org"), email_key("ada@example.ORG"));
    }

    #[test]
    fn an_email_taken_before_or_during_the_insert_is_refused_with_its_holder() {
        let taken = ada().decide(Some(3)).unwrap_err();
        assert!(matches!(
            taken,
            JudgingError::DuplicateEmail { judge: 3, .. }
        ));
        ada().decide(None).unwrap();
        let raced = ada().finish((), Claimed::Taken(4)).unwrap_err();
        assert!(matches!(
            raced,
            JudgingError::DuplicateEmail { judge: 4, .. }
        ));
    }

    #[test]
    fn a_new_judge_is_published() {
        let (row, change) = ada().finish((), Claimed::Added(5)).unwrap();
        assert_eq!((row.id, row.email.as_str()), (5, "Ada@Example.org"));
        assert_eq!(change.unwrap().judges, vec![row]);
    }
}
