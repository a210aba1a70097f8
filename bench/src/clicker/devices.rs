//! The devices this generator registered, and when each SCORE was sent.
//!
//! Listeners time a delivery against the moment its sender wrote the SCORE.
//! Score values count up by one per device, so a per-device ring indexed by
//! score holds the send time without locks: each slot packs the low bits of
//! the score (to detect a slot already reused) with the send time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Send times kept per device; a listener lagging further behind than this
/// still counts the delivery but cannot time it.
const RING: usize = 8192;
const TIME_BITS: u32 = 40;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;
const TAG_MASK: u64 = (1 << (64 - TIME_BITS)) - 1;
const NONE: u32 = u32::MAX;

pub struct Devices {
    /// Server-assigned ids, in registration order (the device index).
    pub ids: Vec<u32>,
    /// Device index by id. Clicker ids have at most six digits, so a table
    /// indexed by id (4 MiB at worst) beats hashing, which showed in
    /// listener profiles.
    index: Vec<u32>,
    rings: Vec<Box<[AtomicU64]>>,
}

impl Devices {
    pub fn new(ids: Vec<u32>) -> Self {
        let top = ids.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut index = vec![NONE; top];
        for (i, &id) in ids.iter().enumerate() {
            index[id as usize] = i as u32;
        }
        let rings = ids
            .iter()
            .map(|_| (0..RING).map(|_| AtomicU64::new(0)).collect())
            .collect();
        Devices { ids, index, rings }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn index_of(&self, id: u32) -> Option<usize> {
        match self.index.get(id as usize) {
            Some(&i) if i != NONE => Some(i as usize),
            _ => None,
        }
    }

    pub fn record_send(&self, dev: usize, score: u64, us: u64) {
        let packed = ((score & TAG_MASK) << TIME_BITS) | (us & TIME_MASK);
        self.rings[dev][score as usize % RING].store(packed, Ordering::Release);
    }

    /// Send time in process microseconds, if the slot still holds this score.
    pub fn send_time(&self, dev: usize, score: u64) -> Option<u64> {
        let packed = self.rings[dev][score as usize % RING].load(Ordering::Acquire);
        (packed != 0 && packed >> TIME_BITS == score & TAG_MASK).then_some(packed & TIME_MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_detects_reuse() {
        let d = Devices::new(vec![7]);
        assert_eq!(d.index_of(7), Some(0));
        d.record_send(0, 1, 1234);
        assert_eq!(d.send_time(0, 1), Some(1234));
        d.record_send(0, 1 + RING as u64, 5678);
        assert_eq!(d.send_time(0, 1), None);
        assert_eq!(d.send_time(0, 1 + RING as u64), Some(5678));
    }
}
