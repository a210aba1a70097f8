//! When each judge last sent a rating for each hack, shared between the
//! judges (who write it) and the subscribers (who time update-partial rows
//! against it). A judge never has two ratings of one hack in flight, so
//! (judge, hack, rating) identifies the send.

use std::collections::HashMap;
use std::sync::Mutex;

pub struct SendBook {
    index: HashMap<u64, usize>,
    /// Per judge: hack id -> (rating, send time in process microseconds).
    sent: Vec<Mutex<HashMap<u64, (u64, u64)>>>,
}

impl SendBook {
    pub fn new(judge_ids: &[u64]) -> Self {
        SendBook {
            index: judge_ids.iter().enumerate().map(|(i, &j)| (j, i)).collect(),
            sent: judge_ids
                .iter()
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    pub fn record(&self, judge_idx: usize, hack: u64, rating: u64, us: u64) {
        self.sent[judge_idx]
            .lock()
            .expect("book lock")
            .insert(hack, (rating, us));
    }

    pub fn send_time(&self, judge_id: u64, hack: u64, rating: u64) -> Option<u64> {
        let idx = *self.index.get(&judge_id)?;
        let sent = self.sent[idx].lock().expect("book lock");
        match sent.get(&hack) {
            Some(&(r, us)) if r == rating => Some(us),
            _ => None,
        }
    }
}
