//! kill -9 durability: a child `podium` process takes a stream of SCOREs, is
//! killed with SIGKILL mid-stream, restarts on the same data directory, and
//! every score it had acknowledged is in the history API, none twice.

mod common;

use std::collections::BTreeSet;

use common::{ChildServer, Client, ScoreFlood};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_scores_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    // The clicker streams far beyond the default rate limit.
    let server = ChildServer::start_with_args(dir.path(), &["--clicker-rate", "0"]).await;
    let mut clicker = Client::connect(server.addr).await;
    let (id, secret) = clicker.register(None).await;

    // Stream SCOREs without waiting, as fast as the socket takes them, and
    // collect the acknowledgements; kill the server once 2000 are in.
    let mut flood = ScoreFlood::start(clicker.ws);
    flood.until_acked(2000).await;
    server.kill9();
    // Whatever else arrives before the socket dies was acknowledged too.
    let acked = flood.drain().await;

    let server = ChildServer::start(dir.path()).await;
    let rows = common::device_scores(server.addr, &id).await;
    let stored: Vec<i64> = rows
        .iter()
        .map(|r| r["timestamp"].as_i64().unwrap())
        .collect();
    let unique: BTreeSet<i64> = stored.iter().copied().collect();
    assert_eq!(unique.len(), stored.len(), "no score stored twice");
    let missing: Vec<_> = acked.difference(&unique).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged scores lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(stored.len() >= acked.len());
    eprintln!(
        "acknowledged {} before the kill; {} stored after restart",
        acked.len(),
        stored.len()
    );

    // The device resumes with its secret; a retry of an acknowledged score is
    // acknowledged again and not stored twice.
    let mut clicker = Client::connect(server.addr).await;
    let (id2, _) = clicker.register(Some(&secret)).await;
    assert_eq!(id2, id);
    let first = *acked.iter().next().unwrap();
    let n = first - 1000;
    assert_eq!(
        clicker.ask(&format!("SCORE {n} {first} {n}")).await,
        format!("SCORED {n} {first}")
    );
    let rows = common::device_scores(server.addr, &id).await;
    assert_eq!(rows.len(), stored.len());
    server.kill9();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_websockets_going_away_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(dir.path()).await;
    let mut clicker = Client::connect(server.addr).await;
    clicker.register(None).await;
    assert_eq!(clicker.ask("SCORE 1 1").await, "SCORED 1");
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(common::close_code(&clicker.expect_close().await), 1001);
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    // Storage was flushed and closed cleanly: SQLite's WAL was folded back.
    assert!(
        common::test_store() != common::TestStore::Sqlite
            || !dir.path().join("podium.sqlite3-wal").exists()
            || std::fs::metadata(dir.path().join("podium.sqlite3-wal"))
                .unwrap()
                .len()
                == 0
    );
}
