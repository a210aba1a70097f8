//! `podium backup FILE` takes a consistent copy while the server runs, and a
//! server started on the restored copy serves the same data.

mod common;

use std::process::Command;

use common::{ChildServer, Client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_backup_restores_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(dir.path()).await;
    let mut clicker = Client::connect(server.addr).await;
    let (id, secret) = clicker.register(None).await;
    for n in 1..=50u64 {
        assert_eq!(
            clicker.ask(&format!("SCORE {n} {n} {n}")).await,
            format!("SCORED {n} {n}")
        );
    }

    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("podium-backup.sqlite3");
    let out = Command::new(env!("CARGO_BIN_EXE_podium"))
        .args(["backup", "--data-dir"])
        .arg(dir.path())
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server kept running and keeps taking scores during and after.
    assert_eq!(clicker.ask("SCORE 51 51 51").await, "SCORED 51 51");
    // A second backup to the same file is refused rather than overwriting it.
    let again = Command::new(env!("CARGO_BIN_EXE_podium"))
        .args(["backup", "--data-dir"])
        .arg(dir.path())
        .arg(&file)
        .output()
        .unwrap();
    assert!(!again.status.success());
    server.kill9();

    // Restore as the docs say: the file becomes podium.sqlite3 in a new data directory.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored.path().join("podium.sqlite3")).unwrap();
    let server = ChildServer::start(restored.path()).await;
    let rows = common::device_scores(server.addr, &id).await;
    assert_eq!(
        rows.len(),
        50,
        "the backup holds what was committed before it"
    );
    let mut clicker = Client::connect(server.addr).await;
    let (id2, _) = clicker.register(Some(&secret)).await;
    assert_eq!(id2, id, "device secrets survive the restore");
    server.kill9();
}
