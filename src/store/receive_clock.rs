//! Server receive times, and cuts between them.
//!
//! A clicker score's `received_at` and a speed heat's start and stop are
//! server times in ms. A heat must split a clicker's scores exactly: what
//! was received before the organiser's stop counts, what was received after
//! does not, even within one millisecond (a judge's click just after the
//! stop was answered). So a heat boundary is a *cut*: a time greater than
//! every stamp given before it and no greater than any stamp given after it.
//! Scores inside a heat are those with `start <= received_at < stop`.
//! (This assumes the wall clock does not step back while the server runs.)

use std::sync::atomic::{AtomicI64, Ordering::SeqCst};

use super::now_ms;

#[derive(Debug, Default)]
pub struct ReceiveClock {
    /// No stamp is below this: the newest cut.
    floor: AtomicI64,
}

impl ReceiveClock {
    /// The receive time of something arriving now.
    pub fn stamp(&self) -> i64 {
        now_ms().max(self.floor.load(SeqCst))
    }

    /// A boundary between everything stamped before this call and
    /// everything stamped after it.
    pub fn cut(&self) -> i64 {
        let mut cut = 0;
        // The closure always answers Some, so the update cannot fail.
        let _ = self.floor.fetch_update(SeqCst, SeqCst, |floor| {
            cut = now_ms().max(floor) + 1;
            Some(cut)
        });
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_splits_stamps_within_one_millisecond() {
        let clock = ReceiveClock::default();
        for _ in 0..1_000 {
            let before = clock.stamp();
            let cut = clock.cut();
            let after = clock.stamp();
            assert!(before < cut, "{before} < {cut}");
            assert!(cut <= after, "{cut} <= {after}");
        }
    }
}
