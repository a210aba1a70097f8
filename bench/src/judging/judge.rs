//! A judge rating hacks: as fast as acks come back (a window of rate-hacks
//! in flight) or at a fixed rate. Every rate-hack asks for an ack, which
//! times the commit and says whether it was accepted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::book::SendBook;
use crate::rng::Rng;
use crate::sio::SioClient;
use crate::stats::{JudgingTally, LocalHist};
use crate::time::now_us;
use sio_client::{ack_ok, Packet};

pub struct Plan {
    pub hack_ids: Arc<Vec<u64>>,
    pub window: usize,
    /// rate-hacks per second; `None` means as fast as the window allows.
    pub rate: Option<f64>,
    pub deadline: Instant,
    pub drain_until: Instant,
}

pub struct Outcome {
    pub tally: JudgingTally,
    pub judge_id: u64,
    /// Last accepted rating per hack: what the database must end up with.
    pub accepted: HashMap<u64, u64>,
    /// Hacks whose final rating is unknown (a rate-hack still unacknowledged
    /// at the end may or may not have been committed).
    pub uncertain: Vec<u64>,
}

struct InFlight {
    hack: u64,
    rating: u64,
    sent_us: u64,
}

pub async fn run(
    mut c: SioClient,
    judge_idx: usize,
    judge_id: u64,
    book: Arc<SendBook>,
    plan: Plan,
    mut hist: LocalHist,
) -> Outcome {
    let mut t = JudgingTally::default();
    let mut rng = Rng::new(0x5EED_0000 + judge_idx as u64);
    let mut last_sent: HashMap<u64, u64> = HashMap::new();
    let mut accepted: HashMap<u64, u64> = HashMap::new();
    let mut in_flight: HashMap<u64, InFlight> = HashMap::new();
    let period = plan
        .rate
        .map(|r| Duration::from_secs_f64(1.0 / r.max(0.001)));
    let window = plan.window.max(1).min(plan.hack_ids.len());
    let mut next_send = Instant::now()
        + period.map_or(Duration::ZERO, |p| {
            p.mul_f64((judge_idx % 97) as f64 / 97.0)
        });
    loop {
        let now = Instant::now();
        let sending = now < plan.deadline;
        if !sending && in_flight.is_empty() {
            break;
        }
        if now >= plan.drain_until {
            break;
        }
        if sending && now >= next_send && in_flight.len() < window {
            // Never two ratings of one hack in flight: their commit order
            // would be the server's choice and the final state unknowable.
            let hack = loop {
                let h = plan.hack_ids[rng.below(plan.hack_ids.len())];
                if !in_flight.values().any(|f| f.hack == h) {
                    break h;
                }
            };
            // A different rating each time, so every rate-hack is a change,
            // and one not recently sent for this hack, so its row is
            // attributable to this send.
            let prev = last_sent.get(&hack).copied().unwrap_or(0);
            let recent = book.recent_ratings(judge_idx, hack) | 1 << prev;
            let mut rating = 1 + rng.below(20) as u64;
            for _ in 0..20 {
                if recent & (1 << rating) == 0 {
                    break;
                }
                rating = rating % 20 + 1;
            }
            if rating == prev {
                rating = rating % 20 + 1;
            }
            last_sent.insert(hack, rating);
            let sent_us = now_us();
            book.record(judge_idx, hack, rating, sent_us);
            let data = json!({"judgeId": judge_id, "hackId": hack, "rating": rating});
            match c.emit_with_ack("rate-hack", &data).await {
                Ok(ack) => {
                    in_flight.insert(
                        ack,
                        InFlight {
                            hack,
                            rating,
                            sent_us,
                        },
                    );
                    t.rate_hacks_sent += 1;
                }
                _ => {
                    t.dropped_connections += 1;
                    break;
                }
            }
            if let Some(p) = period {
                next_send += p;
            }
            continue;
        }
        let wake = if !sending {
            plan.drain_until
        } else if in_flight.len() < window {
            next_send.min(plan.deadline)
        } else {
            plan.deadline
        };
        match c.next(wake).await {
            Ok(None) => {}
            Ok(Some(Packet::Ack { id, data })) => match in_flight.remove(&id) {
                Some(f) => {
                    if ack_ok(&data) {
                        hist.record(now_us().saturating_sub(f.sent_us));
                        t.rate_hacks_ok += 1;
                        if Instant::now() < plan.deadline {
                            t.rate_hacks_ok_in_window += 1;
                        }
                        accepted.insert(f.hack, f.rating);
                    } else {
                        if t.rate_hacks_refused == 0 {
                            eprintln!("judge {judge_id}: rate-hack refused: {data}");
                        }
                        // A refused rating leaves the previous one standing.
                        t.rate_hacks_refused += 1;
                    }
                }
                None => t.unmatched_acks += 1,
            },
            Ok(Some(Packet::Event { name, data, .. })) => {
                if name == "protocol-error" {
                    if t.protocol_errors == 0 {
                        eprintln!("judge {judge_id}: protocol-error {data}");
                    }
                    t.protocol_errors += 1;
                }
            }
            Ok(Some(_)) => t.unexpected_packets += 1,
            Err(e) => {
                eprintln!("judge {judge_id}: connection lost: {e}");
                t.dropped_connections += 1;
                break;
            }
        }
    }
    t.lost_acks += in_flight.len() as u64;
    let uncertain = in_flight.values().map(|f| f.hack).collect();
    c.close().await;
    Outcome {
        tally: t,
        judge_id,
        accepted,
        uncertain,
    }
}
