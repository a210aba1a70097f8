//! The organiser re-issues a judge's sign-in link: the next generation,
//! with the token the link key makes for it and an optional expiry. The
//! judge's previous link stops working once this is durable (a judge has
//! one link; the store keeps its token's hash, never the token).

use super::list_links::LinkTokens;
use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::DataStore;

pub struct ReissueLink {
    pub judge: i64,
    /// Milliseconds since the Unix epoch; `None`: until re-issued.
    pub expires_at: Option<i64>,
    token_for: LinkTokens,
}

impl ReissueLink {
    pub fn new(judge: i64, expires_at: Option<i64>, token_for: LinkTokens) -> ReissueLink {
        ReissueLink {
            judge,
            expires_at,
            token_for,
        }
    }
}

/// What re-issuing needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub judge_exists: bool,
    /// The generation of the judge's link, if it has one.
    pub generation: Option<i64>,
}

/// The link to write in place of the judge's current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub generation: i64,
    pub token: String,
}

impl Operation for ReissueLink {
    type Facts = Facts;
    type Plan = Plan;
    type Written = ();
    /// The new token and its generation.
    type Reply = (String, i64);
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    const REPLY_IS_SECRET: bool = true;

    fn decide(&self, facts: Facts) -> Result<Plan, JudgingError> {
        if !facts.judge_exists {
            return Err(JudgingError::NoSuchJudge(self.judge));
        }
        let generation = facts.generation.unwrap_or(0) + 1;
        Ok(Plan {
            generation,
            token: (self.token_for)(self.judge, generation),
        })
    }

    /// Nothing a subscriber sees changes.
    fn finish(&self, plan: Plan, (): ()) -> Finished<(String, i64)> {
        Ok(((plan.token, plan.generation), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reissue(judge: i64) -> ReissueLink {
        ReissueLink::new(judge, Some(99), Box::new(|j, g| format!("link-{j}-{g}")))
    }

    #[test]
    fn an_unknown_judge_gets_no_link() {
        let facts = Facts {
            judge_exists: false,
            generation: None,
        };
        assert!(matches!(
            reissue(5).decide(facts),
            Err(JudgingError::NoSuchJudge(5))
        ));
    }

    #[test]
    fn a_reissued_link_is_the_next_generation() {
        let first = Facts {
            judge_exists: true,
            generation: None,
        };
        let plan = reissue(2).decide(first).unwrap();
        assert_eq!((plan.generation, plan.token.as_str()), (1, "link-2-1"));
        let later = Facts {
            judge_exists: true,
            generation: Some(4),
        };
        let plan = reissue(2).decide(later).unwrap();
        let (reply, change) = reissue(2).finish(plan, ()).unwrap();
        assert_eq!(reply, ("link-2-5".to_string(), 5));
        assert!(change.is_none());
    }
}
