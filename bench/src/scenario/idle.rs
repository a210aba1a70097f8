//! Idle connections: how much server memory one more open, subscribed
//! listener costs. RSS is read once before the listeners connect and once
//! after they all have and the server has settled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{base_report, finish, UNUSABLE};
use crate::cli::Common;
use crate::clicker::listener::Finals;
use crate::clicker::run::{self, Ids};
use crate::report::{Connections, Memory};
use crate::rss::Sampler;
use crate::stats::{ClickerTally, Hist};

pub async fn run(common: Common, connections: usize, devices: usize, settle: f64) -> i32 {
    let hosts = common.hosts();
    let host = common.url_label();
    // Idle sockets receive almost nothing; keep the generator lean too.
    crate::conn::set_read_buffer(4 * 1024);
    let settle = Duration::from_secs_f64(settle.max(0.0));
    let hold = common.duration_or(10.0);
    let mut tally = ClickerTally::default();
    let sampler = Sampler::start(common.pid);

    let senders = run::register_senders(
        &hosts,
        devices.max(1),
        common.draft,
        common.connect_batch,
        &mut tally,
    )
    .await;
    if senders.is_empty() {
        eprintln!("no device could register; is the server at {host}?");
        return UNUSABLE;
    }
    let table = run::device_table(&senders);
    tokio::time::sleep(settle).await;
    let before = sampler.now();

    let started = Instant::now();
    let listeners = run::open_listeners(
        &hosts,
        connections,
        Ids::One,
        common.draft,
        common.connect_batch,
        &table,
        &mut tally,
    )
    .await;
    let opened = listeners.len();
    eprintln!(
        "{opened} of {connections} listeners connected and subscribed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let hist = Hist::new();
    let deadline = Instant::now() + settle + hold;
    let hard_stop = deadline + Duration::from_secs(30);
    let (finals_tx, finals_rx) = watch::channel(None);
    let mut tasks = JoinSet::new();
    for l in listeners {
        tasks.spawn(l.run(
            table.clone(),
            deadline,
            finals_rx.clone(),
            hard_stop,
            hist.local(),
            None,
        ));
    }
    tokio::time::sleep(settle).await;
    let after = sampler.now();
    tokio::time::sleep_until(deadline.into()).await;
    let _ = finals_tx.send(Some(Arc::new(Finals {
        acked_prefix: vec![0; table.len()],
        until: Instant::now(),
    })));
    while let Some(r) = tasks.join_next().await {
        if let Ok(o) = r {
            tally.merge(&o.tally);
        }
    }
    drop(senders);
    let (_last, peak) = sampler.finish();

    let mut report = base_report(
        &common,
        "idle",
        hold.as_secs_f64(),
        json!({"connections": connections, "devices": devices, "draft": format!("{:?}", common.draft)}),
    );
    report.connections = Connections {
        senders: table.len(),
        listeners: opened,
        ..Connections::default()
    };
    let mut memory = Memory::new(common.pid, before, after, peak);
    if let (Some(m), Some(b), Some(a)) = (memory.as_mut(), before, after) {
        if opened > 0 {
            m.per_connection_bytes =
                Some((a.rss_kib as f64 - b.rss_kib as f64) * 1024.0 / opened as f64);
        }
    }
    report.memory = memory;
    if opened < connections {
        report.problems.push(format!(
            "only {opened} of {connections} listeners connected"
        ));
    }
    for (what, n) in [
        (
            "connections dropped by the server",
            tally.dropped_connections,
        ),
        ("server ERROR frames", tally.server_errors),
        (
            "CONNECT replies not listing the connected ids",
            tally.connect_reply_mismatches,
        ),
    ] {
        if n > 0 {
            report.problems.push(format!("{what}: {n}"));
        }
    }
    report.clicker = Some(tally);
    finish(&common, report)
}
