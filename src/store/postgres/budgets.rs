//! Wrong-guess budgets in PostgreSQL, shared by every node: one row per
//! budget (an address, or a judge at an address) with its level and when
//! it was last brought up to date. A wrong guess is one statement that
//! refills the row to the database's clock, takes the guess and returns
//! the level, so guesses from many nodes at once are counted each once.
//! Each change takes a number from one sequence, so a node keeps the
//! latest of the levels it hears. Rows whose bucket is full again say
//! nothing and are deleted ([`PgStore::forget_full_budgets`]).
//!
//! These statements run on the read pool, outside the group-commit writer:
//! they are not part of the change log and need no batch.

use std::time::Duration;

use super::PgStore;
use crate::store::budgets::{Level, SharedBudgets, Spend};
use crate::store::traits::StoreFuture;
use crate::store::StoreError;

/// A row's level as of now: what refilled since `at`, up to the burst.
const LEVEL_NOW: &str = "LEAST(burst, guesses_left
     + GREATEST(0, EXTRACT(EPOCH FROM now() - at)::float8) * per_hour / 3600.0)";

impl PgStore {
    /// Takes one guess from each budget; returns their levels after it.
    pub async fn spend_budgets(&self, spends: Vec<Spend>) -> Result<Vec<Level>, StoreError> {
        let keys: Vec<String> = spends.iter().map(|s| s.key.clone()).collect();
        let bursts: Vec<f64> = spends.iter().map(|s| f64::from(s.burst)).collect();
        let rates: Vec<f64> = spends.iter().map(|s| f64::from(s.per_hour)).collect();
        let rows = self
            .read(move |client| {
                Box::pin(async move {
                    // Rows are locked in the order given (a judge's before its
                    // address's), the same on every node: no deadlock.
                    Ok(client
                        .query(
                            "INSERT INTO guess_budgets AS b
                                 (key, burst, per_hour, guesses_left, at, version)
                             SELECT key, burst, per_hour, burst - 1, now(),
                                    nextval('guess_budget_versions')
                             FROM unnest($1::text[], $2::float8[], $3::float8[])
                                  WITH ORDINALITY AS s(key, burst, per_hour, n)
                             ORDER BY n
                             ON CONFLICT (key) DO UPDATE SET
                                 guesses_left = LEAST(excluded.burst, b.guesses_left
                                     + GREATEST(0, EXTRACT(EPOCH FROM now() - b.at)::float8)
                                       * excluded.per_hour / 3600.0) - 1,
                                 at = GREATEST(b.at, now()),
                                 burst = excluded.burst,
                                 per_hour = excluded.per_hour,
                                 version = excluded.version
                             RETURNING key, guesses_left, version",
                            &[&keys, &bursts, &rates],
                        )
                        .await?)
                })
            })
            .await?;
        Ok(rows.iter().map(level).collect())
    }

    /// The levels of budgets spent within `within` (all with `None`).
    pub async fn spent_budget_levels(
        &self,
        within: Option<Duration>,
    ) -> Result<Vec<Level>, StoreError> {
        let rows = self
            .read(move |client| {
                Box::pin(async move {
                    Ok(match within {
                        Some(within) => {
                            let ms = within.as_millis() as f64;
                            client
                                .query(
                                    &format!(
                                        "SELECT key, {LEVEL_NOW}, version FROM guess_budgets
                                         WHERE at > now() - $1 * interval '1 millisecond'"
                                    ),
                                    &[&ms],
                                )
                                .await?
                        }
                        None => {
                            client
                                .query(
                                    &format!("SELECT key, {LEVEL_NOW}, version FROM guess_budgets"),
                                    &[],
                                )
                                .await?
                        }
                    })
                })
            })
            .await?;
        Ok(rows.iter().map(level).collect())
    }

    /// Deletes the budgets that are full again; returns how many.
    ///
    /// It skips a row a guess is spending at that moment (which is not full
    /// for long), so it never waits for a lock: a plain `DELETE` took its
    /// rows in the table's order while a guess takes a judge's row and then
    /// its address's, and the two could deadlock, costing the guess its
    /// cluster-wide count.
    pub async fn forget_full_budgets(&self) -> Result<u64, StoreError> {
        self.read(|client| {
            Box::pin(async move {
                Ok(client
                    .execute(
                        &format!(
                            "DELETE FROM guess_budgets WHERE key IN (
                                 SELECT key FROM guess_budgets WHERE {LEVEL_NOW} >= burst
                                 FOR UPDATE SKIP LOCKED)"
                        ),
                        &[],
                    )
                    .await?)
            })
        })
        .await
    }
}

fn level(row: &tokio_postgres::Row) -> Level {
    Level {
        key: row.get(0),
        left: row.get(1),
        version: row.get(2),
    }
}

impl SharedBudgets for PgStore {
    fn spend(&self, spends: Vec<Spend>) -> StoreFuture<'_, Result<Vec<Level>, StoreError>> {
        Box::pin(self.spend_budgets(spends))
    }

    fn spent_levels(
        &self,
        within: Option<Duration>,
    ) -> StoreFuture<'_, Result<Vec<Level>, StoreError>> {
        Box::pin(self.spent_budget_levels(within))
    }

    fn forget_full(&self) -> StoreFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.forget_full_budgets())
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use tokio_util::sync::CancellationToken;

    use super::super::test_support::{fresh_database, node, other_node};
    use crate::core::throttle::{Throttle, ADDRESS, JUDGE};
    use crate::store::budgets::{SharedBudgets, Spend};

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    /// Fails `n` attempts one after another, each answered once recorded;
    /// returns how many were admitted.
    async fn fail(t: &Throttle, ip: IpAddr, judge: Option<i64>, n: u32) -> u32 {
        let mut admitted = 0;
        for _ in 0..n {
            if let Ok(attempt) = t.admit(ip, judge, Instant::now()) {
                attempt.failed().recorded().await;
                admitted += 1;
            }
        }
        admitted
    }

    /// Waits (generously: the machine may be loaded) until `t` refuses
    /// `ip`, trying right answers, which cost nothing.
    async fn until_refused(t: &Throttle, ip: IpAddr, judge: Option<i64>) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match t.admit(ip, judge, Instant::now()) {
                Err(_) => return true,
                Ok(right) => drop(right),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn wrong_guesses_through_one_node_spend_the_others_budget() {
        let Some(url) = fresh_database("budgets across nodes").await else {
            return;
        };
        let ((a, _), (b, _)) = (node(&url).await, node(&url).await);
        let shutdown = CancellationToken::new();
        let on_a = Throttle::cluster(Arc::new(a.clone()), shutdown.clone());
        let on_b = Throttle::cluster(Arc::new(b.clone()), shutdown.clone());
        // Half the address's budget through A, then as many as B admits:
        // together, the one budget (and what refilled meanwhile), not two.
        let started = Instant::now();
        let half = ADDRESS.burst / 2;
        assert_eq!(fail(&on_a, IP, None, half).await, half);
        let on_b_admitted = fail(&on_b, IP, None, ADDRESS.burst).await;
        let allowed = ADDRESS.allows(started.elapsed()) as u32;
        assert!(
            (ADDRESS.burst - half..=allowed - half).contains(&on_b_admitted),
            "B admitted {on_b_admitted} after A's {half} (the budget allows {allowed})"
        );
        // B refuses at once; A within a read of the levels B spent.
        assert!(on_b.admit(IP, None, Instant::now()).is_err());
        assert!(until_refused(&on_a, IP, None).await, "A never refused");
        // Another address, and right answers, are untouched.
        assert!(on_a.admit(OTHER, Some(1), Instant::now()).is_ok());
        assert!(on_b.admit(OTHER, Some(1), Instant::now()).is_ok());

        // A judge's budget: spent on A, B refuses that judge (and only it)
        // once it reads the level, though B never saw a guess for it.
        assert_eq!(fail(&on_a, OTHER, Some(7), 50).await, JUDGE.burst);
        assert!(
            until_refused(&on_b, OTHER, Some(7)).await,
            "B never refused judge 7"
        );
        let refused = on_b.admit(OTHER, Some(7), Instant::now()).unwrap_err();
        assert_eq!(refused.judge, Some(7));
        assert!(on_b.admit(OTHER, Some(8), Instant::now()).is_ok());
        shutdown.cancel();
        a.close().await;
        b.close().await;
    }

    #[tokio::test]
    async fn guesses_sent_at_once_from_two_nodes_are_each_counted() {
        let Some(url) = fresh_database("budgets spent at once").await else {
            return;
        };
        let ((a, _), (b, _)) = (node(&url).await, node(&url).await);
        let spend = |store: crate::store::PgStore| async move {
            let mut lefts = Vec::new();
            for _ in 0..100 {
                let levels = store
                    .spend(vec![Spend {
                        key: "a 10.0.0.9".into(),
                        burst: 300,
                        per_hour: 300,
                    }])
                    .await
                    .unwrap();
                lefts.push(levels[0].left);
            }
            lefts
        };
        let (from_a, from_b) = tokio::join!(spend(a.clone()), spend(b.clone()));
        let lowest = from_a
            .iter()
            .chain(&from_b)
            .fold(f64::MAX, |m, l| m.min(*l));
        // 200 guesses from 300: 100 left, give or take the refill meanwhile.
        assert!((100.0..102.0).contains(&lowest), "{lowest}");
        // Each level came back once: no two guesses were counted as one.
        let mut all: Vec<i64> = from_a
            .iter()
            .chain(&from_b)
            .map(|l| l.floor() as i64)
            .collect();
        all.sort();
        all.dedup();
        assert!(all.len() >= 190, "{} distinct levels", all.len());
        // A full bucket is forgotten; a spent one is kept.
        let levels = a.spent_levels(None).await.unwrap();
        assert_eq!(levels.len(), 1);
        assert_eq!(a.forget_full().await.unwrap(), 0);
        a.spend(vec![Spend {
            key: "a 10.0.0.10".into(),
            burst: 1,
            per_hour: 3_600_000,
        }])
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(a.forget_full().await.unwrap(), 1);
        a.close().await;
        b.close().await;
    }

    /// Forgetting full budgets skips a row a guess holds, rather than wait
    /// for it (and risk a deadlock with a guess taking two rows).
    #[tokio::test]
    async fn forgetting_full_budgets_waits_for_no_guess() {
        let Some(url) = fresh_database("forgetting full budgets waits for no guess").await else {
            return;
        };
        let (store, _) = node(&url).await;
        let full_again = |key: &str| Spend {
            key: key.into(),
            burst: 1,
            per_hour: 3_600_000,
        };
        store
            .spend(vec![full_again("j 1 10.0.0.1"), full_again("a 10.0.0.1")])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Another node's guess holds the judge's row, in its transaction.
        let guess = other_node(&url).await;
        guess
            .batch_execute("SELECT 1 FROM guess_budgets WHERE key = 'j 1 10.0.0.1' FOR UPDATE")
            .await
            .unwrap();
        let forgot = tokio::time::timeout(Duration::from_secs(10), store.forget_full()).await;
        assert_eq!(
            forgot
                .expect("forgetting waited for the guess's row")
                .unwrap(),
            1,
            "the free full row is forgotten, the held one kept"
        );
        guess.batch_execute("ROLLBACK").await.unwrap();
        assert_eq!(store.forget_full().await.unwrap(), 1);
        store.close().await;
    }
}
