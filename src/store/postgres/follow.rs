//! Delivers every node's committed changes to this node's followers, in
//! sequence order.
//!
//! One task holds the last number delivered. This node's writer hands it
//! each batch it committed; a `LISTEN` connection hands it the other nodes'
//! notifications; a poll every [`POLL`] and every reconnection make it look
//! at `change_head` too. Whenever the log is ahead of what was delivered, it
//! reads the missing changes from the log. So a notification lost with a
//! connection, or never sent, delays a change by one poll at most, and a
//! node that was cut off catches up by itself. Followers skip numbers they
//! hold already and fill any gap from the log themselves, so a change read
//! twice is harmless.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use futures_util::stream::{self, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use super::log::{self, CHANNEL};
use super::tls::Connector;
use crate::store::changes::{Entry, Followers, LogError, Seq};

/// How often the log is looked at without a notification.
const POLL: Duration = Duration::from_secs(1);
/// Wait between attempts to reconnect the `LISTEN` connection.
const RECONNECT: Duration = Duration::from_millis(500);

/// Why the delivery task should look at the log.
enum Wake {
    /// This node committed these changes; tell `delivered` once they are
    /// with the followers.
    Committed(Vec<Entry>, oneshot::Sender<()>),
    /// The log reaches this far (a notification), or may have moved (`None`).
    Moved(Option<Seq>),
}

/// The running delivery: stops when dropped.
pub struct Delivery {
    wake: mpsc::UnboundedSender<Wake>,
    stop: CancellationToken,
}

impl Delivery {
    /// Starts delivering what is committed after `position`.
    pub fn start(
        config: Connector,
        pool: Pool,
        followers: Arc<Followers>,
        position: Seq,
    ) -> Arc<Delivery> {
        let (wake, woken) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        tokio::spawn(deliver(pool, followers, position, woken, stop.clone()));
        tokio::spawn(listen(config, wake.clone(), stop.clone()));
        Arc::new(Delivery { wake, stop })
    }

    /// This node committed `entries`; resolves once they are with the
    /// followers (after every change numbered before them), so a caller
    /// answered after that reads its own write in every view.
    pub async fn committed(&self, entries: Vec<Entry>) {
        let (delivered, done) = oneshot::channel();
        if self.wake.send(Wake::Committed(entries, delivered)).is_ok() {
            let _ = done.await;
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn deliver(
    pool: Pool,
    followers: Arc<Followers>,
    mut delivered: Seq,
    mut woken: mpsc::UnboundedReceiver<Wake>,
    stop: CancellationToken,
) {
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wake = tokio::select! {
            _ = stop.cancelled() => break,
            _ = poll.tick() => Wake::Moved(None),
            wake = woken.recv() => match wake {
                Some(wake) => wake,
                None => break,
            },
        };
        match wake {
            Wake::Committed(entries, done) => {
                let Some(last) = entries.last().map(|e| e.seq) else {
                    continue;
                };
                if last <= delivered {
                    let _ = done.send(());
                    continue;
                }
                // Other nodes' changes before these come first.
                let first = entries[0].seq;
                if first > delivered + 1 {
                    delivered = catch_up(&pool, &followers, delivered, Some(first - 1)).await;
                }
                delivered = last.max(delivered);
                followers.send(entries);
                let _ = done.send(());
            }
            Wake::Moved(Some(last)) if last <= delivered => {}
            Wake::Moved(_) => {
                delivered = catch_up(&pool, &followers, delivered, None).await;
            }
        }
    }
}

/// Delivers what the log holds after `delivered` (up to `upto`); returns
/// the new position. A log that no longer holds those changes is delivered
/// from its floor: followers see the gap and reload.
async fn catch_up(pool: &Pool, followers: &Followers, delivered: Seq, upto: Option<Seq>) -> Seq {
    let mut after = delivered;
    loop {
        match log::read_after(pool, after, upto).await {
            Ok(entries) => {
                let last = entries.last().map_or(after, |e| e.seq);
                followers.send(entries);
                return last;
            }
            Err(LogError::NotRetained { floor, .. }) if floor > after => {
                tracing::warn!(
                    after,
                    floor,
                    "this node fell behind further than the change log reaches"
                );
                after = floor;
            }
            Err(LogError::Ahead { .. }) => return delivered,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the change log; trying again later");
                return delivered;
            }
        }
    }
}

/// Keeps a connection listening on [`CHANNEL`], passing each notification
/// on, and reconnecting when it drops.
async fn listen(config: Connector, wake: mpsc::UnboundedSender<Wake>, stop: CancellationToken) {
    let mut lost = false;
    while !stop.is_cancelled() {
        let (client, mut connection) = match config.connect().await {
            Ok(pair) => pair,
            Err(e) => {
                if !lost {
                    tracing::warn!(error = %e, "cannot listen for other nodes' changes; retrying");
                    lost = true;
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(RECONNECT) => continue,
                }
            }
        };
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        let listen_sql = format!("LISTEN {CHANNEL}");
        let started = {
            // The connection must be driven for LISTEN to complete.
            let mut listening = std::pin::pin!(client.batch_execute(&listen_sql));
            loop {
                tokio::select! {
                    done = &mut listening => break done,
                    message = messages.next() => if message.is_none() { break Ok(()) },
                }
            }
        };
        if let Err(e) = started {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            tokio::time::sleep(RECONNECT).await;
            continue;
        }
        if std::mem::take(&mut lost) {
            tracing::warn!("listening for other nodes' changes again");
        }
        // Whatever was committed while not listening.
        let _ = wake.send(Wake::Moved(None));
        loop {
            let message = tokio::select! {
                _ = stop.cancelled() => return,
                message = messages.next() => message,
            };
            match message {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    let _ = wake.send(Wake::Moved(n.payload().parse().ok()));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "lost the connection that listens for other nodes' changes");
                    lost = true;
                    break;
                }
                None => {
                    lost = true;
                    break;
                }
            }
        }
        drop(client);
    }
}
