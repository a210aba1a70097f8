//! Wrong-guess budgets shared by the nodes of a cluster: the interface the
//! core's throttle (`crate::core::throttle`) records wrong guesses through
//! and learns the other nodes' from. PostgreSQL implements it
//! (`super::postgres`); a single SQLite node needs none, its throttle
//! counting in memory.

use std::time::Duration;

use super::traits::StoreFuture;
use super::StoreError;

/// One wrong guess against one budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    /// What the budget counts (an address, or a judge at an address).
    pub key: String,
    pub burst: u32,
    pub per_hour: u32,
}

/// A budget's cluster-wide level.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub key: String,
    /// Wrong guesses left as of the read, refill included: below zero when
    /// nodes together overdrew it (the overdraft refills first).
    pub left: f64,
    /// Orders the levels of one key: a larger version is a later level.
    pub version: i64,
}

/// Budgets every node spends from.
pub trait SharedBudgets: Send + Sync {
    /// Records one wrong guess against each budget in one atomic statement;
    /// returns each budget's level after it.
    fn spend(&self, spends: Vec<Spend>) -> StoreFuture<'_, Result<Vec<Level>, StoreError>>;
    /// The levels of the budgets any node spent from within `within`, or of
    /// every budget not yet full again with `None`.
    fn spent_levels(
        &self,
        within: Option<Duration>,
    ) -> StoreFuture<'_, Result<Vec<Level>, StoreError>>;
    /// Forgets the budgets that have refilled; returns how many.
    fn forget_full(&self) -> StoreFuture<'_, Result<u64, StoreError>>;
}
