//! No cross-node deadlocks (issue 24): two real nodes on one real
//! PostgreSQL, with organisers, judges and clickers acting on both nodes in
//! the same milliseconds, in the mixes whose locks two batches could take
//! in opposite orders: a resume and a new clicker on one node against a new
//! clicker and a rating on the other (the floor lock against the device-id
//! lock); two judges rated in opposite orders on the two nodes (their
//! `judges` rows); two hacks withdrawn in opposite orders (their
//! `withdrawals` rows); a new hack and a resume in opposite orders (the
//! import lock against the floor lock); a speed event's switches and a new
//! clicker in opposite orders (the speed lock against the device-id lock).
//!
//! A node's writer runs every queued job in one transaction, so the jobs
//! must queue together to share a batch: each round first holds the floor
//! lock from a third session (standing in for a long batch of a third
//! node), parks one rating on each node behind it, queues the round's mix
//! behind those, then lets go, so the two mixes start as two batches at
//! once. What is asserted is what users see: every action answered with
//! success, the end state holding every one of them, and no deadlock in
//! PostgreSQL's statistics or server log.
//!
//! Needs `PODIUM_TEST_DATABASE_URL` (scripts/test sets it); skips without.
//! `DEADLOCK_ROUNDS` sets the number of rounds (default 30).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{TestServer, PATIENCE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const ADMIN: &str = "deadlock-test-admin-secret";
const CODE: &str = "deadlock-test-login-code";
/// The floor lock's key (`judging_rows::FLOOR_LOCK`, "floor" in ASCII).
const FLOOR_LOCK: i64 = 0x66_6c6f_6f72;
/// Judges 1 and 2 act in the mixes; 3 and 4 park the writers.
const JUDGES: i64 = 4;
/// Hacks 1 and 2 are rated and withdrawn in the mixes; 3 parks the writers.
const HACKS: i64 = 3;

async fn node(url: &str) -> TestServer {
    TestServer::cluster_node(url, ADMIN, CODE).await
}

/// The organiser's HTTP API on one node.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn of(server: &TestServer) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: server.url(""),
        }
    }

    async fn call(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let request = match body {
            Some(body) => self.http.post(url).json(&body),
            None if path.starts_with("/api/judging/") => self.http.post(url),
            None => self.http.get(url),
        };
        let response = tokio::time::timeout(PATIENCE, request.bearer_auth(ADMIN).send())
            .await
            .unwrap_or_else(|_| panic!("no answer to {path} within {PATIENCE:?}"))
            .expect("a response");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn ok(&self, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(path, body).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

/// One user action, sent to a node; answers what the user saw, as
/// `Err(description)` when it was not a success.
type Action = JoinHandle<Result<(), String>>;

fn http(api: &Api, path: &'static str, body: Option<Value>) -> Action {
    let api = api.clone();
    tokio::spawn(async move {
        let what = format!("{} {path} {}", api.base, body.clone().unwrap_or_default());
        let (status, answer) = api.call(path, body).await;
        match status.is_success() {
            true => Ok(()),
            false => Err(format!("{what}: {status} {answer}")),
        }
    })
}

fn rate(api: &Api, judge: i64, hack: i64, rating: i64) -> Action {
    http(
        api,
        "/api/ratings",
        Some(json!({"judgeId": judge, "hackId": hack, "rating": rating})),
    )
}

fn withdraw(api: &Api, hack: i64, withdrawn: bool) -> Action {
    http(
        api,
        "/api/withdrawals",
        Some(json!({"hackId": hack, "withdrawn": withdrawn})),
    )
}

/// A new clicker registering on `server`; answers its id.
async fn new_clicker(server: &TestServer) -> JoinHandle<Result<String, String>> {
    let mut clicker = server.client().await;
    tokio::spawn(async move {
        let reply = clicker.ask("REGISTER").await;
        match reply.split(' ').collect::<Vec<_>>()[..] {
            ["REGISTERED", id, _] => Ok(id.to_string()),
            _ => Err(format!("REGISTER answered {reply:?}")),
        }
    })
}

/// A session of its own on the database.
async fn session(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Waits until `n` sessions wait for an advisory lock in this database.
async fn until_waiting(db: &tokio_postgres::Client, n: i64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let waiting: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                 WHERE d.datname = current_database() AND l.locktype = 'advisory'
                   AND NOT l.granted",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{waiting} of {n} writers waiting for the floor lock after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The deadlocks PostgreSQL detected in this database so far.
async fn deadlocks(db: &tokio_postgres::Client) -> i64 {
    // Statistics reach the shared view when a backend goes idle; read fresh.
    db.batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    db.query_one(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// The server log scripts/postgres keeps beside the data directory, if
/// this test can read it (a server elsewhere: only the statistics count).
async fn server_log(db: &tokio_postgres::Client) -> Option<std::path::PathBuf> {
    let data: String = db.query_one("SHOW data_directory", &[]).await.ok()?.get(0);
    let log = std::path::Path::new(&data).parent()?.join("log");
    std::fs::metadata(&log).ok().map(|_| log)
}

fn log_len(log: &Option<std::path::PathBuf>) -> u64 {
    log.as_ref()
        .and_then(|l| std::fs::metadata(l).ok())
        .map_or(0, |m| m.len())
}

/// Lines of the log written since byte `from` that report a deadlock.
fn deadlock_lines(log: &Option<std::path::PathBuf>, from: u64) -> Vec<String> {
    let Some(log) = log else { return Vec::new() };
    let text = std::fs::read(log).unwrap();
    String::from_utf8_lossy(&text[(from as usize).min(text.len())..])
        .lines()
        .filter(|l| l.contains("deadlock detected"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn organisers_acting_on_two_nodes_at_once_never_deadlock() {
    let Some(url) = common::cluster_database_url("the deadlock test").await else {
        return;
    };
    let rounds: usize = std::env::var("DEADLOCK_ROUNDS")
        .ok()
        .map(|r| r.parse().expect("DEADLOCK_ROUNDS is a number"))
        .unwrap_or(30);
    let (a, b) = (node(&url).await, node(&url).await);
    let (api_a, api_b) = (Api::of(&a), Api::of(&b));
    for hack in 1..=HACKS {
        api_a
            .ok(
                "/api/hacks",
                Some(json!({"name": format!("Hack {hack}"), "description": "", "location": hack})),
            )
            .await;
    }
    for judge in 1..=JUDGES {
        api_b
            .ok(
                "/api/judges",
                Some(json!({"name": format!("Judge {judge}"), "email": format!("j{judge}@example.org")})),
            )
            .await;
    }
    let db = session(&url).await;
    let log = server_log(&db).await;
    let log_from = log_len(&log);
    let deadlocks_before = deadlocks(&db).await;

    let mut ratings: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    let mut withdrawn: BTreeMap<i64, bool> = BTreeMap::new();
    let mut clickers: Vec<String> = Vec::new();
    let mut hacks: Vec<String> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    let mut failed_rounds = 0;
    for round in 0..rounds {
        let value = (round % 20) as i64 + 1;
        // Park both writers behind a third session's floor lock.
        let third = session(&url).await;
        third.batch_execute("BEGIN").await.unwrap();
        third
            .execute("SELECT pg_advisory_xact_lock($1)", &[&FLOOR_LOCK])
            .await
            .unwrap();
        let mut actions = vec![rate(&api_a, 3, 3, value), rate(&api_b, 4, 3, value)];
        ratings.insert((3, 3), value);
        ratings.insert((4, 3), value);
        until_waiting(&db, 2).await;

        // The round's mix queues behind them; within a node, in the order
        // sent (a pause between sends keeps it).
        let gap = || tokio::time::sleep(Duration::from_millis(40));
        let mut registering = Vec::new();
        match round % 5 {
            0 => {
                actions.push(http(&api_a, "/api/judging/resume", None));
                gap().await;
                registering.push(new_clicker(&a).await);
                registering.push(new_clicker(&b).await);
                gap().await;
                actions.push(rate(&api_b, 1, 1, value));
                ratings.insert((1, 1), value);
            }
            1 => {
                actions.push(rate(&api_a, 1, 1, value));
                actions.push(rate(&api_b, 2, 2, value));
                gap().await;
                actions.push(rate(&api_a, 2, 1, value));
                actions.push(rate(&api_b, 1, 2, value));
                for pair in [(1, 1), (2, 2), (2, 1), (1, 2)] {
                    ratings.insert(pair, value);
                }
            }
            2 => {
                let out = round % 2 == 0;
                actions.push(withdraw(&api_a, 1, out));
                actions.push(withdraw(&api_b, 2, out));
                gap().await;
                actions.push(withdraw(&api_a, 2, out));
                actions.push(withdraw(&api_b, 1, out));
                withdrawn.insert(1, out);
                withdrawn.insert(2, out);
            }
            3 => {
                for (api, side) in [(&api_a, "A"), (&api_b, "B")] {
                    let name = format!("Extra {round} {side}");
                    hacks.push(name.clone());
                    let body =
                        json!({"name": name, "description": "", "location": 100 + hacks.len()});
                    match side {
                        "A" => {
                            actions.push(http(api, "/api/hacks", Some(body)));
                            gap().await;
                            actions.push(http(api, "/api/judging/resume", None));
                        }
                        _ => {
                            actions.push(http(api, "/api/judging/resume", None));
                            gap().await;
                            actions.push(http(api, "/api/hacks", Some(body)));
                        }
                    }
                }
            }
            _ => {
                let event = json!({"name": "SRSS", "switches": round % 10});
                actions.push(http(&api_a, "/api/speed/events", Some(event.clone())));
                registering.push(new_clicker(&b).await);
                gap().await;
                registering.push(new_clicker(&a).await);
                actions.push(http(&api_b, "/api/speed/events", Some(event)));
            }
        }
        // Long enough for every request to reach its node's writer queue.
        tokio::time::sleep(Duration::from_millis(300)).await;
        third.batch_execute("COMMIT").await.unwrap();

        let mut ok = true;
        for action in actions {
            if let Err(e) = action.await.unwrap() {
                refused.push(format!("round {round}: {e}"));
                ok = false;
            }
        }
        for clicker in registering {
            match clicker.await.unwrap() {
                Ok(id) => clickers.push(id),
                Err(e) => {
                    refused.push(format!("round {round}: {e}"));
                    ok = false;
                }
            }
        }
        if !ok {
            failed_rounds += 1;
        }
    }

    // The end state holds every acknowledged action, on both nodes.
    for api in [&api_a, &api_b] {
        let state = api.ok("/api/state", None).await;
        let stored: BTreeMap<(i64, i64), i64> = state["ratings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let id = |k: &str| r[k].as_i64().unwrap();
                ((id("judgeId"), id("hackId")), id("rating"))
            })
            .collect();
        for (pair, rating) in &ratings {
            // A refused rating may leave the value of an earlier round.
            if refused.is_empty() {
                assert_eq!(stored.get(pair), Some(rating), "rating {pair:?}");
            }
        }
        let stored: BTreeMap<i64, bool> = state["withdrawals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (w["hackId"].as_i64().unwrap(), w["withdrawn"] == true))
            .collect();
        if refused.is_empty() {
            assert_eq!(stored, withdrawn);
        }
        let names: Vec<&str> = state["hacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap())
            .collect();
        for name in &hacks {
            // A refused new hack is missing, rightly.
            if refused.is_empty() {
                assert!(
                    names.contains(&name.as_str()),
                    "{name} missing from {names:?}"
                );
            }
        }
        let devices = api.ok("/api/clicker/devices", None).await;
        let listed: Vec<String> = devices
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].to_string().trim_matches('"').to_string())
            .collect();
        for id in &clickers {
            assert!(listed.contains(id), "device {id} missing from {listed:?}");
        }
    }

    let detected = deadlocks(&db).await - deadlocks_before;
    let logged = deadlock_lines(&log, log_from);
    eprintln!(
        "{rounds} rounds: {failed_rounds} with a refused action, {detected} deadlocks detected, \
         {} logged{}",
        logged.len(),
        if log.is_none() {
            " (server log not readable here)"
        } else {
            ""
        }
    );
    assert!(
        refused.is_empty() && detected == 0 && logged.is_empty(),
        "{failed_rounds} of {rounds} rounds had an action refused; PostgreSQL detected \
         {detected} deadlocks; its log:\n{}\nrefused:\n{}",
        logged.join("\n"),
        refused.join("\n")
    );
}
