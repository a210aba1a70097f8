//! Latency histograms and event tallies.
//!
//! Each connection task records into a small local buffer that is folded
//! into one shared HDR histogram every few hundred samples: a histogram per
//! connection would cost ~150 KiB each at 3 significant figures, and a lock
//! per sample would make the generator the bottleneck it is measuring.

use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use serde::Serialize;

const FLUSH_EVERY: usize = 512;
/// Largest latency kept exactly; anything slower is clamped to it (60 s).
const MAX_US: u64 = 60_000_000;

#[derive(Clone)]
pub struct Hist {
    inner: Arc<Mutex<Histogram<u64>>>,
}

impl Hist {
    pub fn new() -> Self {
        let h = Histogram::new_with_bounds(1, MAX_US, 3).expect("histogram bounds");
        Hist {
            inner: Arc::new(Mutex::new(h)),
        }
    }

    pub fn local(&self) -> LocalHist {
        LocalHist {
            buf: Vec::new(),
            sink: self.inner.clone(),
        }
    }

    pub fn summary(&self) -> LatencySummary {
        let h = self.inner.lock().expect("histogram lock");
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean().round() as u64,
        }
    }
}

/// A task's buffered view of a shared histogram; flushes on drop.
pub struct LocalHist {
    buf: Vec<u64>,
    sink: Arc<Mutex<Histogram<u64>>>,
}

impl LocalHist {
    pub fn record(&mut self, us: u64) {
        if self.buf.capacity() == 0 {
            // Idle connections never record, so they never pay for a buffer.
            self.buf.reserve_exact(FLUSH_EVERY);
        }
        self.buf.push(us.clamp(1, MAX_US));
        if self.buf.len() >= FLUSH_EVERY {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let mut h = self.sink.lock().expect("histogram lock");
        for &v in &self.buf {
            h.saturating_record(v);
        }
        self.buf.clear();
    }
}

impl Drop for LocalHist {
    fn drop(&mut self) {
        self.flush();
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: u64,
}

/// Declares a struct of `u64` counters with a field-wise `merge`.
macro_rules! tally {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* $field:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, Serialize)]
        pub struct $name { $($(#[$fm])* pub $field: u64),* }

        impl $name {
            pub fn merge(&mut self, other: &$name) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

tally! {
    /// Everything the clicker side counts. Errors are kept apart from
    /// throughput so a fast run with refusals cannot pass as a good one.
    pub struct ClickerTally {
        /// SCORE frames written.
        scores_sent,
        /// SCORED frames matched to an outstanding SCORE.
        acks,
        /// Acks received inside the measured window (throughput basis).
        acks_in_window,
        /// SCOREs still unacknowledged when the drain timed out.
        lost_acks,
        /// SCORED frames that matched nothing outstanding.
        unmatched_acks,
        /// `ERROR ...` frames from the server.
        server_errors,
        /// Frames the protocol does not allow at that point.
        unexpected_frames,
        /// SCORE frames received and parsed by listeners.
        deliveries,
        deliveries_in_window,
        /// Deliveries whose send time was no longer known (latency not recorded).
        deliveries_untimed,
        /// Acked SCOREs a listener should have received but did not.
        missing_deliveries,
        duplicate_deliveries,
        /// Deliveries older than one already received for the same id.
        reordered_deliveries,
        /// SCOREs for ids this generator did not register.
        foreign_deliveries,
        /// Live `CONNECT <id>` / `DISCONNECT <id>` events received.
        connect_events,
        disconnect_events,
        /// Initial `CONNECT` replies whose id list was not what was expected.
        connect_reply_mismatches,
        /// Connections that failed to open after retries.
        connect_failures,
        /// REGISTER / LISTEN / SUBSCRIBE handshakes that failed.
        setup_failures,
        /// Connections the server closed while load was running.
        dropped_connections,
        /// Re-registrations (`REGISTER <secret>`) that did not return the same id.
        reregister_failures,
    }
}

tally! {
    /// Everything the judging side counts.
    pub struct JudgingTally {
        rate_hacks_sent,
        /// Acks with `ok: true`.
        rate_hacks_ok,
        rate_hacks_ok_in_window,
        /// Acks with `ok: false` or an error field.
        rate_hacks_refused,
        /// rate-hacks without an ack when the drain timed out.
        lost_acks,
        unmatched_acks,
        /// `protocol-error` events.
        protocol_errors,
        /// Frames or packets that could not be parsed or were not expected.
        unexpected_packets,
        update_partials,
        /// Rating rows received in update-partial diffs by subscribers.
        rating_rows,
        rating_rows_in_window,
        /// Rating rows whose send time was not known (latency not recorded).
        rating_rows_untimed,
        /// Subscribers whose final view of ratings differs from what was acked.
        stale_views,
        /// Accepted rate-hacks a subscriber never saw a rating row for
        /// (summed over subscribers; a server that merges superseded
        /// ratings into one diff shows up here too).
        missing_rating_rows,
        connect_failures,
        setup_failures,
        dropped_connections,
    }
}
