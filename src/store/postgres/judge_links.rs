//! The judges' sign-in links in PostgreSQL, with the same rules as SQLite's
//! (`crate::store::judge_links`): per judge, the link's generation, the
//! SHA-256 of its token and when it expires; a new link retires the old.
//! Here are the facts listing and re-issuing read and the writes they
//! apply (their rules: `judging/ops/list_links.rs`, `reissue_link.rs`).
//!
//! Across nodes: a judge's link is read and written under a lock of the
//! judge's row (`FOR NO KEY UPDATE`, which leaves the foreign-key checks of
//! ratings and the like unblocked), taken in id order, so two organisers
//! listing or replacing links on two nodes take turns, and the second sees
//! the first's link rather than retiring it.

use std::collections::HashMap;

use futures_util::future::try_join_all;

use super::judging_rows::{prepare_all, query_with};
use super::locks::Locks;
use super::perform::PgOperation;
use super::writer::PgTx;
use super::{PgFuture, PgStore};
use crate::judging::error::JudgingError;
use crate::judging::ops::list_links::{self, CurrentLink, ListLinks, StoredLink};
use crate::judging::ops::reissue_link::{self, ReissueLink};
use crate::secrets;
use crate::store::runner::{self, Storage};
use crate::store::traits::LinkRow;
use crate::store::{now_ms, LinkLookup, StoreError};

/// Writes a judge's link ($1) of generation $2, token hash $3, expiry $4,
/// made at $5, in place of the one it had.
const WRITE_LINK: &str =
    "INSERT INTO judge_links (judge_id, generation, token_hash, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (judge_id) DO UPDATE SET generation = excluded.generation,
       token_hash = excluded.token_hash, expires_at = excluded.expires_at,
       created_at = excluded.created_at";

/// A listing's facts: each listed judge's stored link, read once the
/// judges' rows are locked (in id order) so no other node's listing or
/// re-issue changes them until the commit.
impl Storage<ListLinks> for PgTx {
    async fn load(&mut self, op: &ListLinks) -> Result<list_links::Facts, StoreError> {
        let [lock, select] = prepare_all(
            self,
            [
                "SELECT id FROM judges WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
                "SELECT judge_id, generation, token_hash, expires_at FROM judge_links
                 WHERE judge_id = ANY($1)",
            ],
        )
        .await?;
        self.execute(&lock, &[&op.judges]).await?;
        let stored: HashMap<i64, StoredLink> = self
            .query(&select, &[&op.judges])
            .await?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
            .collect();
        Ok(list_links::Facts {
            stored,
            now: now_ms(),
        })
    }

    /// The new links go out pipelined.
    async fn apply(&mut self, _: &ListLinks, plan: &list_links::Plan) -> Result<(), StoreError> {
        let tx: &PgTx = self;
        let write = tx.prepare_cached(WRITE_LINK).await?;
        let (none, now): (Option<i64>, i64) = (None, now_ms());
        let hashes: Vec<&[u8]> = plan.fresh.iter().map(|l| &l.token_hash[..]).collect();
        try_join_all(plan.fresh.iter().zip(&hashes).map(|(link, hash)| {
            query_with(
                tx,
                &write,
                [&link.judge, &link.generation, hash, &none, &now],
            )
        }))
        .await?;
        Ok(())
    }
}

/// The listed judges' rows cover their links.
impl PgOperation for ListLinks {
    fn locks(&self) -> Locks {
        Locks::none().judges(self.judges.clone())
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Vec<CurrentLink>, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

/// Re-issuing's facts: the judge's row, locked (which also says it
/// exists), and its link's generation.
impl Storage<ReissueLink> for PgTx {
    async fn load(&mut self, op: &ReissueLink) -> Result<reissue_link::Facts, StoreError> {
        let [lock, select] = prepare_all(
            self,
            [
                "SELECT 1 FROM judges WHERE id = $1 FOR NO KEY UPDATE",
                "SELECT generation FROM judge_links WHERE judge_id = $1",
            ],
        )
        .await?;
        let judge_exists = self.query_opt(&lock, &[&op.judge]).await?.is_some();
        let generation = self
            .query_opt(&select, &[&op.judge])
            .await?
            .map(|r| r.get(0));
        Ok(reissue_link::Facts {
            judge_exists,
            generation,
        })
    }

    async fn apply(
        &mut self,
        op: &ReissueLink,
        plan: &reissue_link::Plan,
    ) -> Result<(), StoreError> {
        let write = self.prepare_cached(WRITE_LINK).await?;
        let hash = secrets::hash(&plan.token);
        self.execute(
            &write,
            &[
                &op.judge,
                &plan.generation,
                &&hash[..],
                &op.expires_at,
                &now_ms(),
            ],
        )
        .await?;
        Ok(())
    }
}

impl PgOperation for ReissueLink {
    fn locks(&self) -> Locks {
        Locks::none().judges([self.judge])
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<(String, i64), JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgStore {
    /// Whose current link `token` is, if anyone's.
    pub async fn judge_for_link(&self, token: String) -> Result<LinkLookup, StoreError> {
        let hash = secrets::hash(&token);
        self.read(move |client| {
            Box::pin(async move {
                let select = client
                    .prepare_cached(
                        "SELECT judge_id, token_hash, expires_at FROM judge_links
                         WHERE token_hash = $1",
                    )
                    .await?;
                let found = client.query_opt(&select, &[&&hash[..]]).await?;
                let row = found.as_ref().map(|r| LinkRow {
                    judge: r.get(0),
                    token_hash: r.get(1),
                    expires_at: r.get(2),
                });
                Ok(LinkLookup::of(&token, row, now_ms()))
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judging::inputs::NewJudge;
    use crate::judging::ops::list_links::LinkTokens;
    use crate::store::postgres::test_support::{fresh_database, node, open};
    use crate::store::{Perform, WriteError};

    async fn ada(store: &PgStore) {
        store
            .perform(NewJudge {
                name: "Ada".into(),
                email: "ada@example.org".into(),
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_new_link_retires_the_old_and_expiry_is_kept() {
        let Some((store, mut feed)) = open("a_new_link_retires_the_old_and_expiry_is_kept").await
        else {
            return;
        };
        ada(&store).await;
        feed.diffs(&store).await;
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
        assert_eq!(
            store.judge_for_link("new-key-4".into()).await.unwrap(),
            LinkLookup::Valid(1)
        );
        assert!(matches!(
            store
                .perform(ReissueLink::new(9, None, Box::new(|_, g| g.to_string())))
                .await,
            Err(WriteError::Refused(JudgingError::NoSuchJudge(9)))
        ));
        assert!(matches!(
            store
                .perform(ListLinks::new(vec![9], Box::new(|_, g| g.to_string())))
                .await,
            Err(WriteError::Store(_))
        ));
        feed.quiet(&store).await;
    }

    /// Two organisers listing links on two nodes at once get the same
    /// links: neither retires the other's fresh one.
    #[tokio::test]
    async fn nodes_listing_links_at_once_agree() {
        let Some(url) = fresh_database("nodes_listing_links_at_once_agree").await else {
            return;
        };
        let ((a, _), (b, _)) = (node(&url).await, node(&url).await);
        for i in 0..20 {
            a.perform(NewJudge {
                name: format!("J{i}"),
                email: format!("j{i}@example.org"),
            })
            .await
            .unwrap();
        }
        let judges: Vec<i64> = (1..=20).collect();
        let token_for = || -> LinkTokens { Box::new(|judge, g| format!("t-{judge}-{g}")) };
        let (one, two) = tokio::join!(
            a.perform(ListLinks::new(judges.clone(), token_for())),
            b.perform(ListLinks::new(
                judges.iter().rev().copied().collect(),
                token_for()
            ))
        );
        let (one, mut two) = (one.unwrap(), two.unwrap());
        two.reverse();
        for (x, y) in one.iter().zip(&two) {
            assert_eq!((x.judge_id, &x.token), (y.judge_id, &y.token));
            assert_eq!(x.token, format!("t-{}-1", x.judge_id));
            assert!(x.fresh != y.fresh, "exactly one listing issued it");
        }
    }
}
