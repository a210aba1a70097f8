//! The clicker load scenarios: fan-out, durable acks and a competition.
//! They differ only in shape; running and reporting is shared.

use serde_json::json;

use super::{base_report, checks, finish};
use crate::cli::Common;
use crate::clicker::run::{self, Ids, Shape};
use crate::clicker::sender::Mode;
use crate::report::{Connections, Latencies, Memory, Throughput};
use crate::rss::Sampler;

async fn run_shape(common: Common, name: &str, shape: Shape, desc: serde_json::Value) -> i32 {
    let (wanted_senders, wanted_listeners) = (shape.senders, shape.listeners);
    let has_listeners = wanted_listeners > 0;
    let sampler = Sampler::start(common.pid);
    let before = sampler.now();
    let o = run::run(shape).await;
    let (_last, peak) = sampler.finish();
    let secs = o.measured_secs;
    let mut report = base_report(&common, name, secs, desc);
    report.throughput = Throughput {
        acks_per_s: o.tally.acks_in_window as f64 / secs,
        deliveries_per_s: o.tally.deliveries_in_window as f64 / secs,
        ..Throughput::default()
    };
    report.latency_us = Latencies {
        ack: Some(o.ack),
        delivery: has_listeners.then_some(o.delivery),
        ..Latencies::default()
    };
    report.connections = Connections {
        senders: o.senders_opened,
        listeners: o.listeners_opened,
        ..Connections::default()
    };
    report.memory = Memory::new(common.pid, before, o.rss_end, peak);
    report.problems = checks::clicker(&o, wanted_senders, wanted_listeners);
    report.clicker = Some(o.tally);
    finish(&common, report)
}

/// Where a shape's connections go when several nodes are given.
enum Placement {
    /// Sender and listener i on node i mod N.
    Alternate,
    /// Every sender on the first node, every listener on the last: each
    /// delivery crosses from one node to another.
    CrossNode,
}

fn shape(
    common: &Common,
    placement: Placement,
    default_secs: f64,
    senders: usize,
    listeners: usize,
    ids: Ids,
    mode: Mode,
) -> Shape {
    let hosts = common.hosts();
    let (sender_hosts, listener_hosts) = match placement {
        Placement::Alternate => (hosts.clone(), hosts),
        Placement::CrossNode => (hosts[..1].to_vec(), hosts[hosts.len() - 1..].to_vec()),
    };
    Shape {
        max_lag: 0,
        sender_hosts,
        listener_hosts,
        senders,
        listeners,
        ids,
        mode,
        draft: common.draft,
        duration: common.duration_or(default_secs),
        drain: common.drain(),
        batch: common.connect_batch,
        reconnect_first: false,
        pid: common.pid,
    }
}

pub async fn fanout(
    common: Common,
    senders: usize,
    listeners: usize,
    window: usize,
    max_lag: u64,
) -> i32 {
    let mut s = shape(
        &common,
        Placement::CrossNode,
        10.0,
        senders,
        listeners,
        Ids::All,
        Mode::Window(window),
    );
    s.max_lag = max_lag;
    let desc = json!({"senders": senders, "listeners": listeners, "ids_per_listener": "all",
        "window": window, "max_lag": max_lag, "draft": format!("{:?}", common.draft)});
    run_shape(common, "fanout", s, desc).await
}

pub async fn acks(common: Common, senders: usize, window: usize) -> i32 {
    let s = shape(
        &common,
        Placement::Alternate,
        10.0,
        senders,
        0,
        Ids::All,
        Mode::Window(window),
    );
    let desc = json!({"senders": senders, "listeners": 0, "window": window,
        "draft": format!("{:?}", common.draft)});
    run_shape(common, "acks", s, desc).await
}

pub async fn competition(
    common: Common,
    senders: usize,
    rate: f64,
    listeners: usize,
    min_ids: usize,
    max_ids: usize,
) -> i32 {
    let ids = Ids::Random {
        min: min_ids,
        max: max_ids,
    };
    let s = shape(
        &common,
        Placement::CrossNode,
        20.0,
        senders,
        listeners,
        ids,
        Mode::Rate(rate),
    );
    let desc = json!({"senders": senders, "rate_per_sender": rate, "listeners": listeners,
        "ids_per_listener": format!("{min_ids}..={max_ids} random"), "draft": format!("{:?}", common.draft)});
    run_shape(common, "competition", s, desc).await
}
