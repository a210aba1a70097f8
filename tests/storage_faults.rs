//! Storage faults, injected into a running server's writer connection
//! (`Store::inject_fault`): disk full, I/O error, read-only. While a fault
//! lasts, every write is refused with a clear error on every protocol and
//! nothing refused reaches a listener or the database; reads, live snapshots
//! and the server itself carry on; `/healthz` says 503. Once the fault
//! clears, writes resume on the same connections.

mod common;

use std::time::Duration;

use common::{device_scores, Client, TestServer};
use podium::store::{Fault, SyncMode};
use serde_json::{json, Value};

const ADMIN: &str = "admin-secret-for-the-storage-fault-tests";

async fn status(server: &TestServer, path: &str) -> u16 {
    reqwest::get(server.url(path))
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn post_hack(server: &TestServer, name: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(server.url("/api/hacks"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": name, "description": "", "location": 1}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn hack_names(server: &TestServer) -> Vec<String> {
    let resp = reqwest::Client::new()
        .get(server.url("/api/state"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "state is readable");
    let state: Value = resp.json().await.unwrap();
    state["hacks"]
        .as_array()
        .expect("hacks")
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_string())
        .collect()
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_cleanly_while_storage_fails_and_resume_after() {
    if common::skip_unless_sqlite("writes_are_refused_cleanly_while_storage_fails_and_resume_after")
    {
        return;
    }
    let server = TestServer::start_with(|c| {
        c.sync = SyncMode::Normal;
        c.admin_secret = Some(ADMIN.into());
    })
    .await;
    let (mut clicker, id, mut board) = server.clicker_and_listener("LISTEN").await;
    assert_eq!(clicker.ask("SCORE 1000 1").await, "SCORED 1000");
    let first_frame = board.recv().await;
    assert!(first_frame.contains("1000"), "{first_frame}");

    let mut admin = server.sledge().await;
    admin.authenticate(ADMIN, 0).await;
    let mut watcher = server.sledge().await;
    watcher.authenticate(ADMIN, 0).await;
    assert_eq!(
        watcher.request("subscribe-database", json!({})).await["ok"],
        true
    );
    let ack = admin
        .request(
            "add-hack",
            json!({"name": "Before", "description": "", "location": 1}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let partial = watcher.event("update-partial").await;
    assert!(partial.to_string().contains("Before"), "{partial}");

    let mut timestamp = 1000;
    let (mut scores_stored, mut hacks_stored) = (1, 1);
    for fault in [Fault::DiskFull, Fault::IoError, Fault::ReadOnly] {
        eprintln!("--- {fault}");
        server.store().inject_fault(fault).await.unwrap();
        timestamp += 1000;
        let refused_ts = timestamp;

        // Clicker: an ERROR, never SCORED; the listener hears nothing.
        let reply = clicker.ask(&format!("SCORE {refused_ts} 2")).await;
        eprintln!("SCORE: {reply}");
        assert!(
            reply.starts_with(&format!("ERROR score {refused_ts} not stored (")),
            "{reply}"
        );
        assert!(reply.ends_with("send it again later"), "{reply}");
        let mut newcomer = server.client().await;
        let reply = newcomer.ask("REGISTER").await;
        eprintln!("REGISTER: {reply}");
        assert!(reply.starts_with("ERROR cannot register now"), "{reply}");

        // Sledge: protocol-error and an error acknowledgement; no update.
        let refused_hack = format!("Refused under {fault}");
        let ack = admin
            .request(
                "add-hack",
                json!({"name": refused_hack, "description": "", "location": 1}),
            )
            .await;
        eprintln!("add-hack ack: {ack}");
        assert_eq!(ack["ok"], false, "{ack}");
        let message = ack["error"]["message"].as_str().unwrap();
        assert!(message.contains("storage failed"), "{message}");
        assert!(message.contains("nothing was changed"), "{message}");
        let error = admin.event("protocol-error").await;
        assert_eq!(error["original"], "add-hack", "{error}");

        // HTTP API: 503 with a JSON error.
        let (code, body) = post_hack(&server, &refused_hack).await;
        eprintln!("POST /api/hacks: {code} {body}");
        assert_eq!(code, 503);
        assert!(body["error"]
            .as_str()
            .unwrap()
            .starts_with("storage unavailable"));

        // Health says so; reads and live snapshots carry on.
        assert_eq!(status(&server, "/healthz").await, 503);
        assert_eq!(status(&server, "/api/clicker/devices").await, 200);
        let scores = device_scores(server.addr, &id).await;
        assert_eq!(scores.len(), scores_stored);
        assert_eq!(hack_names(&server).await.len(), hacks_stored);
        let mut late_board = server.client().await;
        assert_eq!(
            late_board.ask(&format!("LISTEN {id}")).await,
            format!("CONNECT {id}")
        );
        let snapshot = late_board.recv().await;
        assert!(
            snapshot.contains(&(refused_ts - 1000).to_string()),
            "{snapshot}"
        );
        let mut late_watcher = server.sledge().await;
        late_watcher.authenticate(ADMIN, 0).await;
        // The acknowledgement first (events meanwhile are kept): a refused
        // subscription then fails here with its reason.
        let subscribed = late_watcher.request("subscribe-database", json!({})).await;
        assert_eq!(subscribed["ok"], true, "{subscribed}");
        let update = late_watcher.event("update-full").await;
        assert!(!update.to_string().contains("Refused"), "{update}");

        // Nothing refused was broadcast.
        board.silent_for(Duration::from_millis(300)).await;

        // Heal: the same connections write again.
        server.store().inject_fault(Fault::None).await.unwrap();
        assert_eq!(status(&server, "/healthz").await, 200);
        timestamp += 1000;
        assert_eq!(
            clicker.ask(&format!("SCORE {timestamp} 3")).await,
            format!("SCORED {timestamp}")
        );
        let frame = board.recv().await;
        assert!(frame.contains(&timestamp.to_string()), "{frame}");
        let healed_hack = format!("After {fault}");
        let ack = admin
            .request(
                "add-hack",
                json!({"name": healed_hack, "description": "", "location": 1}),
            )
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        // The first update after the fault is the healed hack: nothing of the
        // refused one was published.
        let partial = watcher.event("update-partial").await;
        assert!(partial.to_string().contains(&healed_hack), "{partial}");
        assert!(!partial.to_string().contains("Refused"), "{partial}");
        assert_eq!(
            post_hack(&server, &format!("HTTP after {fault}")).await.0,
            201
        );
        let partial = watcher.event("update-partial").await;
        assert!(partial.to_string().contains("HTTP after"), "{partial}");

        let scores = device_scores(server.addr, &id).await;
        let stored: Vec<i64> = scores
            .iter()
            .map(|s| s["timestamp"].as_i64().unwrap())
            .collect();
        assert!(
            !stored.contains(&refused_ts),
            "refused score stored: {stored:?}"
        );
        assert!(stored.contains(&timestamp), "{stored:?}");
        let names = hack_names(&server).await;
        assert!(!names.iter().any(|n| n.starts_with("Refused")), "{names:?}");
        let mut newcomer = Client::connect(server.addr).await;
        newcomer.register(None).await;
        scores_stored += 1;
        hacks_stored += 2;
    }

    // Every SCORE acknowledged is stored; none refused is.
    let stored: Vec<i64> = device_scores(server.addr, &id)
        .await
        .iter()
        .map(|s| s["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(stored, [1000, 3000, 5000, 7000]);
    let names = hack_names(&server).await;
    assert_eq!(names.len(), 7, "{names:?}");

    let metrics = server.metrics().await;
    let errors = metric(&metrics, "podium_storage_write_errors_total");
    eprintln!("podium_storage_write_errors_total {errors}");
    assert!(errors >= 3 * 5, "{errors}");
    server.shutdown().await;
}
