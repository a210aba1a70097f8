//! How far each listener has got with each device, so senders can hold back
//! when the slowest listener falls too far behind.
//!
//! Without this bound, a server that acknowledges faster than listeners can
//! read either queues without limit (memory grows, latency explodes) or
//! drops slow listeners, and the fan-out figure compares those policies
//! rather than delivery throughput. Each listener writes only its own row
//! (on its own cache lines); a sender reads one column.

use std::sync::atomic::{AtomicU64, Ordering};

/// Slot value for "not subscribed" or "gone": never holds a sender back.
const DONE: u64 = u64::MAX;

#[repr(align(64))]
struct Row(Box<[AtomicU64]>);

pub struct Progress {
    rows: Vec<Row>,
}

impl Progress {
    /// `subscribed[l]` lists the device indices listener `l` follows.
    pub fn new(n_devices: usize, subscribed: &[Vec<usize>]) -> Self {
        let rows = subscribed
            .iter()
            .map(|devs| {
                let row: Box<[AtomicU64]> = (0..n_devices).map(|_| AtomicU64::new(DONE)).collect();
                for &d in devs {
                    row[d].store(0, Ordering::Relaxed);
                }
                Row(row)
            })
            .collect();
        Progress { rows }
    }

    /// Listener `l` has received `score` (the highest so far) from `dev`.
    pub fn advance(&self, l: usize, dev: usize, score: u64) {
        let slot = &self.rows[l].0[dev];
        if slot.load(Ordering::Relaxed) < score {
            slot.store(score, Ordering::Relaxed);
        }
    }

    /// Listener `l` has stopped reading; it must not stall anyone.
    pub fn retire(&self, l: usize) {
        for slot in self.rows[l].0.iter() {
            slot.store(DONE, Ordering::Relaxed);
        }
    }

    /// The lowest score of `dev` every live subscriber has reached.
    pub fn slowest(&self, dev: usize) -> u64 {
        self.rows
            .iter()
            .map(|r| r.0[dev].load(Ordering::Relaxed))
            .min()
            .unwrap_or(DONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowest_ignores_unsubscribed_and_retired() {
        let p = Progress::new(2, &[vec![0, 1], vec![0]]);
        assert_eq!(p.slowest(0), 0);
        p.advance(0, 0, 5);
        p.advance(1, 0, 3);
        assert_eq!(p.slowest(0), 3);
        assert_eq!(p.slowest(1), 0);
        p.retire(1);
        assert_eq!(p.slowest(0), 5);
        p.retire(0);
        assert_eq!(p.slowest(1), DONE);
    }
}
