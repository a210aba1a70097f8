//! A write under its idempotency key on SQLite: in the writer's own
//! transaction, answer the key's stored outcome or run the job and store
//! its outcome beside the key (the rules: `store/idempotency.rs`).

use rusqlite::OptionalExtension;

use super::writer::Tx;
use super::Store;
use crate::store::idempotency::{
    self, encode, purge_due, replay, Keyed, KeyedJob, Refusal, Replay,
};
use crate::store::{now_ms, StoreError, WriteError};

impl Store {
    /// Runs a write job that a rule may refuse (`Ok(Err(refusal))` undoes
    /// its writes); under the request's idempotency key, if it has one:
    /// every judging and speed write passes here, so this is the one place
    /// keys are honoured on SQLite.
    pub(super) async fn keyed_write<T, R, F>(&self, f: F) -> Result<T, WriteError<R>>
    where
        T: Replay + Send + 'static,
        R: Refusal + Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<Result<T, R>, StoreError> + Send + 'static,
    {
        let answer = match idempotency::take() {
            None => self.try_write(f).await.map(Ok),
            Some(keyed) => self.try_write(move |tx| run(tx, keyed, f)).await,
        };
        idempotency::settle(answer)
    }
}

/// Runs job `f` under `keyed` in the SQLite writer's transaction: answers
/// the key's stored outcome if it has one, else runs `f` in a savepoint of
/// its own (a refusal undoes its writes but keeps the key) and stores its
/// outcome with the key.
pub(super) fn run<T, E, F>(tx: &mut Tx<'_>, keyed: Keyed, f: F) -> KeyedJob<T, E>
where
    T: Replay,
    E: Refusal,
    F: FnOnce(&mut Tx<'_>) -> Result<Result<T, E>, StoreError>,
{
    let found: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT fingerprint, outcome FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
        )?
        .query_row([&keyed.scope, &keyed.key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((fingerprint, outcome)) = found {
        return replay(&keyed, &fingerprint, Some(&outcome));
    }
    tx.prepare_cached("SAVEPOINT keyed_job")?.execute([])?;
    let published = tx.published_len();
    // A storage failure returns at once: the writer undoes the whole job, key and all.
    let outcome = f(tx)?;
    if outcome.is_err() {
        tx.prepare_cached("ROLLBACK TO keyed_job")?.execute([])?;
        tx.unpublish_to(published);
    }
    tx.prepare_cached("RELEASE keyed_job")?.execute([])?;
    let now = now_ms();
    tx.prepare_cached(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, outcome, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![
        keyed.scope,
        keyed.key,
        keyed.fingerprint,
        encode(&outcome)?,
        now
    ])?;
    if let Some(cutoff) = purge_due(now) {
        tx.prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")?
            .execute([cutoff])?;
    }
    Ok(Ok(outcome))
}

#[cfg(test)]
mod tests {
    use crate::judging::inputs::NewSuperlative;
    use crate::store::idempotency::{fingerprint, set_scope, with_claim, Claim, RETAIN_MS};
    use crate::store::now_ms;
    use crate::store::Perform;

    /// On SQLite: a keyed write answers its first answer to a repeat (the
    /// claim says it was replayed), and purges keys older than a day while
    /// keeping younger ones.
    #[tokio::test]
    async fn a_keyed_write_is_answered_again_and_purges_expired_keys() {
        use std::sync::Arc;

        use crate::metrics::Metrics;
        use crate::store::{Store, SyncMode};

        let dir = tempfile::tempdir().unwrap();
        let (store, _changes) =
            Store::open(dir.path(), SyncMode::Normal, Arc::new(Metrics::default())).unwrap();
        let now = now_ms();
        store
            .write(move |tx| {
                let mut insert = tx.prepare(
                    "INSERT INTO idempotency_keys (scope, key, fingerprint, outcome, created_at)
                     VALUES ('admin', ?1, 'f', '{}', ?2)",
                )?;
                insert.execute(rusqlite::params!["expired", now - RETAIN_MS - 1000])?;
                insert.execute(rusqlite::params!["young", now - RETAIN_MS + 600_000])?;
                Ok(())
            })
            .await
            .unwrap();
        let keyed = |name: &'static str| {
            let store = store.clone();
            async move {
                let claim = Claim::new("add-best".into(), fingerprint(&[name.as_bytes()]));
                let answer = with_claim(claim.clone(), async {
                    set_scope("admin".into());
                    store.perform(NewSuperlative::new(name)).await
                })
                .await;
                (answer, claim.replayed())
            }
        };
        let (first, replayed) = keyed("Best").await;
        let first = first.unwrap();
        assert!(!replayed);
        let (again, replayed) = keyed("Best").await;
        assert_eq!(again.unwrap(), first);
        assert!(replayed);
        let (other, _) = keyed("Other").await;
        assert!(matches!(other, Err(crate::store::WriteError::KeyReused(_))));

        let keys: Vec<String> = store
            .read(|c| {
                let mut s = c.prepare("SELECT key FROM idempotency_keys ORDER BY key")?;
                let rows = s.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(keys, ["add-best", "young"], "the expired key was purged");
        let superlatives = store.load_all().await.unwrap().superlatives;
        assert_eq!(superlatives.len(), 1, "added once");
        store.close();
    }
}
