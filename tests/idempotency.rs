//! Idempotency keys (issue 25): a write repeated with the same key by the
//! same caller answers the first answer and changes nothing, over HTTP
//! (`Idempotency-Key`) and socket.io (`idempotencyKey`); after the real
//! binary is killed with SIGKILL and started again on its data; and, in
//! cluster mode, on the other node, even when both nodes get the key at the
//! same moment. Runs on SQLite and, under `PODIUM_TEST_STORE=postgres`, on
//! PostgreSQL; the two-node tests need `PODIUM_TEST_DATABASE_URL`.

mod common;

use std::net::SocketAddr;

use common::{ChildServer, TestServer, PATIENCE};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ADMIN: &str = "idempotency-test-admin-secret-0123";
const CODE: &str = "idempotency-test-login-code-0123";

/// One HTTP answer.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }
}

/// Sends `method path` with `body` as `secret`, under `key` if given.
async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    secret: &str,
    key: Option<HeaderValue>,
    body: Value,
) -> Reply {
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{addr}{path}"))
        .bearer_auth(secret)
        .json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = tokio::time::timeout(PATIENCE, request.send())
        .await
        .expect("an answer in time")
        .expect("a response");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

fn key(k: &str) -> Option<HeaderValue> {
    Some(HeaderValue::from_str(k).unwrap())
}

async fn post(addr: SocketAddr, path: &str, secret: &str, k: Option<&str>, body: Value) -> Reply {
    send(addr, Method::POST, path, secret, k.and_then(key), body).await
}

/// Sends `body` to `path` under `key`, then the very same request again:
/// the repeat must answer the first answer (status and body), marked
/// replayed. Answers the first.
async fn twice(addr: SocketAddr, path: &str, secret: &str, key: &str, body: Value) -> Reply {
    let first = post(addr, path, secret, Some(key), body.clone()).await;
    assert!(!first.replayed(), "{path}: a first request is not a replay");
    let again = post(addr, path, secret, Some(key), body).await;
    assert_eq!(
        (again.status, &again.body),
        (first.status, &first.body),
        "{path}: the first answer, again"
    );
    assert!(again.replayed(), "{path}: marked Idempotent-Replayed: true");
    first
}

async fn get(addr: SocketAddr, path: &str, secret: &str) -> Value {
    let reply = send(addr, Method::GET, path, secret, None, Value::Null).await;
    assert_eq!(reply.status, StatusCode::OK, "GET {path}: {:?}", reply.body);
    reply.body
}

/// Three hacks and two judges, added by the admin; the judges' secrets.
async fn setup(addr: SocketAddr) -> (String, String) {
    for n in 1..=3 {
        let r = post(
            addr,
            "/api/hacks",
            ADMIN,
            None,
            json!({"name": format!("Hack {n}"), "description": "", "location": n}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let mut secrets = Vec::new();
    for n in 1..=2 {
        let r = post(
            addr,
            "/api/judges",
            ADMIN,
            None,
            json!({"name": format!("Judge {n}"), "email": format!("judge{n}@example.org")}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = post(
            addr,
            "/api/login",
            "",
            None,
            json!({"judgeId": n, "loginCode": CODE}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        secrets.push(r.body["secret"].as_str().unwrap().to_string());
    }
    (secrets[0].clone(), secrets[1].clone())
}

async fn start() -> TestServer {
    TestServer::start_with(|c| {
        c.admin_secret = Some(ADMIN.into());
        c.login_code = Some(CODE.into());
    })
    .await
}

/// The stored ratings as (judge, hack, rating), and judge 1's last action.
async fn ratings_and_activity(addr: SocketAddr) -> (Vec<(i64, i64, i64)>, Value) {
    let state = get(addr, "/api/state", ADMIN).await;
    let mut ratings: Vec<(i64, i64, i64)> = state["ratings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["judgeId"].as_i64().unwrap(),
                r["hackId"].as_i64().unwrap(),
                r["rating"].as_i64().unwrap(),
            )
        })
        .collect();
    ratings.sort();
    let floor = get(addr, "/api/floor", ADMIN).await;
    let activity = floor["judges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["judgeId"] == 1)
        .unwrap()["lastActionAt"]
        .clone();
    (ratings, activity)
}

/// A repeated rating answers the first answer, marked replayed, and
/// changes nothing: not the rating (changed since under another key), not
/// the judge's last action. A fresh key applies as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_write_answers_the_first_answer_and_changes_nothing() {
    let server = start().await;
    let addr = server.addr;
    let (judge, _) = setup(addr).await;
    let rate = |rating: i64| json!({"judgeId": 1, "hackId": 1, "rating": rating});

    let first = twice(addr, "/api/ratings", &judge, "rate-1-a", rate(7)).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["rating"], 7);

    let changed = post(addr, "/api/ratings", &judge, Some("rate-1-b"), rate(9)).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert!(!changed.replayed());
    assert_eq!(changed.body["rating"], 9);
    let (ratings, activity) = ratings_and_activity(addr).await;
    assert_eq!(ratings, [(1, 1, 9)]);

    // Long enough that a write now would move the last action.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let late = post(addr, "/api/ratings", &judge, Some("rate-1-a"), rate(7)).await;
    assert_eq!(late.body, first.body, "still the first answer");
    assert!(late.replayed());
    let (after, activity_after) = ratings_and_activity(addr).await;
    assert_eq!(after, [(1, 1, 9)], "the replay did not rate again");
    assert_eq!(activity_after, activity, "nor touch the judge's activity");

    // Other writes answer their first answer too (201 for a new row).
    let note = json!({"judgeId": 1, "hackId": 2, "text": "great demo"});
    let noted = twice(addr, "/api/notes", &judge, "note-1", note).await;
    assert_eq!(noted.status, StatusCode::OK, "{:?}", noted.body);
    let hack = json!({"name": "Hack 4", "description": "", "location": 4});
    let added = twice(addr, "/api/hacks", ADMIN, "hack-4", hack).await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    let state = get(addr, "/api/state", ADMIN).await;
    assert_eq!(state["hacks"].as_array().unwrap().len(), 4, "one Hack 4");
    assert_eq!(state["notes"].as_array().unwrap().len(), 1);
    server.shutdown().await;
}

/// A key reused for another request is refused with 422 and changes
/// nothing; keys are each caller's own; malformed keys get a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_key_is_refused_and_keys_are_each_callers_own() {
    let server = start().await;
    let addr = server.addr;
    let (judge1, judge2) = setup(addr).await;
    let first = post(
        addr,
        "/api/ratings",
        &judge1,
        Some("shared-key"),
        json!({"judgeId": 1, "hackId": 1, "rating": 5}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);

    let other_body = post(
        addr,
        "/api/ratings",
        &judge1,
        Some("shared-key"),
        json!({"judgeId": 1, "hackId": 1, "rating": 6}),
    )
    .await;
    assert_eq!(
        other_body.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        other_body.body
    );
    let message = other_body.body["error"].as_str().unwrap();
    assert!(
        message.contains("already used") && message.contains("different request"),
        "{message}"
    );
    let other_path = post(
        addr,
        "/api/absences",
        &judge1,
        Some("shared-key"),
        json!({"judgeId": 1, "hackId": 1}),
    )
    .await;
    assert_eq!(other_path.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Judge 2's "shared-key" is another key: it applies, and answers judge 2's own.
    let mine = post(
        addr,
        "/api/ratings",
        &judge2,
        Some("shared-key"),
        json!({"judgeId": 2, "hackId": 1, "rating": 3}),
    )
    .await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    assert!(!mine.replayed());
    assert_eq!(mine.body["judgeId"], 2);
    let (ratings, _) = ratings_and_activity(addr).await;
    assert_eq!(
        ratings,
        [(1, 1, 5), (2, 1, 3)],
        "neither refusal wrote; judge 2 rated"
    );
    let state = get(addr, "/api/state", ADMIN).await;
    assert_eq!(state["absences"], json!([]));

    let rate = json!({"judgeId": 1, "hackId": 2, "rating": 5});
    let too_long = "k".repeat(256);
    for bad in [
        HeaderValue::from_static(""),
        HeaderValue::from_str(&too_long).unwrap(),
        HeaderValue::from_static("two words"),
        HeaderValue::from_bytes(b"caf\xe9").unwrap(),
    ] {
        let shown = format!("{bad:?}");
        let r = send(
            addr,
            Method::POST,
            "/api/ratings",
            &judge1,
            Some(bad),
            rate.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{shown}: {:?}", r.body);
        let message = r.body["error"].as_str().unwrap();
        assert!(message.contains("Idempotency-Key"), "{shown}: {message}");
    }
    let (ratings, _) = ratings_and_activity(addr).await;
    assert_eq!(ratings.len(), 2, "no bad key wrote");
    server.shutdown().await;
}

/// A refusal is an answer too: a rating refused because judging was paused
/// is refused again on a repeat after judging resumed, and never stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_answered_again() {
    let server = start().await;
    let addr = server.addr;
    let (judge, _) = setup(addr).await;
    let paused = post(
        addr,
        "/api/judging/pause",
        ADMIN,
        Some("pause-1"),
        json!({}),
    )
    .await;
    assert_eq!(paused.status, StatusCode::OK, "{:?}", paused.body);
    let rate = json!({"judgeId": 1, "hackId": 3, "rating": 8});
    let refused = post(
        addr,
        "/api/ratings",
        &judge,
        Some("while-paused"),
        rate.clone(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert!(refused.body["error"].as_str().unwrap().contains("paused"));
    let resumed = post(
        addr,
        "/api/judging/resume",
        ADMIN,
        Some("resume-1"),
        json!({}),
    )
    .await;
    assert_eq!(resumed.status, StatusCode::OK, "{:?}", resumed.body);

    let again = post(
        addr,
        "/api/ratings",
        &judge,
        Some("while-paused"),
        rate.clone(),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body, refused.body, "the same refusal");
    assert!(again.replayed());
    let (ratings, _) = ratings_and_activity(addr).await;
    assert_eq!(ratings, [], "nothing stored");

    // A fresh key rates now that judging runs.
    let fresh = post(addr, "/api/ratings", &judge, Some("after-resume"), rate).await;
    assert_eq!(fresh.status, StatusCode::OK, "{:?}", fresh.body);
    let (ratings, _) = ratings_and_activity(addr).await;
    assert_eq!(ratings, [(1, 3, 8)]);
    server.shutdown().await;
}

/// A write whose answer is a secret is never kept under a key (the kept
/// answer would hold the secret in the clear): a new sign-in link sent
/// again with its key issues the next link, which retires the one whose
/// answer the organiser lost, and only the newest signs a judge in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sign_in_link_is_not_kept_under_a_key() {
    let server = start().await;
    let addr = server.addr;
    setup(addr).await;
    let path = "/api/judges/1/link";
    let first = post(addr, path, ADMIN, Some("new-link-1"), json!({})).await;
    let again = post(addr, path, ADMIN, Some("new-link-1"), json!({})).await;
    let token = |r: &Reply| {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert!(!r.replayed(), "a link is issued afresh, not replayed");
        let url = r.body["url"].as_str().unwrap();
        url.split_once("#token=").unwrap().1.to_string()
    };
    let (old, new) = (token(&first), token(&again));
    assert_ne!(old, new, "the repeat issued the next link");
    let sign_in = |token: String| post(addr, "/api/login/link", "", None, json!({"token": token}));
    let refused = sign_in(old).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "the first link is retired: {:?}",
        refused.body
    );
    let signed_in = sign_in(new).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["userId"], 1);
    server.shutdown().await;
}

/// Speed events take keys too: an entry sent again is added once, a heat's
/// start sent again answers the first start (not "already running"), a
/// refusal is answered again, and a key used for another request is 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speed_writes_answer_the_first_answer() {
    let server = start().await;
    let addr = server.addr;
    let event = post(
        addr,
        "/api/speed/events",
        ADMIN,
        Some("event"),
        json!({"name": "Speed 30", "switches": 0}),
    )
    .await;
    assert_eq!(event.status, StatusCode::OK, "{:?}", event.body);
    let ann = json!({"event": "Speed 30", "heat": 1, "station": 1, "name": "Ann"});
    let first = twice(addr, "/api/entries", ADMIN, "ann", ann).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);

    // Ann has station 1 of heat 1: Bo is refused, and his repeat answers
    // the same refusal.
    let bo = json!({"event": "Speed 30", "heat": 1, "station": 1, "name": "Bo"});
    let taken = twice(addr, "/api/entries", ADMIN, "bo", bo).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{:?}", taken.body);

    let start = twice(addr, "/api/heats/1/start", ADMIN, "start-1", json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{:?}", start.body);
    let unkeyed = post(addr, "/api/heats/1/start", ADMIN, None, json!({})).await;
    assert_eq!(
        unkeyed.status,
        StatusCode::CONFLICT,
        "without a key a second start is refused"
    );

    let reused = post(addr, "/api/heats/1/stop", ADMIN, Some("start-1"), json!({})).await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        reused.body
    );
    let heats = get(addr, "/api/speed/heats", ADMIN).await;
    assert_eq!(
        heats[0]["state"], "running",
        "the reused key stopped nothing"
    );

    let results = get(addr, "/api/speed/results", ADMIN).await;
    let names: Vec<&str> = results["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ann"], "one entry, added once");
    server.shutdown().await;
}

/// socket.io: a repeated `rate-hack` with the same `idempotencyKey` answers
/// the first acknowledgement and stores one rating; a malformed key is a
/// protocol error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_socket_io_event_answers_the_first_ack() {
    let server = start().await;
    let addr = server.addr;
    let (secret, _) = setup(addr).await;
    let mut judge = server.sledge().await;
    judge.authenticate(&secret, 1).await;
    let event = |rating: i64| json!({"judgeId": 1, "hackId": 2, "rating": rating, "idempotencyKey": "sio-rate-1"});
    let first = judge.request("rate-hack", event(11)).await;
    assert_eq!(first["ok"], true, "{first}");
    let changed = judge
        .request(
            "rate-hack",
            json!({"judgeId": 1, "hackId": 2, "rating": 12, "idempotencyKey": "sio-rate-2"}),
        )
        .await;
    assert_eq!(changed["ok"], true, "{changed}");
    let again = judge.request("rate-hack", event(11)).await;
    assert_eq!(again, first, "the first acknowledgement, again");
    let reused = judge.request("rate-hack", event(13)).await;
    assert_eq!(reused["ok"], false, "{reused}");
    assert!(reused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already used"));
    let bad = judge
        .request(
            "rate-hack",
            json!({"judgeId": 1, "hackId": 2, "rating": 1, "idempotencyKey": 7}),
        )
        .await;
    assert_eq!(bad["ok"], false, "{bad}");
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .contains("idempotencyKey"));
    let (ratings, _) = ratings_and_activity(addr).await;
    assert_eq!(ratings, [(1, 2, 12)], "one rating, as last changed");
    server.shutdown().await;
}

/// The real binary, killed with SIGKILL after answering a keyed write and
/// started again on its data, answers a repeat with the first answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_after_kill_9_answers_the_first_answer() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--admin-secret", ADMIN, "--login-code", CODE];
    let server = ChildServer::start_with_args(dir.path(), &args).await;
    let addr = server.addr;
    setup(addr).await;
    let rate = json!({"judgeId": 2, "hackId": 3, "rating": 4});
    let first = post(
        addr,
        "/api/ratings",
        ADMIN,
        Some("before-kill"),
        rate.clone(),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    server.kill9();

    let server = ChildServer::start_with_args(dir.path(), &args).await;
    let addr = server.addr;
    let again = post(addr, "/api/ratings", ADMIN, Some("before-kill"), rate).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body, first.body);
    assert!(again.replayed());
    let (ratings, _) = ratings_and_activity(addr).await;
    assert_eq!(ratings, [(2, 3, 4)]);
    server.kill9();
}

async fn node(url: &str) -> TestServer {
    TestServer::cluster_node(url, ADMIN, CODE).await
}

/// Two nodes on one PostgreSQL: a write made on node A and repeated on node
/// B answers A's answer; the same keys sent to both nodes at the same
/// moment apply once each, and both nodes answer the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_on_the_other_node_answers_the_first_answer() {
    let Some(url) = common::cluster_database_url("the two-node idempotency test").await else {
        return;
    };
    let (a, b) = (node(&url).await, node(&url).await);
    let (judge, _) = setup(a.addr).await;
    let rate = json!({"judgeId": 1, "hackId": 1, "rating": 10});
    let on_a = post(a.addr, "/api/ratings", &judge, Some("node-a"), rate.clone()).await;
    assert_eq!(on_a.status, StatusCode::OK, "{:?}", on_a.body);
    let on_b = post(b.addr, "/api/ratings", &judge, Some("node-a"), rate).await;
    assert_eq!(on_b.status, StatusCode::OK, "{:?}", on_b.body);
    assert_eq!(on_b.body, on_a.body);
    assert!(on_b.replayed());

    // Each key sent to both nodes at once.
    for round in 0..10 {
        let rating = 1 + round;
        let body = json!({"judgeId": 1, "hackId": 2, "rating": rating});
        let k = format!("race-{round}");
        let (x, y) = tokio::join!(
            post(a.addr, "/api/ratings", &judge, Some(&k), body.clone()),
            post(b.addr, "/api/ratings", &judge, Some(&k), body),
        );
        assert_eq!(x.status, StatusCode::OK, "{:?}", x.body);
        assert_eq!(y.status, StatusCode::OK, "{:?}", y.body);
        assert_eq!(x.body, y.body, "round {round}: both nodes answer the same");
        assert_eq!(
            [x.replayed(), y.replayed()].iter().filter(|r| **r).count(),
            1,
            "round {round}: exactly one applied"
        );
    }
    // Node B's view follows the shared change log: wait for the last commit
    // (made on either node) to reach it.
    let expected = [(1, 1, 10), (1, 2, 10)];
    let started = std::time::Instant::now();
    let mut ratings = ratings_and_activity(b.addr).await.0;
    while ratings != expected && started.elapsed() < PATIENCE {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        ratings = ratings_and_activity(b.addr).await.0;
    }
    assert_eq!(ratings, expected);
    a.shutdown().await;
    b.shutdown().await;
}
