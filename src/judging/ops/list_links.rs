//! The organiser lists every judge's sign-in link. A judge's stored link
//! is shown again while the link key still makes its token (its hash
//! matches) and it has not expired ([`CurrentLink::kept`]); any other judge
//! is issued the next generation, without expiry. One write, so two
//! organisers listing at once cannot retire each other's fresh links.

use std::collections::HashMap;

use super::{Finished, Operation};
use crate::judging::error::JudgingError;
use crate::judging::model::DataStore;
use crate::secrets::{self, SecretHash};

/// Makes the sign-in link token of a judge's link generation (judge,
/// generation), from the link key the caller holds.
pub type LinkTokens = Box<dyn Fn(i64, i64) -> String + Send + Sync>;

/// A judge's current link, as listing answers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CurrentLink {
    pub judge_id: i64,
    pub token: String,
    /// Milliseconds since the Unix epoch; `None`: never.
    pub expires_at: Option<i64>,
    /// Issued by this listing.
    pub fresh: bool,
}

impl CurrentLink {
    /// `judge`'s stored link (`stored`: its generation, token hash and
    /// expiry), kept when `token_for(judge, generation)` still gives its
    /// token and it has not expired at `now` (ms); `None`: a listing issues
    /// a new one.
    pub fn kept(
        judge: i64,
        stored: Option<(i64, &[u8], Option<i64>)>,
        token_for: impl Fn(i64, i64) -> String,
        now: i64,
    ) -> Option<CurrentLink> {
        let (generation, hash, expires_at) = stored?;
        let hash = SecretHash::try_from(hash).ok()?;
        let token = token_for(judge, generation);
        let live = expires_at.is_none_or(|at| at > now);
        (live && secrets::matches(&token, &hash)).then_some(CurrentLink {
            judge_id: judge,
            token,
            expires_at,
            fresh: false,
        })
    }
}

pub struct ListLinks {
    /// In the order the links are answered.
    pub judges: Vec<i64>,
    token_for: LinkTokens,
}

impl ListLinks {
    pub fn new(judges: Vec<i64>, token_for: LinkTokens) -> ListLinks {
        ListLinks { judges, token_for }
    }
}

/// A judge's stored link: generation, token hash, expiry.
pub type StoredLink = (i64, Vec<u8>, Option<i64>);

/// What listing needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The listed judges' stored links, by judge.
    pub stored: HashMap<i64, StoredLink>,
    /// The store's clock (ms since the Unix epoch), for expiry.
    pub now: i64,
}

/// A link to write in place of a judge's current one, without expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    pub judge: i64,
    pub generation: i64,
    pub token_hash: SecretHash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Every listed judge's link, in the listing's order.
    pub links: Vec<CurrentLink>,
    /// The links to write.
    pub fresh: Vec<NewLink>,
}

impl Operation for ListLinks {
    type Facts = Facts;
    type Plan = Plan;
    type Written = ();
    type Reply = Vec<CurrentLink>;
    type Refusal = JudgingError;
    type Published = Option<DataStore>;

    const REPLY_IS_SECRET: bool = true;

    fn decide(&self, facts: Facts) -> Result<Plan, JudgingError> {
        let mut plan = Plan {
            links: Vec::with_capacity(self.judges.len()),
            fresh: Vec::new(),
        };
        for &judge in &self.judges {
            let stored = facts.stored.get(&judge);
            let found = stored.map(|(g, hash, at)| (*g, &hash[..], *at));
            let link = match CurrentLink::kept(judge, found, &self.token_for, facts.now) {
                Some(kept) => kept,
                None => {
                    let generation = stored.map_or(0, |s| s.0) + 1;
                    let token = (self.token_for)(judge, generation);
                    plan.fresh.push(NewLink {
                        judge,
                        generation,
                        token_hash: secrets::hash(&token),
                    });
                    CurrentLink {
                        judge_id: judge,
                        token,
                        expires_at: None,
                        fresh: true,
                    }
                }
            };
            plan.links.push(link);
        }
        Ok(plan)
    }

    /// Nothing a subscriber sees changes.
    fn finish(&self, plan: Plan, (): ()) -> Finished<Vec<CurrentLink>> {
        Ok((plan.links, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_for(judge: i64, generation: i64) -> String {
        format!("link-{judge}-{generation}")
    }

    #[test]
    fn a_listing_keeps_a_stored_link_its_secret_still_makes_and_that_has_not_expired() {
        let hash = secrets::hash("link-3-2");
        let kept = CurrentLink::kept(3, Some((2, &hash[..], Some(11))), token_for, 10).unwrap();
        assert_eq!((kept.token.as_str(), kept.fresh), ("link-3-2", false));
        // Expired; a hash its generation no longer makes (the link key changed); none.
        assert!(CurrentLink::kept(3, Some((2, &hash[..], Some(10))), token_for, 10).is_none());
        assert!(CurrentLink::kept(3, Some((1, &hash[..], None)), token_for, 10).is_none());
        assert!(CurrentLink::kept(3, None, token_for, 10).is_none());
    }

    #[test]
    fn a_listing_keeps_good_links_and_issues_the_next_generation_elsewhere() {
        let op = ListLinks::new(vec![1, 2, 3], Box::new(token_for));
        let mut stored = HashMap::new();
        stored.insert(1, (4, secrets::hash("link-1-4").to_vec(), None));
        stored.insert(2, (7, secrets::hash("link-2-7").to_vec(), Some(5)));
        let plan = op.decide(Facts { stored, now: 10 }).unwrap();
        let shown: Vec<(&str, bool)> = plan
            .links
            .iter()
            .map(|l| (l.token.as_str(), l.fresh))
            .collect();
        assert_eq!(
            shown,
            [("link-1-4", false), ("link-2-8", true), ("link-3-1", true)]
        );
        let written: Vec<(i64, i64)> = plan.fresh.iter().map(|n| (n.judge, n.generation)).collect();
        assert_eq!(written, [(2, 8), (3, 1)]);
        assert_eq!(plan.fresh[1].token_hash, secrets::hash("link-3-1"));
        let (links, change) = op.finish(plan, ()).unwrap();
        assert_eq!(links.len(), 3);
        assert!(change.is_none());
    }
}
