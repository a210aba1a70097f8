//! The result of one scenario: a readable table on stdout and, on request,
//! the same figures as JSON for BENCHMARKS.md and the run scripts.

use std::path::Path;

use serde::Serialize;

use crate::rss::Reading;
use crate::stats::{ClickerTally, JudgingTally, LatencySummary};

#[derive(Debug, Default, Serialize)]
pub struct Throughput {
    /// SCORED acknowledgements per second of the measured window.
    pub acks_per_s: f64,
    /// SCORE broadcasts received per second of the measured window.
    pub deliveries_per_s: f64,
    /// Accepted (acked ok) rate-hacks per second.
    pub rate_hacks_per_s: f64,
    /// Rating rows received in update-partial per second (all subscribers).
    pub rating_rows_per_s: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Latencies {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_hack_ack: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_partial: Option<LatencySummary>,
}

#[derive(Debug, Default, Serialize)]
pub struct Connections {
    pub senders: usize,
    pub listeners: usize,
    pub judges: usize,
    pub admins: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    pub pid: u32,
    /// Before connections were opened (idle) or at the start (others).
    pub before_kib: Option<u64>,
    /// At the end of the load, connections still open.
    pub end_kib: Option<u64>,
    /// Largest sampled RSS during the run.
    pub peak_kib: Option<u64>,
    /// The kernel's high-water mark for the process lifetime.
    pub hwm_kib: Option<u64>,
    /// Server CPU (user + system) from the first reading to the end of load.
    pub cpu_s: Option<f64>,
    /// Idle only: (RSS with all connections open - before) / connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_connection_bytes: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub scenario: String,
    pub label: String,
    pub url: String,
    pub duration_s: f64,
    pub shape: serde_json::Value,
    pub throughput: Throughput,
    pub latency_us: Latencies,
    pub connections: Connections,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clicker: Option<ClickerTally>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judging: Option<JudgingTally>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Reasons the run is not clean; empty means ok.
    pub problems: Vec<String>,
    pub ok: bool,
}

impl Memory {
    pub fn new(
        pid: Option<u32>,
        before: Option<Reading>,
        end: Option<Reading>,
        peak: Option<u64>,
    ) -> Option<Memory> {
        let pid = pid?;
        Some(Memory {
            pid,
            before_kib: before.map(|r| r.rss_kib),
            end_kib: end.map(|r| r.rss_kib),
            peak_kib: peak,
            hwm_kib: end.or(before).map(|r| r.hwm_kib),
            cpu_s: match (before, end) {
                (Some(b), Some(e)) => Some(e.cpu_ms.saturating_sub(b.cpu_ms) as f64 / 1000.0),
                _ => None,
            },
            per_connection_bytes: None,
        })
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn lat_row(name: &str, l: &LatencySummary) -> String {
    let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    format!(
        "  {name:<16} {:>10} {:>9} {:>9} {:>9} {:>9}",
        l.count,
        ms(l.p50_us),
        ms(l.p99_us),
        ms(l.p999_us),
        ms(l.max_us)
    )
}

/// Non-zero counters only: a clean run prints a short list.
fn nonzero(value: &serde_json::Value) -> Vec<(String, u64)> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_u64().filter(|&n| n > 0).map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default()
}

impl Report {
    pub fn print(&self) {
        println!();
        println!(
            "== {} against {} ({}) for {:.1} s ==",
            self.scenario, self.label, self.url, self.duration_s
        );
        println!("shape: {}", self.shape);
        let c = &self.connections;
        println!(
            "connections: {} senders, {} listeners, {} judges, {} admins",
            c.senders, c.listeners, c.judges, c.admins
        );
        let t = &self.throughput;
        println!("throughput:");
        println!("  acks/s            {:>14.0}", t.acks_per_s);
        println!("  deliveries/s      {:>14.0}", t.deliveries_per_s);
        println!("  rate-hacks/s      {:>14.0}", t.rate_hacks_per_s);
        println!("  rating rows/s     {:>14.0}", t.rating_rows_per_s);
        println!(
            "latency (ms):        {:>10} {:>9} {:>9} {:>9} {:>9}",
            "count", "p50", "p99", "p99.9", "max"
        );
        let l = &self.latency_us;
        for (name, s) in [
            ("ack", &l.ack),
            ("delivery", &l.delivery),
            ("rate-hack ack", &l.rate_hack_ack),
            ("update-partial", &l.update_partial),
        ] {
            if let Some(s) = s {
                println!("{}", lat_row(name, s));
            }
        }
        if let Some(tally) = &self.clicker {
            let v = serde_json::to_value(tally).unwrap_or_default();
            println!("clicker counts: {}", fmt_counts(&nonzero(&v)));
        }
        if let Some(tally) = &self.judging {
            let v = serde_json::to_value(tally).unwrap_or_default();
            println!("judging counts: {}", fmt_counts(&nonzero(&v)));
        }
        if let Some(m) = &self.memory {
            print!(
                "server memory (pid {}): before {}, end {}, peak {}, hwm {}",
                m.pid,
                mib(m.before_kib),
                mib(m.end_kib),
                mib(m.peak_kib),
                mib(m.hwm_kib)
            );
            match m.per_connection_bytes {
                Some(b) => println!(", per connection {:.0} B ({:.1} KiB)", b, b / 1024.0),
                None => println!(),
            }
            if let Some(cpu) = m.cpu_s {
                let t = &self.throughput;
                // Per unit of the scenario's main work: deliveries when there
                // are listeners, else acks, else accepted rate-hacks.
                let (rate, unit) = [
                    (t.deliveries_per_s, "delivery"),
                    (t.acks_per_s, "ack"),
                    (t.rate_hacks_per_s, "rate-hack"),
                ]
                .into_iter()
                .find(|(r, _)| *r > 0.0)
                .unwrap_or((0.0, ""));
                let work = rate * self.duration_s;
                if work > 0.0 {
                    println!(
                        "server CPU: {cpu:.2} s ({:.2} us per {unit})",
                        cpu * 1e6 / work
                    );
                } else {
                    println!("server CPU: {cpu:.2} s");
                }
            }
        }
        if self.problems.is_empty() {
            println!("result: ok");
        } else {
            println!("result: {} problem(s)", self.problems.len());
            for p in &self.problems {
                println!("  - {p}");
            }
        }
    }

    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }
}

fn fmt_counts(counts: &[(String, u64)]) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
