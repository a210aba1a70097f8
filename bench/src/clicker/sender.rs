//! A clicker device: registers, then SCOREs either as fast as a window of
//! unacknowledged SCOREs allows or at a fixed rate, matching every SCORED to
//! what was sent (by msgId and timestamp in draft-2, timestamp in draft-1).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

use super::devices::Devices;
use super::progress::Progress;
use super::proto::{self, Draft, Frame};
use crate::conn::{self, Ws};
use crate::stats::{ClickerTally, LocalHist};
use crate::time::{now_us, wall_ms};

const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Fixed-rate senders stop adding SCOREs beyond this many unacknowledged,
/// so a stalled server cannot grow the generator without bound.
const RATE_MODE_CAP: usize = 10_000;

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Window(usize),
    /// SCOREs per second.
    Rate(f64),
}

/// Reads frames until one satisfies `want` or the timeout passes.
pub async fn await_frame<T>(
    ws: &mut Ws,
    draft: Draft,
    mut want: impl FnMut(Frame<'_>) -> Option<Result<T, String>>,
) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| "no reply within 10 s".to_string())?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                if let Some(r) = want(proto::parse(t.as_str(), draft)) {
                    return r;
                }
            }
            Some(Ok(Message::Close(_))) | None => return Err("closed by server".into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read: {e}")),
        }
    }
}

/// Completes the close handshake and shuts the TCP stream, so the server
/// sees the device gone before it comes back (dropping the old socket only
/// once the new one is up would look like an overlap, not a reconnect).
async fn close_fully(ws: &mut Ws) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let _ = ws.get_mut().shutdown().await;
}

/// Opens a connection and sends `REGISTER` (or `REGISTER <secret>`).
/// Returns the socket, the id and the secret the server answered with.
pub async fn register(
    host: &str,
    secret: Option<&str>,
    draft: Draft,
) -> Result<(Ws, u32, String), String> {
    let mut ws = conn::connect(host, "/ws").await?;
    let cmd = match secret {
        Some(s) => format!("REGISTER {s}"),
        None => "REGISTER".to_string(),
    };
    ws.send(Message::text(cmd))
        .await
        .map_err(|e| format!("send REGISTER: {e}"))?;
    let (id, secret) = await_frame(&mut ws, draft, |f| match f {
        Frame::Registered { id, secret } => Some(Ok((id, secret.to_string()))),
        Frame::Error(m) => Some(Err(format!("REGISTER refused: {m}"))),
        Frame::Other(t) => Some(Err(format!("unexpected reply to REGISTER: {t:?}"))),
        _ => None,
    })
    .await?;
    Ok((ws, id, secret))
}

struct Pending {
    msg_id: u64,
    ts: u64,
    score: u64,
    sent_us: u64,
}

pub struct Plan {
    pub mode: Mode,
    pub deadline: Instant,
    pub drain_until: Instant,
    /// Close the connection at this time (once the window is empty) and come
    /// back with `REGISTER <secret>`, as a clicker does after losing Wi-Fi.
    pub reconnect_at: Option<Instant>,
    /// Delay before the first SCORE, to spread fixed-rate senders.
    pub start_offset: Duration,
    /// Hold back while the slowest listener is more than this many scores
    /// behind this device (with the progress board to read it from).
    pub max_lag: Option<(u64, Arc<Progress>)>,
}

pub struct Outcome {
    pub tally: ClickerTally,
    /// Highest score such that it and every lower one were acknowledged.
    pub acked_prefix: u64,
}

pub struct Sender {
    pub dev: usize,
    /// The node this device registered on, and comes back to.
    pub host: String,
    pub ws: Ws,
    pub draft: Draft,
    pub id: u32,
    pub secret: String,
}

struct State {
    msg_id: u64,
    score: u64,
    last_ts: u64,
    outstanding: VecDeque<Pending>,
    first_refused: Option<u64>,
    tally: ClickerTally,
}

impl Sender {
    pub async fn run(mut self, devices: Arc<Devices>, plan: Plan, mut hist: LocalHist) -> Outcome {
        let mut st = State {
            msg_id: 0,
            score: 0,
            last_ts: 0,
            outstanding: VecDeque::new(),
            first_refused: None,
            tally: ClickerTally::default(),
        };
        let window = match plan.mode {
            Mode::Window(w) => w.max(1),
            Mode::Rate(_) => RATE_MODE_CAP,
        };
        let period = match plan.mode {
            Mode::Rate(r) => Some(Duration::from_secs_f64(1.0 / r.max(0.001))),
            Mode::Window(_) => None,
        };
        let mut next_send = Instant::now() + plan.start_offset;
        let mut reconnect_at = plan.reconnect_at;
        let mut lag_blocked = false;
        // Re-armed only when the wake-up time moves, not once per ack.
        let mut armed = plan.drain_until;
        let timer = tokio::time::sleep_until(armed.into());
        tokio::pin!(timer);
        loop {
            let now = Instant::now();
            let reconnecting = reconnect_at.is_some_and(|t| now >= t);
            let sending = now < plan.deadline && !reconnecting;
            if reconnecting && st.outstanding.is_empty() {
                reconnect_at = None;
                if !self.reconnect(&mut st.tally).await {
                    break;
                }
                continue;
            }
            if !sending && st.outstanding.is_empty() && !reconnecting {
                break;
            }
            if now >= plan.drain_until {
                break;
            }
            if sending && now >= next_send {
                let burst = match period {
                    // Catch up on missed ticks so the offered rate holds.
                    Some(p) => {
                        let mut n = 0;
                        while next_send <= now {
                            next_send += p;
                            n += 1;
                        }
                        n
                    }
                    None => window.saturating_sub(st.outstanding.len()),
                };
                let mut room = window.saturating_sub(st.outstanding.len());
                if let Some((max_lag, progress)) = &plan.max_lag {
                    let lag = st.score.saturating_sub(progress.slowest(self.dev));
                    let lag_room = max_lag.saturating_sub(lag) as usize;
                    lag_blocked = lag_room == 0;
                    room = room.min(lag_room);
                }
                for _ in 0..burst.min(room) {
                    if self.feed_score(&devices, &mut st).await.is_err() {
                        st.tally.dropped_connections += 1;
                        return self.finish(st);
                    }
                }
                if self.ws.flush().await.is_err() {
                    st.tally.dropped_connections += 1;
                    return self.finish(st);
                }
            }
            let wake = if !sending {
                plan.drain_until
            } else if lag_blocked {
                // Listeners report progress without waking us; look again soon.
                (now + Duration::from_millis(1)).min(plan.deadline)
            } else {
                let next = if period.is_some() || now < next_send {
                    next_send
                } else {
                    plan.deadline
                };
                next.min(plan.deadline)
                    .min(reconnect_at.unwrap_or(plan.deadline))
            };
            if armed != wake {
                timer.as_mut().reset(wake.into());
                armed = wake;
            }
            let msg = tokio::select! {
                biased;
                m = self.ws.next() => m,
                _ = &mut timer => continue,
            };
            match msg {
                Some(Ok(Message::Text(t))) => self.on_frame(t.as_str(), &plan, &mut st, &mut hist),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    st.tally.dropped_connections += 1;
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
        self.finish(st)
    }

    fn finish(&self, mut st: State) -> Outcome {
        st.tally.lost_acks += st.outstanding.len() as u64;
        let mut prefix = st.outstanding.front().map_or(st.score, |p| p.score - 1);
        if let Some(r) = st.first_refused {
            prefix = prefix.min(r - 1);
        }
        Outcome {
            tally: st.tally,
            acked_prefix: prefix,
        }
    }

    async fn feed_score(&mut self, devices: &Devices, st: &mut State) -> Result<(), ()> {
        st.score += 1;
        st.msg_id += 1;
        // Strictly increasing per device, so no SCORE looks like a retry.
        st.last_ts = wall_ms().max(st.last_ts + 1);
        let cmd = proto::score_cmd(self.draft, st.msg_id, st.last_ts, st.score);
        let sent_us = now_us();
        devices.record_send(self.dev, st.score, sent_us);
        st.outstanding.push_back(Pending {
            msg_id: st.msg_id,
            ts: st.last_ts,
            score: st.score,
            sent_us,
        });
        st.tally.scores_sent += 1;
        self.ws.feed(Message::text(cmd)).await.map_err(|_| ())
    }

    fn on_frame(&mut self, text: &str, plan: &Plan, st: &mut State, hist: &mut LocalHist) {
        match proto::parse(text, self.draft) {
            Frame::Scored { msg_id, ts } => {
                let pos = st.outstanding.iter().position(|p| {
                    p.ts == ts
                        && match (self.draft, msg_id) {
                            (Draft::Two, Some(m)) => p.msg_id == m,
                            (Draft::One, None) => true,
                            _ => false,
                        }
                });
                match pos.and_then(|i| st.outstanding.remove(i)) {
                    Some(p) => {
                        hist.record(now_us().saturating_sub(p.sent_us));
                        st.tally.acks += 1;
                        if Instant::now() < plan.deadline {
                            st.tally.acks_in_window += 1;
                        }
                    }
                    None => st.tally.unmatched_acks += 1,
                }
            }
            Frame::Error(m) => {
                if st.tally.server_errors == 0 {
                    eprintln!("sender {:06}: server error: {m}", self.id);
                }
                st.tally.server_errors += 1;
                // The refused SCORE will never be acked; free its window slot.
                if let Some(p) = st.outstanding.pop_front() {
                    st.first_refused.get_or_insert(p.score);
                }
            }
            _ => st.tally.unexpected_frames += 1,
        }
    }

    /// Drops the connection and re-registers with the secret. Returns false
    /// when the device could not come back.
    async fn reconnect(&mut self, tally: &mut ClickerTally) -> bool {
        close_fully(&mut self.ws).await;
        // Give the server time to notice and announce the DISCONNECT.
        tokio::time::sleep(Duration::from_millis(200)).await;
        match register(&self.host, Some(&self.secret), self.draft).await {
            Ok((ws, id, _secret)) => {
                self.ws = ws;
                if id != self.id {
                    eprintln!("re-register of {:06} returned id {:06}", self.id, id);
                    tally.reregister_failures += 1;
                }
                true
            }
            Err(e) => {
                eprintln!("re-register of {:06} failed: {e}", self.id);
                tally.reregister_failures += 1;
                false
            }
        }
    }
}
