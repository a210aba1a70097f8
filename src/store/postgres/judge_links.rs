//! The judges' sign-in links in PostgreSQL, with the same rules as SQLite's
//! (`crate::store::judge_links`): per judge, the link's generation, the
//! SHA-256 of its token and when it expires; a new link retires the old.
//!
//! Across nodes: a judge's link is read and written under a lock of the
//! judge's row (`FOR NO KEY UPDATE`, which leaves the foreign-key checks of
//! ratings and the like unblocked), taken in id order, so two organisers
//! listing or replacing links on two nodes take turns, and the second sees
//! the first's link rather than retiring it.

use std::collections::HashMap;

use super::judging_rows::{prepare_all, query_with};
use super::locks::Locks;
use super::PgStore;
use crate::judging::error::JudgingError;
use crate::secrets;
use crate::store::traits::{LinkRow, LinkToken, LinkTokens};
use crate::store::{now_ms, CurrentLink, LinkLookup, StoreError, WriteError};

/// Writes a judge's link ($1) of generation $2, token hash $3, expiry $4,
/// made at $5, in place of the one it had.
const WRITE_LINK: &str =
    "INSERT INTO judge_links (judge_id, generation, token_hash, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (judge_id) DO UPDATE SET generation = excluded.generation,
       token_hash = excluded.token_hash, expires_at = excluded.expires_at,
       created_at = excluded.created_at";

/// A judge's stored link: generation, token hash, expiry.
type Stored = (i64, Vec<u8>, Option<i64>);

impl PgStore {
    /// The current link of each of `judges`, as (judge, token, expiry):
    /// the stored one where `token_for(judge, generation)` still gives its
    /// token and it has not expired, else a new one of the next generation
    /// (no expiry).
    pub async fn current_judge_links(
        &self,
        judges: Vec<i64>,
        token_for: LinkTokens,
    ) -> Result<Vec<CurrentLink>, WriteError> {
        // Each judge's row covers its links; locked again below, at no
        // cost, so the rows are known to be held where the code reads them.
        self.judging_write(Locks::none().judges(judges.clone()), move |tx| {
            Box::pin(async move {
                let [lock, select, write] = prepare_all(
                    tx,
                    [
                        "SELECT id FROM judges WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
                        "SELECT judge_id, generation, token_hash, expires_at FROM judge_links
                         WHERE judge_id = ANY($1)",
                        WRITE_LINK,
                    ],
                )
                .await?;
                tx.execute(&lock, &[&judges]).await?;
                let mut stored: HashMap<i64, Stored> = tx
                    .query(&select, &[&judges])
                    .await?
                    .iter()
                    .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
                    .collect();
                let now = now_ms();
                let mut links = Vec::with_capacity(judges.len());
                // (judge, generation, token hash) of each new link.
                let mut fresh: Vec<(i64, i64, Vec<u8>)> = Vec::new();
                for judge in judges {
                    let found = stored.get(&judge).map(|(g, hash, at)| (*g, &hash[..], *at));
                    let link = match CurrentLink::kept(judge, found, &token_for, now) {
                        Some(kept) => kept,
                        None => {
                            let generation = stored.get(&judge).map_or(0, |s| s.0) + 1;
                            let token = token_for(judge, generation);
                            let hash = secrets::hash(&token).to_vec();
                            stored.insert(judge, (generation, hash.clone(), None));
                            fresh.push((judge, generation, hash));
                            CurrentLink {
                                judge_id: judge,
                                token,
                                expires_at: None,
                                fresh: true,
                            }
                        }
                    };
                    links.push(link);
                }
                let none: Option<i64> = None;
                futures_util::future::try_join_all(fresh.iter().map(
                    |(judge, generation, hash)| {
                        query_with(tx, &write, [judge, generation, hash, &none, &now])
                    },
                ))
                .await?;
                Ok(Ok(links))
            })
        })
        .await
    }

    /// Gives `judge` a link of the next generation, with the token `token_for`
    /// makes for that generation, and returns the token. The old link stops
    /// working when this returns (it is durable by then).
    pub async fn replace_judge_link(
        &self,
        judge: i64,
        token_for: LinkToken,
        expires_at: Option<i64>,
    ) -> Result<(String, i64), WriteError> {
        self.judging_write(Locks::none().judges([judge]), move |tx| {
            Box::pin(async move {
                let [lock, select, write] = prepare_all(
                    tx,
                    [
                        "SELECT 1 FROM judges WHERE id = $1 FOR NO KEY UPDATE",
                        "SELECT generation FROM judge_links WHERE judge_id = $1",
                        WRITE_LINK,
                    ],
                )
                .await?;
                if tx.query_opt(&lock, &[&judge]).await?.is_none() {
                    return Ok(Err(JudgingError::NoSuchJudge(judge)));
                }
                let generation = tx
                    .query_opt(&select, &[&judge])
                    .await?
                    .map_or(0, |r| r.get::<_, i64>(0))
                    + 1;
                let token = token_for(generation);
                tx.execute(
                    &write,
                    &[
                        &judge,
                        &generation,
                        &&secrets::hash(&token)[..],
                        &expires_at,
                        &now_ms(),
                    ],
                )
                .await?;
                Ok(Ok((token, generation)))
            })
        })
        .await
    }

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
    use crate::store::postgres::test_support::{fresh_database, node, open};
    use crate::store::Perform;

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
            .replace_judge_link(1, Box::new(|g| format!("token-{g}")), None)
            .await
            .unwrap();
        assert_eq!((first.as_str(), g1), ("token-1", 1));
        assert_eq!(
            store.judge_for_link(first.clone()).await.unwrap(),
            LinkLookup::Valid(1)
        );
        let (second, g2) = store
            .replace_judge_link(1, Box::new(|g| format!("token-{g}")), Some(1))
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
            .current_judge_links(vec![1], Box::new(token_for))
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
            .current_judge_links(vec![1], Box::new(token_for))
            .await
            .unwrap();
        assert_eq!(again[0].token, "token-3");
        assert!(!again[0].fresh);
        // A token that no longer derives (a new key) is replaced too.
        let rekeyed = store
            .current_judge_links(vec![1], Box::new(|_, g| format!("new-key-{g}")))
            .await
            .unwrap();
        assert_eq!(rekeyed[0].token, "new-key-4");
        assert_eq!(
            store.judge_for_link("new-key-4".into()).await.unwrap(),
            LinkLookup::Valid(1)
        );
        assert!(matches!(
            store
                .replace_judge_link(9, Box::new(|g| g.to_string()), None)
                .await,
            Err(WriteError::Refused(JudgingError::NoSuchJudge(9)))
        ));
        assert!(matches!(
            store
                .current_judge_links(vec![9], Box::new(|_, g| g.to_string()))
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
            a.current_judge_links(judges.clone(), token_for()),
            b.current_judge_links(judges.iter().rev().copied().collect(), token_for())
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
