//! Limits on what one client, or all of them together, may take: open
//! connections (in all, and per client address, across both protocols), the
//! rate of frames on one clicker connection, and clicker registrations per
//! client address (each can make a new device, and ids are never reused).
//!
//! All pure bookkeeping, no I/O: the front door ([`crate::server`]) and the
//! socket.io connect step ([`crate::sledge`]) ask [`ConnectionLimits`] for a
//! [`Permit`] that frees its place when dropped; a clicker connection asks
//! its [`RateLimiter`] about every data frame and [`RegistrationLimits`]
//! about every REGISTER.
//!
//! A rate is judged by when frames are read, and for a clicker's SCOREs also
//! by when the device says it sent them (its timestamps): frames a device
//! sent at an honest pace that piled up in the network or in kernel buffers
//! while the server or the venue's wifi stalled arrive together, and must
//! not be taken for a burst. What the device's clock can earn is bounded by
//! the server's own clock and by [`BACKLOG`], so a client that lies about
//! its timestamps gains at most one stall's worth of frames.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::config::LimitsConfig;
use crate::scoring::clock;

/// A client over its rate for this long without a pause of a second is
/// closed: one burst is forgiven, a flood is not.
pub const ABUSE_AFTER: Duration = Duration::from_secs(5);
/// A gap this long in refused frames ends a streak of abuse.
const ABUSE_GAP: Duration = Duration::from_secs(1);
/// The longest stall whose backlog is forgiven at the full rate: frames the
/// read-time limit refuses but the device's own timestamps justify are
/// taken on credit, up to this long's worth of frames at the rate, repaid
/// as the server's time passes.
pub const BACKLOG: Duration = Duration::from_secs(60);

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Refused {
    #[error("the server is at its limit of {limit} connections: try again later")]
    Full { limit: usize },
    #[error(
        "too many connections from your address (the limit is {limit}): close some and try again"
    )]
    TooManyFromAddress { limit: usize },
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Open connections, in all and by client address.
#[derive(Debug)]
pub struct ConnectionLimits {
    /// 0: no limit.
    max_total: usize,
    /// 0: no limit.
    max_per_address: usize,
    counts: Mutex<Counts>,
}

/// One admitted connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<ConnectionLimits>,
    address: Option<IpAddr>,
}

impl ConnectionLimits {
    pub fn new(config: &LimitsConfig) -> Arc<ConnectionLimits> {
        Arc::new(ConnectionLimits {
            max_total: config.max_connections as usize,
            max_per_address: config.max_connections_per_ip as usize,
            counts: Mutex::default(),
        })
    }

    /// Takes a place for a connection from `address` (`None` when unknown:
    /// counted in the total only), or says why there is none.
    pub fn admit(self: &Arc<Self>, address: Option<IpAddr>) -> Result<Permit, Refused> {
        let address = address.map(client_key);
        let mut counts = self.counts.lock().expect("connection counts poisoned");
        if self.max_total > 0 && counts.total >= self.max_total {
            return Err(Refused::Full {
                limit: self.max_total,
            });
        }
        if let Some(address) = address {
            let from_address = counts.by_address.entry(address).or_insert(0);
            if self.max_per_address > 0 && *from_address >= self.max_per_address {
                return Err(Refused::TooManyFromAddress {
                    limit: self.max_per_address,
                });
            }
            *from_address += 1;
        }
        counts.total += 1;
        Ok(Permit {
            limits: self.clone(),
            address,
        })
    }

    /// Connections holding a place now.
    pub fn open(&self) -> usize {
        self.counts
            .lock()
            .expect("connection counts poisoned")
            .total
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self
            .limits
            .counts
            .lock()
            .expect("connection counts poisoned");
        counts.total -= 1;
        if let Some(address) = self.address {
            if let Some(n) = counts.by_address.get_mut(&address) {
                *n -= 1;
                if *n == 0 {
                    counts.by_address.remove(&address);
                }
            }
        }
    }
}

/// The address connections and failed logins are counted under: IPv4 as
/// is (also when mapped into IPv6), IPv6 per /64, the block one host
/// usually controls.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

/// What to do with one incoming frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accept,
    /// Over the rate: drop the frame and tell the client this.
    Drop(String),
    /// Over the rate for [`ABUSE_AFTER`]: close the connection.
    Abuse,
}

/// A token bucket: `rate` tokens a second, holding at most `burst`.
#[derive(Debug, Clone, Copy)]
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    fn full(rate: f64, burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            refilled: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
    }

    /// Takes a token if there is one.
    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes a token on credit (the balance may go down to `-floor`), or
    /// says there is no credit left.
    fn borrow(&mut self, floor: f64) -> bool {
        if self.tokens - 1.0 >= -floor {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next token.
    fn next_token_in(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.rate).max(0.0))
    }
}

/// One connection's message rate: `rate` messages a second sustained,
/// bursts of `burst`. Clicker frames and socket.io events each have one.
///
/// A message is within the rate if it is by the time it was read, or, for a
/// clicker SCORE, by the time its device says it sent it (see
/// [`RateLimiter::admit_stamped`]).
#[derive(Debug)]
pub struct RateLimiter {
    /// `None`: no limit. Refilled by the server's clock, as frames are read;
    /// it may go below zero (down to [`BACKLOG`]'s worth of frames) for the
    /// frames the device's clock justified.
    bucket: Option<TokenBucket>,
    /// The same limit by the device's clock.
    sent: SentClock,
    /// What a message is called in the refusal ("frame", "event").
    unit: &'static str,
    /// The first and latest refusal of the current streak.
    streak: Option<(Instant, Instant)>,
}

/// When a device sent its SCOREs, on the server's clock, judged by the
/// spacing of its timestamps: the time of a SCORE is the time of the
/// newest one before it plus how far its timestamp is ahead of that one's,
/// but never later than the frame was read. So frames that piled up during
/// a stall are spread back over the time the device took to send them, and
/// a device can never earn more time than the server's clock ran: a clock
/// that runs fast, or lies, is held back to the read time. A timestamp that
/// is not newer (a retry, a clock set back) earns nothing.
#[derive(Debug)]
struct SentClock {
    /// A bucket like the read-time one, empty at the start (the read-time
    /// bucket already grants the first burst), whose `refilled` is the
    /// time the newest SCORE was sent.
    bucket: TokenBucket,
    /// The newest timestamp seen, in the device's ms.
    newest: Option<i64>,
}

impl SentClock {
    /// The time a SCORE stamped `stamp` and read at `now` was sent.
    fn sent_at(&mut self, now: Instant, stamp: i64) -> Instant {
        let last = self.bucket.refilled;
        let ahead = match self.newest {
            None => Some(u64::MAX),
            Some(newest) => clock::elapsed(newest, stamp),
        };
        let Some(ahead) = ahead else {
            return last;
        };
        self.newest = Some(stamp);
        let room = now.saturating_duration_since(last);
        last + room.min(Duration::from_millis(ahead))
    }
}

impl RateLimiter {
    /// `rate` 0: no limit.
    pub fn new(rate: u64, burst: u64, unit: &'static str, now: Instant) -> RateLimiter {
        let bucket = (rate > 0).then(|| TokenBucket::full(rate as f64, burst.max(1) as f64, now));
        let mut sent = TokenBucket::full(rate as f64, burst.max(1) as f64, now);
        sent.tokens = 0.0;
        RateLimiter {
            bucket,
            sent: SentClock {
                bucket: sent,
                newest: None,
            },
            unit,
            streak: None,
        }
    }

    /// Judges a message read at `now`.
    pub fn admit(&mut self, now: Instant) -> Verdict {
        self.judge(now, None)
    }

    /// Judges a clicker SCORE read at `now` whose device stamped it `stamp`
    /// (ms of its clock, 32-bit wrap included, see [`clock`]). It is within
    /// the rate if it is by its read time, or else by the device's clock
    /// ([`SentClock`]) while the read-time bucket can still lend: the
    /// frames it lends for are repaid as the server's time passes, and it
    /// lends at most [`BACKLOG`]'s worth of frames at the rate.
    pub fn admit_stamped(&mut self, now: Instant, stamp: i64) -> Verdict {
        self.judge(now, Some(stamp))
    }

    fn judge(&mut self, now: Instant, stamp: Option<i64>) -> Verdict {
        let Some(bucket) = &mut self.bucket else {
            return Verdict::Accept;
        };
        let by_read = bucket.take(now);
        // Every SCORE counts against the device's clock too, so a device
        // sending faster than the rate by its own clock earns no credit.
        let by_sent = stamp.is_some_and(|stamp| {
            let sent_at = self.sent.sent_at(now, stamp);
            self.sent.bucket.take(sent_at)
        });
        let backlog = BACKLOG.as_secs_f64() * bucket.rate;
        if by_read || (by_sent && bucket.borrow(backlog)) {
            return Verdict::Accept;
        }
        if by_sent {
            // Not taken after all: the device keeps that token.
            self.sent.bucket.tokens += 1.0;
        }
        let started = match self.streak {
            Some((first, latest)) if now.saturating_duration_since(latest) <= ABUSE_GAP => first,
            _ => now,
        };
        self.streak = Some((started, now));
        if now.saturating_duration_since(started) >= ABUSE_AFTER {
            return Verdict::Abuse;
        }
        Verdict::Drop(format!(
            "rate limit exceeded: at most {} {unit}s a second (bursts of {}); this {unit} was dropped, \
             send it again later",
            bucket.rate,
            bucket.burst,
            unit = self.unit,
        ))
    }
}

/// Addresses whose registrations are tracked at once; past this, addresses
/// with a full budget (idle ones) are forgotten.
const MAX_TRACKED: usize = 10_000;

/// A REGISTER refused because its address used up its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "too many registrations from your address: at most {per_minute} a minute (bursts of {burst}); \
     try again in {}s",
    retry_after.as_secs().max(1)
)]
pub struct TooManyRegistrations {
    pub per_minute: u64,
    pub burst: u64,
    pub retry_after: Duration,
}

/// REGISTERs per client address: each may create a device, device ids run
/// out at 999 999 and are never reused, so one client must not be able to
/// use them up.
#[derive(Debug)]
pub struct RegistrationLimits {
    per_minute: u64,
    burst: u64,
    buckets: Mutex<HashMap<IpAddr, TokenBucket>>,
}

impl RegistrationLimits {
    pub fn new(config: &LimitsConfig) -> RegistrationLimits {
        RegistrationLimits {
            per_minute: config.registrations_per_minute,
            burst: config.registration_burst.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Counts a REGISTER from `address`, or refuses it.
    pub fn admit(&self, address: IpAddr, now: Instant) -> Result<(), TooManyRegistrations> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = self.per_minute as f64 / 60.0;
        let burst = self.burst as f64;
        let key = client_key(address);
        let mut buckets = self.buckets.lock().expect("registration limits poisoned");
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            buckets.retain(|_, b| {
                b.refill(now);
                b.tokens < b.burst
            });
        }
        let bucket = buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::full(rate, burst, now));
        if bucket.take(now) {
            Ok(())
        } else {
            Err(TooManyRegistrations {
                per_minute: self.per_minute,
                burst: self.burst,
                retry_after: bucket.next_token_in(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_are_budgeted_per_address() {
        let limits = RegistrationLimits::new(&LimitsConfig {
            registrations_per_minute: 60,
            registration_burst: 3,
            ..LimitsConfig::default()
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limits.admit(A, t0), Ok(()));
        }
        let refused = limits.admit(A, t0).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert!(refused.to_string().starts_with("too many registrations"));
        assert_eq!(limits.admit(B, t0), Ok(()));
        // One a second comes back.
        assert_eq!(limits.admit(A, t0 + Duration::from_secs(1)), Ok(()));
        assert!(limits.admit(A, t0 + Duration::from_secs(1)).is_err());
        // Unlimited when the rate is 0.
        let open = RegistrationLimits::new(&LimitsConfig {
            registrations_per_minute: 0,
            ..LimitsConfig::default()
        });
        for _ in 0..10_000 {
            assert_eq!(open.admit(A, t0), Ok(()));
        }
    }

    #[test]
    fn idle_addresses_are_forgotten_when_the_table_is_full() {
        let limits = RegistrationLimits::new(&LimitsConfig {
            registrations_per_minute: 60,
            registration_burst: 2,
            ..LimitsConfig::default()
        });
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED as u32 {
            limits.admit(IpAddr::V4(i.into()), t0).unwrap();
        }
        // A second later every bucket is full again: room is made.
        limits.admit(A, t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(limits.buckets.lock().unwrap().len(), 1);
    }

    fn config(total: u64, per_ip: u64) -> LimitsConfig {
        LimitsConfig {
            max_connections: total,
            max_connections_per_ip: per_ip,
            ..LimitsConfig::default()
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn places_are_counted_in_all_and_per_address_and_freed_on_drop() {
        let limits = ConnectionLimits::new(&config(3, 2));
        let a1 = limits.admit(Some(A)).unwrap();
        let _a2 = limits.admit(Some(A)).unwrap();
        assert_eq!(
            limits.admit(Some(A)).unwrap_err(),
            Refused::TooManyFromAddress { limit: 2 }
        );
        let _b1 = limits.admit(Some(B)).unwrap();
        assert_eq!(limits.admit(None).unwrap_err(), Refused::Full { limit: 3 });
        drop(a1);
        assert_eq!(limits.open(), 2);
        let _a3 = limits.admit(Some(A)).unwrap();
        assert_eq!(limits.open(), 3);
    }

    #[test]
    fn zero_means_no_limit() {
        let limits = ConnectionLimits::new(&config(0, 0));
        let permits: Vec<_> = (0..1000).map(|_| limits.admit(Some(A)).unwrap()).collect();
        assert_eq!(limits.open(), 1000);
        drop(permits);
        assert_eq!(limits.open(), 0);
        assert!(limits.counts.lock().unwrap().by_address.is_empty());
    }

    #[test]
    fn ipv6_is_counted_per_64_block() {
        let limits = ConnectionLimits::new(&config(0, 1));
        let one = IpAddr::V6([0x2001, 0xdb8, 0, 1, 0, 0, 0, 1].into());
        let sibling = IpAddr::V6([0x2001, 0xdb8, 0, 1, 9, 9, 9, 9].into());
        let elsewhere = IpAddr::V6([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1].into());
        let _p = limits.admit(Some(one)).unwrap();
        assert!(limits.admit(Some(sibling)).is_err());
        assert!(limits.admit(Some(elsewhere)).is_ok());
        let mapped = IpAddr::V6(std::net::Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(client_key(mapped), A);
    }

    #[test]
    fn the_bucket_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut bucket = RateLimiter::new(200, 400, "frame", t0);
        for _ in 0..400 {
            assert_eq!(bucket.admit(t0), Verdict::Accept);
        }
        let Verdict::Drop(message) = bucket.admit(t0) else {
            panic!("the 401st frame at once is over the burst")
        };
        assert!(message.starts_with("rate limit exceeded: "), "{message}");
        // 200 a second: one token every 5 ms.
        let t = t0 + Duration::from_millis(5);
        assert_eq!(bucket.admit(t), Verdict::Accept);
        assert!(matches!(bucket.admit(t), Verdict::Drop(_)));
        // A steady 200 a second goes through indefinitely.
        for i in 2..2000u64 {
            let t = t0 + Duration::from_millis(5 * i);
            assert_eq!(bucket.admit(t), Verdict::Accept, "frame {i}");
        }
    }

    #[test]
    fn a_flood_for_five_seconds_is_abuse_but_pauses_reset_the_streak() {
        let t0 = Instant::now();
        let mut bucket = RateLimiter::new(10, 10, "frame", t0);
        let mut verdicts = Vec::new();
        // 1000 frames a second for 6 s.
        for i in 0..6000u64 {
            verdicts.push(bucket.admit(t0 + Duration::from_millis(i)));
            if verdicts.last() == Some(&Verdict::Abuse) {
                break;
            }
        }
        assert_eq!(verdicts.last(), Some(&Verdict::Abuse));
        assert!((5000..5100).contains(&verdicts.len()), "{}", verdicts.len());

        // Over the rate for 4 s, a 2 s pause, 4 s again: never abuse.
        let mut bucket = RateLimiter::new(10, 10, "frame", t0);
        for i in (0..4000u64).chain(6000..10_000) {
            assert_ne!(
                bucket.admit(t0 + Duration::from_millis(i)),
                Verdict::Abuse,
                "{i}"
            );
        }
    }

    /// `Date.now() | 0` of a device whose clock reads `ms`: Espruino's
    /// 32-bit wrapped timestamps.
    fn espruino(ms: i64) -> i64 {
        i64::from(ms as i32)
    }

    /// A device sends a SCORE every 10 ms (100 a second, half the rate) for
    /// 16 s; from 2 s to 10 s the server reads nothing (a stall), then reads
    /// the 800 frames that piled up at once. Its clock is Espruino's and
    /// wraps during the stall. Judged by read time alone, the backlog is a
    /// burst of 800 and half of it is dropped; by the device's timestamps,
    /// none is.
    #[test]
    fn a_backlog_sent_at_an_honest_pace_is_not_a_burst() {
        let t0 = Instant::now();
        let wrap = (1i64 << 31) * 809;
        let stamp = |i: u64| espruino(wrap - 5_000 + i as i64 * 10);
        // Sent every 10 ms; those sent from 2 s to 10 s are read at 10 s.
        let frames: Vec<(Instant, i64)> = (0..1600u64)
            .map(|i| {
                let read = if (200..1000).contains(&i) { 1000 } else { i };
                (t0 + Duration::from_millis(read * 10), stamp(i))
            })
            .collect();
        assert!(frames[250].1 > 2_147_000_000 && frames[999].1 < -2_147_000_000);
        let mut stamped = RateLimiter::new(200, 400, "frame", t0);
        let mut unstamped = RateLimiter::new(200, 400, "frame", t0);
        let (mut by_sent, mut by_read) = (0, 0);
        for &(now, ts) in &frames {
            by_sent += usize::from(stamped.admit_stamped(now, ts) == Verdict::Accept);
            by_read += usize::from(unstamped.admit(now) == Verdict::Accept);
        }
        assert_eq!(by_sent, 1600, "every frame of an honest backlog is taken");
        assert!(
            by_read < 1300,
            "read time alone drops part of it: {by_read}"
        );
    }

    /// A client that lies about its timestamps gets at most one stall's
    /// worth of frames more than the read-time limit, however long it was
    /// idle, and a flood with faked timestamps is still refused and closed.
    #[test]
    fn faked_timestamps_earn_at_most_one_backlog() {
        let t0 = Instant::now();
        let mut bucket = RateLimiter::new(200, 400, "frame", t0);
        assert_eq!(bucket.admit_stamped(t0, 0), Verdict::Accept);
        // Ten minutes idle, then frames claiming 10 ms apart, all at once.
        let now = t0 + Duration::from_secs(600);
        let taken = (1..100_000i64)
            .filter(|i| bucket.admit_stamped(now, i * 10) == Verdict::Accept)
            .count();
        let backlog = (BACKLOG.as_secs() * 200) as usize;
        assert!(taken <= 400 + backlog, "{taken}");
        assert!(taken >= backlog, "{taken}");
        // The credit is repaid by the server's clock: a second later only
        // what the device's clock can still justify, nothing on credit.
        let later = now + Duration::from_secs(1);
        let again = (100_000..200_000i64)
            .filter(|i| bucket.admit_stamped(later, i * 10) == Verdict::Accept)
            .count();
        assert!(again <= 200, "{again}");

        // A flood at 20 times the rate, timestamps faked to the rate's pace
        // or far apart: about twice the rate gets through, and after 5 s of
        // refusals the connection is closed.
        for spacing in [5, 60_000] {
            let mut bucket = RateLimiter::new(200, 400, "frame", t0);
            let mut accepted = 0;
            let mut abuse_at = None;
            for i in 0..40_000u64 {
                let now = t0 + Duration::from_micros(i * 250);
                match bucket.admit_stamped(now, i as i64 * spacing) {
                    Verdict::Accept => accepted += 1,
                    Verdict::Drop(_) => {}
                    Verdict::Abuse => {
                        abuse_at = Some(i);
                        break;
                    }
                }
            }
            let abuse_at = abuse_at.expect("a flood is closed");
            let secs = abuse_at as f64 / 4000.0;
            assert!((5.0..5.5).contains(&secs), "{secs}");
            assert!(
                accepted as f64 <= 400.0 + 2.0 * 200.0 * secs + 1.0,
                "{accepted}"
            );
        }
    }

    /// A retry (a timestamp not newer than one already sent) or a clock set
    /// back earns no time; the read-time limit judges as before.
    #[test]
    fn timestamps_that_go_back_earn_nothing() {
        let t0 = Instant::now();
        let mut bucket = RateLimiter::new(10, 5, "frame", t0);
        for _ in 0..5 {
            assert_eq!(bucket.admit_stamped(t0, 1_000), Verdict::Accept);
        }
        // 1 s of the device's clock, but stamped back: nothing earned.
        assert!(matches!(bucket.admit_stamped(t0, 500), Verdict::Drop(_)));
        // Forward by 200 ms, read at once: earned only what the server's
        // clock allows (nothing yet).
        assert!(matches!(bucket.admit_stamped(t0, 1_200), Verdict::Drop(_)));
        // A second of the server's clock later the read-time limit serves.
        let later = t0 + Duration::from_secs(1);
        assert_eq!(bucket.admit_stamped(later, 0), Verdict::Accept);
    }

    #[test]
    fn rate_zero_is_unlimited() {
        let t0 = Instant::now();
        let mut bucket = RateLimiter::new(0, 1, "frame", t0);
        for _ in 0..100_000 {
            assert_eq!(bucket.admit(t0), Verdict::Accept);
        }
    }
}
