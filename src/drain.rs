//! The graceful stop a rolling restart needs (SIGTERM), in its order:
//!
//! 1. **Draining**: `/healthz` answers 503 ("draining"), so the balancer's
//!    health checks take the node out; everything else is served as
//!    before for the drain delay (`--drain-delay-secs`), long enough for
//!    those checks to see it, so clients told to reconnect in step 2 are
//!    not sent straight back here.
//! 2. **Closing**: the node stops accepting connections and takes no new
//!    request; what clients already sent is answered (a clicker's SCOREs
//!    awaiting commit get their `SCORED`, a socket.io request its
//!    acknowledgement), then each client is told to reconnect: a clicker
//!    by close code 1012 (Service Restart), a socket.io client by the close
//!    of its engine.io connection (it reconnects by itself), an event
//!    stream by its end (`EventSource` reconnects by itself).
//! 3. Storage commits what is queued and closes; the process exits 0.
//!
//! [`Drain`] holds the two signals; `crate::server` acts on them, `main`
//! decides when (docs/cluster.md, "Upgrading a cluster, node by node").

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The drain delay when `--drain-delay-secs` is not given: in cluster mode
/// a little more than the 4 s HAProxy needs, as `deploy/haproxy.cfg` checks
/// (two failed checks 2 s apart); a single node has nowhere else to send
/// clients, so it closes at once.
pub const CLUSTER_DELAY: Duration = Duration::from_secs(5);

/// How long step 2 waits for requests already taken to be answered before
/// it closes their connections anyway (storage that stopped answering).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Where a node is in its graceful stop.
#[derive(Clone)]
pub struct Drain {
    draining: CancellationToken,
    closing: CancellationToken,
}

impl Drain {
    /// Both signals follow `shutdown` too: an immediate stop is also a
    /// (hurried) drain.
    pub fn new(shutdown: &CancellationToken) -> Drain {
        Drain {
            draining: shutdown.child_token(),
            closing: shutdown.child_token(),
        }
    }

    /// Step 1: `/healthz` fails from now on.
    pub fn begin(&self) {
        self.draining.cancel();
    }

    /// Whether step 1 has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Step 2: stop accepting, answer what was taken, clients reconnect.
    pub fn close(&self) {
        self.draining.cancel();
        self.closing.cancel();
    }

    /// Cancelled at step 2 (or at an immediate stop).
    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// Steps 1 and 2, `delay` apart.
    pub async fn run(&self, delay: Duration) {
        self.begin();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = self.closing.cancelled() => {}
        }
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn steps_follow_in_order_and_an_immediate_stop_covers_both() {
        let shutdown = CancellationToken::new();
        let drain = Drain::new(&shutdown);
        assert!(!drain.is_draining());
        drain.begin();
        assert!(drain.is_draining());
        assert!(!drain.closing().is_cancelled());
        drain.close();
        assert!(drain.closing().is_cancelled());
        assert!(
            !shutdown.is_cancelled(),
            "closing is not the end of storage"
        );

        let shutdown = CancellationToken::new();
        let drain = Drain::new(&shutdown);
        shutdown.cancel();
        assert!(drain.is_draining() && drain.closing().is_cancelled());
    }

    #[tokio::test]
    async fn run_serves_through_the_delay_unless_closed_sooner() {
        let drain = Drain::new(&CancellationToken::new());
        let run = tokio::spawn({
            let drain = drain.clone();
            async move { drain.run(Duration::from_secs(3600)).await }
        });
        while !drain.is_draining() {
            tokio::task::yield_now().await;
        }
        assert!(
            !drain.closing().is_cancelled(),
            "still serving during the delay"
        );
        // Another SIGTERM during the delay closes now (`main`).
        drain.close();
        run.await.unwrap();

        let drain = Drain::new(&CancellationToken::new());
        drain.run(Duration::ZERO).await;
        assert!(drain.is_draining() && drain.closing().is_cancelled());
    }
}
