//! Measures how many wrong login codes one client address gets checked:
//! several sockets from one address send wrong codes as fast as they are
//! answered, naming a different judge each time (so the per-judge budgets
//! do not stop it first), and the test counts the guesses answered "wrong"
//! and those refused unchecked. The count must stay within the address's
//! budget (`throttle::ADDRESS`: a burst, then a steady refill), and reach
//! it, so a too-tight limit fails too. Figures go to stderr (and
//! `docs/security.md`). The budget's window is not shortened for the test,
//! so the default 60 s run is the real thing; `PODIUM_THROTTLE_SECS` runs it
//! longer or shorter:
//! `cargo test --release --test throttle_rate -- --nocapture`.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::add_judges;
use podium::config::ServeConfig;
use podium::core::throttle::ADDRESS;
use podium::store::SyncMode;
use serde_json::json;
use sio_client::{Eio, Sio};

const JUDGES: u64 = 50;

/// Guesses until `until`; returns (wrong answers, refused unchecked, slowest answer).
async fn guesser(
    addr: SocketAddr,
    until: Instant,
    who: usize,
    next: Arc<AtomicU64>,
) -> (u32, u32, Duration) {
    let mut sio = Sio::connect(addr, Eio::V4).await.unwrap();
    let (mut checked, mut refused, mut slowest) = (0, 0, Duration::ZERO);
    let mut n = 0u32;
    while Instant::now() < until {
        n += 1;
        let judge = next.fetch_add(1, Ordering::Relaxed) % JUDGES + 1;
        let login = json!({"judgeId": judge, "loginCode": format!("GUESS-{who}-{n}")});
        let asked = Instant::now();
        let id = sio.emit_with_ack("login", &login).await.unwrap();
        let reply = sio
            .ack_within(id, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("an acknowledgement within 30 s")
            .to_string();
        slowest = slowest.max(asked.elapsed());
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
    (checked, refused, slowest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_no_more_wrong_answers_than_its_budget() {
    let secs: u64 = std::env::var("PODIUM_THROTTLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::local(dir.path());
    config.sync = SyncMode::Normal;
    config.login_code = Some("the-real-login-code-nobody-guesses".into());
    let running = podium::server::start(config).await.unwrap();
    add_judges(&*running.app.db, JUDGES as i64).await;
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let sockets = 8;
    let next = Arc::new(AtomicU64::new(0));
    let guessers: Vec<_> = (0..sockets)
        .map(|who| tokio::spawn(guesser(running.addr, until, who, next.clone())))
        .collect();
    let (mut checked, mut refused, mut slowest) = (0, 0, Duration::ZERO);
    for g in guessers {
        let (c, r, s) = g.await.unwrap();
        checked += c;
        refused += r;
        slowest = slowest.max(s);
    }
    let elapsed = started.elapsed();
    let budget = ADDRESS.allows(elapsed);
    eprintln!(
        "throttle: {sockets} sockets from one address, {:.1} s: {checked} wrong codes answered \
         (budget {budget}: {} at once, then {} an hour), {refused} attempts refused unchecked, \
         slowest answer {:.0} ms",
        elapsed.as_secs_f64(),
        ADDRESS.burst,
        ADDRESS.per_hour,
        slowest.as_secs_f64() * 1e3,
    );
    assert!(
        u64::from(checked) <= budget,
        "{checked} wrong codes answered in {elapsed:?}; the budget is {budget}"
    );
    assert!(
        checked >= ADDRESS.burst,
        "only {checked} wrong codes answered: the budget allows {budget}"
    );
    assert!(refused > 0, "the guesser was never refused");
    // Refusals are answered at once, not held.
    assert!(
        slowest < Duration::from_secs(2),
        "an answer took {slowest:?}"
    );
    running.shutdown().await;
}
