//! End-to-end tests of speed heats against a real server: sixteen real
//! clickers (tokio-tungstenite, draft-2 REGISTER then SCORE) judge a heat of
//! four stations; the official results arrive live over
//! `GET /api/speed/live` (Server-Sent Events) while the heat runs, and are
//! final (and locked) after stop. Plus the refusals of the admin endpoints.

mod common;

use std::time::Duration;

use common::sse::EventStream;
use common::{Client, TestServer, PATIENCE};
use serde_json::{json, Value};

const ADMIN: &str = "admin-secret-for-the-speed-tests-0123";

async fn start() -> TestServer {
    TestServer::start_with(|c| c.admin_secret = Some(ADMIN.into())).await
}

/// POSTs `body` (JSON, or raw bytes for a string) as `secret`: (status, JSON answer).
async fn post(server: &TestServer, path: &str, secret: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(server.url(path));
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    request = match body {
        Value::String(raw) => request.body(raw),
        Value::Null => request,
        json => request.json(&json),
    };
    let response = tokio::time::timeout(PATIENCE, request.send())
        .await
        .expect("an answer in time")
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn admin(server: &TestServer, path: &str, body: Value) -> Value {
    let (status, answer) = post(server, path, Some(ADMIN), body).await;
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}

/// A clicker as the ESP32 firmware drives it: draft-2 SCOREs, each acknowledged.
struct Clicker {
    client: Client,
    id: String,
    secret: String,
    msg: u64,
    clock: u64,
}

impl Clicker {
    async fn register(server: &TestServer) -> Clicker {
        let mut client = server.client().await;
        let (id, secret) = client.register(None).await;
        Clicker {
            client,
            id,
            secret,
            msg: 0,
            clock: 1_700_000_000_000,
        }
    }

    /// A new connection that gets the same id back with the secret.
    async fn reconnect(&mut self, server: &TestServer) {
        self.client = server.client().await;
        let (id, _) = self.client.register(Some(&self.secret)).await;
        assert_eq!(id, self.id);
    }

    async fn count(&mut self, counts: &[i64]) {
        for &count in counts {
            self.msg += 1;
            self.clock += 137;
            let reply = self
                .client
                .ask(&format!("SCORE {} {} {count}", self.msg, self.clock))
                .await;
            assert_eq!(reply, format!("SCORED {} {}", self.msg, self.clock));
        }
    }
}

/// For each station: (skipper, club, [(counts shown before the heat, counts during it)]),
/// the worked example of docs/speed.md.
type Panel = [(&'static [i64], &'static [i64]); 4];
const HEAT: [(&str, &str, Panel); 4] = [
    (
        "Ada Lovelace",
        "North",
        [
            (&[], &[20, 60, 101]),       // 101
            (&[40], &[41, 90, 143]),     // not reset: 143 - 40 = 103
            (&[40], &[0, 50, 102]),      // reset at the start: 102
            (&[], &[50, 108, 107, 106]), // two undos: 106
        ],
    ),
    (
        "Bo Chen",
        "South",
        [
            (&[12], &[0, 95]),    // 95
            (&[], &[50, 0, 49]),  // reset in the middle: 50 + 49 = 99
            (&[], &[60, 98, 97]), // an undo: 97
            (&[3], &[100]),       // not reset: 97
        ],
    ),
    (
        "Cy Diaz",
        "North",
        [
            (&[], &[88]),
            (&[], &[96]),
            (&[], &[50, 104]),
            (&[7], &[0, 112]),
        ],
    ),
    (
        "Di Evans",
        "East",
        [(&[], &[97]), (&[], &[96]), (&[], &[98]), (&[], &[30, 97])],
    ),
];

/// (station, a, m, R, rank, reskip, tallies) as worked by hand in docs/speed.md.
type Expected = (u64, f64, f64, f64, u64, bool, [i64; 4]);
const EXPECTED: [Expected; 4] = [
    (1, 102.5, 10.0, 92.5, 4, false, [101, 103, 102, 106]),
    (2, 97.0, 0.0, 97.0, 2, false, [95, 99, 97, 97]),
    (3, 100.0, 0.0, 100.0, 1, true, [88, 96, 104, 112]),
    (4, 97.0, 0.0, 97.0, 2, false, [97, 96, 98, 97]),
];

/// The CSV block of docs/speed.md's worked example.
fn worked_example_csv() -> String {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/speed.md")).unwrap();
    let block = doc
        .split("```csv\n")
        .nth(1)
        .expect("a csv block in docs/speed.md");
    block[..block.find("```").unwrap()].to_string()
}

fn station_of(entry: &Value) -> u64 {
    entry["station"].as_u64().unwrap()
}

fn official(entry: &Value) -> (f64, f64, f64, bool, Vec<i64>) {
    (
        entry["a"].as_f64().unwrap_or(-1.0),
        entry["m"].as_f64().unwrap_or(-1.0),
        entry["R"].as_f64().unwrap_or(-1.0),
        entry["reskip"].as_bool().unwrap(),
        entry["tallies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tally"].as_i64().unwrap_or(-1))
            .collect(),
    )
}

fn matches_expected(entries: &[Value]) -> bool {
    entries.len() == 4
        && EXPECTED
            .iter()
            .all(|&(station, a, m, r, _, reskip, tallies)| {
                entries.iter().any(|e| {
                    station_of(e) == station && official(e) == (a, m, r, reskip, tallies.to_vec())
                })
            })
}

#[tokio::test]
async fn a_heat_of_four_stations_live_then_final() {
    let server = start().await;
    let mut board = EventStream::open(&server.url("/api/speed/live?heat=current"), None).await;
    let (event, view) = board.next().await;
    assert_eq!(event, "heat");
    assert_eq!(view["heat"], Value::Null, "no heat has run yet: {view}");

    // The heat list, then the clickers of each station.
    let csv = "event,heat,station,name,club\n\
               SRSS,1,1,Ada Lovelace,North\nSRSS,1,2,Bo Chen,South\n\
               SRSS,1,3,Cy Diaz,North\nSRSS,1,4,Di Evans,East\n";
    let imported = admin(&server, "/api/import/entries", json!(csv)).await;
    assert_eq!(imported["imported"], 4);
    let mut stations: Vec<Vec<Clicker>> = Vec::new();
    for (station, (_, _, panel)) in HEAT.iter().enumerate() {
        let mut clickers = Vec::new();
        for _ in panel {
            clickers.push(Clicker::register(&server).await);
        }
        let devices: Vec<&str> = clickers.iter().map(|c| c.id.as_str()).collect();
        admin(
            &server,
            &format!("/api/speed/stations/{}/judges", station + 1),
            json!({"devices": devices, "headJudge": devices[0]}),
        )
        .await;
        stations.push(clickers);
    }
    // What some clickers show before the heat (left over, not reset).
    for (clickers, (_, _, panel)) in stations.iter_mut().zip(HEAT.iter()) {
        for (clicker, (before, _)) in clickers.iter_mut().zip(panel) {
            clicker.count(before).await;
        }
    }
    // Scores count from the heat's start, by server receive time (ms).
    tokio::time::sleep(Duration::from_millis(20)).await;

    let started = admin(&server, "/api/heats/1/start", Value::Null).await;
    assert_eq!(started["state"], "running");
    let (status, refused) = post(&server, "/api/heats/1/start", Some(ADMIN), Value::Null).await;
    assert_eq!(status, 409, "{refused}");

    // All sixteen clickers count at once.
    let mut tasks = Vec::new();
    for (clickers, (_, _, panel)) in stations.into_iter().zip(HEAT.iter()) {
        for (mut clicker, (_, during)) in clickers.into_iter().zip(panel.iter()) {
            tasks.push(tokio::spawn(async move {
                clicker.count(during).await;
                clicker
            }));
        }
    }
    let mut clickers = Vec::new();
    for task in tasks {
        clickers.push(task.await.unwrap());
    }
    // The head judge of station 1 saw a false start.
    let ada = admin(
        &server,
        "/api/entries/1/deductions",
        json!({"falseStarts": 1, "falseSwitches": 0}),
    )
    .await;
    assert_eq!(ada["m"], 10.0);

    // The board sees the official results live, while the heat runs.
    let live = tokio::time::timeout(PATIENCE, async {
        loop {
            let (event, view) = board.next().await;
            assert_eq!(event, "heat");
            assert_eq!(view["heat"], 1);
            let entries = view["entries"].as_array().unwrap().clone();
            if matches_expected(&entries) {
                return view;
            }
        }
    })
    .await
    .expect("the live view reaches the expected results");
    assert_eq!(live["state"], "running");
    assert_eq!(live["current"], true);
    let names: Vec<&str> = live["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada Lovelace", "Bo Chen", "Cy Diaz", "Di Evans"]);

    let stopped = admin(&server, "/api/heats/1/stop", Value::Null).await;
    assert_eq!(stopped["state"], "stopped");
    let final_view = loop {
        let (_, view) = board.next().await;
        if view["state"] == "stopped" {
            break view;
        }
    };
    assert!(matches_expected(final_view["entries"].as_array().unwrap()));

    // Clicks after the stop change nothing; the results are locked.
    clickers[0].count(&[150]).await;
    let (status, refused) = post(
        &server,
        "/api/entries/2/deductions",
        Some(ADMIN),
        json!({"falseStarts": 1, "falseSwitches": 0}),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("unlock"),
        "{refused}"
    );

    let (status, results) = server.get_json("/api/speed/results?event=SRSS").await;
    assert_eq!(status, 200);
    let entries = results["entries"].as_array().unwrap();
    assert!(matches_expected(entries), "{results:#}");
    let ranking: Vec<(u64, u64)> = entries
        .iter()
        .map(|e| (station_of(e), e["rank"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        ranking,
        [(3, 1), (2, 2), (4, 2), (1, 4)],
        "best first, ties shared"
    );
    for &(station, ..) in &EXPECTED {
        let entry = entries.iter().find(|e| station_of(e) == station).unwrap();
        assert_eq!(entry["event"], "SRSS");
        assert_eq!(entry["heat"], 1);
        assert!(entry["id"].as_i64().is_some());
        assert_eq!(entry["tallies"][0]["deviceId"].as_str().unwrap().len(), 6);
    }

    // The CSV export has the same rows.
    let csv = reqwest::get(server.url("/api/speed/results?event=SRSS&format=csv"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv,
        worked_example_csv(),
        "docs/speed.md shows what Podium computes"
    );

    // Unlocked, a deduction may be corrected; stop locks it again as it was.
    admin(&server, "/api/heats/1/unlock", Value::Null).await;
    let bo = admin(
        &server,
        "/api/entries/2/deductions",
        json!({"falseStarts": 1, "falseSwitches": 0}),
    )
    .await;
    assert_eq!(
        (bo["a"].as_f64(), bo["R"].as_f64()),
        (Some(97.0), Some(87.0))
    );
    let relocked = admin(&server, "/api/heats/1/stop", Value::Null).await;
    assert_eq!(relocked["state"], "stopped");
    assert_eq!(relocked["stoppedAt"], stopped["stoppedAt"]);
    server.shutdown().await;
}

#[tokio::test]
async fn entries_are_checked_and_writes_are_the_admins() {
    let server = start().await;
    let mut clickers = Vec::new();
    for _ in 0..3 {
        clickers.push(Clicker::register(&server).await);
    }
    let ids: Vec<String> = clickers.iter().map(|c| c.id.clone()).collect();
    let entry = json!({
        "event": "SRSR", "heat": 7, "station": 2, "name": "Relay A", "club": "East",
        "devices": [ids[0], ids[1], 3], "headJudge": ids[1]
    });
    for secret in [None, Some("not-the-admin")] {
        let (status, answer) = post(&server, "/api/entries", secret, entry.clone()).await;
        assert_eq!(status, 401, "{answer}");
        let (status, _) = post(&server, "/api/heats/7/start", secret, Value::Null).await;
        assert_eq!(status, 401);
    }
    let (status, created) = post(&server, "/api/entries", Some(ADMIN), entry.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["id"].as_i64().unwrap() >= 1);
    assert_eq!(created["tallies"][1]["headJudge"], true);
    assert_eq!(created["tallies"][2]["deviceId"], "000003");
    assert_eq!(created["R"], Value::Null, "no result before the heat runs");

    let refusals = [
        (json!({"station": 2}), 409, "already has an entry"),
        (
            json!({"station": 3, "devices": [ids[0]]}),
            409,
            "already judges station 2",
        ),
        (
            // Well formed, refused for what is stored: a conflict.
            json!({"station": 3, "devices": [999]}),
            409,
            "not registered",
        ),
        (
            json!({"station": 3, "devices": [ids[2]], "headJudge": ids[0]}),
            400,
            "headJudge",
        ),
        (
            json!({"station": 3, "devices": [ids[2], ids[2]]}),
            400,
            "listed twice",
        ),
        (json!({"station": 3, "name": " "}), 400, "name is empty"),
        (json!({"station": 3, "heat": "seven"}), 400, "heat"),
    ];
    for (change, status, words) in refusals {
        let mut body = entry.clone();
        body.as_object_mut().unwrap().remove("headJudge");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (got, answer) = post(&server, "/api/entries", Some(ADMIN), body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(words),
            "{body}: {answer}"
        );
    }
    // Deductions within the event's switches.
    let (status, answer) = post(
        &server,
        "/api/entries/1/deductions",
        Some(ADMIN),
        json!({"falseStarts": 0, "falseSwitches": 2}),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("switches"),
        "{answer}"
    );
    admin(
        &server,
        "/api/speed/events",
        json!({"name": "SRSR", "switches": 3}),
    )
    .await;
    let relay = admin(
        &server,
        "/api/entries/1/deductions",
        json!({"falseStarts": 1, "falseSwitches": 2}),
    )
    .await;
    assert_eq!(relay["falseSwitches"], 2);
    // A bad heat list names its row and adds nothing.
    let (status, answer) = post(
        &server,
        "/api/import/entries",
        Some(ADMIN),
        json!("event,heat,station,name\nSRSS,8,1,Ok\nSRSS,8,x,Bad\n"),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["row"], 3);
    let (status, answer) = post(
        &server,
        "/api/import/entries",
        Some(ADMIN),
        json!("event,heat,station,name\nSRSS,8,1,Ok\nSRSR,7,2,Clash\n"),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["row"], 3);
    let (_, results) = server.get_json("/api/speed/results").await;
    assert_eq!(results["entries"].as_array().unwrap().len(), 1, "{results}");
    // Unknown heats and a second running heat are refused.
    let (status, _) = post(&server, "/api/heats/99/start", Some(ADMIN), Value::Null).await;
    assert_eq!(status, 404);
    admin(&server, "/api/import/entries", json!("SRSS,8,1,Solo")).await;
    admin(&server, "/api/heats/8/start", Value::Null).await;
    let (status, answer) = post(&server, "/api/heats/7/start", Some(ADMIN), Value::Null).await;
    assert_eq!(status, 409);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("heat 8 is running"),
        "{answer}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn openapi_document_lists_the_speed_endpoints() {
    let server = start().await;
    let (status, doc) = server.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    for (path, method) in [
        ("/api/speed/events", "post"),
        ("/api/entries", "post"),
        ("/api/import/entries", "post"),
        ("/api/entries/{id}/judges", "post"),
        ("/api/speed/stations/{station}/judges", "post"),
        ("/api/entries/{id}/deductions", "post"),
        ("/api/heats/{heat}/start", "post"),
        ("/api/heats/{heat}/stop", "post"),
        ("/api/heats/{heat}/unlock", "post"),
        ("/api/speed/heats", "get"),
        ("/api/speed/results", "get"),
        ("/api/speed/live", "get"),
    ] {
        let operation = &doc["paths"][path][method];
        assert!(
            operation["responses"].is_object(),
            "{method} {path} is not documented"
        );
        // Every schema it names exists.
        for name in operation.to_string().split("#/components/schemas/").skip(1) {
            let name = &name[..name.find('"').unwrap()];
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{path}: {name}"
            );
        }
    }
    server.shutdown().await;
}

/// A server on `data` (kept across restarts), as `TestServer` runs it.
async fn serve_on(data: &std::path::Path) -> TestServer {
    let mut config = podium::config::ServeConfig::local(data);
    config.admin_secret = Some(ADMIN.into());
    let running = podium::server::start(config).await.expect("server starts");
    TestServer {
        addr: running.addr,
        running: Some(running),
        // Unused: the data lives in `data`.
        dir: tempfile::tempdir().unwrap(),
    }
}

/// Nothing of a heat lives only in memory: a server restarted mid-heat
/// works the tallies out again from the stored scores and keeps following
/// the running heat's clickers when they come back with their secrets.
#[tokio::test]
async fn a_restart_mid_heat_keeps_the_tallies_and_the_live_feed() {
    let data = tempfile::tempdir().unwrap();
    let first = serve_on(data.path()).await;
    let mut clickers = Vec::new();
    for _ in 0..3 {
        clickers.push(Clicker::register(&first).await);
    }
    let devices: Vec<String> = clickers.iter().map(|c| c.id.clone()).collect();
    admin(
        &first,
        "/api/entries",
        json!({"event": "SRSS", "heat": 1, "station": 1, "name": "Ada", "devices": devices}),
    )
    .await;
    admin(&first, "/api/heats/1/start", Value::Null).await;
    for clicker in &mut clickers {
        clicker.count(&[30]).await;
    }
    first.shutdown().await;

    let second = serve_on(data.path()).await;
    let (_, results) = second.get_json("/api/speed/results?event=SRSS").await;
    assert_eq!(results["entries"][0]["R"], 30.0, "{results}");
    assert_eq!(results["entries"][0]["heatState"], "running");
    let mut board = EventStream::open(&second.url("/api/speed/live"), None).await;
    let (_, view) = board.next().await;
    assert_eq!(view["entries"][0]["R"], 30.0, "{view}");
    // Two judges' clickers reconnect with their secrets and count on: 40, 40, 30.
    for clicker in &mut clickers[..2] {
        clicker.reconnect(&second).await;
        clicker.count(&[35, 40]).await;
    }
    let live = tokio::time::timeout(PATIENCE, async {
        loop {
            let (_, view) = board.next().await;
            if view["entries"][0]["R"] == 40.0 {
                return view;
            }
        }
    })
    .await
    .expect("the restarted server follows the running heat");
    assert_eq!(live["state"], "running");
    second.shutdown().await;
    board
        .end()
        .await
        .expect("the scoreboard's stream ends cleanly");
}

/// The Espruino firmware judging a heat while its `Date.now() | 0` clock
/// wraps from near +2^31 to near -2^31: it upgrades with `Origin: Espruino`
/// and stamps SCOREs with the wrapped clock. Its tally follows the clock's
/// order, not the numbers': the counts after the wrap come last.
#[tokio::test]
async fn an_espruino_clicker_across_its_clock_wrap_mid_heat() {
    let server = start().await;
    let mut device = common::raw::RawWs::open(server.addr, Some("Espruino"), None).await;
    device.send_text("REGISTER").await;
    let registered = device.recv_text().await;
    let id = registered.split(' ').nth(1).unwrap().to_string();
    admin(
        &server,
        "/api/entries",
        json!({"event": "SRSS", "heat": 1, "station": 1, "name": "Ada", "devices": [id]}),
    )
    .await;
    let espruino_clock = |ms: i64| i64::from(ms as i32);
    let wrap = (1i64 << 31) * 809;
    let mut msg = 0;
    let mut send = async |device: &mut common::raw::RawWs, at: i64, count: i64| {
        msg += 1;
        let ts = espruino_clock(at);
        device.send_text(&format!("SCORE {msg} {ts} {count}")).await;
        assert_eq!(device.recv_text().await, format!("SCORED {msg} {ts}"));
        ts
    };
    // Left showing 10 before the heat, 3 s before the wrap.
    let first = send(&mut device, wrap - 3_000, 10).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    admin(&server, "/api/heats/1/start", Value::Null).await;
    send(&mut device, wrap - 2_000, 30).await;
    send(&mut device, wrap - 1_000, 50).await;
    let after = send(&mut device, wrap + 1_000, 80).await;
    send(&mut device, wrap + 2_000, 79).await; // an undo
    assert!(first > 2_147_000_000 && after < -2_147_000_000);
    admin(&server, "/api/heats/1/stop", Value::Null).await;
    let (_, results) = server.get_json("/api/speed/results?event=SRSS").await;
    // 10 -> 30 -> 50 -> 80 -> 79: 69 steps (by number order it would read
    // 10 -> 80 -> 79 -> 30 -> 50: 69 + ... a different count).
    assert_eq!(
        results["entries"][0]["tallies"][0]["tally"], 69,
        "{results}"
    );
    assert_eq!(results["entries"][0]["R"], 69.0);
    server.shutdown().await;
}
