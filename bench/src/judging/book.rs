//! When each judge sent each recent rating, shared between the judges (who
//! write it) and the subscribers (who time update-partial rows against it).
//!
//! Subscribers may lag several ratings behind a judge, so each judge keeps a
//! short history, not just its last send. Judges pick ratings so that a
//! (hack, rating) pair never repeats within the history: a row then names
//! exactly one send.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Sends remembered per judge; rows lagging further behind are counted as
/// untimed rather than matched to the wrong send.
const HISTORY: usize = 64;

struct Sent {
    hack: u64,
    rating: u64,
    us: u64,
}

pub struct SendBook {
    index: HashMap<u64, usize>,
    sent: Vec<Mutex<VecDeque<Sent>>>,
}

impl SendBook {
    pub fn new(judge_ids: &[u64]) -> Self {
        SendBook {
            index: judge_ids.iter().enumerate().map(|(i, &j)| (j, i)).collect(),
            sent: judge_ids
                .iter()
                .map(|_| Mutex::new(VecDeque::with_capacity(HISTORY)))
                .collect(),
        }
    }

    pub fn record(&self, judge_idx: usize, hack: u64, rating: u64, us: u64) {
        let mut sent = self.sent[judge_idx].lock().expect("book lock");
        if sent.len() == HISTORY {
            sent.pop_front();
        }
        sent.push_back(Sent { hack, rating, us });
    }

    /// Bit `r` set for each rating `r` of `hack` still in the history.
    pub fn recent_ratings(&self, judge_idx: usize, hack: u64) -> u32 {
        let sent = self.sent[judge_idx].lock().expect("book lock");
        sent.iter()
            .filter(|s| s.hack == hack)
            .fold(0, |mask, s| mask | 1 << s.rating)
    }

    pub fn send_time(&self, judge_id: u64, hack: u64, rating: u64) -> Option<u64> {
        let idx = *self.index.get(&judge_id)?;
        let sent = self.sent[idx].lock().expect("book lock");
        sent.iter()
            .rev()
            .find(|s| s.hack == hack && s.rating == rating)
            .map(|s| s.us)
    }
}
