//! The judging scenario: many judges rating, a few admins watching. Needs
//! the admin secret and judge login code the server was started with.

use serde_json::json;

use super::{base_report, checks, finish, UNUSABLE};
use crate::cli::{Common, EioChoice, JudgingAuth};
use crate::judging::run::{self, Shape};
use crate::report::{Connections, Latencies, Memory, Throughput};
use crate::rss::Sampler;

pub async fn run(
    common: Common,
    auth: JudgingAuth,
    judges: usize,
    admins: usize,
    hacks: usize,
    window: usize,
    eio: EioChoice,
) -> i32 {
    let (Some(admin_secret), Some(login_code)) = (auth.admin_secret, auth.login_code) else {
        eprintln!("judging needs --admin-secret and --login-code");
        return UNUSABLE;
    };
    let shape = Shape {
        hosts: common.hosts(),
        admin_secret,
        login_code,
        judges,
        admins,
        hacks,
        window,
        rate: None,
        eio,
        duration: common.duration_or(10.0),
        drain: common.drain(),
        batch: common.connect_batch,
        pid: common.pid,
    };
    let sampler = Sampler::start(common.pid);
    let before = sampler.now();
    let o = run::run(shape).await;
    let (_last, peak) = sampler.finish();
    let desc = json!({"judges": judges, "admins": admins, "hacks": hacks, "window": window,
        "eio": format!("{eio:?}")});
    let mut report = base_report(&common, "judging", o.measured_secs, desc);
    let secs = o.measured_secs.max(f64::MIN_POSITIVE);
    report.throughput = Throughput {
        rate_hacks_per_s: o.tally.rate_hacks_ok_in_window as f64 / secs,
        rating_rows_per_s: o.tally.rating_rows_in_window as f64 / secs,
        ..Throughput::default()
    };
    report.latency_us = Latencies {
        rate_hack_ack: Some(o.rate_ack),
        update_partial: Some(o.update),
        ..Latencies::default()
    };
    report.connections = Connections {
        judges: o.judges_opened,
        admins: o.admins_opened,
        ..Connections::default()
    };
    report.memory = Memory::new(common.pid, before, o.rss_end, peak);
    report.problems = checks::judging(&o, judges, admins, false);
    report.judging = Some(o.tally);
    finish(&common, report)
}
