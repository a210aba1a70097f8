//! The disk's own commit latency: append a WAL-sized page and `fdatasync`
//! it, over and over, the way SQLite commits with `--sync full`.
//!
//! Every acknowledged SCORE and every delivery waits for such a sync, so
//! its p99 is a floor under the competition scenario's delivery p99 that
//! no server change can lower: this measures that floor on the machine at
//! hand, with no server involved.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::stats::Hist;

/// One WAL frame: a 4 KiB page plus its 24-byte header, rounded to a page.
const FRAME: usize = 4096;

pub async fn fsync(dir: PathBuf, count: usize, interval: Duration) -> i32 {
    let path = dir.join(format!("podium-bench-fsync-{}.tmp", std::process::id()));
    let measured = tokio::task::spawn_blocking({
        let path = path.clone();
        move || measure(&path, count, interval)
    })
    .await;
    let _ = std::fs::remove_file(&path);
    match measured {
        Ok(Ok(hist)) => {
            let s = hist.summary();
            let ms = |us: u64| us as f64 / 1000.0;
            println!(
                "== fsync: {count} appends of {FRAME} B + fdatasync in {} ==",
                dir.display()
            );
            println!("latency (ms):    p50       p99     p99.9       max");
            println!(
                "  fdatasync  {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                ms(s.p50_us),
                ms(s.p99_us),
                ms(s.p999_us),
                ms(s.max_us)
            );
            0
        }
        Ok(Err(e)) => {
            eprintln!("fsync: {}: {e}", path.display());
            super::UNUSABLE
        }
        Err(e) => {
            eprintln!("fsync: {e}");
            super::UNUSABLE
        }
    }
}

fn measure(path: &PathBuf, count: usize, interval: Duration) -> std::io::Result<Hist> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    let page = vec![0x5a_u8; FRAME];
    let hist = Hist::new();
    let mut local = hist.local();
    for _ in 0..count {
        let start = Instant::now();
        file.write_all(&page)?;
        file.sync_data()?;
        local.record(start.elapsed().as_micros() as u64);
        std::thread::sleep(interval);
    }
    drop(local);
    Ok(hist)
}
