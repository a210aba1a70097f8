//! Settings: command-line flags, each with a `PODIUM_*` environment variable
//! (a flag wins over its variable), and defaults that run a competition as is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::store::SyncMode;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where the data lives; shared by `serve` and the operator commands.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Directory for the database and generated secrets (created if missing).
    #[arg(long, env = "PODIUM_DATA_DIR", default_value = "./podium-data")]
    pub data_dir: PathBuf,
}

/// Everything `podium serve` takes.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address and port to listen on (WebSocket, socket.io and HTTP share it).
    #[arg(long, env = "PODIUM_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub data: DataArgs,

    /// Log format: readable text or JSON lines.
    #[arg(long, env = "PODIUM_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: LogFormat,

    /// Durability of commits: `full` survives power loss, `normal` survives a
    /// crash of the process (kill -9) but not of the machine.
    #[arg(long, env = "PODIUM_SYNC", value_enum, default_value_t)]
    pub sync: SyncMode,

    /// Seconds between WebSocket pings; a peer silent for a whole interval is closed.
    #[arg(long, env = "PODIUM_HEARTBEAT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_secs: u64,

    /// Largest clicker command accepted, in bytes; larger frames get `ERROR`.
    #[arg(long, env = "PODIUM_MAX_FRAME_BYTES", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(64..=1_048_576))]
    pub max_frame_bytes: u64,

    /// Frames a clicker listener may have waiting; one more and it is dropped as too slow.
    #[arg(long, env = "PODIUM_LISTENER_QUEUE", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub listener_queue: u64,

    /// Seconds a peer may take to accept one outgoing frame before it is dropped.
    #[arg(long, env = "PODIUM_SEND_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub send_timeout_secs: u64,

    /// Kernel send buffer per connection, in bytes: bounds what a peer that
    /// stops reading can hold up (the kernel doubles it for bookkeeping).
    #[arg(long, env = "PODIUM_TCP_SEND_BUFFER", default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(4096..=16_777_216))]
    pub tcp_send_buffer: u64,

    /// The Sledge admin secret. Unset: generated on first start and kept in
    /// the data directory (`podium secrets show` prints it).
    #[arg(long, env = "PODIUM_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,

    /// The Sledge login code judges log in with. Unset: generated like the admin secret.
    #[arg(long, env = "PODIUM_LOGIN_CODE", hide_env_values = true)]
    pub login_code: Option<String>,
}

impl ServeConfig {
    /// Defaults, listening on an ephemeral loopback port: for tests and embedding.
    pub fn local(data_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: DataArgs {
                data_dir: data_dir.into(),
            },
            log_format: LogFormat::Text,
            sync: SyncMode::Full,
            heartbeat_secs: 30,
            max_frame_bytes: 4096,
            listener_queue: 1024,
            send_timeout_secs: 10,
            tcp_send_buffer: 65_536,
            admin_secret: None,
            login_code: None,
        }
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs)
    }

    pub fn send_timeout(&self) -> Duration {
        Duration::from_secs(self.send_timeout_secs)
    }
}
