//! Slowing down guessing: failed `login` codes and `authenticate` secrets,
//! counted per client IP address.
//!
//! The first [`FREE_FAILURES`] failures in a [`WINDOW`] cost nothing. After
//! that every attempt from the address (right or wrong, so the delay tells
//! nothing) is answered only after a delay that doubles with each further
//! failure, up to [`MAX_DELAY`]. Attempts from one address are queued one
//! after another, so opening many sockets does not parallelise guessing; an
//! attempt that would wait more than [`MAX_QUEUE`] is refused at once. The
//! table is bounded: past [`MAX_ADDRESSES`] the stalest entry is forgotten.
//! IPv6 clients are counted per /64, the block one host usually controls.
//! Attempts still being checked count as failures for the next one's delay,
//! so sending many guesses at once earns no more free ones.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use thiserror::Error;

/// Failures from one address that cost nothing.
pub const FREE_FAILURES: u32 = 3;
/// Failures older than this (counted from the latest) are forgotten.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);
/// The delay after the first failure past the free ones; doubles from there.
pub const BASE_DELAY: Duration = Duration::from_millis(250);
/// The longest delay one attempt gets.
pub const MAX_DELAY: Duration = Duration::from_secs(4);
/// The longest an attempt may wait behind others from its address.
pub const MAX_QUEUE: Duration = Duration::from_secs(15);
/// Addresses tracked at once.
pub const MAX_ADDRESSES: usize = 10_000;

/// An attempt refused without being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("too many failed attempts from your address: wait {}s and try again", retry_after.as_secs().max(1))]
pub struct TooMany {
    pub retry_after: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// Attempts admitted and not yet decided. They count as failures when
    /// the next attempt's delay is worked out, so guesses sent at once on
    /// many sockets do not all pass as free ones.
    in_flight: u32,
    last_failure: Instant,
    /// When the next attempt from this address may be answered.
    next_slot: Instant,
}

/// Per-address failure counts.
#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

/// An admitted attempt: wait [`Attempt::wait`] before checking it, then
/// call [`Attempt::failed`] if it was wrong; dropping it otherwise means it
/// succeeded (or was never checked).
#[derive(Debug)]
#[must_use = "an attempt is decided by failing it or dropping it"]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    key: IpAddr,
    wait: Duration,
    failed_at: Option<Instant>,
}

impl Attempt<'_> {
    /// How long to hold the attempt before answering it.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// The attempt was wrong: count a failure.
    pub fn failed(mut self, now: Instant) {
        self.failed_at = Some(now);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut entries = self.throttle.entries.lock().expect("throttle poisoned");
        let Some(entry) = entries.get_mut(&self.key) else {
            return;
        };
        entry.in_flight = entry.in_flight.saturating_sub(1);
        if let Some(now) = self.failed_at {
            if now.duration_since(entry.last_failure) > WINDOW {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
        }
    }
}

impl Throttle {
    /// Admits an attempt from `ip`, reserving its slot (see [`Attempt`]);
    /// or refuses it when the queue from that address is too long.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Result<Attempt<'_>, TooMany> {
        let key = key(ip);
        let mut entries = self.entries.lock().expect("throttle poisoned");
        if !entries.contains_key(&key) && entries.len() >= MAX_ADDRESSES {
            evict(&mut entries, now);
        }
        let entry = entries.entry(key).or_insert(Entry {
            failures: 0,
            in_flight: 0,
            last_failure: now,
            next_slot: now,
        });
        if entry.in_flight == 0 && now.duration_since(entry.last_failure) > WINDOW {
            entry.failures = 0;
        }
        let delay = delay_after(entry.failures.saturating_add(entry.in_flight));
        let wait = if delay.is_zero() {
            Duration::ZERO
        } else {
            let start = entry.next_slot.max(now);
            let wait = start.duration_since(now) + delay;
            if wait > MAX_QUEUE {
                return Err(TooMany {
                    retry_after: wait - MAX_QUEUE,
                });
            }
            entry.next_slot = start + delay;
            wait
        };
        entry.in_flight += 1;
        Ok(Attempt {
            throttle: self,
            key,
            wait,
            failed_at: None,
        })
    }

    /// Addresses currently tracked.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("throttle poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The address failures are counted under (IPv6 per /64).
fn key(ip: IpAddr) -> IpAddr {
    crate::limits::client_key(ip)
}

/// The delay an attempt gets after `failures` failures.
pub fn delay_after(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(16);
    BASE_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

/// Makes room: drops expired entries, or else the one failed longest ago.
fn evict(entries: &mut HashMap<IpAddr, Entry>, now: Instant) {
    entries.retain(|_, e| e.in_flight > 0 || now.duration_since(e.last_failure) <= WINDOW);
    if entries.len() >= MAX_ADDRESSES {
        if let Some(stalest) = entries
            .iter()
            .min_by_key(|(_, e)| e.last_failure)
            .map(|(ip, _)| *ip)
        {
            entries.remove(&stalest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    impl Throttle {
        /// Records `n` failures from `ip` without queueing them.
        fn record_failures(&self, ip: IpAddr, n: u32, now: Instant) {
            for _ in 0..n {
                self.admit(ip, now).unwrap().failed(now);
                let mut entries = self.entries.lock().unwrap();
                entries.get_mut(&key(ip)).unwrap().next_slot = now;
            }
        }
    }

    /// The wait of an attempt that then succeeds.
    fn wait(t: &Throttle, ip: IpAddr, now: Instant) -> Result<Duration, TooMany> {
        t.admit(ip, now).map(|a| a.wait())
    }

    #[test]
    fn delays_double_after_the_free_failures_and_are_capped() {
        assert_eq!(delay_after(0), Duration::ZERO);
        assert_eq!(delay_after(2), Duration::ZERO);
        assert_eq!(delay_after(3), Duration::from_millis(250));
        assert_eq!(delay_after(4), Duration::from_millis(500));
        assert_eq!(delay_after(7), Duration::from_secs(4));
        assert_eq!(delay_after(1000), MAX_DELAY);
    }

    #[test]
    fn failures_slow_down_only_their_address() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..3 {
            let attempt = t.admit(IP, now).unwrap();
            assert_eq!(attempt.wait(), Duration::ZERO);
            attempt.failed(now);
        }
        assert_eq!(wait(&t, IP, now), Ok(Duration::from_millis(250)));
        assert_eq!(wait(&t, OTHER, now), Ok(Duration::ZERO));
    }

    #[test]
    fn successes_cost_nothing() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(wait(&t, IP, now), Ok(Duration::ZERO));
        }
    }

    #[test]
    fn guesses_sent_at_once_get_no_more_free_ones() {
        let t = Throttle::default();
        let now = Instant::now();
        // Eight sockets send a guess each before any is decided: only the
        // first three pass free, the rest queue with growing delays.
        let attempts: Vec<_> = (0..6).map(|_| t.admit(IP, now).unwrap()).collect();
        let waits: Vec<_> = attempts.iter().map(|a| a.wait().as_millis()).collect();
        assert_eq!(waits, [0, 0, 0, 250, 750, 1750]);
        for a in attempts {
            a.failed(now);
        }
        assert_eq!(t.entries.lock().unwrap()[&IP].failures, 6);
    }

    #[test]
    fn concurrent_attempts_queue_behind_each_other_and_overflow_is_refused() {
        let t = Throttle::default();
        let now = Instant::now();
        t.record_failures(IP, 10, now);
        // 4 s each: 4, 8, 12, then past the 15 s queue limit.
        assert_eq!(wait(&t, IP, now), Ok(Duration::from_secs(4)));
        assert_eq!(wait(&t, IP, now), Ok(Duration::from_secs(8)));
        assert_eq!(wait(&t, IP, now), Ok(Duration::from_secs(12)));
        let refused = t.admit(IP, now).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // Later the queue has drained.
        let later = now + Duration::from_secs(12);
        assert_eq!(wait(&t, IP, later), Ok(Duration::from_secs(4)));
    }

    #[test]
    fn failures_are_forgotten_after_the_window() {
        let t = Throttle::default();
        let now = Instant::now();
        t.record_failures(IP, 5, now);
        let later = now + WINDOW + Duration::from_secs(1);
        let attempt = t.admit(IP, later).unwrap();
        assert_eq!(attempt.wait(), Duration::ZERO);
        attempt.failed(later);
        assert_eq!(wait(&t, IP, later), Ok(Duration::ZERO));
    }

    #[test]
    fn ipv6_is_counted_per_64_block() {
        let t = Throttle::default();
        let now = Instant::now();
        for host in 1..=3u16 {
            t.record_failures(
                IpAddr::V6([0x2001, 0xdb8, 0, 1, 0, 0, 0, host].into()),
                1,
                now,
            );
        }
        let sibling = IpAddr::V6([0x2001, 0xdb8, 0, 1, 9, 9, 9, 9].into());
        let elsewhere = IpAddr::V6([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1].into());
        assert_eq!(wait(&t, sibling, now), Ok(Duration::from_millis(250)));
        assert_eq!(wait(&t, elsewhere, now), Ok(Duration::ZERO));
    }

    #[test]
    fn the_table_is_bounded() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 5) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            t.record_failures(ip, 1, now + Duration::from_millis(i as u64));
        }
        assert_eq!(t.len(), MAX_ADDRESSES);
        // The oldest were forgotten, the newest kept.
        let newest = IpAddr::V4(std::net::Ipv4Addr::from(MAX_ADDRESSES as u32 + 4));
        let first = IpAddr::V4(std::net::Ipv4Addr::from(0));
        let t2 = t.entries.lock().unwrap();
        assert!(t2.contains_key(&newest) && !t2.contains_key(&first));
    }
}
