//! Command-line shape: one subcommand per scenario, sharing the flags that
//! say where the server is, how long to run and where to write results.
//! Defaults are the shapes BENCHMARKS.md quotes, so a bare subcommand
//! reproduces the published figure.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "podium-bench", version, about = "Load generator for Podium")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Server address, `HOST:PORT` (a `ws://` or `http://` prefix is ignored).
    /// Several nodes of one cluster: repeat the flag or separate with commas.
    /// Where connections go then: `acks`, `judging` and `idle` alternate
    /// over the nodes (connection i on node i mod N: senders, listeners,
    /// judges, subscribers; judging sets the event up on the first);
    /// `fanout` and `competition` put every sender on the first node and
    /// every listener on the last (cross-node delivery); `smoke` takes one.
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 1,
        default_value = "127.0.0.1:8080"
    )]
    pub url: Vec<String>,
    /// Seconds of measured load (scenario default when omitted).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Server process id, to report its resident memory from /proc.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Name of the server under test, copied into the report.
    #[arg(long, default_value = "server")]
    pub label: String,
    /// Clicker draft for senders and listeners; `mixed` alternates.
    #[arg(long, value_enum, default_value_t = DraftChoice::Mixed)]
    pub draft: DraftChoice,
    /// Connections opened concurrently per batch while setting up.
    #[arg(long, default_value_t = 200)]
    pub connect_batch: usize,
    /// Seconds allowed after the load stops for outstanding acks and deliveries.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftChoice {
    #[value(name = "1")]
    One,
    #[value(name = "2")]
    Two,
    Mixed,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EioChoice {
    #[value(name = "3")]
    Three,
    #[value(name = "4")]
    Four,
    Mixed,
}

#[derive(Args, Debug, Clone)]
pub struct JudgingAuth {
    /// Admin secret the server was started with (PODIUM_ADMIN_SECRET).
    #[arg(long)]
    pub admin_secret: Option<String>,
    /// Judge login code the server was started with (PODIUM_LOGIN_CODE).
    #[arg(long)]
    pub login_code: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Few senders, many listeners on every id: broadcast throughput.
    Fanout {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        #[arg(long, default_value_t = 100)]
        listeners: usize,
        /// Unacknowledged SCOREs each sender keeps in flight.
        #[arg(long, default_value_t = 16)]
        window: usize,
        /// A sender also waits while its slowest listener is this many
        /// scores behind, so the figure is sustained delivery, not how
        /// much a server can queue or how soon it drops a slow reader.
        /// 0 disables the bound.
        #[arg(long, default_value_t = 100)]
        max_lag: u64,
    },
    /// Many senders, no listeners: acknowledged (durable) SCOREs per second.
    Acks {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 200)]
        senders: usize,
        #[arg(long, default_value_t = 8)]
        window: usize,
    },
    /// A realistic event: senders at a fixed rate, listeners on a few ids each.
    Competition {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 50)]
        senders: usize,
        /// SCOREs per second per sender.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        #[arg(long, default_value_t = 500)]
        listeners: usize,
        #[arg(long, default_value_t = 1)]
        min_ids: usize,
        #[arg(long, default_value_t = 5)]
        max_ids: usize,
    },
    /// Many idle listener connections: server memory per connection.
    Idle {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Registered devices the listeners spread over.
        #[arg(long, default_value_t = 10)]
        devices: usize,
        /// Seconds to let the server settle before each memory sample.
        #[arg(long, default_value_t = 2.0)]
        settle: f64,
    },
    /// Judges rating as fast as answered, admins subscribed to the database.
    Judging {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        auth: JudgingAuth,
        #[arg(long, default_value_t = 200)]
        judges: usize,
        #[arg(long, default_value_t = 20)]
        admins: usize,
        #[arg(long, default_value_t = 100)]
        hacks: usize,
        /// Unacknowledged rate-hacks each judge keeps in flight.
        #[arg(long, default_value_t = 1)]
        window: usize,
        /// Engine.IO protocol of judges and admins; `mixed` alternates.
        #[arg(long, value_enum, default_value_t = EioChoice::Mixed)]
        eio: EioChoice,
    },
    /// Short mixed-draft correctness run for CI: exits non-zero on any error,
    /// lost acknowledgement or missing delivery.
    Smoke {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        auth: JudgingAuth,
    },
    /// No server: the disk's append + fdatasync latency, the floor under
    /// every commit with `--sync full`.
    Fsync {
        /// Directory on the disk to measure (use the data directory's).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[arg(long, default_value_t = 3000)]
        count: usize,
        /// Pause between syncs, in ms (2 ms: the competition's commit pace).
        #[arg(long, default_value_t = 2.0)]
        interval_ms: f64,
    },
}

/// `HOST:PORT` with any scheme and trailing slash removed.
fn bare_host(url: &str) -> String {
    let s = url.trim();
    let s = s
        .strip_prefix("ws://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.trim_end_matches('/').to_string()
}

impl Common {
    /// Every node given, as `HOST:PORT`, in the order given (never empty).
    pub fn hosts(&self) -> Vec<String> {
        let hosts: Vec<String> = self
            .url
            .iter()
            .map(|u| bare_host(u))
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.is_empty() {
            vec![bare_host("127.0.0.1:8080")]
        } else {
            hosts
        }
    }

    /// The first node: the only one for single-server scenarios.
    pub fn host(&self) -> String {
        self.hosts().swap_remove(0)
    }

    /// The nodes as the report names them: one `HOST:PORT`, or several
    /// joined by commas.
    pub fn url_label(&self) -> String {
        self.hosts().join(",")
    }

    pub fn duration_or(&self, default_secs: f64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.duration.unwrap_or(default_secs).max(0.1))
    }

    pub fn drain(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.drain.max(0.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(args: &[&str]) -> Common {
        let mut argv = vec!["podium-bench", "acks"];
        argv.extend_from_slice(args);
        match Cli::parse_from(argv).command {
            Command::Acks { common, .. } => common,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn one_url_is_one_host() {
        let c = common(&["--url", "ws://127.0.0.1:9000/"]);
        assert_eq!(c.hosts(), ["127.0.0.1:9000"]);
        assert_eq!(c.host(), "127.0.0.1:9000");
        assert_eq!(c.url_label(), "127.0.0.1:9000");
        assert_eq!(common(&[]).hosts(), ["127.0.0.1:8080"]);
    }

    #[test]
    fn several_urls_by_comma_or_repetition_keep_their_order() {
        let c = common(&["--url", "a:1,http://b:2", "--url", "c:3"]);
        assert_eq!(c.hosts(), ["a:1", "b:2", "c:3"]);
        assert_eq!(c.host(), "a:1");
        assert_eq!(c.url_label(), "a:1,b:2,c:3");
    }
}
