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
    /// Address and port to listen on (WebSocket, socket.io and HTTP share
    /// it; with a TLS certificate, TLS and plain connections share it too).
    #[arg(long, env = "PODIUM_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub tls: TlsConfig,

    /// Seconds a client has to finish its TLS handshake, and to send each
    /// request's headers (also how long an idle keep-alive connection stays
    /// open); slower or silent clients are disconnected.
    #[arg(long, env = "PODIUM_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,

    /// Every connection starts with a PROXY protocol (v1 or v2) header from
    /// the load balancer in front (HAProxy's `send-proxy-v2`), and its client
    /// address is the one limits, guessing budgets and logs use; connections
    /// without one are closed. Only behind such a balancer.
    #[arg(long, env = "PODIUM_PROXY_PROTOCOL", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub proxy_protocol: bool,

    #[command(flatten)]
    pub data: DataArgs,

    /// Log format: readable text or JSON lines.
    #[arg(long, env = "PODIUM_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: LogFormat,

    /// Durability of commits: `full` survives power loss, `normal` survives a
    /// crash of the process (kill -9) but not of the machine.
    #[arg(long, env = "PODIUM_SYNC", value_enum, default_value_t)]
    pub sync: SyncMode,

    /// Seconds between WebSocket pings; a listener silent for a whole interval
    /// is closed (a sending clicker is not: some never read). Also the idle
    /// time before TCP keepalive probes a connection.
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

    #[command(flatten)]
    pub limits: LimitsConfig,

    /// Largest Devpost or judges CSV an import accepts, in MiB (a large
    /// event's Devpost export with long stories is several MiB).
    #[arg(long, env = "PODIUM_MAX_IMPORT_MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_import_mib: u64,

    /// Compress HTTP responses (gzip or brotli) for clients that accept it:
    /// `true` or `false`.
    #[arg(long, env = "PODIUM_COMPRESSION", default_value_t = true, action = clap::ArgAction::Set)]
    pub compression: bool,

    /// A browser origin (`scheme://host[:port]`, or `*` for any) allowed to
    /// use /ws, /socket.io/ and /api/ besides the server's own pages and
    /// non-browser clients; repeat the flag, or separate with commas.
    #[arg(long = "allowed-origin", env = "PODIUM_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = crate::origins::parse_origin)]
    pub allowed_origins: Vec<String>,

    /// Different judges who must find a team absent (with nobody rating it
    /// since) before `/admin` flags the hack as absent.
    #[arg(long, env = "PODIUM_ABSENT_FLAG_JUDGES", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub absent_flag_judges: u64,

    /// A PostgreSQL URL (`postgres://user:password@host:port/database`):
    /// the database becomes the store of record, shared by every node given
    /// the same URL (cluster mode, see docs/cluster.md). Unset: the embedded
    /// SQLite database in the data directory.
    #[arg(long, env = "PODIUM_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Changes the change log keeps at least (older ones are trimmed): how
    /// far back an event stream can resume with `Last-Event-ID`.
    #[arg(long, env = "PODIUM_CHANGE_LOG_RETAIN", default_value_t = crate::store::DEFAULT_RETAIN, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub change_log_retain: u64,

    /// Seconds between SIGTERM and closing: `/healthz` answers 503 and
    /// everything else is served meanwhile, so the balancer's health checks
    /// move new clients to other nodes before this node's clients are told
    /// to reconnect. Unset: 5 in cluster mode (HAProxy as configured in
    /// deploy/haproxy.cfg needs 4), 0 on a single node. Another SIGTERM
    /// (or Ctrl-C) cuts it short; one after it stops at once.
    #[arg(long, env = "PODIUM_DRAIN_DELAY_SECS", value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub drain_delay_secs: Option<u64>,

    /// The Sledge admin secret. Unset: generated on first start and kept in
    /// the data directory (`podium secrets show` prints it).
    #[arg(long, env = "PODIUM_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,

    /// The Sledge login code judges log in with. Unset: generated like the admin secret.
    #[arg(long, env = "PODIUM_LOGIN_CODE", hide_env_values = true)]
    pub login_code: Option<String>,

    /// The address judges' phones reach Podium at (`scheme://host[:port]`),
    /// for the sign-in links and QR codes on /admin. Unset: the address the
    /// organiser's browser used (its Host header), over https when TLS is on.
    #[arg(long, env = "PODIUM_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
}

fn parse_public_url(value: &str) -> Result<String, String> {
    match crate::origins::parse_origin(value) {
        Ok(url) if url != "*" => Ok(url),
        _ => Err(format!(
            "{value:?} is not a public URL: write scheme://host[:port], e.g. https://podium.example.org or http://192.168.1.20:8080 (no path)"
        )),
    }
}

/// Optional TLS on the listen port. Connections that start with a TLS
/// handshake are served over TLS, all others as plain HTTP and WebSocket,
/// so clickers that cannot do TLS keep working beside judges on `https://`.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsConfig {
    /// PEM certificate chain (the server's certificate first) for TLS; needs --tls-key.
    #[arg(
        long,
        env = "PODIUM_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of that certificate (PKCS#8, RSA or EC; unencrypted); needs --tls-cert.
    #[arg(
        long,
        env = "PODIUM_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
}

/// Limits on what clients may take (see `src/limits.rs`). The defaults leave
/// room for a large competition; load tests raise them (0: no limit).
#[derive(Debug, Clone, Args)]
pub struct LimitsConfig {
    /// Connections open at once, clicker and socket.io together; more get
    /// HTTP 503 (clicker) or a connect error (socket.io). 0: no limit.
    #[arg(long, env = "PODIUM_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: u64,

    /// Connections open at once from one client address (IPv6: per /64),
    /// both protocols together; more get HTTP 429 or a connect error. 0: no limit.
    #[arg(long, env = "PODIUM_MAX_CONNECTIONS_PER_IP", default_value_t = 1_000)]
    pub max_connections_per_ip: u64,

    /// Frames a second one clicker connection may send, sustained; frames
    /// over it are dropped with `ERROR rate limit exceeded: ...`, and a
    /// connection over it for 5 s on end is closed (4003). 0: no limit.
    #[arg(long, env = "PODIUM_CLICKER_RATE", default_value_t = 200)]
    pub clicker_rate: u64,

    /// Frames a clicker connection may send at once above its rate.
    #[arg(long, env = "PODIUM_CLICKER_BURST", default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..))]
    pub clicker_burst: u64,

    /// Events a second one socket.io connection may send, sustained; events
    /// over it are dropped with a `protocol-error` (and an error
    /// acknowledgement), and a socket over it for 5 s on end is
    /// disconnected. 0: no limit.
    #[arg(long, env = "PODIUM_SLEDGE_RATE", default_value_t = 200)]
    pub sledge_rate: u64,

    /// Events a socket.io connection may send at once above its rate.
    #[arg(long, env = "PODIUM_SLEDGE_BURST", default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..))]
    pub sledge_burst: u64,

    /// Seconds a new clicker connection has to send REGISTER, LISTEN or
    /// SUBSCRIBE (closed with 4004 otherwise), and a socket.io client to
    /// join the namespace. 0: no limit for clickers (socket.io keeps its 45 s).
    #[arg(long, env = "PODIUM_FIRST_COMMAND_SECS", default_value_t = 10)]
    pub first_command_secs: u64,

    /// Clicker REGISTERs a minute from one client address, sustained (each
    /// may create a device, and ids are never reused); more get `ERROR too
    /// many registrations ...`. 0: no limit.
    #[arg(long, env = "PODIUM_REGISTRATIONS_PER_MINUTE", default_value_t = 60)]
    pub registrations_per_minute: u64,

    /// REGISTERs one client address may send at once above that rate.
    #[arg(long, env = "PODIUM_REGISTRATION_BURST", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub registration_burst: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_connections: 20_000,
            max_connections_per_ip: 1_000,
            clicker_rate: 200,
            clicker_burst: 400,
            sledge_rate: 200,
            sledge_burst: 400,
            first_command_secs: 10,
            registrations_per_minute: 60,
            registration_burst: 1_000,
        }
    }
}

impl LimitsConfig {
    /// The time allowed for the first command, if limited.
    pub fn first_command(&self) -> Option<Duration> {
        (self.first_command_secs > 0).then(|| Duration::from_secs(self.first_command_secs))
    }
}

impl ServeConfig {
    /// Defaults, listening on an ephemeral loopback port: for tests and embedding.
    pub fn local(data_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: TlsConfig::default(),
            header_timeout_secs: 10,
            proxy_protocol: false,
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
            limits: LimitsConfig::default(),
            max_import_mib: 64,
            compression: true,
            allowed_origins: Vec::new(),
            absent_flag_judges: 2,
            change_log_retain: crate::store::DEFAULT_RETAIN,
            drain_delay_secs: None,
            database_url: None,
            admin_secret: None,
            login_code: None,
            public_url: None,
        }
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs)
    }

    pub fn send_timeout(&self) -> Duration {
        Duration::from_secs(self.send_timeout_secs)
    }

    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    /// How long SIGTERM keeps serving with `/healthz` failing (see
    /// `crate::drain`).
    pub fn drain_delay(&self) -> Duration {
        match (self.drain_delay_secs, &self.database_url) {
            (Some(secs), _) => Duration::from_secs(secs),
            (None, Some(_)) => crate::drain::CLUSTER_DELAY,
            (None, None) => Duration::ZERO,
        }
    }

    /// The largest CSV import body, in bytes.
    pub fn max_import_bytes(&self) -> usize {
        usize::try_from(self.max_import_mib << 20).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeConfig,
    }

    fn parse(args: &[&str]) -> Result<ServeConfig, clap::Error> {
        Cli::try_parse_from(std::iter::once("podium").chain(args.iter().copied())).map(|c| c.serve)
    }

    #[test]
    fn limits_and_origins_have_flags_and_safe_defaults() {
        let config = parse(&[]).unwrap();
        let defaults = LimitsConfig::default();
        assert_eq!(config.limits.max_connections, defaults.max_connections);
        assert_eq!(config.limits.clicker_rate, 200);
        assert_eq!(config.limits.clicker_burst, 400);
        assert_eq!(config.limits.first_command(), Some(Duration::from_secs(10)));
        assert!(config.allowed_origins.is_empty());

        let config = parse(&[
            "--clicker-rate",
            "0",
            "--max-connections-per-ip",
            "0",
            "--first-command-secs",
            "0",
            "--allowed-origin",
            "https://A.example/",
            "--allowed-origin",
            "http://b.example:8080,http://c.example",
        ])
        .unwrap();
        assert_eq!(config.limits.clicker_rate, 0);
        assert_eq!(config.limits.first_command(), None);
        assert_eq!(
            config.allowed_origins,
            [
                "https://a.example",
                "http://b.example:8080",
                "http://c.example"
            ]
        );
        let e = parse(&["--allowed-origin", "a.example"]).unwrap_err();
        assert!(e.to_string().contains("scheme://host[:port]"), "{e}");
        assert!(parse(&["--clicker-burst", "0"]).is_err());
    }

    #[test]
    fn imports_are_64_mib_and_compression_is_on_by_default() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.max_import_bytes(), 64 << 20);
        assert!(config.compression);
        let config = parse(&["--max-import-mib", "3", "--compression", "false"]).unwrap();
        assert_eq!(config.max_import_bytes(), 3 << 20);
        assert!(!config.compression);
        assert!(parse(&["--max-import-mib", "0"]).is_err());
    }

    #[test]
    fn tls_is_off_by_default_and_takes_both_files() {
        let config = parse(&[]).unwrap();
        assert!(config.tls.tls_cert.is_none() && config.tls.tls_key.is_none());
        assert_eq!(config.header_timeout(), Duration::from_secs(10));
        let e = parse(&["--tls-cert", "cert.pem"]).unwrap_err();
        assert!(e.to_string().contains("--tls-key"), "{e}");
        let e = parse(&["--tls-key", "key.pem"]).unwrap_err();
        assert!(e.to_string().contains("--tls-cert"), "{e}");
        let config = parse(&[
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
            "--header-timeout-secs",
            "3",
        ])
        .unwrap();
        assert_eq!(config.tls.tls_cert, Some(PathBuf::from("cert.pem")));
        assert_eq!(config.header_timeout(), Duration::from_secs(3));
        assert!(parse(&["--header-timeout-secs", "0"]).is_err());
    }

    #[test]
    fn drain_delay_is_five_seconds_in_cluster_mode_only() {
        let single = parse(&[]).unwrap();
        assert_eq!(single.drain_delay(), Duration::ZERO);
        let cluster = parse(&["--database-url", "postgres://db/podium"]).unwrap();
        assert_eq!(cluster.drain_delay(), Duration::from_secs(5));
        let set = parse(&[
            "--database-url",
            "postgres://db/podium",
            "--drain-delay-secs",
            "0",
        ]);
        assert_eq!(set.unwrap().drain_delay(), Duration::ZERO);
        assert!(parse(&["--drain-delay-secs", "-1"]).is_err());
    }

    #[test]
    fn proxy_protocol_is_off_by_default() {
        assert!(!parse(&[]).unwrap().proxy_protocol);
        assert!(parse(&["--proxy-protocol"]).unwrap().proxy_protocol);
    }
}
