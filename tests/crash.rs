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

/// SIGTERM, a rolling restart's stop (`podium::drain`): `/healthz` answers
/// 503 "draining" while the node still serves for its drain delay; another
/// SIGTERM ends the delay: the clicker's SCOREs are answered SCORED (none
/// refused), it is closed with 1012 (service restart), and the process
/// exits 0 with every acknowledged score stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_closes_websockets_with_service_restart_and_exits_0() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    let dir = tempfile::tempdir().unwrap();
    // A delay no test outlasts: the second SIGTERM ends it.
    let args = ["--drain-delay-secs", "3600", "--clicker-rate", "0"];
    let mut server = ChildServer::start_with_args(dir.path(), &args).await;
    let mut clicker = Client::connect(server.addr).await;
    let (id, _) = clicker.register(None).await;
    assert_eq!(clicker.ask("SCORE 1 1").await, "SCORED 1");
    let sigterm = |server: &ChildServer| {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) };
    };
    sigterm(&server);
    let healthz = format!("http://{}/healthz", server.addr);
    let body = loop {
        let response = reqwest::get(&healthz).await.expect("/healthz answers");
        if response.status() == 503 {
            break response.text().await.unwrap();
        }
        assert_eq!(response.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(body.starts_with("draining:"), "{body}");
    // Draining is not closing: the node serves on until the delay ends.
    assert_eq!(clicker.ask("SCORE 2 2").await, "SCORED 2");

    // SCOREs in flight as connections close.
    for t in 3..=300 {
        clicker.send(&format!("SCORE {t} {t}")).await;
    }
    sigterm(&server);
    let mut acked = BTreeSet::from([1, 2]);
    let close = loop {
        let next = tokio::time::timeout(common::PATIENCE, clicker.ws.next())
            .await
            .expect("answers, then a close frame");
        match next {
            Some(Ok(Message::Text(text))) => {
                let t = text
                    .strip_prefix("SCORED ")
                    .unwrap_or_else(|| panic!("{text}"));
                assert!(acked.insert(t.parse::<i64>().unwrap()), "{text} twice");
            }
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected answers and a close frame, got {other:?}"),
        }
    };
    // The SCOREs already sent are taken as the connection closes (the
    // server reads for as long as they keep coming within 50 ms): the
    // count is printed, not asserted, as a loaded machine can stretch that.
    eprintln!(
        "SIGTERM with 298 SCOREs sent: {} of 300 answered before the close",
        acked.len()
    );
    assert_eq!(common::close_code(&close), 1012);
    assert_eq!(
        close.unwrap().reason.as_str(),
        "server restarting: connect again"
    );
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
    // Everything acknowledged before the exit was committed before it.
    let server = ChildServer::start(dir.path()).await;
    let stored: BTreeSet<i64> = common::device_scores(server.addr, &id)
        .await
        .iter()
        .map(|row| row["timestamp"].as_i64().unwrap())
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged, not stored: {lost:?}");
    server.kill9();
}
