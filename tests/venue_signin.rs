//! A whole venue signs in from one address (the venue's NAT): 200 judges
//! over 20 s, half with `POST /api/login` (reqwest, as the judge page does)
//! and half with socket.io's `login` event (as Sledge clients do), the
//! generated login code typed as shown, or in lower case without the dash;
//! one judge in ten mistypes it once and types it again a second later.
//! Every judge must be in within 60 s, no correct code refused, and the
//! 95th percentile of a correct sign-in's answer under 2 s. Figures go to
//! stderr: `cargo test --release --test venue_signin -- --nocapture`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{add_judges, Latencies, TestServer};
use podium::store::SyncMode;
use serde_json::{json, Value};
use sio_client::{Eio, Sio};

const JUDGES: i64 = 200;
const SPREAD: Duration = Duration::from_secs(20);

/// What one judge went through.
struct Judge {
    /// Answers to the correct code, each timed.
    correct: Vec<(Duration, bool)>,
    /// Wrong codes answered as wrong (not throttled).
    wrong_refused_as_wrong: u32,
    /// When the judge was in, counted from the test's start.
    in_at: Option<Duration>,
}

/// The code as this judge types it.
fn typed(code: &str, judge: i64) -> String {
    if judge % 2 == 0 {
        code.to_string()
    } else {
        code.replace('-', "").to_lowercase()
    }
}

/// A typo: the last character swapped for another symbol of the alphabet.
fn mistyped(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    let last = chars.pop().unwrap();
    chars.push(if last == 'Z' { 'Y' } else { 'Z' });
    chars.into_iter().collect()
}

/// One login over HTTP: (accepted, the error text if not).
async fn http_login(
    http: &reqwest::Client,
    addr: SocketAddr,
    judge: i64,
    code: &str,
) -> (bool, String) {
    let reply = http
        .post(format!("http://{addr}/api/login"))
        .json(&json!({"judgeId": judge, "loginCode": code}))
        .send()
        .await
        .expect("the server answers");
    let ok = reply.status().is_success();
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    if ok {
        assert_eq!(body["userId"], judge, "{body}");
        assert!(body["secret"].as_str().is_some_and(|s| s.len() == 64));
    }
    (ok, body["error"].as_str().unwrap_or_default().to_string())
}

/// One login over socket.io: (accepted, the acknowledgement as text).
async fn sio_login(sio: &mut Sio, judge: i64, code: &str) -> (bool, String) {
    let id = sio
        .emit_with_ack("login", &json!({"judgeId": judge, "loginCode": code}))
        .await
        .unwrap();
    let ack = sio
        .ack_within(id, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("an acknowledgement within 30 s");
    (ack["ok"] == true, ack.to_string())
}

/// One login, over the judge's socket if it has one, else over HTTP.
async fn login(
    sio: &mut Option<Sio>,
    http: &reqwest::Client,
    addr: SocketAddr,
    judge: i64,
    code: &str,
) -> (bool, String) {
    match sio {
        Some(sio) => sio_login(sio, judge, code).await,
        None => http_login(http, addr, judge, code).await,
    }
}

async fn judge(addr: SocketAddr, id: i64, code: String, started: Instant) -> Judge {
    tokio::time::sleep_until((started + SPREAD * (id - 1) as u32 / JUDGES as u32).into()).await;
    let mut sio = if id % 2 == 1 {
        Some(
            Sio::connect(addr, Eio::V4)
                .await
                .expect("socket.io connects"),
        )
    } else {
        None
    };
    let http = reqwest::Client::new();
    let mut me = Judge {
        correct: Vec::new(),
        wrong_refused_as_wrong: 0,
        in_at: None,
    };
    if id % 10 == 0 {
        let (ok, text) = login(&mut sio, &http, addr, id, &mistyped(&code)).await;
        assert!(!ok, "a mistyped code was accepted");
        if text.contains("login code is wrong") {
            me.wrong_refused_as_wrong += 1;
        }
        // A person notices and types it again.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // A judge whose right code is refused tries again (up to 3 times), as
    // people do; each refusal is counted.
    for _ in 0..3 {
        let asked = Instant::now();
        let (ok, _) = login(&mut sio, &http, addr, id, &typed(&code, id)).await;
        me.correct.push((asked.elapsed(), ok));
        if ok {
            me.in_at = Some(started.elapsed());
            break;
        }
    }
    if let Some(sio) = sio {
        sio.close().await;
    }
    me
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_judges_behind_one_address_all_sign_in() {
    if common::skip_unless_sqlite("two_hundred_judges_behind_one_address_all_sign_in") {
        return;
    }
    let server = TestServer::start_with(|c| c.sync = SyncMode::Normal).await;
    let code = server.generated_login_code();
    assert!(code.len() == 11 && code.as_bytes()[5] == b'-', "{code}");
    add_judges(server.db(), JUDGES).await;
    let started = Instant::now();
    let judges: Vec<_> = (1..=JUDGES)
        .map(|id| tokio::spawn(judge(server.addr, id, code.clone(), started)))
        .collect();
    let mut latencies = Latencies::default();
    let (mut signed_in, mut refused, mut mistakes_told) = (0, 0, 0);
    let mut last_in = Duration::ZERO;
    for j in judges {
        let me = j.await.expect("a judge task");
        for (latency, ok) in &me.correct {
            latencies.record(*latency);
            if !ok {
                refused += 1;
            }
        }
        mistakes_told += me.wrong_refused_as_wrong;
        if let Some(at) = me.in_at {
            signed_in += 1;
            last_in = last_in.max(at);
        }
    }
    let p95 = latencies.quantile(0.95);
    eprintln!(
        "venue: {signed_in} of {JUDGES} judges signed in from one address, the last {:.1} s after the first started; \
         {refused} correct codes refused; {mistakes_told} of {} mistypes answered \"wrong code\"; \
         correct sign-in p95 {:.1} ms ({})",
        last_in.as_secs_f64(),
        JUDGES / 10,
        p95.as_secs_f64() * 1e3,
        latencies.summary("correct sign-ins"),
    );
    assert_eq!(refused, 0, "correct codes were refused");
    assert_eq!(signed_in, JUDGES);
    assert_eq!(
        mistakes_told,
        JUDGES as u32 / 10,
        "a mistype was throttled rather than told"
    );
    assert!(
        last_in < Duration::from_secs(60),
        "the last judge got in after {last_in:?}"
    );
    assert!(p95 < Duration::from_secs(2), "p95 sign-in {p95:?}");
    server.shutdown().await;
}

/// Someone at the venue spends its address's budget with wrong codes: the
/// login code is then refused from that address (right or wrong), but the
/// judges already signed in carry on and a sign-in link still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_venue_budget_stops_only_code_sign_ins() {
    if common::skip_unless_sqlite("a_spent_venue_budget_stops_only_code_sign_ins") {
        return;
    }
    let server = TestServer::start_with(|c| c.sync = SyncMode::Normal).await;
    let code = server.generated_login_code();
    add_judges(server.db(), 40).await;
    let http = reqwest::Client::new();
    let (ok, _) = http_login(&http, server.addr, 1, &code).await;
    assert!(ok);
    let signed_in = http
        .post(server.url("/api/login"))
        .json(&json!({"judgeId": 2, "loginCode": code}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let sledge = &server.running.as_ref().unwrap().app.core;
    let link = sledge.reissue_link(3, None).await.unwrap().token;

    let mut wrong = 0;
    for n in 0..400 {
        let (ok, text) = http_login(&http, server.addr, n % 40 + 1, "WRONG-GUESS").await;
        assert!(!ok);
        if text.contains("login code is wrong") {
            wrong += 1;
        } else {
            assert!(
                text.contains("too many failed attempts from your address"),
                "{text}"
            );
        }
    }
    assert_eq!(wrong, podium::core::throttle::ADDRESS.burst);
    // The right code is refused too now: the refusal tells nothing.
    let (ok, text) = http_login(&http, server.addr, 5, &code).await;
    assert!(!ok && text.contains("too many failed attempts"), "{text}");
    // A judge already signed in carries on.
    let state = http
        .get(server.url("/api/state"))
        .bearer_auth(&signed_in)
        .send()
        .await
        .unwrap();
    assert_eq!(state.status(), 200);
    // A sign-in link still works; a wrong token or secret is refused unchecked.
    let post_link = |token: String| {
        http.post(server.url("/api/login/link"))
            .json(&json!({ "token": token }))
            .send()
    };
    let by_link: Value = post_link(link).await.unwrap().json().await.unwrap();
    assert_eq!(by_link["userId"], 3, "{by_link}");
    let wrong_link = post_link("0".repeat(32)).await.unwrap();
    assert_eq!(wrong_link.status(), 429);
    let wrong_secret = http
        .get(server.url("/api/state"))
        .bearer_auth("not-a-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 429);
    assert!(wrong_secret.headers().contains_key("retry-after"));
    server.shutdown().await;
}
