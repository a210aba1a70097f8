//! What counts as a problem in a run. Throughput without these checks would
//! reward a server that drops, refuses or reorders.

use crate::clicker::run::Outcome as ClickerOutcome;
use crate::judging::run::Outcome as JudgingOutcome;

fn push_nonzero(problems: &mut Vec<String>, pairs: &[(&str, u64)]) {
    for &(what, n) in pairs {
        if n > 0 {
            problems.push(format!("{what}: {n}"));
        }
    }
}

pub fn clicker(o: &ClickerOutcome, wanted_senders: usize, wanted_listeners: usize) -> Vec<String> {
    let t = &o.tally;
    let mut p = Vec::new();
    if o.senders_opened < wanted_senders {
        p.push(format!(
            "only {} of {wanted_senders} senders registered",
            o.senders_opened
        ));
    }
    if o.listeners_opened < wanted_listeners {
        p.push(format!(
            "only {} of {wanted_listeners} listeners subscribed",
            o.listeners_opened
        ));
    }
    push_nonzero(
        &mut p,
        &[
            ("server ERROR frames", t.server_errors),
            ("unexpected frames", t.unexpected_frames),
            ("lost acknowledgements (SCORE without SCORED)", t.lost_acks),
            ("SCORED matching nothing sent", t.unmatched_acks),
            ("missing deliveries", t.missing_deliveries),
            ("duplicate deliveries", t.duplicate_deliveries),
            ("out-of-order deliveries", t.reordered_deliveries),
            (
                "deliveries for ids not registered here",
                t.foreign_deliveries,
            ),
            (
                "CONNECT replies not listing the connected ids",
                t.connect_reply_mismatches,
            ),
            ("connections dropped by the server", t.dropped_connections),
            ("re-registrations that failed", t.reregister_failures),
            (
                "listeners that missed a device reconnecting",
                o.missed_reconnects,
            ),
        ],
    );
    if wanted_senders > 0 && t.acks == 0 {
        p.push("no SCORE was acknowledged".into());
    }
    if wanted_senders > 0 && wanted_listeners > 0 && t.deliveries == 0 {
        p.push("no SCORE was delivered to a listener".into());
    }
    p
}

/// `strict` also requires a rating row per accepted rate-hack at every
/// subscriber; under full load a server may legitimately merge superseded
/// ratings, so only the smoke run asks for it.
pub fn judging(
    o: &JudgingOutcome,
    wanted_judges: usize,
    wanted_admins: usize,
    strict: bool,
) -> Vec<String> {
    let mut p = Vec::new();
    if let Some(e) = &o.setup_error {
        p.push(format!("judging set-up failed: {e}"));
        return p;
    }
    let t = &o.tally;
    if o.judges_opened < wanted_judges {
        p.push(format!(
            "only {} of {wanted_judges} judges logged in",
            o.judges_opened
        ));
    }
    if o.admins_opened < wanted_admins {
        p.push(format!(
            "only {} of {wanted_admins} admins subscribed",
            o.admins_opened
        ));
    }
    push_nonzero(
        &mut p,
        &[
            ("rate-hacks refused", t.rate_hacks_refused),
            ("rate-hacks without ack", t.lost_acks),
            ("acks matching nothing sent", t.unmatched_acks),
            ("protocol-error events", t.protocol_errors),
            ("unexpected socket.io packets", t.unexpected_packets),
            (
                "subscribers whose ratings differ from the accepted ones",
                t.stale_views,
            ),
            ("connections dropped by the server", t.dropped_connections),
        ],
    );
    if strict && t.missing_rating_rows > 0 {
        p.push(format!(
            "accepted rate-hacks missing from subscribers' update-partial: {}",
            t.missing_rating_rows
        ));
    }
    if wanted_judges > 0 && t.rate_hacks_ok == 0 {
        p.push("no rate-hack was accepted".into());
    }
    if wanted_judges > 0 && wanted_admins > 0 && t.rating_rows == 0 {
        p.push("no rating reached a subscriber".into());
    }
    p
}
