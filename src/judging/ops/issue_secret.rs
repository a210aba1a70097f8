//! A judge signs in (by login code or by link) and is issued a new secret:
//! a fresh CSPRNG string the judge's client presents from then on. Only
//! its hash is stored; earlier secrets stay valid, so a judge signed in on
//! two devices stays signed in on both.

use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::DataStore;
use crate::secrets::{self, SecretHash};
use crate::store::JUDGE_SECRET_BYTES;

/// A new secret for `judge`, drawn from the CSPRNG when the operation is
/// made. No `Debug`: the secret must never reach a log.
pub struct IssueSecret {
    pub judge: i64,
    secret: String,
}

impl IssueSecret {
    pub fn new(judge: i64) -> IssueSecret {
        IssueSecret {
            judge,
            secret: secrets::generate(JUDGE_SECRET_BYTES),
        }
    }

    /// What is stored: the secret's hash, never the secret.
    pub fn hash(&self) -> SecretHash {
        secrets::hash(&self.secret)
    }
}

impl Operation for IssueSecret {
    /// Whether the judge exists.
    type Facts = bool;
    /// Store the secret's hash.
    type Plan = ();
    type Written = ();
    /// The secret, for the judge's client alone.
    type Reply = String;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    const REPLY_IS_SECRET: bool = true;

    fn decide(&self, judge_exists: bool) -> Result<(), JudgingError> {
        if !judge_exists {
            return Err(JudgingError::NoSuchJudge(self.judge));
        }
        Ok(())
    }

    /// Nothing a subscriber sees changes.
    fn finish(&self, (): (), (): ()) -> Finished<String> {
        Ok((self.secret.clone(), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_judge_gets_no_secret() {
        assert!(matches!(
            IssueSecret::new(4).decide(false),
            Err(JudgingError::NoSuchJudge(4))
        ));
    }

    #[test]
    fn the_secret_answered_is_the_one_whose_hash_is_stored_and_each_is_new() {
        let op = IssueSecret::new(1);
        op.decide(true).unwrap();
        let (secret, change) = op.finish((), ()).unwrap();
        assert_eq!(secrets::hash(&secret), op.hash());
        assert!(change.is_none());
        let (other, _) = IssueSecret::new(1).finish((), ()).unwrap();
        assert_ne!(secret, other);
    }
}
