//! Judges' sign-in links for the organiser: listing them (issuing one for
//! each judge that has none, or whose link can no longer be shown) and
//! re-issuing one. The caller checks that it is the admin asking.
//!
//! A judge's current link is shown again as long as its token, derived
//! from the link key and its generation, still hashes to what is stored and
//! it has not expired; otherwise listing issues the next generation.

use std::time::Duration;

use super::auth::Identity;
use super::ops::OpError;
use super::Sledge;
use crate::secrets;
use crate::store::judging::JudgingError;
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

impl Sledge {
    /// Every judge's current link, in judge id order.
    pub async fn judge_links(&self) -> Result<Vec<JudgeLink>, OpError> {
        let judges = self.state(Identity::Admin).await?.judges;
        let stored = self.store.judge_links().await.map_err(JudgingError::from)?;
        let key = self.secrets.link_key();
        let now = now_ms();
        let mut links = Vec::with_capacity(judges.len());
        for judge in judges {
            let shown = stored
                .iter()
                .find(|link| link.judge_id == judge.id)
                .filter(|link| link.expires_at.is_none_or(|at| at > now))
                .map(|link| (key.token(judge.id, link.generation), link))
                .filter(|(token, link)| secrets::matches(token, &link.token_hash))
                .map(|(token, link)| (token, link.expires_at));
            let (token, expires_at) = match shown {
                Some(shown) => shown,
                None => (self.new_link(judge.id, None).await?, None),
            };
            links.push(JudgeLink {
                judge_id: judge.id,
                name: judge.name,
                token,
                expires_at,
            });
        }
        links.sort_by_key(|link| link.judge_id);
        Ok(links)
    }

    /// A new link for `judge`, valid for `valid_for` (or until re-issued);
    /// the judge's previous link stops working.
    pub async fn reissue_link(
        &self,
        judge: i64,
        valid_for: Option<Duration>,
    ) -> Result<JudgeLink, OpError> {
        let expires_at = valid_for.map(|d| now_ms().saturating_add(d.as_millis() as i64));
        let token = self.new_link(judge, expires_at).await?;
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

    async fn new_link(&self, judge: i64, expires_at: Option<i64>) -> Result<String, JudgingError> {
        let secrets = self.secrets.clone();
        let (token, generation) = self
            .store
            .replace_judge_link(
                judge,
                move |generation| secrets.link_key().token(judge, generation),
                expires_at,
            )
            .await?;
        tracing::info!(judge, generation, "issued a sign-in link");
        Ok(token)
    }
}
