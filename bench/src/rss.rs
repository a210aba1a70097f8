//! Resident memory and CPU time of the server under test, from /proc.
//! A background sampler tracks the peak during the run, because the kernel's
//! own high-water mark (VmHWM) also covers start-up and earlier runs. CPU
//! time matters on a 2-core machine where the generator competes with the
//! server: CPU per delivery stays comparable when throughput is capped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One reading of a process: memory in KiB, user+system CPU in ms.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Reading {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub cpu_ms: u64,
}

fn cpu_ms(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may itself contain spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(ticks * 1000 / hz)
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
        cpu_ms: cpu_ms(pid).unwrap_or(0),
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
