//! One judging load run: set up the event, log the judges in, subscribe the
//! admins, rate for the measured window, then drain acks and updates and
//! check every subscriber ended with the accepted ratings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::book::SendBook;
use super::subscriber::{Finals, Subscriber};
use super::{judge, setup};
use crate::cli::EioChoice;
use crate::conn;
use crate::rss::{self, Reading};
use crate::sio::eio_for_index;
use crate::stats::{Hist, JudgingTally, LatencySummary};
use sio_client::Eio;

/// Judges logging in at once (see where it is used).
const LOGIN_BATCH: usize = 2;
/// How long set-up waits for the event to show in a node's update-full,
/// and how often it looks.
const VIEW_WAIT: Duration = Duration::from_secs(5);
const VIEW_POLL: Duration = Duration::from_millis(50);

pub struct Shape {
    /// Nodes to use: the event is set up on the first; judge i and
    /// subscriber i connect to node i mod N.
    pub hosts: Vec<String>,
    pub admin_secret: String,
    pub login_code: String,
    pub judges: usize,
    pub admins: usize,
    pub hacks: usize,
    pub window: usize,
    pub rate: Option<f64>,
    pub eio: EioChoice,
    pub duration: Duration,
    pub drain: Duration,
    pub batch: usize,
    /// Server process, read when the load ends with connections still open.
    pub pid: Option<u32>,
}

pub struct Outcome {
    pub tally: JudgingTally,
    pub rate_ack: LatencySummary,
    pub update: LatencySummary,
    pub measured_secs: f64,
    pub judges_opened: usize,
    pub admins_opened: usize,
    /// Set-up itself failed; nothing was measured.
    pub setup_error: Option<String>,
    pub rss_end: Option<Reading>,
}

fn count_failure(t: &mut JudgingTally, e: &str, what: &str) {
    if t.connect_failures + t.setup_failures < 5 {
        eprintln!("{what} failed: {e}");
    }
    if e.starts_with("tcp") || e.starts_with("websocket") {
        t.connect_failures += 1;
    } else {
        t.setup_failures += 1;
    }
}

pub async fn run(shape: Shape) -> Outcome {
    let mut tally = JudgingTally::default();
    let empty = |tally: JudgingTally, e: String| Outcome {
        tally,
        rate_ack: LatencySummary::default(),
        update: LatencySummary::default(),
        measured_secs: 0.0,
        judges_opened: 0,
        admins_opened: 0,
        setup_error: Some(e),
        rss_end: None,
    };
    // Names must be unique even against a database reused across runs.
    let tag = format!(
        "{}-{}",
        std::process::id(),
        crate::time::wall_ms() % 1_000_000_000
    );
    let event = async {
        let host = &shape.hosts[0];
        let mut admin = setup::admin(host, Eio::V4, &shape.admin_secret).await?;
        let made = setup::create(&mut admin, &tag, shape.hacks.max(1), shape.judges).await;
        admin.close().await;
        made?;
        // A cluster node's view follows the change log, so a fresh
        // update-full may briefly lack writes already acknowledged.
        let started = Instant::now();
        let mut retried = false;
        loop {
            let mut admin = setup::admin(host, Eio::V4, &shape.admin_secret).await?;
            let found = setup::find(&mut admin, &tag, shape.hacks.max(1), shape.judges).await;
            admin.close().await;
            match found {
                Ok(ev) => {
                    if retried {
                        eprintln!(
                            "note: update-full showed the acknowledged set-up only after {:.0} ms",
                            started.elapsed().as_secs_f64() * 1000.0
                        );
                    }
                    break Ok(ev);
                }
                Err(setup::FindError::Missing(_)) if started.elapsed() < VIEW_WAIT => {
                    retried = true;
                    tokio::time::sleep(VIEW_POLL).await;
                }
                Err(setup::FindError::Missing(e) | setup::FindError::Other(e)) => break Err(e),
            }
        }
    }
    .await;
    let event = match event {
        Ok(ev) => ev,
        Err(e) => {
            eprintln!("judging set-up failed: {e}");
            tally.setup_failures += 1;
            return empty(tally, e);
        }
    };

    // Podium budgets only wrong guesses, so judges from one address may log
    // in at once; they log in two at a time all the same, as a hall's phones
    // do not all sign in within the same millisecond either.
    let opened = conn::open_paced(event.judge_ids.len(), LOGIN_BATCH, |i| {
        let (host, code, id) = (
            shape.hosts[i % shape.hosts.len()].clone(),
            shape.login_code.clone(),
            event.judge_ids[i],
        );
        let eio = eio_for_index(shape.eio, i);
        async move { setup::judge(&host, eio, id, &code).await.map(|c| (i, c)) }
    })
    .await;
    let mut judges = Vec::new();
    for r in opened {
        match r {
            Ok(j) => judges.push(j),
            Err(e) => count_failure(&mut tally, &e, "judge login"),
        }
    }
    let opened = conn::open_paced(shape.admins, shape.batch, |i| {
        let (host, secret) = (
            shape.hosts[i % shape.hosts.len()].clone(),
            shape.admin_secret.clone(),
        );
        let eio = eio_for_index(shape.eio, i + 1);
        async move { Subscriber::open(&host, eio, &secret).await }
    })
    .await;
    let mut subscribers = Vec::new();
    for r in opened {
        match r {
            Ok(s) => subscribers.push(s),
            Err(e) => count_failure(&mut tally, &e, "subscriber"),
        }
    }
    let (judges_opened, admins_opened) = (judges.len(), subscribers.len());
    eprintln!(
        "{} hacks, {judges_opened} judges logged in, {admins_opened} admins subscribed; rating for {:.1} s",
        event.hack_ids.len(),
        shape.duration.as_secs_f64()
    );

    let book = Arc::new(SendBook::new(&event.judge_ids));
    let hack_ids = Arc::new(event.hack_ids);
    let (ack_hist, update_hist) = (Hist::new(), Hist::new());
    let start = Instant::now();
    let deadline = start + shape.duration;
    let drain_until = deadline + shape.drain;
    let hard_stop = drain_until + shape.drain + Duration::from_secs(5);
    let (finals_tx, finals_rx) = watch::channel(None);

    let mut sub_tasks = JoinSet::new();
    for s in subscribers {
        let fut = s.run(
            book.clone(),
            deadline,
            finals_rx.clone(),
            hard_stop,
            update_hist.local(),
        );
        sub_tasks.spawn(fut);
    }
    let mut judge_tasks = JoinSet::new();
    for (i, c) in judges {
        let plan = judge::Plan {
            hack_ids: hack_ids.clone(),
            window: shape.window,
            rate: shape.rate,
            deadline,
            drain_until,
        };
        judge_tasks.spawn(judge::run(
            c,
            i,
            event.judge_ids[i],
            book.clone(),
            plan,
            ack_hist.local(),
        ));
    }

    let mut expected = HashMap::new();
    let mut rows = 0;
    while let Some(r) = judge_tasks.join_next().await {
        match r {
            Ok(o) => {
                tally.merge(&o.tally);
                rows += o.tally.rate_hacks_ok;
                for (hack, rating) in o.accepted {
                    expected.insert((o.judge_id, hack), rating);
                }
                for hack in o.uncertain {
                    expected.remove(&(o.judge_id, hack));
                }
            }
            Err(e) => eprintln!("judge task failed: {e}"),
        }
    }
    let rss_end = shape.pid.and_then(rss::read);
    let _ = finals_tx.send(Some(Arc::new(Finals {
        expected,
        rows,
        until: Instant::now().max(deadline) + shape.drain,
    })));
    while let Some(r) = sub_tasks.join_next().await {
        match r {
            Ok(o) => tally.merge(&o.tally),
            Err(e) => eprintln!("subscriber task failed: {e}"),
        }
    }
    Outcome {
        tally,
        rate_ack: ack_hist.summary(),
        update: update_hist.summary(),
        measured_secs: shape.duration.as_secs_f64(),
        judges_opened,
        admins_opened,
        setup_error: None,
        rss_end,
    }
}
