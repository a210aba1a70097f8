//! Idempotency keys in PostgreSQL (what they are: `crate::store::idempotency`).
//!
//! Nodes share the keys, and the table's primary key decides between two
//! nodes racing on one key: each job claims its key first, with
//! `INSERT ... ON CONFLICT DO NOTHING`, which waits for a claim another
//! transaction has not committed yet. When that one commits, the loser
//! finds its outcome and answers it; when it rolls back, the loser claims
//! the key and runs. The outcome is filled in before the same commit, so a
//! committed key always has one.

use super::locks::Locks;
use super::writer::PgTx;
use super::{PgFuture, PgStore};
use crate::store::idempotency::{
    self, encode, purge_due, replay, Keyed, KeyedJob, Refusal, Replay,
};
use crate::store::{now_ms, WriteError};

impl PgStore {
    /// Runs a write job that a rule may refuse, its batch holding `locks`:
    /// `Ok(Err(refusal))` from the job undoes its writes and answers
    /// [`WriteError::Refused`]. Under the request's idempotency key, if it
    /// has one: every judging and speed write passes here, so this is the
    /// one place keys are honoured on PostgreSQL.
    pub(super) async fn keyed_write<T, R, F>(&self, locks: Locks, f: F) -> Result<T, WriteError<R>>
    where
        T: Replay + Send + 'static,
        R: Refusal + Send + 'static,
        F: for<'a> FnOnce(&'a mut PgTx) -> PgFuture<'a, Result<T, R>> + Send + 'static,
    {
        let answer = match idempotency::take() {
            None => self.try_write(locks, f).await.map(Ok),
            Some(keyed) => {
                self.try_write(locks, move |tx| Box::pin(run(tx, keyed, f)))
                    .await
            }
        };
        idempotency::settle(answer)
    }
}

/// Runs job `f` under `keyed` in this node's write transaction:
/// answers the key's stored outcome if it has one, else runs `f` in a
/// savepoint of its own (a refusal undoes its writes but keeps the key) and
/// stores its outcome with the key.
pub(super) async fn run<T, E, F>(tx: &mut PgTx, keyed: Keyed, f: F) -> KeyedJob<T, E>
where
    T: Replay,
    E: Refusal,
    F: for<'a> FnOnce(&'a mut PgTx) -> super::PgFuture<'a, Result<T, E>>,
{
    let now = now_ms();
    let claim = tx
        .prepare_cached(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING RETURNING 1",
        )
        .await?;
    let claimed = tx
        .query_opt(
            &claim,
            &[&keyed.scope, &keyed.key, &keyed.fingerprint, &now],
        )
        .await?
        .is_some();
    if !claimed {
        let find = tx
            .prepare_cached(
                "SELECT fingerprint, outcome FROM idempotency_keys WHERE scope = $1 AND key = $2",
            )
            .await?;
        let row = tx.query_one(&find, &[&keyed.scope, &keyed.key]).await?;
        let fingerprint: String = row.get(0);
        let outcome: Option<String> = row.get(1);
        return replay(&keyed, &fingerprint, outcome.as_deref());
    }
    tx.batch_execute("SAVEPOINT keyed_job").await?;
    let published = tx.published_len();
    // A storage failure returns at once: the writer undoes the whole job, key and all.
    let outcome = f(tx).await?;
    if outcome.is_err() {
        tx.batch_execute("ROLLBACK TO SAVEPOINT keyed_job").await?;
        tx.unpublish_to(published);
    }
    tx.batch_execute("RELEASE SAVEPOINT keyed_job").await?;
    let store = tx
        .prepare_cached("UPDATE idempotency_keys SET outcome = $3 WHERE scope = $1 AND key = $2")
        .await?;
    tx.execute(&store, &[&keyed.scope, &keyed.key, &encode(&outcome)?])
        .await?;
    if let Some(cutoff) = purge_due(now) {
        let purge = tx
            .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < $1")
            .await?;
        tx.execute(&purge, &[&cutoff]).await?;
    }
    Ok(Ok(outcome))
}
