//! Judges' sign-in links for the organiser: listing them (issuing one for
//! each judge that has none, or whose link can no longer be shown) and
//! re-issuing one. The caller checks that it is the admin asking.
//!
//! A judge's current link is shown again as long as its token, derived
//! from the link key and its generation, still hashes to what is stored and
//! it has not expired; otherwise listing issues the next generation
//! (the rule: `judging/ops/list_links.rs`).

use std::time::Duration;

use super::auth::Identity;
use super::ops::OpError;
use super::Core;
use crate::judging::ops::list_links::ListLinks;
use crate::judging::ops::reissue_link::ReissueLink;
use crate::store::now_ms;

/// A judge's current link.
#[derive(Debug, Clone)]
pub struct JudgeLink {
    pub judge_id: i64,
    pub name: String,
    pub token: String,
    /// Milliseconds since the Unix epoch; `None`: never.
    pub expires_at: Option<i64>,
}

impl Core {
    /// Every judge's current link, in judge id order.
    pub async fn judge_links(&self) -> Result<Vec<JudgeLink>, OpError> {
        let mut judges = self.state(Identity::Admin).await?.judges;
        judges.sort_by_key(|judge| judge.id);
        let secrets = self.secrets.clone();
        let links = self
            .store
            .perform(ListLinks::new(
                judges.iter().map(|j| j.id).collect(),
                Box::new(move |judge, g| secrets.link_key().token(judge, g)),
            ))
            .await?;
        let fresh = links.iter().filter(|link| link.fresh).count();
        if fresh > 0 {
            tracing::info!(fresh, "issued sign-in links to judges who had none to show");
        }
        Ok(judges
            .into_iter()
            .zip(links)
            .map(|(judge, link)| JudgeLink {
                judge_id: judge.id,
                name: judge.name,
                token: link.token,
                expires_at: link.expires_at,
            })
            .collect())
    }

    /// A new link for `judge`, valid for `valid_for` (or until re-issued);
    /// the judge's previous link stops working.
    pub async fn reissue_link(
        &self,
        judge: i64,
        valid_for: Option<Duration>,
    ) -> Result<JudgeLink, OpError> {
        let expires_at = valid_for.map(|d| now_ms().saturating_add(d.as_millis() as i64));
        let secrets = self.secrets.clone();
        let (token, generation) = self
            .store
            .perform(ReissueLink::new(
                judge,
                expires_at,
                Box::new(move |judge, generation| secrets.link_key().token(judge, generation)),
            ))
            .await?;
        tracing::info!(judge, generation, "issued a new sign-in link");
        let name = self
            .state(Identity::Admin)
            .await?
            .judges
            .into_iter()
            .find(|j| j.id == judge)
            .map(|j| j.name)
            .unwrap_or_default();
        Ok(JudgeLink {
            judge_id: judge,
            name,
            token,
            expires_at,
        })
    }
}
