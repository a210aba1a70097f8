//! A subscribed admin: keeps its own copy of every rating from update-full
//! and update-partial, times each rating row against the judge's send, and
//! at the end checks its copy against what the judges saw accepted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::watch;

use super::book::SendBook;
use super::{db, setup};
use crate::sio::SioClient;
use crate::stats::{JudgingTally, LocalHist};
use crate::time::now_us;
use sio_client::{Eio, Packet};

/// Ratings every subscriber must end up showing, keyed by (judgeId, hackId).
pub struct Finals {
    pub expected: HashMap<(u64, u64), u64>,
    /// Accepted rate-hacks: rating rows each subscriber should receive.
    pub rows: u64,
    pub until: Instant,
}

pub type FinalsRx = watch::Receiver<Option<Arc<Finals>>>;

pub struct Subscriber {
    c: SioClient,
    view: HashMap<(u64, u64), u64>,
}

pub struct Outcome {
    pub tally: JudgingTally,
}

impl Subscriber {
    pub async fn open(host: &str, eio: Eio, admin_secret: &str) -> Result<Subscriber, String> {
        let mut c = setup::admin(host, eio, admin_secret).await?;
        let full = c
            .request("subscribe-database", &json!({}), "update-full")
            .await?;
        let database = full.get("database").unwrap_or(&full);
        let view = db::ratings(database)
            .into_iter()
            .map(|(j, h, r)| ((j, h), r))
            .collect();
        Ok(Subscriber { c, view })
    }

    fn mismatches(&self, f: &Finals) -> usize {
        f.expected
            .iter()
            .filter(|(k, v)| self.view.get(k) != Some(v))
            .count()
    }

    pub async fn run(
        mut self,
        book: Arc<SendBook>,
        deadline: Instant,
        mut finals_rx: FinalsRx,
        hard_stop: Instant,
        mut hist: LocalHist,
    ) -> Outcome {
        let mut t = JudgingTally::default();
        let mut finals: Option<Arc<Finals>> = None;
        // Rows still differing from the finals, kept up to date row by row.
        let mut off_by = usize::MAX;
        loop {
            if let Some(f) = &finals {
                if (off_by == 0 && t.rating_rows >= f.rows) || Instant::now() >= f.until {
                    break;
                }
            }
            let stop = finals
                .as_ref()
                .map_or(hard_stop, |f| f.until.min(hard_stop));
            let next = tokio::select! {
                n = self.c.next(stop) => n,
                changed = finals_rx.changed(), if finals.is_none() => {
                    finals = match changed {
                        Ok(()) => finals_rx.borrow().clone(),
                        Err(_) => Some(Arc::new(Finals { expected: HashMap::new(), rows: 0, until: Instant::now() })),
                    };
                    if let Some(f) = &finals {
                        off_by = self.mismatches(f);
                    }
                    continue;
                }
            };
            match next {
                Ok(None) => break,
                Ok(Some(Packet::Event { name, data, .. })) => match name.as_str() {
                    "update-partial" => {
                        t.update_partials += 1;
                        let diff = data.get("diff").unwrap_or(&Value::Null);
                        let received = now_us();
                        for (j, h, r) in db::ratings(diff) {
                            t.rating_rows += 1;
                            if Instant::now() < deadline {
                                t.rating_rows_in_window += 1;
                            }
                            match book.send_time(j, h, r) {
                                Some(sent) => hist.record(received.saturating_sub(sent)),
                                None => t.rating_rows_untimed += 1,
                            }
                            let old = self.view.insert((j, h), r);
                            if let Some(want) =
                                finals.as_ref().and_then(|f| f.expected.get(&(j, h)))
                            {
                                let was_right = old == Some(*want);
                                match (was_right, r == *want) {
                                    (false, true) => off_by -= 1,
                                    (true, false) => off_by += 1,
                                    _ => {}
                                }
                            }
                        }
                    }
                    "update-full" => {
                        let database = data.get("database").unwrap_or(&data);
                        self.view = db::ratings(database)
                            .into_iter()
                            .map(|(j, h, r)| ((j, h), r))
                            .collect();
                        if let Some(f) = &finals {
                            off_by = self.mismatches(f);
                        }
                    }
                    "protocol-error" => {
                        if t.protocol_errors == 0 {
                            eprintln!("subscriber: protocol-error {data}");
                        }
                        t.protocol_errors += 1;
                    }
                    _ => {}
                },
                Ok(Some(_)) => t.unexpected_packets += 1,
                Err(e) => {
                    eprintln!("subscriber: connection lost: {e}");
                    t.dropped_connections += 1;
                    break;
                }
            }
        }
        if let Some(f) = &finals {
            t.missing_rating_rows += f.rows.saturating_sub(t.rating_rows);
            let off = self.mismatches(f);
            if off > 0 {
                eprintln!("subscriber: {off} ratings differ from what was acknowledged");
                t.stale_views += 1;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.c.close()).await;
        Outcome { tally: t }
    }
}
