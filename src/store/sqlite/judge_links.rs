//! The judges' sign-in links: per judge, the link's generation, the SHA-256
//! of its token and when it expires. Tokens themselves are never stored
//! (`crate::operator_secrets::link_key` derives them); a judge has at most one link, so
//! writing a new one retires the old. Here are the facts listing and
//! re-issuing read and the writes they apply (their rules:
//! `judging/ops/list_links.rs`, `reissue_link.rs`), and the lookup of a
//! presented token.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::judging_rows::{exists, Table};
use super::writer::Tx;
use super::{now_ms, Store, StoreError};
use crate::judging::ops::list_links::{self, ListLinks};
use crate::judging::ops::reissue_link::{self, ReissueLink};
use crate::secrets::{self, SecretHash};
use crate::store::runner::Storage;
use crate::store::traits::LinkRow;
use crate::store::LinkLookup;

/// Writes `judge`'s link of `generation` in place of the one it had.
fn write_link(
    tx: &Tx<'_>,
    judge: i64,
    generation: i64,
    token_hash: &SecretHash,
    expires_at: Option<i64>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO judge_links (judge_id, generation, token_hash, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (judge_id) DO UPDATE SET generation = excluded.generation,
           token_hash = excluded.token_hash, expires_at = excluded.expires_at,
           created_at = excluded.created_at",
    )?
    .execute(params![
        judge,
        generation,
        &token_hash[..],
        expires_at,
        now_ms()
    ])?;
    Ok(())
}

/// A listing's facts: each listed judge's stored link (the single writer
/// keeps them true until the writes).
impl Storage<ListLinks> for Tx<'_> {
    async fn load(&mut self, op: &ListLinks) -> Result<list_links::Facts, StoreError> {
        let mut select = self.prepare_cached(
            "SELECT generation, token_hash, expires_at FROM judge_links WHERE judge_id = ?1",
        )?;
        let mut stored = HashMap::new();
        for &judge in &op.judges {
            let found = select
                .query_row([judge], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            if let Some(link) = found {
                stored.insert(judge, link);
            }
        }
        Ok(list_links::Facts {
            stored,
            now: now_ms(),
        })
    }

    async fn apply(&mut self, _: &ListLinks, plan: &list_links::Plan) -> Result<(), StoreError> {
        for link in &plan.fresh {
            write_link(self, link.judge, link.generation, &link.token_hash, None)?;
        }
        Ok(())
    }
}

impl Storage<ReissueLink> for Tx<'_> {
    async fn load(&mut self, op: &ReissueLink) -> Result<reissue_link::Facts, StoreError> {
        Ok(reissue_link::Facts {
            judge_exists: exists(self, Table::Judges, op.judge)?,
            generation: self
                .prepare_cached("SELECT generation FROM judge_links WHERE judge_id = ?1")?
                .query_row([op.judge], |r| r.get(0))
                .optional()?,
        })
    }

    async fn apply(
        &mut self,
        op: &ReissueLink,
        plan: &reissue_link::Plan,
    ) -> Result<(), StoreError> {
        let hash = secrets::hash(&plan.token);
        write_link(self, op.judge, plan.generation, &hash, op.expires_at)
    }
}

impl Store {
    /// Whose current link `token` is, if anyone's.
    pub async fn judge_for_link(&self, token: String) -> Result<LinkLookup, StoreError> {
        let hash = secrets::hash(&token);
        self.read(move |conn| {
            let found: Option<(i64, Vec<u8>, Option<i64>)> = conn
                .prepare_cached(
                    "SELECT judge_id, token_hash, expires_at FROM judge_links WHERE token_hash = ?1",
                )?
                .query_row([&hash[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let row = found.as_ref().map(|(judge, token_hash, expires_at)| LinkRow {
                judge: *judge,
                token_hash,
                expires_at: *expires_at,
            });
            Ok(LinkLookup::of(&token, row, now_ms()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judging::error::JudgingError;
    use crate::judging::ops::list_links::CurrentLink;
    use crate::store::sqlite::test_support::with_ada;
    use crate::store::{Perform, WriteError};

    #[tokio::test]
    async fn a_new_link_retires_the_old_and_expiry_is_kept() {
        let (_dir, store, _changes) = with_ada().await;
        let (first, g1) = store
            .perform(ReissueLink::new(
                1,
                None,
                Box::new(|_, g| format!("token-{g}")),
            ))
            .await
            .unwrap();
        assert_eq!((first.as_str(), g1), ("token-1", 1));
        assert_eq!(
            store.judge_for_link(first.clone()).await.unwrap(),
            LinkLookup::Valid(1)
        );
        let (second, g2) = store
            .perform(ReissueLink::new(
                1,
                Some(1),
                Box::new(|_, g| format!("token-{g}")),
            ))
            .await
            .unwrap();
        assert_eq!(g2, 2);
        assert_eq!(
            store.judge_for_link(first.clone()).await.unwrap(),
            LinkLookup::Unknown
        );
        assert_eq!(
            store.judge_for_link(second.clone()).await.unwrap(),
            LinkLookup::Expired { judge: 1, at: 1 }
        );
        // Listing keeps a derivable live link and replaces an expired one.
        let token_for = |judge: i64, g: i64| {
            if judge == 1 {
                format!("token-{g}")
            } else {
                format!("other-{g}")
            }
        };
        let listed = store
            .perform(ListLinks::new(vec![1], Box::new(token_for)))
            .await
            .unwrap();
        assert_eq!(
            listed,
            [CurrentLink {
                judge_id: 1,
                token: "token-3".into(),
                expires_at: None,
                fresh: true
            }]
        );
        let again = store
            .perform(ListLinks::new(vec![1], Box::new(token_for)))
            .await
            .unwrap();
        assert_eq!(again[0].token, "token-3");
        assert!(!again[0].fresh);
        // A token that no longer derives (a new key) is replaced too.
        let rekeyed = store
            .perform(ListLinks::new(
                vec![1],
                Box::new(|_, g| format!("new-key-{g}")),
            ))
            .await
            .unwrap();
        assert_eq!(rekeyed[0].token, "new-key-4");
        assert!(matches!(
            store
                .perform(ReissueLink::new(9, None, Box::new(|_, g| g.to_string())))
                .await,
            Err(WriteError::Refused(JudgingError::NoSuchJudge(9)))
        ));
    }
}
