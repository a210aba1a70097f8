//! Measures how fast one client address can guess the Sledge login code:
//! several sockets from one address send wrong codes as fast as they are
//! answered, and the test counts the guesses actually checked. Figures go
//! to stderr (and `docs/security.md`); run longer with
//! `PODIUM_THROTTLE_SECS=60 cargo test --release --test throttle_rate -- --nocapture`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::sio::Sio;
use podium::config::ServeConfig;
use podium::store::judging::NewJudge;
use podium::store::SyncMode;
use serde_json::json;

/// Guesses until `until`; returns (guesses checked, attempts refused unchecked).
async fn guesser(addr: SocketAddr, until: Instant, who: usize) -> (u32, u32) {
    let mut sio = Sio::connect(addr, false).await.unwrap();
    let (mut checked, mut refused) = (0, 0);
    let mut ack = 0u32;
    while Instant::now() < until {
        ack += 1;
        let login = json!({"judgeId": 1, "loginCode": format!("guess-{who}-{ack}")});
        let id = sio.emit("login", &login).await.unwrap();
        let reply = sio
            .ack_within(id, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("an acknowledgement within 30 s")
            .to_string();
        if reply.contains("the login code is wrong") {
            checked += 1;
        } else if reply.contains("too many failed attempts") {
            refused += 1;
            // A real attacker would retry at once; a short pause keeps the
            // test from spinning (refusals cost nothing either way).
            tokio::time::sleep(Duration::from_millis(100)).await;
        } else {
            panic!("unexpected reply {reply}");
        }
    }
    (checked, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_about_one_guess_every_4_seconds() {
    let secs: u64 = std::env::var("PODIUM_THROTTLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::local(dir.path());
    config.sync = SyncMode::Normal;
    config.login_code = Some("the-real-login-code-nobody-guesses".into());
    let running = podium::server::start(config).await.unwrap();
    running
        .app
        .store
        .add_judge(NewJudge {
            name: "Ada".into(),
            email: "ada@example.org".into(),
        })
        .await
        .unwrap();
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let sockets = 8;
    let guessers: Vec<_> = (0..sockets)
        .map(|who| tokio::spawn(guesser(running.addr, until, who)))
        .collect();
    let (mut checked, mut refused) = (0, 0);
    for g in guessers {
        let (c, r) = g.await.unwrap();
        checked += c;
        refused += r;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = checked as f64 / elapsed;
    eprintln!(
        "throttle: {sockets} sockets from one address, {elapsed:.1} s: {checked} guesses checked \
         ({rate:.3}/s overall), {refused} attempts refused unchecked"
    );
    // 3 free, then 0.25 + 0.5 + 1 + 2 s, then one every 4 s.
    // Attempts sent before the deadline may wait in the queue past it, so
    // the whole elapsed time counts.
    let expected = 3.0 + 4.0 + (elapsed - 3.75).max(0.0) / 4.0;
    assert!(
        (checked as f64) <= expected + 2.0,
        "{checked} guesses in {elapsed:.1} s; the throttle allows about {expected:.0}"
    );
    running.shutdown().await;
}
