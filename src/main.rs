//! The `podium` command: `podium serve` (the default) runs the server; other
//! subcommands are for the operator.

use clap::{ArgGroup, Args, Parser, Subcommand};
use podium::config::{DataArgs, LogFormat, ServeConfig};
use podium::operator_secrets::cluster::{self, REFRESH};
use podium::operator_secrets::{self, Rotate, StoredSecrets};

#[derive(Parser)]
#[command(
    name = "podium",
    version,
    about = "Live scoring and judging server: clicker WebSocket and Sledge socket.io on one port"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(Box<ServeConfig>),
    /// Show or rotate the Sledge admin secret and login code kept in the data
    /// directory (or, with --database-url, in the cluster's database).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Write a consistent copy of the database to FILE, safely while the
    /// server runs. Restore: stop the server, copy FILE to
    /// `<data-dir>/podium.sqlite3` (removing any -wal/-shm files), start it.
    Backup(BackupArgs),
}

#[derive(Args)]
struct BackupArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The new file to write (must not exist yet).
    file: std::path::PathBuf,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Print the admin secret and the login code (generating them first if
    /// the data directory has none yet). In cluster mode the database keeps
    /// only their hashes: this says so, and when each was last rotated.
    Show(SecretsArgs),
    /// Replace the admin secret, the login code, or both, with new random ones
    /// and print them. A running server picks the change up on SIGHUP or
    /// restart; in cluster mode every node picks it up by itself within seconds.
    Rotate(RotateArgs),
}

/// Where the secrets are kept.
#[derive(Args)]
struct SecretsArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Cluster mode: the PostgreSQL database the nodes share (as given to
    /// `podium serve`). The secrets are kept there, hashed, for every node.
    #[arg(long, env = "PODIUM_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Args)]
#[command(group(ArgGroup::new("which").required(true).multiple(true).args(["admin", "login_code", "all"])))]
struct RotateArgs {
    #[command(flatten)]
    secrets: SecretsArgs,
    /// Replace the admin secret.
    #[arg(long)]
    admin: bool,
    /// Replace the login code judges log in with.
    #[arg(long)]
    login_code: bool,
    /// Replace both.
    #[arg(long)]
    all: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match cli.command {
        Some(Command::Serve(config)) => *config,
        Some(Command::Secrets(command)) => return secrets_command(command),
        Some(Command::Backup(args)) => return backup_command(args),
        None => cli.serve,
    };
    init_logging(config.log_format);
    raise_open_file_limit();
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    runtime.block_on(serve(config))
}

async fn serve(config: ServeConfig) -> std::process::ExitCode {
    let delay = config.drain_delay();
    // Watched from before the start, so a SIGTERM during it is not lost.
    let mut signals = Signals::new();
    let running = match podium::server::start(config).await {
        Ok(running) => running,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let node = running.app.clone();
    tokio::spawn(async move {
        signals.next().await;
        // The order is podium::drain's; docs/cluster.md explains it.
        tracing::info!(
            "stopping: /healthz answers 503 (draining); connections close in {} s, after their answers (another SIGTERM or Ctrl-C closes them now)",
            delay.as_secs_f32()
        );
        node.drain.begin();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = signals.next() => {}
        }
        tracing::info!("closing connections: clients are told to reconnect (another SIGTERM or Ctrl-C stops at once)");
        node.drain.close();
        signals.next().await;
        tracing::info!("stopping at once");
        node.shutdown.cancel();
    });
    let app = running.app.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            if app.core.secrets.kept_in_database() {
                tracing::info!(
                    "SIGHUP: nothing to reload, cluster mode re-reads the Sledge secrets from the database every {REFRESH:?}"
                );
                continue;
            }
            match app.core.secrets.reload() {
                Ok(()) => tracing::info!("SIGHUP: reloaded the Sledge secrets file"),
                Err(e) => tracing::error!("SIGHUP: kept the previous Sledge secrets: {e}"),
            }
        }
    });
    running.stopped().await;
    std::process::ExitCode::SUCCESS
}

/// SIGTERM and Ctrl-C (SIGINT), watched for the whole run: the first
/// drains, another stops at once.
struct Signals {
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            term: signal(SignalKind::terminate()).expect("cannot watch SIGTERM"),
        }
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// `podium backup FILE`.
fn backup_command(args: BackupArgs) -> std::process::ExitCode {
    match podium::store::backup(&args.data.data_dir, &args.file) {
        Ok(()) => {
            println!("backup written to {}", args.file.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("backup failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `podium secrets show|rotate`: prints to stdout, for the operator's eyes.
fn secrets_command(command: SecretsCommand) -> std::process::ExitCode {
    let (args, which) = match &command {
        SecretsCommand::Show(args) => (args, None),
        SecretsCommand::Rotate(rotate) => (&rotate.secrets, Some(rotate.which())),
    };
    if let Some(url) = &args.database_url {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cannot start the async runtime");
        let outcome = runtime.block_on(cluster_secrets_command(url, which));
        return match outcome {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("podium: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let (data, outcome, note) = match command {
        SecretsCommand::Show(SecretsArgs { data, .. }) => {
            let outcome = operator_secrets::read_or_create(&data.data_dir);
            let note = match &outcome {
                Ok((_, true)) => Some("No secrets were kept yet: these were generated now."),
                _ => None,
            };
            (data, outcome.map(|(stored, _)| stored), note)
        }
        SecretsCommand::Rotate(args) => {
            let which = args.which();
            let data = args.secrets.data;
            let outcome = operator_secrets::rotate(&data.data_dir, which);
            let note = "Rotated. A running server uses the new values after `kill -HUP <pid>` \
                        or a restart; judges who already logged in keep their secrets.";
            (data, outcome, Some(note))
        }
    };
    match outcome {
        Ok(stored) => {
            print_secrets(&data, &stored);
            if let Some(note) = note {
                println!("{note}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("podium: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

impl RotateArgs {
    fn which(&self) -> Rotate {
        match (self.all || (self.admin && self.login_code), self.admin) {
            (true, _) => Rotate::All,
            (false, true) => Rotate::Admin,
            (false, false) => Rotate::LoginCode,
        }
    }
}

/// `podium secrets show|rotate --database-url`: `which` is what to rotate,
/// `None` to show.
async fn cluster_secrets_command(
    url: &str,
    which: Option<Rotate>,
) -> Result<(), podium::store::StoreError> {
    if let Some(which) = which {
        print_rotated(cluster::rotate_at(url, which).await?);
        return Ok(());
    }
    let stored = cluster::hashes_at(url).await?;
    println!("Cluster mode: the database keeps only hashes of the admin secret and the login code, so they cannot be shown.");
    for (name, rotated_at, var) in [
        (
            "admin secret:",
            &stored.admin_rotated_at,
            "PODIUM_ADMIN_SECRET",
        ),
        (
            "login code:  ",
            &stored.login_code_rotated_at,
            "PODIUM_LOGIN_CODE",
        ),
    ] {
        match rotated_at {
            Some(at) => println!("{name} set, last rotated at {at}"),
            None => println!("{name} not set (a node without {var} refuses to start)"),
        }
    }
    println!("To make new ones, printed once: podium secrets rotate --all --database-url <URL> (or --admin, --login-code).");
    print_configured_notes();
    Ok(())
}

fn print_rotated(rotated: cluster::Rotated) {
    if let Some(admin) = &rotated.admin_secret {
        println!("admin secret: {admin}");
    }
    if let Some(code) = &rotated.login_code {
        println!("login code:   {code}");
    }
    println!(
        "(the database keeps only their hashes: this is the only time they are shown)\n\
         Rotated. Every node uses the new values within {} s; judges who already logged in keep their secrets.",
        REFRESH.as_secs() * 2
    );
    print_configured_notes();
}

fn print_configured_notes() {
    for var in ["PODIUM_ADMIN_SECRET", "PODIUM_LOGIN_CODE"] {
        if std::env::var_os(var).is_some() {
            println!("note: {var} is set here; a node started with it uses that value instead of the database's");
        }
    }
}

fn print_secrets(data: &DataArgs, stored: &StoredSecrets) {
    println!("admin secret: {}", stored.admin_secret);
    println!("login code:   {}", stored.login_code);
    println!(
        "(kept in {})",
        operator_secrets::path(&data.data_dir).display()
    );
    for var in ["PODIUM_ADMIN_SECRET", "PODIUM_LOGIN_CODE"] {
        if std::env::var_os(var).is_some() {
            println!("note: {var} is set here; a server started with it uses that value instead of the file's");
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PODIUM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Each connection is a file descriptor: lift the soft limit to the hard one
/// so tens of thousands of clients fit.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
