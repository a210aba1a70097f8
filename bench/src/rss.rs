//! Resident memory of the server under test, read from /proc/PID/status.
//! A background sampler tracks the peak during the run, because the kernel's
//! own high-water mark (VmHWM) also covers start-up and earlier runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One reading of a process's memory, in KiB.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Reading {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub fn read(pid: u32) -> Option<Reading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(Reading {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:").unwrap_or(0),
    })
}

/// Samples a process's RSS until stopped, remembering the largest value.
pub struct Sampler {
    pid: Option<u32>,
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Sampler {
    pub fn start(pid: Option<u32>) -> Self {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        if let Some(pid) = pid {
            let (peak, stop) = (peak_kib.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match read(pid) {
                        Some(r) => {
                            peak.fetch_max(r.rss_kib, Ordering::Relaxed);
                        }
                        None => break,
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
        Sampler {
            pid,
            peak_kib,
            stop,
        }
    }

    pub fn now(&self) -> Option<Reading> {
        let r = read(self.pid?)?;
        self.peak_kib.fetch_max(r.rss_kib, Ordering::Relaxed);
        Some(r)
    }

    /// Stops sampling and returns (final reading, peak RSS seen in KiB).
    pub fn finish(self) -> (Option<Reading>, Option<u64>) {
        let last = self.now();
        self.stop.store(true, Ordering::Relaxed);
        let peak = self.pid.map(|_| self.peak_kib.load(Ordering::Relaxed));
        (last, peak)
    }
}
