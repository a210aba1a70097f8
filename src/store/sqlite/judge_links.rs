//! The judges' sign-in links: per judge, the link's generation, the SHA-256
//! of its token and when it expires. Tokens themselves are never stored
//! (`crate::operator_secrets::link_key` derives them); a judge has at most one link, so
//! writing a new one retires the old.

use crate::store::traits::LinkRow;
use crate::store::{CurrentLink, LinkLookup};
use rusqlite::{params, OptionalExtension};

use super::writer::Tx;
use super::{now_ms, Store, StoreError};
use crate::judging::error::JudgingError;
use crate::secrets;
use crate::store::WriteError;

/// Writes `judge`'s link of the next generation; returns (token, generation).
fn write_next(
    tx: &Tx<'_>,
    judge: i64,
    token_for: impl Fn(i64, i64) -> String,
    expires_at: Option<i64>,
) -> Result<(String, i64), StoreError> {
    let generation: i64 = tx
        .prepare_cached("SELECT generation FROM judge_links WHERE judge_id = ?1")?
        .query_row([judge], |r| r.get(0))
        .optional()?
        .unwrap_or(0)
        + 1;
    let token = token_for(judge, generation);
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
        &secrets::hash(&token)[..],
        expires_at,
        now_ms()
    ])?;
    Ok((token, generation))
}

impl Store {
    /// The current link of each of `judges`, as (judge, token, expiry):
    /// the stored one where `token_for(judge, generation)` still gives its
    /// token and it has not expired, else a new one of the next generation
    /// (no expiry). One transaction, so two organisers listing at once
    /// cannot retire each other's fresh links.
    pub async fn current_judge_links<F>(
        &self,
        judges: Vec<i64>,
        token_for: F,
    ) -> Result<Vec<CurrentLink>, WriteError>
    where
        F: Fn(i64, i64) -> String + Send + 'static,
    {
        self.judging_write(move |tx| {
            let now = now_ms();
            let mut links = Vec::with_capacity(judges.len());
            for judge in judges {
                let stored: Option<(i64, Vec<u8>, Option<i64>)> = tx
                    .prepare_cached(
                        "SELECT generation, token_hash, expires_at FROM judge_links WHERE judge_id = ?1",
                    )?
                    .query_row([judge], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let stored = stored.as_ref().map(|(g, hash, at)| (*g, &hash[..], *at));
                let link = match CurrentLink::kept(judge, stored, &token_for, now) {
                    Some(kept) => kept,
                    None => CurrentLink {
                        judge_id: judge,
                        token: write_next(tx, judge, &token_for, None)?.0,
                        expires_at: None,
                        fresh: true,
                    },
                };
                links.push(link);
            }
            Ok(Ok(links))
        })
        .await
    }

    /// Gives `judge` a link of the next generation, with the token `token_for`
    /// makes for that generation, and returns the token. The old link stops
    /// working when this returns (it is durable by then).
    pub async fn replace_judge_link<F>(
        &self,
        judge: i64,
        token_for: F,
        expires_at: Option<i64>,
    ) -> Result<(String, i64), WriteError>
    where
        F: Fn(i64) -> String + Send + 'static,
    {
        self.judging_write(move |tx| {
            let known = tx
                .prepare_cached("SELECT 1 FROM judges WHERE id = ?1")?
                .query_row([judge], |_| Ok(()))
                .optional()?
                .is_some();
            if !known {
                return Ok(Err(JudgingError::NoSuchJudge(judge)));
            }
            Ok(Ok(write_next(tx, judge, |_, g| token_for(g), expires_at)?))
        })
        .await
    }

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
    use crate::store::sqlite::test_support::with_ada;

    #[tokio::test]
    async fn a_new_link_retires_the_old_and_expiry_is_kept() {
        let (_dir, store, _changes) = with_ada().await;
        let (first, g1) = store
            .replace_judge_link(1, |g| format!("token-{g}"), None)
            .await
            .unwrap();
        assert_eq!((first.as_str(), g1), ("token-1", 1));
        assert_eq!(
            store.judge_for_link(first.clone()).await.unwrap(),
            LinkLookup::Valid(1)
        );
        let (second, g2) = store
            .replace_judge_link(1, |g| format!("token-{g}"), Some(1))
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
        let listed = store.current_judge_links(vec![1], token_for).await.unwrap();
        assert_eq!(
            listed,
            [CurrentLink {
                judge_id: 1,
                token: "token-3".into(),
                expires_at: None,
                fresh: true
            }]
        );
        let again = store.current_judge_links(vec![1], token_for).await.unwrap();
        assert_eq!(again[0].token, "token-3");
        assert!(!again[0].fresh);
        // A token that no longer derives (a new key) is replaced too.
        let rekeyed = store
            .current_judge_links(vec![1], |_, g| format!("new-key-{g}"))
            .await
            .unwrap();
        assert_eq!(rekeyed[0].token, "new-key-4");
        assert!(matches!(
            store.replace_judge_link(9, |g| g.to_string(), None).await,
            Err(WriteError::Refused(JudgingError::NoSuchJudge(9)))
        ));
    }
}
