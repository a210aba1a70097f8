//! Operational metrics, rendered in the Prometheus text format at `/metrics`.
//!
//! Plain atomics rather than a metrics framework: the set is small and fixed,
//! and recording must cost next to nothing on the hot paths.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// The two wire protocols, as a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Clicker,
    Sledge,
}

impl Protocol {
    const ALL: [Protocol; 2] = [Protocol::Clicker, Protocol::Sledge];
    fn label(self) -> &'static str {
        match self {
            Protocol::Clicker => "clicker",
            Protocol::Sledge => "sledge",
        }
    }
}

#[derive(Default)]
struct PerProtocol {
    connections: AtomicI64,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
}

/// Every metric the server exports.
pub struct Metrics {
    clicker: PerProtocol,
    sledge: PerProtocol,
    /// Listeners closed because their send queue overflowed.
    pub listeners_dropped_slow: AtomicU64,
    /// Times a live-update subscriber's buffer was full, so that what it
    /// missed was folded into one update sent when it has room.
    pub live_fell_behind: AtomicU64,
    /// The most bytes (approximate JSON) of missed changes folded for one
    /// live-update subscriber at a time.
    pub live_folded_bytes_max: AtomicU64,
    /// Replies (SCORED, ERROR) to clickers not sent because the clicker was
    /// not reading: its TCP window and the server's buffers were full.
    pub clicker_replies_dropped: AtomicU64,
    /// Scores newly stored, retries acknowledged again, late scores stored unbroadcast.
    pub scores_stored: AtomicU64,
    pub scores_duplicate: AtomicU64,
    pub scores_late: AtomicU64,
    /// Writes answered with an error (storage failed, or the job did):
    /// nothing of them was stored.
    pub write_errors: AtomicU64,
    /// Jobs per group commit.
    pub commit_batch: Histogram,
    /// Time to run and commit one batch.
    pub commit_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            clicker: PerProtocol::default(),
            sledge: PerProtocol::default(),
            listeners_dropped_slow: AtomicU64::new(0),
            live_fell_behind: AtomicU64::new(0),
            live_folded_bytes_max: AtomicU64::new(0),
            clicker_replies_dropped: AtomicU64::new(0),
            scores_stored: AtomicU64::new(0),
            scores_duplicate: AtomicU64::new(0),
            scores_late: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            commit_batch: Histogram::new(&[
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
            ]),
            commit_seconds: Histogram::new(&[
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
        }
    }
}

impl Metrics {
    fn of(&self, protocol: Protocol) -> &PerProtocol {
        match protocol {
            Protocol::Clicker => &self.clicker,
            Protocol::Sledge => &self.sledge,
        }
    }

    pub fn connection_opened(&self, protocol: Protocol) {
        self.of(protocol).connections.fetch_add(1, Relaxed);
    }

    pub fn connection_closed(&self, protocol: Protocol) {
        self.of(protocol).connections.fetch_sub(1, Relaxed);
    }

    pub fn message_in(&self, protocol: Protocol) {
        self.of(protocol).messages_in.fetch_add(1, Relaxed);
    }

    pub fn messages_out(&self, protocol: Protocol, n: u64) {
        self.of(protocol).messages_out.fetch_add(n, Relaxed);
    }

    /// Open connections of `protocol` now.
    pub fn connections(&self, protocol: Protocol) -> i64 {
        self.of(protocol).connections.load(Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let per = |out: &mut String,
                   name: &str,
                   kind: &str,
                   help: &str,
                   get: &dyn Fn(&PerProtocol) -> String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for p in Protocol::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{protocol=\"{}\"}} {}",
                    p.label(),
                    get(self.of(p))
                );
            }
        };
        per(
            &mut out,
            "podium_connections",
            "gauge",
            "Open connections by protocol.",
            &|p| p.connections.load(Relaxed).to_string(),
        );
        per(
            &mut out,
            "podium_messages_in_total",
            "counter",
            "Messages received by protocol.",
            &|p| p.messages_in.load(Relaxed).to_string(),
        );
        per(
            &mut out,
            "podium_messages_out_total",
            "counter",
            "Messages sent by protocol.",
            &|p| p.messages_out.load(Relaxed).to_string(),
        );
        let counters = [
            (
                "podium_listeners_dropped_slow_total",
                "Listeners closed because their send queue overflowed.",
                &self.listeners_dropped_slow,
            ),
            (
                "podium_live_fell_behind_total",
                "Times a live-update subscriber's send buffer was full; what it missed is folded into one update (it is not dropped).",
                &self.live_fell_behind,
            ),
            (
                "podium_clicker_replies_dropped_total",
                "Replies to clickers not sent because the clicker was not reading (the clicker stays connected).",
                &self.clicker_replies_dropped,
            ),
            (
                "podium_scores_stored_total",
                "SCOREs newly stored.",
                &self.scores_stored,
            ),
            (
                "podium_scores_duplicate_total",
                "Retried SCOREs acknowledged again without storing.",
                &self.scores_duplicate,
            ),
            (
                "podium_scores_late_total",
                "SCOREs older than the newest broadcast: stored, not broadcast.",
                &self.scores_late,
            ),
            (
                "podium_storage_write_errors_total",
                "Writes answered with an error (disk full, I/O error, read-only storage...): none of them stored.",
                &self.write_errors,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP podium_live_folded_bytes_max Most bytes of missed changes held folded for one live-update subscriber.\n# TYPE podium_live_folded_bytes_max gauge\npodium_live_folded_bytes_max {}",
            self.live_folded_bytes_max.load(Relaxed)
        );
        self.commit_batch.render(
            &mut out,
            "podium_commit_batch_size",
            "Jobs sharing one group commit.",
        );
        self.commit_seconds.render(
            &mut out,
            "podium_commit_seconds",
            "Time to run and commit one batch.",
        );
        out
    }
}

/// A fixed-bucket histogram with lock-free recording.
pub struct Histogram {
    bounds: Vec<f64>,
    /// One count per bound, plus +Inf.
    counts: Vec<AtomicU64>,
    /// Sum of observations in millionths, so it fits an atomic integer.
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6).max(0.0) as u64, Relaxed);
    }

    /// Total observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.connection_opened(Protocol::Clicker);
        m.message_in(Protocol::Sledge);
        m.commit_batch.observe(3.0);
        m.commit_batch.observe(5000.0);
        let text = m.render();
        assert!(text.contains("podium_connections{protocol=\"clicker\"} 1"));
        assert!(text.contains("podium_messages_in_total{protocol=\"sledge\"} 1"));
        assert!(text.contains("podium_commit_batch_size_bucket{le=\"4\"} 1"));
        assert!(text.contains("podium_commit_batch_size_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("podium_commit_batch_size_count 2"));
    }
}
