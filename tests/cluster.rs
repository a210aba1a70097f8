//! Cluster mode: two real nodes on one real PostgreSQL, driven as users
//! drive them: a clicker on one node and its scoreboard on the other, a
//! speed heat run on one node and its live results on the other, a
//! device moving between nodes, a node killed with SIGKILL under load, and
//! PostgreSQL itself restarted under load.
//!
//! The database comes from `PODIUM_TEST_DATABASE_URL` (scripts/test starts
//! a throwaway PostgreSQL and sets it); each test makes its own database.
//! Without it the tests skip, loudly, except under CI (env `CI`), where
//! they fail. The restart test starts a PostgreSQL of its own, since it
//! must stop and start it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use common::sse::EventStream;
use common::{ChildServer, Client, TestServer, PATIENCE};
use serde_json::json;

/// A fresh database on the test server, or `None` (skip) without one.
async fn database() -> Option<String> {
    common::cluster_database_url("the cluster tests").await
}

const ADMIN: &str = "cluster-test-admin-secret";
const CODE: &str = "cluster-test-login-code";

async fn node(url: &str) -> TestServer {
    let url = url.to_string();
    TestServer::start_with(move |c| {
        c.database_url = Some(url);
        c.admin_secret = Some(ADMIN.into());
        c.login_code = Some(CODE.into());
        // Load tests' clickers send faster than a person clicks.
        c.limits.clicker_rate = 0;
    })
    .await
}

/// A judge signs in on node A and rates there; the organiser's screen on
/// node B gets every change as an `update-partial`, in commit order, and a
/// secret issued on A works on B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sledge_subscribers_on_one_node_see_ratings_made_on_the_other() {
    let Some(url) = database().await else { return };
    let (a, b) = (node(&url).await, node(&url).await);
    let mut organiser = b.sledge().await;
    organiser.authenticate(ADMIN, 0).await;
    assert_eq!(
        organiser.request("subscribe-database", json!({})).await["ok"],
        true
    );
    organiser.event("update-full").await;

    let mut admin = a.sledge().await;
    admin.authenticate(ADMIN, 0).await;
    for n in 1..=3 {
        let ack = admin
            .request(
                "add-hack",
                json!({"name": format!("Hack {n}"), "description": "", "location": n}),
            )
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    let ack = admin
        .request(
            "add-judge",
            json!({"name": "Ada", "email": "ada@example.org"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");

    let mut judge = a.sledge().await;
    let login = judge
        .request("login", json!({"judgeId": 1, "loginCode": CODE}))
        .await;
    assert_eq!(login["ok"], true, "{login}");
    let secret = login["secret"].as_str().unwrap().to_string();
    judge.authenticate(&secret, 1).await;
    for (hack, rating) in [(1, 15), (2, 9), (3, 20), (1, 16)] {
        let ack = judge
            .request(
                "rate-hack",
                json!({"judgeId": 1, "hackId": hack, "rating": rating}),
            )
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
    }

    // B's organiser saw three hacks, the judge, then the ratings in commit
    // order. Node B merges the commits it reads together into one partial
    // (a set of rows, one per rating), so it follows the state: each hack's
    // ratings arrive in the order they were made, and end as rated last.
    let mut hacks = Vec::new();
    let mut per_hack: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let last = |per_hack: &BTreeMap<i64, Vec<i64>>| -> Vec<(i64, i64)> {
        per_hack
            .iter()
            .map(|(h, r)| (*h, *r.last().unwrap()))
            .collect()
    };
    while last(&per_hack) != [(1, 16), (2, 9), (3, 20)] {
        let partial = organiser.event("update-partial").await;
        for h in partial["diff"]["hacks"].as_array().into_iter().flatten() {
            hacks.push(h["name"].as_str().unwrap().to_string());
        }
        for r in partial["diff"]["ratings"].as_array().into_iter().flatten() {
            assert_eq!(hacks.len(), 3, "a rating came before its hacks");
            let hack = r["hackId"].as_i64().unwrap();
            per_hack
                .entry(hack)
                .or_default()
                .push(r["rating"].as_i64().unwrap());
        }
    }
    assert_eq!(hacks, ["Hack 1", "Hack 2", "Hack 3"]);
    let first_hack = &per_hack[&1];
    assert!(
        first_hack == &[15, 16] || first_hack == &[16],
        "hack 1's ratings in commit order: {first_hack:?}"
    );

    // The judge's secret, issued on A, works on B.
    let mut on_b = b.sledge().await;
    on_b.authenticate(&secret, 1).await;
    let ack = on_b
        .request(
            "rate-hack",
            json!({"judgeId": 1, "hackId": 2, "rating": 10}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    a.shutdown().await;
    b.shutdown().await;
}

/// The organiser's reads on one node show every rating the other node
/// acknowledged before them (results exported right after the last
/// rating, wherever the balancer sent each request): each of 60 ratings
/// made over HTTP on A is in B's `GET /api/state` as soon as A answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_on_one_node_shows_what_the_other_acknowledged() {
    let Some(url) = database().await else { return };
    let (a, b) = (node(&url).await, node(&url).await);
    let http = reqwest::Client::new();
    let post = |server: &TestServer, path: &str, body: serde_json::Value| {
        http.post(server.url(path))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let hack = json!({"name": "Tally", "description": "", "location": 1});
    assert!(post(&a, "/api/hacks", hack)
        .await
        .unwrap()
        .status()
        .is_success());
    let judge = json!({"name": "Ada", "email": "ada@example.org"});
    assert!(post(&a, "/api/judges", judge)
        .await
        .unwrap()
        .status()
        .is_success());
    for n in 1..=60 {
        let rating = 1 + n % 20;
        let rate = json!({"judgeId": 1, "hackId": 1, "rating": rating});
        let answer = post(&a, "/api/ratings", rate).await.unwrap();
        assert!(
            answer.status().is_success(),
            "{}",
            answer.text().await.unwrap()
        );
        let state: serde_json::Value = http
            .get(b.url("/api/state"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            state["ratings"][0]["rating"], rating,
            "rating {n}: node B's state lacks what node A acknowledged"
        );
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clicker_on_one_node_reaches_listeners_on_the_other() {
    let Some(url) = database().await else { return };
    let (a, b) = (node(&url).await, node(&url).await);
    let mut one = b.client().await;
    let mut two = b.client().await;
    let mut clicker = a.client().await;
    let (id, _) = clicker.register(None).await;
    one.listen_connected("LISTEN", &id).await;
    two.listen_connected("SUBSCRIBE", &id).await;

    assert_eq!(clicker.ask("SCORE 1 1000 5").await, "SCORED 1 1000");
    one.expect(&format!("SCORE 1000 {id} 5")).await;
    two.expect(&format!("SCORE 1000 5 {id}")).await;
    // A retry is acknowledged again and not broadcast again; a late score
    // is stored and acknowledged but never broadcast.
    assert_eq!(clicker.ask("SCORE 1 1000 5").await, "SCORED 1 1000");
    assert_eq!(clicker.ask("SCORE 2 900 4").await, "SCORED 2 900");
    assert_eq!(clicker.ask("SCORE 3 1100 6").await, "SCORED 3 1100");
    one.expect(&format!("SCORE 1100 {id} 6")).await;
    two.expect(&format!("SCORE 1100 6 {id}")).await;

    // A scoreboard that joins on the other node gets the newest score at once.
    let mut late = b.client().await;
    late.listen_connected("LISTEN", &id).await;
    late.expect(&format!("SCORE 1100 {id} 6")).await;

    drop(clicker);
    one.expect(&format!("DISCONNECT {id}")).await;
    two.expect(&format!("DISCONNECT {id}")).await;
    a.shutdown().await;
    b.shutdown().await;
}

/// A speed heat run from node A, on node B's scoreboard
/// (`GET /api/speed/live`): the start, the clicks, then a false start the
/// head judge called with no click after it, then the stop. Each reaches B
/// through the change log; before heats joined it, B never showed the
/// deduction (nothing made it work the heat out again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_speed_heat_run_on_one_node_shows_live_on_the_other() {
    let Some(url) = database().await else { return };
    let (a, b) = (node(&url).await, node(&url).await);
    let http = reqwest::Client::new();
    let admin = |path: &'static str, body: Option<serde_json::Value>| {
        let request = http.post(a.url(path)).bearer_auth(ADMIN);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status();
            assert!(
                status.is_success(),
                "{path}: {status} {}",
                answer.text().await.unwrap()
            );
        }
    };
    let mut clicker = a.client().await;
    let (id, _) = clicker.register(None).await;
    let entry = json!({"event": "SRSS", "heat": 1, "station": 1, "name": "Ada", "devices": [id]});
    admin("/api/entries", Some(entry)).await;
    let mut board = EventStream::open(&b.url("/api/speed/live?heat=current"), None).await;
    // Waits until B's board shows heat 1 as `wanted` says.
    let mut until = async |what: &str, wanted: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match board.next_within(left).await {
                Some((_, view)) if view["heat"] == 1 && wanted(&view) => return,
                Some(_) => {}
                None => panic!("node B's scoreboard never showed {what}"),
            }
        }
    };

    admin("/api/heats/1/start", None).await;
    until("the heat running", &|v| v["state"] == "running").await;
    for (n, count) in [10, 20, 30].into_iter().enumerate() {
        let ts = 1_700_000_000_000u64 + n as u64 * 137;
        let msg = n + 1;
        assert_eq!(
            clicker.ask(&format!("SCORE {msg} {ts} {count}")).await,
            format!("SCORED {msg} {ts}")
        );
    }
    until("the clicks", &|v| v["entries"][0]["R"] == 30.0).await;
    admin(
        "/api/entries/1/deductions",
        Some(json!({"falseStarts": 1, "falseSwitches": 0})),
    )
    .await;
    until("the false start", &|v| v["entries"][0]["m"] == 10.0).await;
    admin("/api/heats/1/stop", None).await;
    until("the heat stopped", &|v| v["state"] == "stopped").await;
    drop(clicker);
    a.shutdown().await;
    b.shutdown().await;
}

/// Nodes started together on an empty database take turns migrating it
/// (an advisory lock) and agree on its epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let Some(url) = database().await else { return };
    let (a, b, c) = tokio::join!(node(&url), node(&url), node(&url));
    let epochs: BTreeSet<String> = [&a, &b, &c]
        .iter()
        .map(|n| n.db().epoch().to_string())
        .collect();
    assert_eq!(epochs.len(), 1, "{epochs:?}");
    for n in [a, b, c] {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_ids_are_unique_across_nodes() {
    let Some(url) = database().await else { return };
    let (a, b) = (node(&url).await, node(&url).await);
    let mut registering = Vec::new();
    for n in 0..20 {
        let addr = if n % 2 == 0 { a.addr } else { b.addr };
        registering.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            c.register(None).await.0
        }));
    }
    let mut ids = BTreeSet::new();
    for r in registering {
        assert!(ids.insert(r.await.unwrap()), "an id was given twice");
    }
    assert_eq!(ids.len(), 20);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_registers_on_another_node_takes_over() {
    let Some(url) = database().await else { return };
    let (a, b) = (node(&url).await, node(&url).await);
    let mut scoreboard = a.client().await;
    let mut first = a.client().await;
    let (id, secret) = first.register(None).await;
    scoreboard.listen_connected("LISTEN", &id).await;

    let mut second = b.client().await;
    assert_eq!(second.register(Some(&secret)).await.0, id);
    let frame = first.expect_close().await;
    assert_eq!(common::close_code(&frame), 4000, "{frame:?}");
    // The id stayed connected throughout: no DISCONNECT, no new CONNECT.
    assert_eq!(second.ask("SCORE 1 50 7").await, "SCORED 1 50");
    scoreboard.expect(&format!("SCORE 50 {id} 7")).await;
    drop(second);
    scoreboard.expect(&format!("DISCONNECT {id}")).await;
    a.shutdown().await;
    b.shutdown().await;
}

/// Node A is killed with SIGKILL while a clicker streams to it: every score
/// A acknowledged is stored, node B announces the device disconnected within
/// 10 s, and B serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_under_load_loses_nothing_acknowledged() {
    let Some(url) = database().await else { return };
    let args = [
        "--database-url",
        &url,
        "--clicker-rate",
        "0",
        "--admin-secret",
        ADMIN,
        "--login-code",
        CODE,
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = ChildServer::start_with_args(dir_a.path(), &args).await;
    let b = ChildServer::start_with_args(dir_b.path(), &args).await;
    let mut clicker = Client::connect(a.addr).await;
    let (id, _) = clicker.register(None).await;
    let mut scoreboard = Client::connect(b.addr).await;
    scoreboard.listen_connected("LISTEN", &id).await;

    let mut flood = common::ScoreFlood::start(clicker.ws);
    flood.until_acked(2000).await;
    a.kill9();
    let killed = Instant::now();
    let acked = flood.drain().await;

    // The scoreboard saw scores, then the device go.
    let disconnect = format!("DISCONNECT {id}");
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), scoreboard.recv())
            .await
            .expect("no DISCONNECT within 15 s of the kill");
        if frame == disconnect {
            break;
        }
        assert!(frame.starts_with("SCORE "), "{frame}");
    }
    let announced = killed.elapsed();
    assert!(
        announced <= Duration::from_secs(10),
        "DISCONNECT came {announced:?} after the kill"
    );

    let rows = common::device_scores(b.addr, &id).await;
    let stored: BTreeSet<i64> = rows
        .iter()
        .map(|r| r["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(stored.len(), rows.len(), "no score stored twice");
    let lost: Vec<_> = acked.difference(&stored).collect();
    eprintln!(
        "node kill: {} acknowledged, {} stored, lost: {}, DISCONNECT after {announced:?}",
        acked.len(),
        stored.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged scores lost: {lost:?}");

    // B serves on: a device registers there and its listener hears it.
    let mut other = Client::connect(b.addr).await;
    let (id2, _) = other.register(None).await;
    let mut listener = Client::connect(b.addr).await;
    listener.listen_connected("LISTEN", &id2).await;
    assert_eq!(other.ask("SCORE 1 7 1").await, "SCORED 1 7");
    listener.expect(&format!("SCORE 7 {id2} 1")).await;
}

/// A PostgreSQL of this test's own (`scripts/postgres`), that it can stop
/// and start again: the shared test server cannot be restarted under others.
struct OwnPostgres {
    dir: tempfile::TempDir,
    url: String,
}

impl OwnPostgres {
    fn start() -> Option<OwnPostgres> {
        let dir = tempfile::Builder::new()
            .prefix("podium-pg")
            .tempdir_in("/tmp")
            .unwrap();
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres"))
            .arg("start")
            .arg(dir.path())
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "scripts/postgres start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Some(OwnPostgres { dir, url })
    }

    /// `scripts/postgres stop` (fast: open connections are cut, as when a
    /// database server goes away) or `resume` (on the same port).
    fn run(&self, what: &str) {
        let status = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres"))
            .arg(what)
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "scripts/postgres {what} failed");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// A clicker that sends one SCORE at a time and keeps what was acknowledged;
/// during an outage it gets `ERROR`s, never a false `SCORED`.
async fn steady_clicker(
    addr: std::net::SocketAddr,
    until: Instant,
) -> (String, BTreeSet<i64>, usize) {
    let mut clicker = Client::connect(addr).await;
    let (id, _) = clicker.register(None).await;
    let mut acked = BTreeSet::new();
    let mut refused = 0;
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let reply = clicker.ask(&format!("SCORE {n} {n} {n}")).await;
        if reply.starts_with("SCORED ") {
            acked.insert(n);
        } else {
            assert!(reply.starts_with("ERROR "), "{reply}");
            refused += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    (id, acked, refused)
}

/// PostgreSQL stops for a few seconds under load and comes back: writes
/// are refused meanwhile (never falsely acknowledged), `/healthz` says 503,
/// and both nodes recover by themselves: scores flow again, across nodes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_ride_out_a_database_restart() {
    let Some(_) = database().await else { return };
    let Some(pg) = OwnPostgres::start() else {
        if std::env::var_os("CI").is_some() {
            panic!("cannot start a PostgreSQL of this test's own (scripts/postgres start)");
        }
        eprintln!("SKIPPED: cannot start a PostgreSQL of this test's own");
        return;
    };
    let url = common::database_on(&pg.url).await;
    let (a, b) = (node(&url).await, node(&url).await);
    let until = Instant::now() + Duration::from_secs(12);
    let load: Vec<_> = [a.addr, a.addr, b.addr, b.addr]
        .into_iter()
        .map(|addr| tokio::spawn(steady_clicker(addr, until)))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.run("stop");
    let health = reqwest::get(a.url("/healthz")).await.unwrap().status();
    assert_eq!(health, 503, "/healthz with the database down");
    tokio::time::sleep(Duration::from_secs(3)).await;
    pg.run("resume");

    let mut acked_total = 0;
    let mut refused_total = 0;
    let mut devices = Vec::new();
    for l in load {
        let (id, acked, refused) = l.await.unwrap();
        acked_total += acked.len();
        refused_total += refused;
        devices.push((id, acked));
    }
    assert!(
        refused_total > 0,
        "no write was refused while the database was down"
    );
    let mut lost = 0;
    for (id, acked) in &devices {
        let stored: BTreeSet<i64> = common::device_scores(b.addr, id)
            .await
            .iter()
            .map(|r| r["timestamp"].as_i64().unwrap())
            .collect();
        lost += acked.difference(&stored).count();
    }
    eprintln!(
        "database restart: {acked_total} acknowledged, {refused_total} refused, lost: {lost}"
    );
    assert_eq!(lost, 0, "acknowledged scores were lost");

    // Both nodes recovered by themselves: healthy, and live across nodes.
    for n in [&a, &b] {
        let deadline = Instant::now() + PATIENCE;
        while reqwest::get(n.url("/healthz")).await.unwrap().status() != 200 {
            assert!(Instant::now() < deadline, "a node stayed unhealthy");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut clicker = a.client().await;
    let (id, _) = clicker.register(None).await;
    let mut scoreboard = b.client().await;
    scoreboard.listen_connected("LISTEN", &id).await;
    assert_eq!(clicker.ask("SCORE 1 5 5").await, "SCORED 1 5");
    scoreboard.expect(&format!("SCORE 5 {id} 5")).await;
    a.shutdown().await;
    b.shutdown().await;
}
