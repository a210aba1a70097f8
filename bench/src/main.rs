//! `podium-bench`: load generator and measuring instrument for Podium.
//!
//! Speaks the clicker protocol (WebSocket, both drafts) and the Sledge judging
//! protocol (socket.io over raw WebSocket, EIO3 and EIO4) against any server
//! on loopback, and reports throughput, latency percentiles, errors and the
//! server's memory. One subcommand per scenario; see `cli.rs`.

mod cli;
mod clicker;
mod conn;
mod judging;
mod limits;
mod report;
mod rng;
mod rss;
mod scenario;
mod sio;
mod stats;
mod time;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    match limits::raise_nofile() {
        Ok((soft, hard)) => eprintln!("RLIMIT_NOFILE raised: soft {soft}, hard {hard}"),
        Err(e) => eprintln!("warning: could not raise RLIMIT_NOFILE: {e}"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(scenario::run(cli));
    // Lingering connection tasks must not delay the exit code reaching CI.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    std::process::exit(code);
}
