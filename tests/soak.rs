//! Crash soak (issue 7): clickers, scoreboards, Sledge judges and an admin
//! work against a real `podium` child process that is killed with SIGKILL at
//! random moments and restarted on the same data directory. Every client
//! reconnects, clickers re-REGISTER with their secret and judges
//! re-authenticate with the secret `login` gave them. At the end (a last
//! restart, no kill) the server's state, read through the HTTP API and a
//! judge's own `update-full`, must hold everything any client was told.
//!
//! `PODIUM_SOAK_KILLS` sets the number of kills (default 3, for CI);
//! `PODIUM_SOAK_SEED` replays a run's kill delays and client choices (thread
//! timing is not replayed, so a replay is likely but not certain to fail the
//! same way).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::ChildServer;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sio_client::{Eio, Packet, Sio};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const ADMIN_SECRET: &str = "soak-admin-secret-3f9c0d6e2b8a4c1d9e7f6a5b";
const LOGIN_CODE: &str = "soak-login-code-9e7f6a5b4c3d2e1f";

const CLICKERS: usize = 20;
const LISTENERS: usize = 4;
const JUDGES: usize = 6;
const HACKS: usize = 8;
const SUPERLATIVES: usize = 3;

/// SCOREs a clicker may have sent without a SCORED yet.
const CLICKER_WINDOW: usize = 16;
const CLICKER_PACE: Duration = Duration::from_millis(15);
/// Sledge requests a judge may have sent without an acknowledgement yet.
const JUDGE_WINDOW: usize = 4;
const JUDGE_PACE: Duration = Duration::from_millis(100);
const ADMIN_PACE: Duration = Duration::from_millis(150);
/// Time for every client to finish what it has in flight once told to stop.
const DRAIN: Duration = Duration::from_secs(20);

/// splitmix64: small, seedable, good enough to pick delays and values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// What every client task sees: where the server is now, and whether to stop.
#[derive(Clone)]
struct Shared {
    addr: watch::Receiver<SocketAddr>,
    /// Clickers, judges and the admin: finish what is in flight, then return.
    stop: watch::Receiver<bool>,
    /// Scoreboards stop later, so that they see the last broadcasts.
    stop_listeners: watch::Receiver<bool>,
    /// Device ids as clickers registered them, for the scoreboards.
    devices: Arc<Mutex<Vec<String>>>,
}

impl Shared {
    fn addr(&self) -> SocketAddr {
        *self.addr.borrow()
    }
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }
}

/// Pause between reconnection attempts while the server is down.
async fn backoff() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

// ---------------------------------------------------------------- clickers

/// One SCORE as sent: the device's count and (draft-2) its msgId.
#[derive(Clone, Copy, PartialEq, Debug)]
struct Sent {
    score: i64,
    msg_id: Option<i64>,
}

#[derive(Default)]
struct ClickerLog {
    id: String,
    secret: String,
    /// Every SCORE ever sent, by timestamp (unique per device).
    sent: BTreeMap<i64, Sent>,
    /// Timestamps the server acknowledged with SCORED.
    acked: BTreeSet<i64>,
    registrations: u32,
    /// SCOREs sent again after a reconnect because no SCORED had come.
    retries: usize,
    problems: Vec<String>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(addr: SocketAddr) -> Option<Ws> {
    let connect = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"));
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok((ws, _))) => Some(ws),
        _ => None,
    }
}

/// The next text frame, `None` when the connection is gone or silent for `wait`.
async fn ws_text(ws: &mut Ws, wait: Duration) -> Option<String> {
    let deadline = Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.to_string()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        }
    }
}

fn score_command(draft2: bool, ts: i64, s: Sent) -> String {
    match s.msg_id {
        Some(m) if draft2 => format!("SCORE {m} {ts} {}", s.score),
        _ => format!("SCORE {ts} {}", s.score),
    }
}

async fn clicker(index: usize, shared: Shared) -> ClickerLog {
    let draft2 = index % 2 == 1;
    let base = 1_700_000_000_000i64 + index as i64 * 1_000_000_000;
    let mut log = ClickerLog::default();
    let mut next_n = 1i64;
    // Sent but not acknowledged, in sending order: resent after every
    // reconnect, as the firmware does, so the retry path is exercised too.
    let mut unacked: BTreeSet<i64> = BTreeSet::new();
    let mut drain_deadline = None;
    loop {
        if shared.stopping() {
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN);
            if unacked.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                log.problems.push(format!(
                    "clicker {index}: {} SCOREs never acknowledged after the last restart",
                    unacked.len()
                ));
                break;
            }
        }
        let Some(mut ws) = ws_connect(shared.addr()).await else {
            backoff().await;
            continue;
        };
        let register = if log.secret.is_empty() {
            "REGISTER".to_string()
        } else {
            format!("REGISTER {}", log.secret)
        };
        if ws.send(Message::text(register)).await.is_err() {
            continue;
        }
        let Some(reply) = ws_text(&mut ws, Duration::from_secs(5)).await else {
            continue;
        };
        let parts: Vec<&str> = reply.split(' ').collect();
        if parts.len() != 3 || parts[0] != "REGISTERED" {
            log.problems
                .push(format!("clicker {index}: REGISTER answered {reply:?}"));
            backoff().await;
            continue;
        }
        if log.secret.is_empty() {
            log.id = parts[1].to_string();
            log.secret = parts[2].to_string();
            shared.devices.lock().unwrap().push(log.id.clone());
        } else if parts[1] != log.id || parts[2] != log.secret {
            log.problems.push(format!(
                "clicker {index}: its secret gave id {} instead of {} after a restart",
                parts[1], log.id
            ));
            return log;
        }
        log.registrations += 1;

        let mut alive = true;
        log.retries += unacked.len();
        for &ts in &unacked {
            let cmd = score_command(draft2, ts, log.sent[&ts]);
            if ws.send(Message::text(cmd)).await.is_err() {
                alive = false;
                break;
            }
        }
        let mut next_send = Instant::now();
        while alive {
            if shared.stopping() && unacked.is_empty() {
                let _ = ws.close(None).await;
                return log;
            }
            tokio::select! {
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        let parts: Vec<&str> = t.split(' ').collect();
                        let ts = parts.last().and_then(|p| p.parse::<i64>().ok());
                        match (parts[0], ts) {
                            ("SCORED", Some(ts)) if log.sent.contains_key(&ts) => {
                                unacked.remove(&ts);
                                log.acked.insert(ts);
                            }
                            _ => log.problems.push(format!("clicker {index}: unexpected {t:?}")),
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => alive = false,
                },
                _ = tokio::time::sleep_until(next_send) => {
                    next_send += CLICKER_PACE;
                    if shared.stopping() || unacked.len() >= CLICKER_WINDOW {
                        continue;
                    }
                    let ts = base + next_n;
                    let sent = Sent { score: next_n, msg_id: draft2.then_some(next_n) };
                    next_n += 1;
                    log.sent.insert(ts, sent);
                    unacked.insert(ts);
                    if ws.send(Message::text(score_command(draft2, ts, sent))).await.is_err() {
                        alive = false;
                    }
                }
            }
        }
        backoff().await;
    }
    log
}

// ------------------------------------------------------------- scoreboards

#[derive(Default)]
struct ListenerLog {
    /// (device, timestamp, score) of every broadcast SCORE received.
    seen: BTreeSet<(String, i64, i64)>,
    problems: Vec<String>,
}

async fn listener(index: usize, shared: Shared) -> ListenerLog {
    let draft2 = index % 2 == 1;
    let mut log = ListenerLog::default();
    // Newest broadcast seen per device, over all connections: a scoreboard
    // must never see a count go back in time, restarts included.
    let mut newest: HashMap<String, (i64, i64)> = HashMap::new();
    let mut stop = shared.stop_listeners.clone();
    while !*stop.borrow() {
        let ids = shared.devices.lock().unwrap().clone();
        if ids.is_empty() {
            backoff().await;
            continue;
        }
        let Some(mut ws) = ws_connect(shared.addr()).await else {
            backoff().await;
            continue;
        };
        let verb = if draft2 { "SUBSCRIBE" } else { "LISTEN" };
        if ws
            .send(Message::text(format!("{verb} {}", ids.join(" "))))
            .await
            .is_err()
        {
            continue;
        }
        loop {
            let msg = tokio::select! {
                m = ws.next() => m,
                _ = stop.changed() => break,
            };
            let Some(Ok(msg)) = msg else { break };
            let Message::Text(t) = msg else { continue };
            let parts: Vec<&str> = t.split(' ').collect();
            if parts[0] != "SCORE" {
                continue;
            }
            let (ts, device, score) = if draft2 {
                (parts[1], parts[3], parts[2])
            } else {
                (parts[1], parts[2], parts[3])
            };
            let (Ok(ts), Ok(score)) = (ts.parse::<i64>(), score.parse::<i64>()) else {
                log.problems
                    .push(format!("listener {index}: unreadable {t:?}"));
                continue;
            };
            if let Some(&(old_ts, old_score)) = newest.get(device) {
                if ts < old_ts || (ts == old_ts && score != old_score) {
                    log.problems.push(format!(
                        "listener {index}: device {device} went back from {old_ts}/{old_score} to {ts}/{score}"
                    ));
                }
            }
            newest.insert(device.to_string(), (ts, score));
            log.seen.insert((device.to_string(), ts, score));
        }
    }
    log
}

// ------------------------------------------------------------------ judges

/// What a judge's request writes: a rating of a hack, or a placement for a
/// superlative.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
enum Key {
    Rating { hack: i64 },
    Placement { superlative: i64 },
}

/// A rating, or (first choice, second choice).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Val {
    Rating(i64),
    Placement(i64, i64),
}

struct Write {
    value: Val,
    acked: bool,
}

#[derive(Default)]
struct JudgeLog {
    judge: i64,
    secret: String,
    /// Every write per key, in sending order.
    writes: HashMap<Key, Vec<Write>>,
    /// The row id each acknowledgement named; one per key, never changing.
    row_ids: HashMap<Key, i64>,
    sessions: u32,
    problems: Vec<String>,
}

#[derive(Clone)]
struct Setup {
    hacks: Vec<i64>,
    judges: Vec<i64>,
    superlatives: Vec<i64>,
}

/// Logs in if the judge has no secret yet, then authenticates with it.
/// `Ok(false)`: the connection broke, try again; `Err`: the secret was refused.
async fn judge_session(sio: &mut Sio, log: &mut JudgeLog) -> Result<bool, String> {
    if log.secret.is_empty() {
        let login = json!({"judgeId": log.judge, "loginCode": LOGIN_CODE});
        match sio.call("login", &login).await {
            Ok(ack) => log.secret = ack["secret"].as_str().unwrap_or_default().to_string(),
            Err(e) if e.contains("refused") => return Err(e),
            Err(_) => return Ok(false),
        }
    }
    let auth = json!({"secret": log.secret, "userId": log.judge});
    match sio.call("authenticate", &auth).await {
        Ok(_) => Ok(true),
        Err(e) if e.contains("refused") => Err(format!(
            "judge {}: its secret was refused after a restart: {e}",
            log.judge
        )),
        Err(_) => Ok(false),
    }
}

async fn judge(index: usize, judge_id: i64, setup: Setup, seed: u64, shared: Shared) -> JudgeLog {
    let mut rng = Rng(seed);
    let mut log = JudgeLog {
        judge: judge_id,
        ..JudgeLog::default()
    };
    // Odd judges speak Engine.IO 3 (socket.io 2.x), even ones 4.
    let eio = if index % 2 == 1 { Eio::V3 } else { Eio::V4 };
    let mut drain_deadline = None;
    'connections: loop {
        if shared.stopping() {
            // Writes that died with a killed connection can never be
            // answered, so a judge that has had a session is done; one that
            // never had one keeps trying, as the final check needs its secret.
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN);
            if Instant::now() > deadline {
                log.problems.push(format!(
                    "judge {judge_id}: could not finish after the last restart"
                ));
            }
            if log.sessions > 0 || Instant::now() > deadline {
                break;
            }
        }
        let Ok(mut sio) = Sio::connect(shared.addr(), eio).await else {
            backoff().await;
            continue;
        };
        match judge_session(&mut sio, &mut log).await {
            Ok(true) => log.sessions += 1,
            Ok(false) => {
                backoff().await;
                continue;
            }
            Err(e) => {
                log.problems.push(e);
                return log;
            }
        }
        // Ack id -> (key, index into that key's writes).
        let mut in_flight: HashMap<u64, (Key, usize)> = HashMap::new();
        let mut next_send = Instant::now();
        loop {
            if shared.stopping() && in_flight.is_empty() {
                sio.close().await;
                break 'connections;
            }
            let packet = match sio.next(next_send).await {
                Ok(p) => p,
                Err(_) => {
                    backoff().await;
                    continue 'connections;
                }
            };
            match packet {
                Some(Packet::Ack { id, data }) => {
                    let Some((key, i)) = in_flight.remove(&id) else {
                        continue;
                    };
                    if data["ok"] != json!(true) {
                        log.problems
                            .push(format!("judge {judge_id}: {key:?} refused: {data}"));
                        continue;
                    }
                    let row = match key {
                        Key::Rating { .. } => &data["rating"],
                        Key::Placement { .. } => &data["superlativePlacement"],
                    };
                    let row_id = row["id"].as_i64().unwrap_or(-1);
                    let known = *log.row_ids.entry(key).or_insert(row_id);
                    if known != row_id {
                        log.problems.push(format!(
                            "judge {judge_id}: {key:?} row id changed from {known} to {row_id}"
                        ));
                    }
                    log.writes.get_mut(&key).unwrap()[i].acked = true;
                }
                Some(Packet::Event { name, data, .. }) if name == "protocol-error" => {
                    log.problems
                        .push(format!("judge {judge_id}: protocol-error {data}"));
                }
                Some(_) => {}
                None => {
                    next_send += JUDGE_PACE;
                    // A whole window at once, so that a kill often finds
                    // writes in flight.
                    while !shared.stopping() && in_flight.len() < JUDGE_WINDOW {
                        let (key, value, event, payload) = if rng.range(0, 3) > 0 {
                            let hack = setup.hacks[rng.range(0, HACKS as u64 - 1) as usize];
                            let rating = rng.range(1, 20) as i64;
                            let payload =
                                json!({"judgeId": judge_id, "hackId": hack, "rating": rating});
                            (
                                Key::Rating { hack },
                                Val::Rating(rating),
                                "rate-hack",
                                payload,
                            )
                        } else {
                            let sup =
                                setup.superlatives[rng.range(0, SUPERLATIVES as u64 - 1) as usize];
                            let first = rng.range(0, HACKS as u64 - 1) as usize;
                            let second = (first + rng.range(1, HACKS as u64 - 1) as usize) % HACKS;
                            let (first, second) = if rng.range(0, 9) == 0 {
                                (0, 0)
                            } else {
                                (setup.hacks[first], setup.hacks[second])
                            };
                            let payload = json!({"judgeId": judge_id, "superId": sup,
                            "firstId": first, "secondId": second});
                            let key = Key::Placement { superlative: sup };
                            (
                                key,
                                Val::Placement(first, second),
                                "rank-superlative",
                                payload,
                            )
                        };
                        let writes = log.writes.entry(key).or_default();
                        writes.push(Write {
                            value,
                            acked: false,
                        });
                        let i = writes.len() - 1;
                        match sio.emit_with_ack(event, &payload).await {
                            Ok(ack) => {
                                in_flight.insert(ack, (key, i));
                            }
                            Err(_) => {
                                backoff().await;
                                continue 'connections;
                            }
                        }
                    }
                }
            }
        }
    }
    log
}

// ------------------------------------------------------------------- admin

#[derive(Default)]
struct AdminLog {
    /// Names of every hack the admin asked to add during the soak.
    sent: BTreeSet<String>,
    /// Acknowledged: name -> id.
    acked: BTreeMap<String, i64>,
    problems: Vec<String>,
}

async fn admin_connect(addr: SocketAddr) -> Result<Sio, String> {
    let mut sio = Sio::connect(addr, Eio::V4).await?;
    sio.call(
        "authenticate",
        &json!({"secret": ADMIN_SECRET, "userId": 0}),
    )
    .await?;
    Ok(sio)
}

/// Adds hacks one after the other while the server is being killed: an
/// acknowledged add must be there once with its id, an unacknowledged one at
/// most once.
async fn admin(shared: Shared) -> AdminLog {
    let mut log = AdminLog::default();
    let mut n = 0;
    while !shared.stopping() {
        let Ok(mut sio) = admin_connect(shared.addr()).await else {
            backoff().await;
            continue;
        };
        while !shared.stopping() {
            n += 1;
            let name = format!("soak hack {n}");
            log.sent.insert(name.clone());
            let add =
                json!({"name": name, "description": "added during the crash soak", "location": n});
            match sio.call("add-hack", &add).await {
                Ok(ack) => {
                    log.acked
                        .insert(name, ack["hack"]["id"].as_i64().unwrap_or(-1));
                }
                Err(e) if e.contains("refused") => log.problems.push(e),
                Err(_) => break,
            }
            tokio::time::sleep(ADMIN_PACE).await;
        }
    }
    log
}

/// Hacks, judges and superlatives the judges work with, made before any kill.
async fn set_up(addr: SocketAddr) -> Setup {
    let mut sio = admin_connect(addr).await.expect("admin connects");
    let mut setup = Setup {
        hacks: vec![],
        judges: vec![],
        superlatives: vec![],
    };
    for i in 1..=HACKS {
        let ack = sio
            .call(
                "add-hack",
                &json!({"name": format!("Hack {i}"), "description": "", "location": i}),
            )
            .await
            .unwrap();
        setup.hacks.push(ack["hack"]["id"].as_i64().unwrap());
    }
    for i in 1..=JUDGES {
        let ack = sio
            .call(
                "add-judge",
                &json!({"name": format!("Judge {i}"), "email": format!("judge{i}@soak.example")}),
            )
            .await
            .unwrap();
        setup.judges.push(ack["judge"]["id"].as_i64().unwrap());
    }
    for i in 1..=SUPERLATIVES {
        let ack = sio
            .call(
                "add-superlative",
                &json!({"name": format!("Superlative {i}")}),
            )
            .await
            .unwrap();
        setup
            .superlatives
            .push(ack["superlative"]["id"].as_i64().unwrap());
    }
    sio.close().await;
    setup
}

// ------------------------------------------------------------------- checks

/// Findings of the final check, counted for the summary line.
#[derive(Default)]
struct Tally {
    scores_checked: usize,
    broadcasts_checked: usize,
    judging_checked: usize,
    judging_later_unacked: usize,
    hacks_checked: usize,
    lost: usize,
    problems: Vec<String>,
}

impl Tally {
    fn lost(&mut self, what: String) {
        self.lost += 1;
        self.problems.push(what);
    }
}

async fn check_clickers(addr: SocketAddr, clickers: &[ClickerLog], tally: &mut Tally) {
    for log in clickers {
        if log.id.is_empty() {
            tally.problems.push("a clicker never registered".into());
            continue;
        }
        let rows = common::device_scores(addr, &log.id).await;
        let mut stored: BTreeMap<i64, usize> = BTreeMap::new();
        for row in &rows {
            let ts = row["timestamp"].as_i64().unwrap();
            *stored.entry(ts).or_default() += 1;
            let got = Sent {
                score: row["score"].as_i64().unwrap(),
                msg_id: row["msgId"].as_i64(),
            };
            match log.sent.get(&ts) {
                None => tally.problems.push(format!(
                    "device {}: a score at {ts} that was never sent",
                    log.id
                )),
                Some(sent) if *sent != got => tally.problems.push(format!(
                    "device {}: at {ts} sent {sent:?}, stored {got:?}",
                    log.id
                )),
                Some(_) => {}
            }
        }
        for (ts, count) in &stored {
            if *count > 1 {
                tally.problems.push(format!(
                    "device {}: the score at {ts} is stored {count} times",
                    log.id
                ));
            }
        }
        for ts in &log.acked {
            tally.scores_checked += 1;
            if !stored.contains_key(ts) {
                tally.lost(format!(
                    "device {}: acknowledged score at {ts} is missing",
                    log.id
                ));
            }
        }
    }
}

fn check_listeners(listeners: &[ListenerLog], clickers: &[ClickerLog], tally: &mut Tally) {
    // A broadcast is sent only after the commit, so it must be in the store
    // (which the clicker check compared with what was sent).
    let stored: HashMap<&str, &ClickerLog> = clickers.iter().map(|c| (c.id.as_str(), c)).collect();
    for log in listeners {
        for (device, ts, score) in &log.seen {
            tally.broadcasts_checked += 1;
            match stored.get(device.as_str()).and_then(|c| c.sent.get(ts)) {
                Some(sent) if sent.score == *score => {}
                _ => tally.lost(format!(
                    "broadcast {device} {ts} {score} matches no score sent"
                )),
            }
        }
    }
}

/// The rule for ratings and placements. A judge's writes to one key are
/// applied in the order sent: one socket's requests are handled one at a
/// time, and a reconnection reaches a server started after the previous one
/// died. So the stored value is the last write the server applied, which is
/// the last acknowledged write or a later one whose acknowledgement was lost
/// in a kill (committed, then killed before the ack left). An earlier value,
/// a value never sent, or no row although a write was acknowledged is a loss.
fn allowed(writes: &[Write], stored: Option<Val>) -> Result<bool, String> {
    let last_acked = writes.iter().rposition(|w| w.acked);
    let later = |from: usize| writes[from..].iter().any(|w| Some(w.value) == stored);
    match (last_acked, stored) {
        (Some(a), Some(v)) if writes[a].value == v => Ok(false),
        (Some(a), Some(_)) if later(a + 1) => Ok(true),
        (None, None) => Ok(false),
        (None, Some(_)) if later(0) => Ok(true),
        (Some(a), None) => Err(format!("acknowledged {:?} is missing", writes[a].value)),
        (last, Some(v)) => Err(format!(
            "stored {v:?} is not the last acknowledged write ({:?}) nor a later one",
            last.map(|a| writes[a].value)
        )),
    }
}

fn val_of(key: Key, row: &Value) -> Val {
    match key {
        Key::Rating { .. } => Val::Rating(row["rating"].as_i64().unwrap()),
        Key::Placement { .. } => Val::Placement(
            row["firstChoiceId"].as_i64().unwrap(),
            row["secondChoiceId"].as_i64().unwrap(),
        ),
    }
}

/// A judge's ratings and placements in a `DataStore`, by key, with row ids.
fn judging_rows(db: &Value, judge: i64) -> Result<BTreeMap<Key, (i64, Val)>, String> {
    let mut out = BTreeMap::new();
    for row in db["ratings"].as_array().unwrap() {
        if row["judgeId"].as_i64() != Some(judge) {
            continue;
        }
        let key = Key::Rating {
            hack: row["hackId"].as_i64().unwrap(),
        };
        let id = row["id"].as_i64().unwrap();
        if out.insert(key, (id, val_of(key, row))).is_some() {
            return Err(format!("judge {judge}: {key:?} stored twice"));
        }
    }
    for row in db["superlativePlacements"].as_array().unwrap() {
        if row["judgeId"].as_i64() != Some(judge) {
            continue;
        }
        let key = Key::Placement {
            superlative: row["superlativeId"].as_i64().unwrap(),
        };
        let id = row["id"].as_i64().unwrap();
        if out.insert(key, (id, val_of(key, row))).is_some() {
            return Err(format!("judge {judge}: {key:?} stored twice"));
        }
    }
    Ok(out)
}

async fn admin_state(addr: SocketAddr) -> Value {
    reqwest::Client::new()
        .get(format!("http://{addr}/api/state"))
        .bearer_auth(ADMIN_SECRET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn check_judging(addr: SocketAddr, judges: &[JudgeLog], db: &Value, tally: &mut Tally) {
    for log in judges {
        let rows = match judging_rows(db, log.judge) {
            Ok(rows) => rows,
            Err(e) => {
                tally.problems.push(e);
                continue;
            }
        };
        for (key, (_, _)) in rows.iter() {
            if !log.writes.contains_key(key) {
                tally.problems.push(format!(
                    "judge {}: {key:?} stored but never sent",
                    log.judge
                ));
            }
        }
        for (key, writes) in &log.writes {
            let stored = rows.get(key);
            tally.judging_checked += writes.iter().any(|w| w.acked) as usize;
            match allowed(writes, stored.map(|s| s.1)) {
                Ok(later) => tally.judging_later_unacked += later as usize,
                Err(e) => tally.lost(format!("judge {}: {key:?}: {e}", log.judge)),
            }
            if let (Some(acked_id), Some((id, _))) = (log.row_ids.get(key), stored) {
                if acked_id != id {
                    tally.problems.push(format!(
                        "judge {}: {key:?} acknowledged as row {acked_id}, stored as row {id}",
                        log.judge
                    ));
                }
            }
        }
        // The judge's own view, through a fresh socket and the secret it was
        // issued before the kills, must agree with the admin's.
        let own = async {
            let mut sio = Sio::connect(addr, Eio::V4).await?;
            sio.call(
                "authenticate",
                &json!({"secret": log.secret, "userId": log.judge}),
            )
            .await?;
            // Both the acknowledgement and the update-full, in either order:
            // a refused subscription fails with its reason.
            let asked = sio.emit_with_ack("subscribe-database", &json!({})).await?;
            let deadline = Instant::now() + Duration::from_secs(10);
            let (mut acked, mut full) = (false, None);
            while !acked || full.is_none() {
                match sio.next(deadline).await? {
                    Some(Packet::Ack { id, data }) if id == asked => {
                        if data["ok"] != true {
                            return Err(format!("subscribe-database refused: {data}"));
                        }
                        acked = true;
                    }
                    Some(Packet::Event { name, data, .. }) if name == "update-full" => {
                        full = Some(data)
                    }
                    Some(_) => {}
                    None => {
                        return Err(format!(
                            "within 10s: acknowledged {acked}, update-full {}",
                            full.is_some()
                        ))
                    }
                }
            }
            sio.close().await;
            judging_rows(&full.unwrap_or_default()["database"], log.judge)
        };
        match own.await {
            Ok(own) if own == rows => {}
            Ok(_) => tally.problems.push(format!(
                "judge {}: its update-full differs from the admin's state",
                log.judge
            )),
            Err(e) => tally
                .problems
                .push(format!("judge {}: final update-full: {e}", log.judge)),
        }
    }
}

fn check_admin(log: &AdminLog, db: &Value, tally: &mut Tally) {
    let mut stored: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in db["hacks"].as_array().unwrap() {
        let name = row["name"].as_str().unwrap().to_string();
        if name.starts_with("soak hack ") {
            stored
                .entry(name)
                .or_default()
                .push(row["id"].as_i64().unwrap());
        }
    }
    for (name, ids) in &stored {
        if ids.len() > 1 {
            tally
                .problems
                .push(format!("{name:?} stored {} times", ids.len()));
        }
        if !log.sent.contains(name) {
            tally.problems.push(format!("{name:?} stored, never sent"));
        }
    }
    for (name, id) in &log.acked {
        tally.hacks_checked += 1;
        if stored.get(name) != Some(&vec![*id]) {
            tally.lost(format!(
                "acknowledged hack {name:?} (id {id}) stored as {:?}",
                stored.get(name)
            ));
        }
    }
}

// -------------------------------------------------------------------- soak

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, got {v:?}"))
    })
}

async fn start_server(dir: &std::path::Path) -> ChildServer {
    ChildServer::start_with_args(
        dir,
        &[
            "--admin-secret",
            ADMIN_SECRET,
            "--login-code",
            LOGIN_CODE,
            // The clickers push as fast as their window allows and
            // re-register after every kill, all from one address.
            "--clicker-rate",
            "0",
            "--registrations-per-minute",
            "0",
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_repeated_kill_9() {
    let kills = env_u64("PODIUM_SOAK_KILLS").unwrap_or(3);
    let seed = env_u64("PODIUM_SOAK_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    eprintln!("crash soak: {kills} kills, PODIUM_SOAK_SEED={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();

    let dir = tempfile::tempdir().unwrap();
    let mut server = start_server(dir.path()).await;
    let setup = set_up(server.addr).await;

    let (addr_tx, addr_rx) = watch::channel(server.addr);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (stop_listeners_tx, stop_listeners_rx) = watch::channel(false);
    let shared = Shared {
        addr: addr_rx,
        stop: stop_rx,
        stop_listeners: stop_listeners_rx,
        devices: Arc::default(),
    };
    let clickers: Vec<_> = (0..CLICKERS)
        .map(|i| tokio::spawn(clicker(i, shared.clone())))
        .collect();
    let listeners: Vec<_> = (0..LISTENERS)
        .map(|i| tokio::spawn(listener(i, shared.clone())))
        .collect();
    let judges: Vec<_> = setup
        .judges
        .iter()
        .enumerate()
        .map(|(i, &j)| tokio::spawn(judge(i, j, setup.clone(), rng.next(), shared.clone())))
        .collect();
    let admin_task = tokio::spawn(admin(shared.clone()));

    for _ in 0..kills {
        // Anywhere from while clients are still reconnecting to well into
        // steady work.
        let delay = Duration::from_millis(rng.range(50, 2500));
        tokio::time::sleep(delay).await;
        server.kill9();
        server = start_server(dir.path()).await;
        addr_tx.send(server.addr).unwrap();
    }
    // The last round runs undisturbed, then clients finish what they have
    // in flight; every request now gets its answer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop_tx.send(true).unwrap();
    let mut clicker_logs = vec![];
    for c in clickers {
        clicker_logs.push(c.await.unwrap());
    }
    let mut judge_logs = vec![];
    for j in judges {
        judge_logs.push(j.await.unwrap());
    }
    let admin_log = admin_task.await.unwrap();
    // Broadcasts of the last acknowledged scores are on their way.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_listeners_tx.send(true).unwrap();
    let mut listener_logs = vec![];
    for l in listeners {
        listener_logs.push(l.await.unwrap());
    }

    let mut tally = Tally::default();
    for p in clicker_logs.iter().flat_map(|l| &l.problems) {
        tally.problems.push(p.clone());
    }
    for p in listener_logs.iter().flat_map(|l| &l.problems) {
        tally.problems.push(p.clone());
    }
    for p in judge_logs.iter().flat_map(|l| &l.problems) {
        tally.problems.push(p.clone());
    }
    tally.problems.extend(admin_log.problems.iter().cloned());

    // Checked on a server restarted once more, so that nothing the last
    // process held only in memory can pass for stored.
    server.kill9();
    let server = start_server(dir.path()).await;
    check_clickers(server.addr, &clicker_logs, &mut tally).await;
    check_listeners(&listener_logs, &clicker_logs, &mut tally);
    let db = admin_state(server.addr).await;
    check_judging(server.addr, &judge_logs, &db, &mut tally).await;
    check_admin(&admin_log, &db, &mut tally);

    // Device ids and secrets still work on the final server.
    for log in clicker_logs.iter().filter(|l| !l.secret.is_empty()) {
        let mut c = common::Client::connect(server.addr).await;
        let (id, _) = c.register(Some(&log.secret)).await;
        if id != log.id {
            tally
                .problems
                .push(format!("device {}: secret now gives id {id}", log.id));
        }
    }

    let sent: usize = clicker_logs.iter().map(|l| l.sent.len()).sum();
    let retries: usize = clicker_logs.iter().map(|l| l.retries).sum();
    let registrations: u32 = clicker_logs.iter().map(|l| l.registrations).sum();
    let sessions: u32 = judge_logs.iter().map(|l| l.sessions).sum();
    let writes: usize = judge_logs
        .iter()
        .flat_map(|l| l.writes.values())
        .map(Vec::len)
        .sum();
    let acked_writes: usize = judge_logs
        .iter()
        .flat_map(|l| l.writes.values())
        .flatten()
        .filter(|w| w.acked)
        .count();
    eprintln!(
        "crash soak: seed {seed}, {kills} kills survived in {:.1} s; \
         {} acknowledged SCOREs checked ({sent} sent, {retries} of them resent after a reconnect), \
         {} broadcasts checked, {registrations} clicker registrations; \
         {acked_writes} of {writes} rating/placement writes acknowledged, {} judge x hack/superlative \
         values checked ({} hold a later unacknowledged write), {sessions} judge sessions; \
         {} acknowledged hack adds checked; lost {}, other problems {}",
        started.elapsed().as_secs_f64(),
        tally.scores_checked,
        tally.broadcasts_checked,
        tally.judging_checked,
        tally.judging_later_unacked,
        tally.hacks_checked,
        tally.lost,
        tally.problems.len() - tally.lost,
    );
    assert!(
        tally.problems.is_empty(),
        "seed {seed}: {} problems, first ones: {:#?}",
        tally.problems.len(),
        &tally.problems[..tally.problems.len().min(20)]
    );
    assert!(tally.scores_checked > 0 && tally.judging_checked > 0);
    server.kill9();
}
