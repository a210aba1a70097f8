//! A listener's bounded queue of ready-made frames: the hub pushes without
//! ever waiting, the listener's connection takes them a batch at a time.
//!
//! Fan-out pushes one frame per listener per broadcast, so this is the
//! hottest path in the server. A tokio `mpsc` channel pays a semaphore, a
//! lock-free block list and a waker per frame; profiles of the fan-out
//! benchmark put that at a fifth of the server's CPU. Here a push is one
//! uncontended mutex and a `VecDeque` push, and the consumer is woken only
//! when the queue goes from empty to non-empty.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue holds its capacity: the listener is not keeping up.
    Full,
    /// The listener's connection has ended.
    Closed,
}

struct Shared {
    state: Mutex<State>,
    ready: Notify,
    capacity: usize,
}

struct State {
    frames: VecDeque<Utf8Bytes>,
    closed: bool,
}

/// The hub's end: pushes frames.
pub struct Sender {
    shared: Arc<Shared>,
}

/// The connection's end: takes frames. Dropping it closes the queue.
pub struct Receiver {
    shared: Arc<Shared>,
}

/// A queue holding at most `capacity` frames (at least one).
pub fn bounded(capacity: usize) -> (Sender, Receiver) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            frames: VecDeque::new(),
            closed: false,
        }),
        ready: Notify::new(),
        capacity,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves only a queue of frames behind,
        // which is still consistent: carry on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Sender {
    /// Queues a frame, never waiting.
    pub fn push(&self, frame: Utf8Bytes) -> Result<(), PushError> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(PushError::Closed);
        }
        if state.frames.len() >= self.shared.capacity {
            return Err(PushError::Full);
        }
        state.frames.push_back(frame);
        let first = state.frames.len() == 1;
        drop(state);
        if first {
            // A stored permit covers a consumer that checked just before
            // this push and has not yet started waiting.
            self.shared.ready.notify_one();
        }
        Ok(())
    }
}

impl Receiver {
    /// Waits until at least one frame is queued. Cancel-safe: it takes nothing.
    pub async fn ready(&self) {
        loop {
            if !self.shared.lock().frames.is_empty() {
                return;
            }
            self.shared.ready.notified().await;
        }
    }

    /// Moves up to `max` queued frames, oldest first, to the end of `out`.
    /// Taking a bounded batch keeps the queue's bound meaningful: frames
    /// taken out no longer count against it, so a listener that stops
    /// reading must not be able to take the whole queue into one write.
    pub fn take(&self, out: &mut Vec<Utf8Bytes>, max: usize) {
        let mut state = self.shared.lock();
        let n = max.min(state.frames.len());
        out.extend(state.frames.drain(..n));
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        state.frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &'static str) -> Utf8Bytes {
        Utf8Bytes::from_static(s)
    }

    #[test]
    fn frames_come_out_in_order_and_the_bound_holds() {
        let (tx, rx) = bounded(2);
        assert_eq!(tx.push(frame("a")), Ok(()));
        assert_eq!(tx.push(frame("b")), Ok(()));
        assert_eq!(tx.push(frame("c")), Err(PushError::Full));
        let mut out = Vec::new();
        rx.take(&mut out, 1);
        assert_eq!(out, [frame("a")]);
        assert_eq!(tx.push(frame("d")), Ok(()));
        rx.take(&mut out, 8);
        assert_eq!(out, [frame("a"), frame("b"), frame("d")]);
        drop(rx);
        assert_eq!(tx.push(frame("e")), Err(PushError::Closed));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_on_the_first_push() {
        let (tx, rx) = bounded(8);
        let waiter = tokio::spawn(async move {
            rx.ready().await;
            let mut out = Vec::new();
            rx.take(&mut out, 8);
            out
        });
        tokio::task::yield_now().await;
        tx.push(frame("x")).unwrap();
        tx.push(frame("y")).unwrap();
        let got = waiter.await.unwrap();
        assert!(!got.is_empty() && got[0] == frame("x"));
    }

    #[tokio::test]
    async fn a_push_before_waiting_is_not_missed() {
        let (tx, rx) = bounded(8);
        tx.push(frame("x")).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), rx.ready())
            .await
            .expect("ready after an earlier push");
    }
}
