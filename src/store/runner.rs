//! Runs a write operation (judging, speed or clicker) on either engine:
//! load its facts, decide (the domain's pure rule: `judging/ops/`,
//! `speed/ops/`, `scoring/ops/`), apply the writes, publish the change. One
//! runner for both stores, so an operation's order of steps is written
//! once; each engine implements [`Storage`] for its transaction. The runner
//! runs inside the engine's write job, whose savepoint and idempotency key
//! (if the write takes one) wrap it.
//!
//! SQLite's transaction never waits, so on its writer thread the runner's
//! future is complete at its first poll ([`run_now`]); PostgreSQL's awaits.

use std::future::Future;

use futures_util::FutureExt;

use super::changes::{Change, HeatChange, Presence, Score};
use super::StoreError;
use crate::judging::model::DataStore;
use crate::judging::ops::Operation;

/// An engine's write transaction, which takes the changes its jobs publish
/// (numbered and logged at the commit).
pub trait Publish {
    fn publish(&mut self, change: Change);
}

/// What an operation tells every subscriber, published by the runner.
pub trait Published {
    fn publish_to(self, store: &mut impl Publish);
}

/// A judging diff (`None`: nothing a subscriber sees changed).
impl Published for Option<DataStore> {
    fn publish_to(self, store: &mut impl Publish) {
        if let Some(diff) = self {
            store.publish(Change::Judging(Box::new(diff)));
        }
    }
}

/// Speed heats that changed, in order.
impl Published for Vec<HeatChange> {
    fn publish_to(self, store: &mut impl Publish) {
        for change in self {
            store.publish(Change::Heat(change));
        }
    }
}

/// A device's connection took hold of its id or let go of it (`None`:
/// nothing changed).
impl Published for Option<Presence> {
    fn publish_to(self, store: &mut impl Publish) {
        if let Some(presence) = self {
            store.publish(Change::Presence(presence));
        }
    }
}

/// A stored clicker score (`None`: a retry, stored before).
impl Published for Option<Score> {
    fn publish_to(self, store: &mut impl Publish) {
        if let Some(score) = self {
            store.publish(Change::Score(score));
        }
    }
}

/// An engine's half of operation `Op`, in its write transaction: reading
/// the facts (taking whatever row locks the engine needs to keep them true
/// until the commit) and applying the plan.
pub trait Storage<Op: Operation>: Publish {
    fn load(&mut self, op: &Op) -> impl Future<Output = Result<Op::Facts, StoreError>>;
    fn apply(
        &mut self,
        op: &Op,
        plan: &Op::Plan,
    ) -> impl Future<Output = Result<Op::Written, StoreError>>;
}

/// Load, decide, apply, publish: the reply, or the rule's refusal (nothing
/// written).
pub async fn run<Op, S>(
    store: &mut S,
    op: &Op,
) -> Result<Result<Op::Reply, Op::Refusal>, StoreError>
where
    Op: Operation<Published: Published>,
    S: Storage<Op>,
{
    let facts = store.load(op).await?;
    let plan = match op.decide(facts) {
        Ok(plan) => plan,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let written = store.apply(op, &plan).await?;
    let (reply, published) = match op.finish(plan, written) {
        Ok(finished) => finished,
        Err(refusal) => return Ok(Err(refusal)),
    };
    published.publish_to(store);
    Ok(Ok(reply))
}

/// [`run`] on a store whose transaction never waits (SQLite's writer).
#[allow(clippy::type_complexity)]
pub fn run_now<Op, S>(store: &mut S, op: &Op) -> Result<Result<Op::Reply, Op::Refusal>, StoreError>
where
    Op: Operation<Published: Published>,
    S: Storage<Op>,
{
    run(store, op)
        .now_or_never()
        .expect("a SQLite transaction never waits")
}
