//! The scenarios: each turns command-line flags into a load shape, runs it,
//! and turns the outcome into a report. Every scenario exits 0 only when the
//! run was clean; `smoke` is the one CI relies on.

mod checks;
mod clicker;
mod disk;
mod idle;
mod judging;
mod smoke;

use crate::cli::{Cli, Command, Common};
use crate::report::Report;

/// Exit status when nothing could be measured at all (bad flags, no server).
pub const UNUSABLE: i32 = 2;

pub async fn run(cli: Cli) -> i32 {
    crate::time::epoch();
    match cli.command {
        Command::Fanout {
            common,
            senders,
            listeners,
            window,
            max_lag,
        } => clicker::fanout(common, senders, listeners, window, max_lag).await,
        Command::Acks {
            common,
            senders,
            window,
        } => clicker::acks(common, senders, window).await,
        Command::Competition {
            common,
            senders,
            rate,
            listeners,
            min_ids,
            max_ids,
        } => clicker::competition(common, senders, rate, listeners, min_ids, max_ids).await,
        Command::Idle {
            common,
            connections,
            devices,
            settle,
        } => idle::run(common, connections, devices, settle).await,
        Command::Judging {
            common,
            auth,
            judges,
            admins,
            hacks,
            window,
            eio,
        } => judging::run(common, auth, judges, admins, hacks, window, eio).await,
        Command::Smoke { common, auth } => smoke::run(common, auth).await,
        Command::Fsync {
            dir,
            count,
            interval_ms,
        } => {
            disk::fsync(
                dir,
                count,
                std::time::Duration::from_secs_f64(interval_ms / 1000.0),
            )
            .await
        }
    }
}

/// Prints the report, writes its JSON if asked, and returns the exit code.
fn finish(common: &Common, mut report: Report) -> i32 {
    report.ok = report.problems.is_empty();
    report.print();
    if let Some(path) = &common.json {
        if let Err(e) = report.write_json(path) {
            eprintln!("could not write {}: {e}", path.display());
            return UNUSABLE;
        }
    }
    if report.ok {
        0
    } else {
        1
    }
}

fn base_report(
    common: &Common,
    scenario: &str,
    duration_s: f64,
    shape: serde_json::Value,
) -> Report {
    Report {
        scenario: scenario.to_string(),
        label: common.label.clone(),
        url: common.url_label(),
        duration_s,
        shape,
        ..Report::default()
    }
}
