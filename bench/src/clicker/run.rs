//! One clicker load run: register the senders, subscribe the listeners,
//! release the load for the measured window, then drain acknowledgements and
//! deliveries and fold everything into one outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::devices::Devices;
use super::listener::{Finals, Listener};
use super::progress::Progress;
use super::proto::draft_for;
use super::sender::{self, Mode, Plan, Sender};
use crate::cli::DraftChoice;
use crate::conn;
use crate::rng::Rng;
use crate::rss::{self, Reading};
use crate::stats::{ClickerTally, Hist, LatencySummary};

/// Pause between registering the senders and subscribing listeners on
/// other nodes (see where it is used).
const PRESENCE_SETTLE: Duration = Duration::from_secs(1);

/// Which device ids listener `i` subscribes to.
#[derive(Debug, Clone, Copy)]
pub enum Ids {
    All,
    /// Between `min` and `max` distinct random ids.
    Random {
        min: usize,
        max: usize,
    },
    /// Exactly one id, round-robin over the devices.
    One,
}

pub struct Shape {
    /// Nodes the senders register on: sender i on `sender_hosts[i % len]`.
    pub sender_hosts: Vec<String>,
    /// Nodes the listeners subscribe on: listener i on `listener_hosts[i % len]`.
    pub listener_hosts: Vec<String>,
    pub senders: usize,
    pub listeners: usize,
    pub ids: Ids,
    pub mode: Mode,
    pub draft: DraftChoice,
    pub duration: Duration,
    pub drain: Duration,
    pub batch: usize,
    /// Senders wait while the slowest listener is this many scores behind
    /// (0: no bound, senders are limited by acknowledgements alone).
    pub max_lag: u64,
    /// Make sender 0 drop and re-register half-way (smoke only).
    pub reconnect_first: bool,
    /// Server process, read when the load ends with connections still open.
    pub pid: Option<u32>,
}

pub struct Outcome {
    pub tally: ClickerTally,
    pub ack: LatencySummary,
    pub delivery: LatencySummary,
    pub measured_secs: f64,
    pub senders_opened: usize,
    pub listeners_opened: usize,
    /// Listeners subscribed to the re-registering device that did not see
    /// it leave and come back (live `DISCONNECT <id>` and `CONNECT <id>`).
    pub missed_reconnects: u64,
    pub rss_end: Option<Reading>,
}

/// The node connection `i` goes to: round-robin over `hosts`.
fn host_for(hosts: &[String], i: usize) -> String {
    hosts[i % hosts.len()].clone()
}

/// Registers `n` devices at the bounded pace, device i on node `i % len`.
/// Failures are counted, not fatal.
pub async fn register_senders(
    hosts: &[String],
    n: usize,
    draft: DraftChoice,
    batch: usize,
    tally: &mut ClickerTally,
) -> Vec<Sender> {
    let opened = conn::open_paced(n, batch, |i| {
        let host = host_for(hosts, i);
        let d = draft_for(draft, i);
        async move { sender::register(&host, None, d).await.map(|r| (host, d, r)) }
    })
    .await;
    let mut out = Vec::new();
    for r in opened {
        match r {
            Ok((host, draft, (ws, id, secret))) => out.push(Sender {
                dev: out.len(),
                host,
                ws,
                draft,
                id,
                secret,
            }),
            Err(e) => {
                count_failure(tally, &e, "register");
            }
        }
    }
    out
}

fn count_failure(tally: &mut ClickerTally, e: &str, what: &str) {
    // Only the first few are printed: ten thousand identical lines help no one.
    if tally.connect_failures + tally.setup_failures < 5 {
        eprintln!("{what} failed: {e}");
    }
    if e.starts_with("tcp") || e.starts_with("websocket") {
        tally.connect_failures += 1;
    } else {
        tally.setup_failures += 1;
    }
}

pub fn device_table(senders: &[Sender]) -> Arc<Devices> {
    Arc::new(Devices::new(senders.iter().map(|s| s.id).collect()))
}

fn pick_ids(ids: Ids, i: usize, n_devices: usize, rng: &mut Rng) -> Vec<usize> {
    match ids {
        Ids::All => (0..n_devices).collect(),
        Ids::One => vec![i % n_devices],
        Ids::Random { min, max } => {
            let max = max.clamp(1, n_devices);
            let min = min.clamp(1, max);
            let k = min + rng.below(max - min + 1);
            let mut all: Vec<usize> = (0..n_devices).collect();
            // Partial Fisher-Yates: the first k are a uniform sample.
            for j in 0..k {
                let r = j + rng.below(n_devices - j);
                all.swap(j, r);
            }
            all.truncate(k);
            all
        }
    }
}

/// Opens and subscribes `n` listeners at the bounded pace, listener i on
/// node `i % len`.
pub async fn open_listeners(
    hosts: &[String],
    n: usize,
    ids: Ids,
    draft: DraftChoice,
    batch: usize,
    devices: &Arc<Devices>,
    tally: &mut ClickerTally,
) -> Vec<Listener> {
    if devices.len() == 0 {
        return Vec::new();
    }
    let connected = Arc::new(vec![true; devices.len()]);
    let opened = conn::open_paced(n, batch, |i| {
        let host = host_for(hosts, i);
        let devices = devices.clone();
        let connected = connected.clone();
        let devs = pick_ids(ids, i, devices.len(), &mut Rng::new(i as u64 + 1));
        let d = draft_for(draft, i);
        async move { Listener::open(&host, d, devs, &devices, &connected).await }
    })
    .await;
    let mut out = Vec::new();
    for r in opened {
        match r {
            Ok(l) => out.push(l),
            Err(e) => count_failure(tally, &e, "listener"),
        }
    }
    out
}

pub async fn run(shape: Shape) -> Outcome {
    let mut tally = ClickerTally::default();
    let senders = register_senders(
        &shape.sender_hosts,
        shape.senders,
        shape.draft,
        shape.batch,
        &mut tally,
    )
    .await;
    let devices = device_table(&senders);
    if shape.listener_hosts != shape.sender_hosts {
        // Listeners on other nodes hear of the devices through the change
        // log; subscribing before it arrived would miss them in the first
        // CONNECT reply (they come as live CONNECTs instead). Clickers
        // register well before the scoreboards open at a real event.
        tokio::time::sleep(PRESENCE_SETTLE).await;
    }
    let listeners = open_listeners(
        &shape.listener_hosts,
        shape.listeners,
        shape.ids,
        shape.draft,
        shape.batch,
        &devices,
        &mut tally,
    )
    .await;
    let senders_opened = senders.len();
    let listeners_opened = listeners.len();
    eprintln!("{senders_opened} senders registered, {listeners_opened} listeners subscribed; load for {:.1} s", shape.duration.as_secs_f64());

    let ack_hist = Hist::new();
    let delivery_hist = Hist::new();
    let start = Instant::now();
    let deadline = start + shape.duration;
    let drain_until = deadline + shape.drain;
    let hard_stop = drain_until + shape.drain + Duration::from_secs(5);
    let (finals_tx, finals_rx) = watch::channel(None);

    let progress = (shape.max_lag > 0 && !listeners.is_empty()).then(|| {
        let subscribed: Vec<Vec<usize>> = listeners.iter().map(Listener::devs).collect();
        Arc::new(Progress::new(devices.len(), &subscribed))
    });
    let mut listener_tasks = JoinSet::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let (devices, rx, hist) = (devices.clone(), finals_rx.clone(), delivery_hist.local());
        let board = progress.clone().map(|p| (p, i));
        listener_tasks.spawn(l.run(devices, deadline, rx, hard_stop, hist, board));
    }
    let mut sender_tasks = JoinSet::new();
    for (i, s) in senders.into_iter().enumerate() {
        let offset = match shape.mode {
            // Spread fixed-rate senders over one period instead of in lockstep.
            Mode::Rate(r) => {
                Duration::from_secs_f64((i as f64 / shape.senders.max(1) as f64) / r.max(0.001))
            }
            Mode::Window(_) => Duration::ZERO,
        };
        let plan = Plan {
            mode: shape.mode,
            deadline,
            drain_until,
            reconnect_at: (shape.reconnect_first && i == 0).then(|| start + shape.duration / 2),
            start_offset: offset,
            max_lag: progress.clone().map(|p| (shape.max_lag, p)),
        };
        let dev = s.dev;
        let fut = s.run(devices.clone(), plan, ack_hist.local());
        sender_tasks.spawn(async move { (dev, fut.await) });
    }

    let mut acked_prefix = vec![0; devices.len()];
    while let Some(r) = sender_tasks.join_next().await {
        match r {
            Ok((dev, o)) => {
                tally.merge(&o.tally);
                acked_prefix[dev] = o.acked_prefix;
            }
            Err(e) => eprintln!("sender task failed: {e}"),
        }
    }
    let rss_end = shape.pid.and_then(rss::read);
    let _ = finals_tx.send(Some(Arc::new(Finals {
        acked_prefix,
        until: Instant::now().max(deadline) + shape.drain,
    })));

    let mut missed_reconnects = 0;
    while let Some(r) = listener_tasks.join_next().await {
        match r {
            Ok(o) => {
                tally.merge(&o.tally);
                if shape.reconnect_first {
                    missed_reconnects += o
                        .presence
                        .iter()
                        .filter(|p| p.dev == 0 && (p.connects == 0 || p.disconnects == 0))
                        .count() as u64;
                }
            }
            Err(e) => eprintln!("listener task failed: {e}"),
        }
    }
    Outcome {
        tally,
        ack: ack_hist.summary(),
        delivery: delivery_hist.summary(),
        measured_secs: shape.duration.as_secs_f64(),
        senders_opened,
        listeners_opened,
        missed_reconnects,
        rss_end,
    }
}
