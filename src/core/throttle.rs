//! Budgets for wrong guesses: failed `login` codes, sign-in link tokens and
//! `authenticate` or bearer secrets, counted per client address and, where
//! the attempt names a judge, per judge at that address.
//!
//! Each budget is a bucket of wrong guesses that refills at a steady rate
//! ([`ADDRESS`], [`JUDGE`]). Only wrong guesses spend it: a right code or
//! secret is answered at once and costs nothing, so a venue of judges behind
//! one NAT address is never slowed down by its own typos. An attempt takes a
//! guess from its buckets when it is admitted and gives it back if it was
//! right, so guesses sent at once on many sockets cannot overdraw a budget.
//! When a bucket is empty, attempts on it are refused unchecked (right or
//! wrong, so the refusal reveals nothing) until it refills. The per-judge
//! budget keeps one judge's repeated failures (a phone retrying a stale code)
//! from spending the whole address's budget. The table is bounded: past
//! [`MAX_ENTRIES`] full buckets are forgotten first, then the stalest.
//! IPv6 clients are counted per /64, the block one host usually controls.
//!
//! In cluster mode ([`Throttle::cluster`]) the budgets are the cluster's:
//! each node still admits from its own buckets, so a right answer never
//! waits on the database, but a wrong one is recorded in the shared store
//! (one statement) before it is answered, and the level that comes back,
//! the whole cluster's, becomes the node's. Every [`SYNC`] the node also
//! reads the levels the other nodes spent. A node admits on what it knew
//! at its last own wrong guess or read, so nodes together can overdraw a
//! budget by what the others admitted since then (guesses in flight across
//! nodes within one [`SYNC`]); an overdraft carries over as a negative
//! level and is refilled first. When the database cannot be reached, the
//! node's own buckets stand alone, as on a single node: a guesser gets at
//! most a budget per node meanwhile, and no honest judge is locked out
//! because the database is down (see docs/cluster.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::store::budgets::{Level, SharedBudgets, Spend};

/// A budget of wrong guesses: `burst` at once, refilled at `per_hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub burst: u32,
    pub per_hour: u32,
}

impl Budget {
    /// Time for one guess to refill.
    pub fn refill(self) -> Duration {
        Duration::from_secs(3600) / self.per_hour.max(1)
    }

    /// The most wrong guesses this budget allows within `elapsed`.
    pub fn allows(self, elapsed: Duration) -> u64 {
        u64::from(self.burst) + (elapsed.as_secs_f64() * f64::from(self.per_hour) / 3600.0) as u64
    }
}

/// Wrong guesses per client address: enough for 500 judges behind one NAT
/// to mistype (most sign in by link and type nothing), few enough that a
/// guesser gets a few hundred guesses an hour.
pub const ADDRESS: Budget = Budget {
    burst: 300,
    per_hour: 300,
};
/// Wrong guesses per judge at one address.
pub const JUDGE: Budget = Budget {
    burst: 10,
    per_hour: 30,
};
/// Buckets tracked at once.
pub const MAX_ENTRIES: usize = 10_000;
/// Cluster mode: how often a node reads the levels other nodes spent.
pub const SYNC: Duration = Duration::from_millis(500);
/// Cluster mode: how long a wrong answer waits for its guess to be
/// recorded before the node's own bucket stands alone.
pub const RECORD_TIMEOUT: Duration = Duration::from_secs(2);
/// Cluster mode: how often each node deletes the rows of full buckets.
const FORGET_FULL: Duration = Duration::from_secs(60);

/// An attempt refused without being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("too many failed attempts from your address{}: wait {}s and try again", judge.map(|j| format!(" for judge {j}")).unwrap_or_default(), retry_after.as_secs().max(1))]
pub struct TooMany {
    /// The judge whose budget ran out, or `None` for the address's.
    pub judge: Option<i64>,
    pub retry_after: Duration,
}

/// What a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Judge(IpAddr, i64),
}

impl Key {
    fn budget(self) -> Budget {
        match self {
            Key::Address(_) => ADDRESS,
            Key::Judge(..) => JUDGE,
        }
    }

    /// The key's name in the shared store.
    fn name(self) -> String {
        match self {
            Key::Address(ip) => format!("a {ip}"),
            Key::Judge(ip, judge) => format!("j {ip} {judge}"),
        }
    }

    /// The key a name in the shared store stands for.
    fn parse(name: &str) -> Option<Key> {
        let mut words = name.split(' ');
        let key = match (words.next()?, words.next()?.parse().ok()?, words.next()) {
            ("a", ip, None) => Key::Address(ip),
            ("j", ip, Some(judge)) => Key::Judge(ip, judge.parse().ok()?),
            _ => return None,
        };
        words.next().is_none().then_some(key)
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Wrong guesses left, counting attempts admitted and not yet decided
    /// as spent.
    left: f64,
    /// When `left` was last brought up to date.
    at: Instant,
    in_flight: u32,
    /// Cluster mode: wrong guesses counted in `left` but not yet recorded
    /// in the shared store (so not in the levels it returns).
    unsynced: u32,
    /// Cluster mode: the version of the last cluster-wide level taken.
    version: i64,
}

impl Bucket {
    fn full(budget: Budget, now: Instant) -> Bucket {
        Bucket {
            left: f64::from(budget.burst),
            at: now,
            in_flight: 0,
            unsynced: 0,
            version: 0,
        }
    }

    /// Takes a cluster-wide level, if it is newer than the last one taken:
    /// what the cluster has left, less what this node holds that the
    /// cluster has not counted yet.
    fn take(&mut self, level: &Level, now: Instant) {
        if level.version <= self.version {
            return;
        }
        self.version = level.version;
        self.left = level.left - f64::from(self.in_flight) - f64::from(self.unsynced);
        self.at = now;
    }

    /// Guesses left at `now`, with what has refilled since `at`.
    fn left_at(&self, budget: Budget, now: Instant) -> f64 {
        let gained = now.saturating_duration_since(self.at).as_secs_f64()
            * f64::from(budget.per_hour)
            / 3600.0;
        (self.left + gained).min(f64::from(budget.burst))
    }

    fn refill(&mut self, budget: Budget, now: Instant) {
        self.left = self.left_at(budget, now);
        self.at = self.at.max(now);
    }

    fn is_full(&self, budget: Budget, now: Instant) -> bool {
        self.is_idle() && self.left_at(budget, now) >= f64::from(budget.burst)
    }

    /// Holds no attempt and no guess on its way to the shared store.
    fn is_idle(&self) -> bool {
        self.in_flight == 0 && self.unsynced == 0
    }

    /// How long until one guess is available.
    fn retry_after(&self, budget: Budget) -> Duration {
        let missing = (1.0 - self.left).max(0.0);
        budget.refill().mul_f64(missing).max(Duration::from_secs(1))
    }
}

type Buckets = Arc<Mutex<HashMap<Key, Bucket>>>;

/// Budgets of wrong guesses per address and per judge at an address.
#[derive(Default)]
pub struct Throttle {
    buckets: Buckets,
    /// Cluster mode: the budgets every node spends from.
    shared: Option<Arc<dyn SharedBudgets>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("buckets", &self.len())
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

/// An admitted attempt: check it, then call [`Attempt::failed`] if it was
/// wrong; dropping it otherwise gives its guess back (it was right, or never
/// checked).
#[derive(Debug)]
#[must_use = "an attempt is decided by failing it or dropping it"]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    keys: [Option<Key>; 2],
    failed: bool,
}

impl Attempt<'_> {
    /// The attempt was wrong: its guess stays spent. In cluster mode it is
    /// also recorded in the shared store, in the background; await
    /// [`Spent::recorded`] to answer only once it is.
    pub fn failed(mut self) -> Spent {
        self.failed = true;
        let Some(shared) = self.throttle.shared.clone() else {
            return Spent(None);
        };
        let keys: Vec<Key> = self.keys.iter().flatten().copied().collect();
        {
            let mut buckets = self.throttle.buckets.lock().expect("throttle poisoned");
            for key in &keys {
                if let Some(bucket) = buckets.get_mut(key) {
                    bucket.unsynced += 1;
                }
            }
        }
        // Spawned, so the guess is recorded even if the caller goes away.
        Spent(Some(tokio::spawn(record(
            self.throttle.buckets.clone(),
            shared,
            keys,
        ))))
    }
}

/// A wrong guess on its way to the shared store (cluster mode).
#[derive(Debug)]
pub struct Spent(Option<JoinHandle<()>>);

impl Spent {
    /// Resolves once the guess is recorded cluster-wide, or the node gave
    /// up on the shared store (after at most [`RECORD_TIMEOUT`]).
    pub async fn recorded(self) {
        if let Some(task) = self.0 {
            let _ = task.await;
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut buckets = self.throttle.buckets.lock().expect("throttle poisoned");
        for key in self.keys.iter().flatten() {
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.in_flight = bucket.in_flight.saturating_sub(1);
                if !self.failed {
                    bucket.left = (bucket.left + 1.0).min(f64::from(key.budget().burst));
                }
            }
        }
    }
}

/// Records one wrong guess against `keys` in the shared store and takes
/// the cluster-wide levels it returns. If the store does not answer in
/// time, the guess stays counted here only.
async fn record(buckets: Buckets, shared: Arc<dyn SharedBudgets>, keys: Vec<Key>) {
    let spends = keys
        .iter()
        .map(|key| Spend {
            key: key.name(),
            burst: key.budget().burst,
            per_hour: key.budget().per_hour,
        })
        .collect();
    let outcome = tokio::time::timeout(RECORD_TIMEOUT, shared.spend(spends)).await;
    let now = Instant::now();
    let mut buckets = buckets.lock().expect("throttle poisoned");
    for key in &keys {
        if let Some(bucket) = buckets.get_mut(key) {
            bucket.unsynced = bucket.unsynced.saturating_sub(1);
        }
    }
    match outcome {
        Ok(Ok(levels)) => take_levels(&mut buckets, &levels, now),
        Ok(Err(e)) => tracing::warn!(
            "a wrong guess was not recorded for the cluster (this node counts it alone): {e}"
        ),
        Err(_) => tracing::warn!(
            "the database did not record a wrong guess within {RECORD_TIMEOUT:?} \
             (this node counts it alone)"
        ),
    }
}

/// Takes the cluster-wide levels the shared store returned: into this
/// node's buckets, making buckets for budgets other nodes spent.
fn take_levels(buckets: &mut HashMap<Key, Bucket>, levels: &[Level], now: Instant) {
    for level in levels {
        let Some(key) = Key::parse(&level.key) else {
            continue;
        };
        let budget = key.budget();
        if !buckets.contains_key(&key) {
            // A full bucket elsewhere is what this node assumes anyway.
            if level.left >= f64::from(budget.burst) {
                continue;
            }
            // A full table is not churned for other nodes' budgets (a read
            // may bring thousands): this node learns them at its own next
            // wrong guess, whose admission makes room.
            if buckets.len() >= MAX_ENTRIES {
                continue;
            }
        }
        buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(budget, now))
            .take(level, now);
    }
}

/// Cluster mode: every [`SYNC`], takes the levels other nodes spent
/// (everything at the first read and after a failed one, then what changed
/// within a few reads' time); every [`FORGET_FULL`], deletes the rows of
/// full buckets. Runs until `shutdown` or the throttle is gone.
async fn follow(
    buckets: Weak<Mutex<HashMap<Key, Bucket>>>,
    shared: Arc<dyn SharedBudgets>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(SYNC);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut read_all = true;
    let mut forgotten_at = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let within = (!read_all).then_some(SYNC * 6);
        let read = tokio::time::timeout(RECORD_TIMEOUT, shared.spent_levels(within)).await;
        let Some(buckets) = buckets.upgrade() else {
            return;
        };
        match read {
            Ok(Ok(levels)) => {
                read_all = false;
                take_levels(
                    &mut buckets.lock().expect("throttle poisoned"),
                    &levels,
                    Instant::now(),
                );
            }
            Ok(Err(e)) => {
                if !read_all {
                    tracing::warn!("cannot read the cluster's wrong-guess budgets (this node counts alone meanwhile): {e}");
                }
                read_all = true;
            }
            Err(_) => read_all = true,
        }
        if forgotten_at.elapsed() >= FORGET_FULL {
            forgotten_at = Instant::now();
            if let Ok(Ok(n)) = tokio::time::timeout(RECORD_TIMEOUT, shared.forget_full()).await {
                tracing::debug!(n, "forgot the cluster's full wrong-guess budgets");
            }
        }
    }
}

impl Throttle {
    /// Budgets shared by the nodes of a cluster through `shared`, followed
    /// until `shutdown`. Must be called inside a tokio runtime.
    pub fn cluster(shared: Arc<dyn SharedBudgets>, shutdown: CancellationToken) -> Throttle {
        let throttle = Throttle {
            buckets: Default::default(),
            shared: Some(shared.clone()),
        };
        tokio::spawn(follow(Arc::downgrade(&throttle.buckets), shared, shutdown));
        throttle
    }

    /// Admits an attempt from `ip` (naming `judge`, if it does), taking a
    /// guess from each of its buckets; or refuses it when one is empty.
    pub fn admit(
        &self,
        ip: IpAddr,
        judge: Option<i64>,
        now: Instant,
    ) -> Result<Attempt<'_>, TooMany> {
        let ip = crate::limits::client_key(ip);
        // The judge's bucket first: when it is empty the address's is not touched.
        let keys = [judge.map(|j| Key::Judge(ip, j)), Some(Key::Address(ip))];
        let mut buckets = self.buckets.lock().expect("throttle poisoned");
        // Room for all of the attempt's new buckets at once: making room for
        // one at a time could evict the other, just made and still full.
        let missing = keys
            .iter()
            .flatten()
            .filter(|key| !buckets.contains_key(key))
            .count();
        if buckets.len() + missing > MAX_ENTRIES {
            evict(&mut buckets, now, missing);
        }
        for key in keys.iter().flatten() {
            let budget = key.budget();
            let bucket = buckets
                .entry(*key)
                .or_insert_with(|| Bucket::full(budget, now));
            bucket.refill(budget, now);
            if bucket.left < 1.0 {
                return Err(TooMany {
                    judge: match key {
                        Key::Judge(_, j) => Some(*j),
                        Key::Address(_) => None,
                    },
                    retry_after: bucket.retry_after(budget),
                });
            }
        }
        for key in keys.iter().flatten() {
            let bucket = buckets.get_mut(key).expect("present");
            bucket.left -= 1.0;
            bucket.in_flight += 1;
        }
        Ok(Attempt {
            throttle: self,
            keys,
            failed: false,
        })
    }

    /// Buckets currently tracked.
    pub fn len(&self) -> usize {
        self.buckets.lock().expect("throttle poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room for `room` new buckets: drops full buckets (they hold
/// nothing), then the stalest.
fn evict(buckets: &mut HashMap<Key, Bucket>, now: Instant, room: usize) {
    buckets.retain(|key, bucket| !bucket.is_full(key.budget(), now));
    while buckets.len() + room > MAX_ENTRIES {
        let Some(stalest) = buckets
            .iter()
            .filter(|(_, b)| b.is_idle())
            .min_by_key(|(_, b)| b.at)
            .map(|(key, _)| *key)
        else {
            break;
        };
        buckets.remove(&stalest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    /// Fails `n` attempts; returns how many were admitted.
    fn fail(t: &Throttle, ip: IpAddr, judge: Option<i64>, n: u32, now: Instant) -> u32 {
        (0..n)
            .filter(|_| t.admit(ip, judge, now).map(Attempt::failed).is_ok())
            .count() as u32
    }

    #[test]
    fn keys_name_themselves_for_the_shared_store() {
        let v6 = IpAddr::V6([0x2001, 0xdb8, 0, 1, 0, 0, 0, 0].into());
        for key in [
            Key::Address(IP),
            Key::Judge(IP, 42),
            Key::Address(v6),
            Key::Judge(v6, 7),
        ] {
            assert_eq!(Key::parse(&key.name()), Some(key));
        }
        for bad in [
            "",
            "a",
            "a nonsense",
            "j 10.0.0.1",
            "j 10.0.0.1 x",
            "a 10.0.0.1 5",
            "x 10.0.0.1",
        ] {
            assert_eq!(Key::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_cluster_level_counts_what_this_node_holds_and_only_the_newest_counts() {
        let now = Instant::now();
        let mut bucket = Bucket::full(ADDRESS, now);
        bucket.left -= 3.0;
        (bucket.in_flight, bucket.unsynced) = (2, 1);
        let level = |left: f64, version: i64| Level {
            key: Key::Address(IP).name(),
            left,
            version,
        };
        bucket.take(&level(100.0, 5), now);
        assert_eq!(bucket.left, 97.0);
        bucket.take(&level(250.0, 4), now);
        assert_eq!(bucket.left, 97.0, "an older level was taken");
        bucket.take(&level(-2.0, 6), now);
        assert_eq!(bucket.left, -5.0);
        assert_eq!(bucket.retry_after(ADDRESS), ADDRESS.refill() * 6);
    }

    #[test]
    fn right_answers_cost_nothing() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..10_000 {
            drop(t.admit(IP, Some(1), now).unwrap());
        }
        assert_eq!(fail(&t, IP, None, 1000, now), ADDRESS.burst);
    }

    #[test]
    fn a_judge_budget_runs_out_without_touching_the_others() {
        let t = Throttle::default();
        let now = Instant::now();
        assert_eq!(fail(&t, IP, Some(1), 50, now), JUDGE.burst);
        let refused = t.admit(IP, Some(1), now).unwrap_err();
        assert_eq!(refused.judge, Some(1));
        assert_eq!(refused.retry_after, JUDGE.refill());
        assert!(refused
            .to_string()
            .starts_with("too many failed attempts from your address for judge 1: wait 120s"));
        // Refusals spent nothing of the address's budget; judge 2 is untouched.
        assert!(t.admit(IP, Some(2), now).is_ok());
        assert_eq!(fail(&t, IP, None, 1000, now), ADDRESS.burst - JUDGE.burst);
    }

    #[test]
    fn an_address_budget_runs_out_for_that_address_only() {
        let t = Throttle::default();
        let now = Instant::now();
        let admitted: u32 = (1..=100).map(|j| fail(&t, IP, Some(j), 5, now)).sum();
        assert_eq!(admitted, ADDRESS.burst);
        let refused = t.admit(IP, Some(101), now).unwrap_err();
        assert_eq!(refused.judge, None);
        assert!(refused
            .to_string()
            .starts_with("too many failed attempts from your address: wait 12s"));
        assert!(t.admit(OTHER, Some(101), now).is_ok());
    }

    #[test]
    fn guesses_in_flight_cannot_overdraw() {
        let t = Throttle::default();
        let now = Instant::now();
        let held: Vec<_> = std::iter::from_fn(|| t.admit(IP, None, now).ok())
            .take(1000)
            .collect();
        assert_eq!(held.len(), ADDRESS.burst as usize);
        // Once they turn out right, the budget is whole again.
        drop(held);
        assert_eq!(fail(&t, IP, None, 1000, now), ADDRESS.burst);
    }

    #[test]
    fn budgets_refill_at_their_rate_and_no_further() {
        let t = Throttle::default();
        let now = Instant::now();
        fail(&t, IP, None, ADDRESS.burst, now);
        assert!(t.admit(IP, None, now).is_err());
        let hour = now + Duration::from_secs(3600);
        assert_eq!(fail(&t, IP, None, 1000, hour), ADDRESS.per_hour);
        let day = hour + Duration::from_secs(86_400);
        assert_eq!(fail(&t, IP, None, 1000, day), ADDRESS.burst);
        assert_eq!(ADDRESS.allows(Duration::from_secs(3600)), 600);
    }

    #[test]
    fn ipv6_is_counted_per_64_block() {
        let t = Throttle::default();
        let now = Instant::now();
        for host in 1..=ADDRESS.burst as u16 {
            let ip = IpAddr::V6([0x2001, 0xdb8, 0, 1, 0, 0, 0, host].into());
            fail(&t, ip, None, 1, now);
        }
        let sibling = IpAddr::V6([0x2001, 0xdb8, 0, 1, 9, 9, 9, 9].into());
        let elsewhere = IpAddr::V6([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1].into());
        assert!(t.admit(sibling, None, now).is_err());
        assert!(t.admit(elsewhere, None, now).is_ok());
    }

    #[test]
    fn the_table_is_bounded() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..(MAX_ENTRIES as u32 + 5) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            fail(&t, ip, None, 1, now + Duration::from_millis(i as u64));
        }
        assert_eq!(t.len(), MAX_ENTRIES);
        let newest = Key::Address(IpAddr::V4(std::net::Ipv4Addr::from(MAX_ENTRIES as u32 + 4)));
        let first = Key::Address(IpAddr::V4(std::net::Ipv4Addr::from(0)));
        let buckets = t.buckets.lock().unwrap();
        assert!(buckets.contains_key(&newest) && !buckets.contains_key(&first));
    }

    #[test]
    fn a_full_table_makes_room_for_both_buckets_of_an_attempt() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..MAX_ENTRIES as u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            fail(&t, ip, None, 1, now + Duration::from_millis(i as u64));
        }
        // A new address naming a judge needs two buckets at once.
        let later = now + Duration::from_secs(1);
        assert_eq!(fail(&t, OTHER, Some(1), 1, later), 1);
        assert_eq!(t.len(), MAX_ENTRIES);
        assert!(t.admit(IP, Some(2), later).is_ok());
    }
}
