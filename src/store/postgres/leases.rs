//! Node leases: how the cluster notices a dead node.
//!
//! Each node holds a row in `nodes` whose lease it renews every [`RENEW`];
//! a lease runs [`LEASE`] from its last renewal, timed by the database's
//! clock so nodes' clocks do not matter. Every node also reaps every
//! [`REAP`]: it deletes expired leases and releases the devices held by
//! nodes that no longer have one, publishing a `DISCONNECT` for each. So a
//! dead node's devices are announced disconnected within `LEASE + REAP`
//! (8 s) of its last renewal. A node that was cut off from the database for
//! longer than its lease hears its own devices released through the log,
//! and closes their connections so the devices register again.

use std::time::Duration;

use tokio_postgres::GenericClient;
use tokio_util::sync::CancellationToken;

use super::locks::{Advisory, Locks};
use super::{unreachable, PgStore};
use crate::scoring::{DeviceId, Holder};
use crate::store::changes::Change;
use crate::store::StoreError;

/// How long a lease lasts after its renewal.
pub const LEASE: Duration = Duration::from_secs(6);
/// How often a node renews its lease.
const RENEW: Duration = Duration::from_secs(2);
/// How often a node looks for dead nodes.
const REAP: Duration = Duration::from_secs(2);

impl PgStore {
    /// Takes (or renews) this node's lease.
    async fn renew_lease(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(unreachable)?;
        renew(&**client, self.node).await
    }

    /// Releases the devices of every node without a lease, logging each
    /// as disconnected.
    async fn reap(&self) -> Result<usize, StoreError> {
        self.write(Locks::exclusive(Advisory::Presence), |tx| {
            Box::pin(async move {
                tx.execute("DELETE FROM nodes WHERE lease_until < now()", &[])
                    .await?;
                let released = tx
                    .query(
                        "DELETE FROM device_presence p
                         WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = p.node)
                         RETURNING device_id, node, session",
                        &[],
                    )
                    .await?;
                for row in &released {
                    let holder = Holder {
                        node: row.get::<_, i64>(1) as u64,
                        session: row.get::<_, i64>(2) as u64,
                    };
                    let device = row.get::<_, i64>(0) as DeviceId;
                    tx.publish(Change::presence(device, holder, false));
                }
                Ok(released.len())
            })
        })
        .await
    }

    /// Gives up this node's lease and releases its devices at once (a clean
    /// stop), rather than leaving the others to wait for the lease to run out.
    pub(super) async fn leave(&self) {
        let left = async {
            let client = self.pool.get().await.map_err(unreachable)?;
            client
                .execute("DELETE FROM nodes WHERE id = $1", &[&(self.node as i64)])
                .await?;
            self.reap().await
        };
        if let Err(e) = left.await {
            tracing::warn!(error = %e, "could not give up this node's lease; the others will reap it");
        }
    }
}

/// Takes (or renews) `node`'s lease, through `client`.
pub(super) async fn renew(client: &impl GenericClient, node: u64) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO nodes (id, lease_until) VALUES ($1, now() + make_interval(secs => $2))
             ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until",
            &[&(node as i64), &LEASE.as_secs_f64()],
        )
        .await?;
    Ok(())
}

/// Takes this node's lease, then renews it and reaps dead nodes until `stop`.
pub(super) async fn start(store: PgStore, stop: CancellationToken) -> Result<(), StoreError> {
    store.renew_lease().await?;
    tokio::spawn(async move {
        let mut renew = tokio::time::interval(RENEW);
        let mut reap = tokio::time::interval(REAP);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            let outcome = tokio::select! {
                _ = stop.cancelled() => break,
                _ = renew.tick() => store.renew_lease().await.map(|_| 0),
                _ = reap.tick() => store.reap().await,
            };
            match outcome {
                Ok(released) => {
                    if std::mem::take(&mut failing) {
                        tracing::warn!("this node's lease is renewed again");
                    }
                    if released > 0 {
                        tracing::warn!(released, "devices of a dead node announced disconnected");
                    }
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::error!(error = %e, "cannot renew this node's lease; after {} s the other nodes will count it dead", LEASE.as_secs());
                }
                Err(_) => {}
            }
        }
    });
    Ok(())
}
