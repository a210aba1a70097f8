//! The CI smoke run: a few seconds of modest, fixed-rate load mixing both
//! clicker drafts (and both Engine.IO versions when judging credentials are
//! given), with one device dropping and re-registering half-way. Any error,
//! lost acknowledgement or missing delivery fails it.

use serde_json::json;

use super::{base_report, checks, finish, UNUSABLE};
use crate::cli::{Common, DraftChoice, EioChoice, JudgingAuth};
use crate::clicker::run::{self as clicker_run, Ids};
use crate::clicker::sender::Mode;
use crate::judging::run as judging_run;
use crate::report::{Connections, Latencies, Memory, Throughput};
use crate::rss::Sampler;

const SENDERS: usize = 4;
const LISTENERS: usize = 6;
const SCORE_RATE: f64 = 100.0;
const JUDGES: usize = 4;
const ADMINS: usize = 2;
const HACKS: usize = 10;
const RATE_HACK_RATE: f64 = 20.0;

pub async fn run(common: Common, auth: JudgingAuth) -> i32 {
    let duration = common.duration_or(5.0);
    if common.hosts().len() > 1 {
        eprintln!("smoke runs against one server: give one --url");
        return UNUSABLE;
    }
    let clicker_shape = clicker_run::Shape {
        sender_hosts: vec![common.host()],
        listener_hosts: vec![common.host()],
        senders: SENDERS,
        listeners: LISTENERS,
        ids: Ids::All,
        mode: Mode::Rate(SCORE_RATE),
        // Both drafts always: the smoke run is about compatibility.
        draft: DraftChoice::Mixed,
        duration,
        drain: common.drain(),
        batch: common.connect_batch,
        reconnect_first: true,
        max_lag: 0,
        pid: common.pid,
    };
    let judging_shape = match (auth.admin_secret, auth.login_code) {
        (Some(admin_secret), Some(login_code)) => Some(judging_run::Shape {
            hosts: vec![common.host()],
            admin_secret,
            login_code,
            judges: JUDGES,
            admins: ADMINS,
            hacks: HACKS,
            window: 1,
            rate: Some(RATE_HACK_RATE),
            eio: EioChoice::Mixed,
            duration,
            drain: common.drain(),
            batch: common.connect_batch,
            pid: None,
        }),
        _ => {
            eprintln!("no --admin-secret/--login-code: judging part skipped");
            None
        }
    };
    let sampler = Sampler::start(common.pid);
    let before = sampler.now();
    let judging_on = judging_shape.is_some();
    let (c, j) = tokio::join!(clicker_run::run(clicker_shape), async {
        match judging_shape {
            Some(s) => Some(judging_run::run(s).await),
            None => None,
        }
    });
    let (_last, peak) = sampler.finish();

    let desc = json!({"senders": SENDERS, "listeners": LISTENERS, "score_rate": SCORE_RATE,
        "draft": "mixed", "reconnect": true,
        "judging": judging_on.then(|| json!({"judges": JUDGES, "admins": ADMINS, "hacks": HACKS,
            "rate": RATE_HACK_RATE, "eio": "mixed"}))});
    let secs = c.measured_secs;
    let mut report = base_report(&common, "smoke", secs, desc);
    report.problems = checks::clicker(&c, SENDERS, LISTENERS);
    report.throughput = Throughput {
        acks_per_s: c.tally.acks_in_window as f64 / secs,
        deliveries_per_s: c.tally.deliveries_in_window as f64 / secs,
        ..Throughput::default()
    };
    report.latency_us = Latencies {
        ack: Some(c.ack),
        delivery: Some(c.delivery),
        ..Latencies::default()
    };
    report.connections = Connections {
        senders: c.senders_opened,
        listeners: c.listeners_opened,
        ..Connections::default()
    };
    report.memory = Memory::new(common.pid, before, c.rss_end, peak);
    report.clicker = Some(c.tally);
    if let Some(j) = j {
        report
            .problems
            .extend(checks::judging(&j, JUDGES, ADMINS, true));
        report.throughput.rate_hacks_per_s = j.tally.rate_hacks_ok_in_window as f64 / secs;
        report.throughput.rating_rows_per_s = j.tally.rating_rows_in_window as f64 / secs;
        report.latency_us.rate_hack_ack = Some(j.rate_ack);
        report.latency_us.update_partial = Some(j.update);
        report.connections.judges = j.judges_opened;
        report.connections.admins = j.admins_opened;
        report.judging = Some(j.tally);
    }
    let code = finish(&common, report);
    println!(
        "{}",
        if code == 0 {
            "SMOKE OK"
        } else {
            "SMOKE FAILED"
        }
    );
    code
}
