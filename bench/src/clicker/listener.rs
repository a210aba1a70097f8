//! A scoreboard: subscribes to some device ids, then counts, times and
//! checks every broadcast. Each id keeps a bitmap of the scores seen, so a
//! loss, a duplicate or a reordering is noticed exactly, not estimated.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::devices::Devices;
use super::progress::Progress;
use super::proto::{self, Draft, Frame};
use super::sender::await_frame;
use crate::conn::{self, Ws};
use crate::stats::{ClickerTally, LocalHist};
use crate::time::now_us;

const NOT_SUBSCRIBED: u16 = u16::MAX;

/// What listeners must have received before they may stop: per device, the
/// highest score whose SCORE and every earlier one were acknowledged.
pub struct Finals {
    pub acked_prefix: Vec<u64>,
    pub until: Instant,
}

pub type FinalsRx = watch::Receiver<Option<Arc<Finals>>>;

struct Sub {
    dev: usize,
    seen: Vec<u64>,
    distinct: u64,
    max: u64,
    connects: u32,
    disconnects: u32,
}

impl Sub {
    /// Marks a score as seen; returns false if it was seen before.
    fn mark(&mut self, score: u64) -> bool {
        let (word, bit) = ((score / 64) as usize, score % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        let fresh = self.seen[word] & (1 << bit) == 0;
        self.seen[word] |= 1 << bit;
        fresh
    }

    fn seen_up_to(&self, last: u64) -> u64 {
        (1..=last)
            .filter(|&s| {
                let (word, bit) = ((s / 64) as usize, s % 64);
                self.seen.get(word).is_some_and(|w| w & (1 << bit) != 0)
            })
            .count() as u64
    }
}

pub struct Listener {
    ws: Ws,
    draft: Draft,
    subs: Vec<Sub>,
    sub_of: Vec<u16>,
    /// The first reply did not list exactly the subscribed ids then connected.
    pub reply_mismatch: bool,
}

/// Per subscribed device: how many live CONNECT / DISCONNECT events arrived.
pub struct PresenceSeen {
    pub dev: usize,
    pub connects: u32,
    pub disconnects: u32,
}

pub struct Outcome {
    pub tally: ClickerTally,
    pub presence: Vec<PresenceSeen>,
}

impl Listener {
    /// Connects, subscribes to `devs` and waits for the `CONNECT` reply,
    /// which should list every subscribed device currently connected
    /// (`connected` says which are).
    pub async fn open(
        host: &str,
        draft: Draft,
        devs: Vec<usize>,
        devices: &Devices,
        connected: &[bool],
    ) -> Result<Listener, String> {
        let mut ws = conn::connect(host, "/ws").await?;
        let ids: Vec<u32> = devs.iter().map(|&d| devices.ids[d]).collect();
        ws.send(Message::text(proto::subscribe_cmd(draft, &ids)))
            .await
            .map_err(|e| format!("send subscribe: {e}"))?;
        let listed = await_frame(&mut ws, draft, |f| match f {
            Frame::Connect(ids) => Some(Ok(ids)),
            Frame::Error(m) => Some(Err(format!("subscribe refused: {m}"))),
            Frame::Other(t) => Some(Err(format!("unexpected reply to subscribe: {t:?}"))),
            _ => None,
        })
        .await?;
        let mut expected: Vec<u32> = devs
            .iter()
            .filter(|&&d| connected[d])
            .map(|&d| devices.ids[d])
            .collect();
        let mut got = listed;
        expected.sort_unstable();
        got.sort_unstable();
        got.dedup();
        let mut sub_of = vec![NOT_SUBSCRIBED; devices.len()];
        let subs = devs
            .iter()
            .enumerate()
            .map(|(i, &dev)| {
                sub_of[dev] = i as u16;
                Sub {
                    dev,
                    seen: Vec::new(),
                    distinct: 0,
                    max: 0,
                    connects: 0,
                    disconnects: 0,
                }
            })
            .collect();
        Ok(Listener {
            ws,
            draft,
            subs,
            sub_of,
            reply_mismatch: got != expected,
        })
    }

    /// Device indices this listener subscribed to.
    pub fn devs(&self) -> Vec<usize> {
        self.subs.iter().map(|s| s.dev).collect()
    }

    fn complete(&self, finals: &Finals) -> bool {
        self.subs
            .iter()
            .all(|s| s.distinct >= finals.acked_prefix[s.dev])
    }

    /// Receives until the finals are known and met, or their deadline, or
    /// `hard_stop` (so a listener never outlives the run).
    pub async fn run(
        mut self,
        devices: Arc<Devices>,
        deadline: Instant,
        mut finals_rx: FinalsRx,
        hard_stop: Instant,
        mut hist: LocalHist,
        progress: Option<(Arc<Progress>, usize)>,
    ) -> Outcome {
        let mut t = ClickerTally::default();
        if self.reply_mismatch {
            t.connect_reply_mismatches += 1;
        }
        let mut finals: Option<Arc<Finals>> = None;
        let deadline_us = deadline
            .saturating_duration_since(crate::time::epoch())
            .as_micros() as u64;
        // One timer for the whole run, moved only when the finals arrive:
        // arming a fresh timer per frame would cost more than the frame.
        let stop = tokio::time::sleep_until(hard_stop.into());
        tokio::pin!(stop);
        loop {
            if let Some(f) = &finals {
                if self.complete(f) || Instant::now() >= f.until {
                    break;
                }
            }
            let msg = tokio::select! {
                // Frames first: while the socket has buffered frames the
                // other branches are never polled (no waiter registration).
                biased;
                m = self.ws.next() => m,
                changed = finals_rx.changed(), if finals.is_none() => {
                    finals = match changed {
                        Ok(()) => finals_rx.borrow().clone(),
                        // The run was abandoned: stop now.
                        Err(_) => Some(Arc::new(Finals { acked_prefix: vec![0; devices.len()], until: Instant::now() })),
                    };
                    if let Some(f) = &finals {
                        stop.as_mut().reset(f.until.min(hard_stop).into());
                    }
                    continue;
                }
                _ = &mut stop => break,
            };
            match msg {
                Some(Ok(Message::Text(text))) => {
                    if let Some((dev, max)) =
                        self.on_frame(text.as_str(), &devices, deadline_us, &mut t, &mut hist)
                    {
                        if let Some((p, l)) = &progress {
                            p.advance(*l, dev, max);
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    t.dropped_connections += 1;
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
        if let Some((p, l)) = &progress {
            p.retire(*l);
        }
        if finals.is_none() {
            // Dropped early: what it should still have received counts as
            // missing, so wait for the run to say how much that is.
            let _ = tokio::time::timeout_at(hard_stop.into(), finals_rx.changed()).await;
            finals = finals_rx.borrow().clone();
        }
        if let Some(f) = &finals {
            for s in &self.subs {
                t.missing_deliveries +=
                    f.acked_prefix[s.dev].saturating_sub(s.seen_up_to(f.acked_prefix[s.dev]));
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
        Outcome {
            tally: t,
            presence: self
                .subs
                .iter()
                .map(|s| PresenceSeen {
                    dev: s.dev,
                    connects: s.connects,
                    disconnects: s.disconnects,
                })
                .collect(),
        }
    }

    fn sub_mut(&mut self, devices: &Devices, id: u32) -> Option<&mut Sub> {
        let dev = devices.index_of(id)?;
        match self.sub_of[dev] {
            NOT_SUBSCRIBED => None,
            i => Some(&mut self.subs[i as usize]),
        }
    }

    fn on_frame(
        &mut self,
        text: &str,
        devices: &Devices,
        deadline_us: u64,
        t: &mut ClickerTally,
        hist: &mut LocalHist,
    ) -> Option<(usize, u64)> {
        match proto::parse(text, self.draft) {
            Frame::Score { id, score, .. } => {
                let received = now_us();
                t.deliveries += 1;
                if received < deadline_us {
                    t.deliveries_in_window += 1;
                }
                let Some(dev) = devices.index_of(id) else {
                    t.foreign_deliveries += 1;
                    return None;
                };
                match devices.send_time(dev, score) {
                    Some(sent) => hist.record(received.saturating_sub(sent)),
                    None => t.deliveries_untimed += 1,
                }
                let Some(sub) = self.sub_mut(devices, id) else {
                    // A SCORE for an id this listener never asked for.
                    t.unexpected_frames += 1;
                    return None;
                };
                if !sub.mark(score) {
                    t.duplicate_deliveries += 1;
                } else {
                    sub.distinct += 1;
                    if score < sub.max {
                        t.reordered_deliveries += 1;
                    }
                    sub.max = sub.max.max(score);
                }
                return Some((dev, sub.max));
            }
            Frame::Connect(ids) => {
                for id in ids {
                    t.connect_events += 1;
                    if let Some(s) = self.sub_mut(devices, id) {
                        s.connects += 1;
                    }
                }
            }
            Frame::Disconnect(ids) => {
                for id in ids {
                    t.disconnect_events += 1;
                    if let Some(s) = self.sub_mut(devices, id) {
                        s.disconnects += 1;
                    }
                }
            }
            Frame::Error(m) => {
                if t.server_errors == 0 {
                    eprintln!("listener: server error: {m}");
                }
                t.server_errors += 1;
            }
            _ => t.unexpected_frames += 1,
        }
        None
    }
}
