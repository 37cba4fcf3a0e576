//! The `replica` binary's command line and entry point, in the library so that the
//! harness can run a replica by re-executing itself (`harness replica ...`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

#[cfg(feature = "seeded-bugs")]
use crate::bugs::Bug;
use crate::bugs::Bugs;
use crate::config::{read_key_file, ClusterConfig, FsyncPolicy, ProtocolConfig};
use crate::server::limits::ServerLimits;
use crate::server::network::QueueLimits;
use crate::server::{Server, ServerOptions};

/// A PBFT (Castro & Liskov) key-value replica. Listens on the `listen` address of
/// its id in the cluster file (127.0.0.1 only) and serves POST /pbft, POST /request,
/// GET /status, GET /log, GET|POST /clock. Logs go to stderr (RUST_LOG, default info).
#[derive(Debug, Parser)]
#[command(name = "replica", version)]
pub struct Args {
    /// This replica's id (0..n) in the cluster file.
    #[arg(long)]
    pub id: u32,
    /// Cluster file (JSON): f, every replica's public key, listen address and the
    /// address to reach each peer, and the clients' public keys.
    #[arg(long)]
    pub cluster: PathBuf,
    /// Private key file: the hex of the 32-byte ed25519 secret seed, one line.
    #[arg(long)]
    pub key: PathBuf,
    /// Data directory for the write-ahead log, snapshot and executed history.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// When to fsync the write-ahead log: always (before dependent messages leave),
    /// batch (every ~10 ms), never (the OS decides; still survives kill -9).
    #[arg(long, value_enum, default_value = "always")]
    pub fsync: FsyncArg,
    /// Maximum requests per PRE-PREPARE (1 disables batching).
    #[arg(long, default_value_t = ProtocolConfig::default().batch_size)]
    pub batch_size: usize,
    /// How long the primary waits to fill a batch before sending a partial one (ms);
    /// 0 sends as soon as the previous batch has executed.
    #[arg(long, default_value_t = ProtocolConfig::default().batch_delay_ms)]
    pub batch_delay_ms: u64,
    /// Checkpoint interval K (sequence numbers).
    #[arg(long, default_value_t = ProtocolConfig::default().checkpoint_interval)]
    pub checkpoint_interval: u64,
    /// Log window L: high watermark H = h + L (at least 2K).
    #[arg(long, default_value_t = ProtocolConfig::default().log_window)]
    pub log_window: u64,
    /// Base view-change timeout T in ms (back-off doubles it per failed view change).
    #[arg(long, default_value_t = ProtocolConfig::default().view_change_timeout_ms)]
    pub view_change_timeout_ms: u64,
    /// How long POST /request waits for execution before answering 504 (ms).
    #[arg(long, default_value_t = 5000)]
    pub request_timeout_ms: u64,
    /// Largest body of a peer message or client request (bytes).
    #[arg(long, default_value_t = ServerLimits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Connections served at once (peers and clients together); more wait.
    #[arg(long, default_value_t = ServerLimits::default().max_connections)]
    pub max_connections: usize,
    /// Messages queued to one peer at most; when full the oldest is dropped.
    #[arg(long, default_value_t = ServerLimits::default().peer_queue.messages)]
    pub peer_queue_messages: usize,
    /// Bytes queued to one peer at most; when full the oldest message is dropped.
    #[arg(long, default_value_t = ServerLimits::default().peer_queue.bytes)]
    pub peer_queue_bytes: usize,
    /// Seeded protocol bugs to switch on, by name (comma-separated; `harness selftest`
    /// only). Exists only in builds with the `seeded-bugs` feature.
    #[cfg(feature = "seeded-bugs")]
    #[arg(long = "bug", value_delimiter = ',', value_parser = Bug::parse)]
    pub bugs: Vec<Bug>,
}

impl Args {
    /// The seeded bugs asked for (none in a normal build).
    fn seeded_bugs(&self) -> Bugs {
        #[cfg(feature = "seeded-bugs")]
        {
            self.bugs.iter().fold(Bugs::NONE, |set, b| set.with(*b))
        }
        #[cfg(not(feature = "seeded-bugs"))]
        {
            Bugs::NONE
        }
    }
}

/// If set, the replica is killed when the process that started it dies.
const EXIT_WITH_PARENT: &str = "REPLICA_EXIT_WITH_PARENT";

/// The `--fsync` choices.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FsyncArg {
    /// fsync before dependent messages leave.
    Always,
    /// fsync every ~10 ms.
    Batch,
    /// Never fsync; the OS decides.
    Never,
}

/// Runs a replica until SIGTERM or Ctrl-C: the `replica` binary's whole life, also used
/// by the harness, which re-executes itself as a replica process.
///
/// `on_ready` is called with the bound address once the replica listens (the `replica`
/// binary prints `ready <addr>` from it).
pub fn run(args: Args, on_ready: impl FnOnce(SocketAddr) + Send) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(serve(args, on_ready))
}

async fn serve(args: Args, on_ready: impl FnOnce(SocketAddr) + Send) -> anyhow::Result<()> {
    if std::env::var_os(EXIT_WITH_PARENT).is_some() {
        // Test clusters set this so that replicas never outlive a killed test run.
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
            .context("setting the parent-death signal")?;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init()
        .ok(); // A host process (the harness) may have installed one already.
    let cluster = ClusterConfig::load(&args.cluster)
        .with_context(|| format!("loading cluster file {}", args.cluster.display()))?;
    let key = read_key_file(&args.key)
        .with_context(|| format!("loading key file {}", args.key.display()))?;
    let bugs = args.seeded_bugs();
    let opts = ServerOptions {
        id: args.id,
        cluster,
        key,
        data_dir: args.data_dir,
        fsync: match args.fsync {
            FsyncArg::Always => FsyncPolicy::Always,
            FsyncArg::Batch => FsyncPolicy::Batch,
            FsyncArg::Never => FsyncPolicy::Never,
        },
        protocol: ProtocolConfig {
            batch_size: args.batch_size,
            batch_delay_ms: args.batch_delay_ms,
            checkpoint_interval: args.checkpoint_interval,
            log_window: args.log_window,
            view_change_timeout_ms: args.view_change_timeout_ms,
            bugs,
            ..ProtocolConfig::default()
        },
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        limits: ServerLimits {
            max_body_bytes: args.max_body_bytes,
            max_connections: args.max_connections,
            peer_queue: QueueLimits {
                messages: args.peer_queue_messages,
                bytes: args.peer_queue_bytes,
            },
        },
    };
    if !opts.protocol.bugs.is_empty() {
        tracing::warn!(bugs = ?opts.protocol.bugs.list(), "running with SEEDED BUGS (self-test build)");
    }
    let server = Server::start(opts).await.context("starting the replica")?;
    let addr = server.local_addr()?;
    tracing::info!(%addr, "listening");
    on_ready(addr);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        // The server stopped by itself: only on a fatal (storage) error.
        r = server.serve(std::future::pending()) => r.context("serving")?,
        // SIGTERM or Ctrl-C: exit promptly; the WAL is already written.
        _ = term.recv() => tracing::info!("SIGTERM, exiting"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted, exiting"),
    }
    Ok(())
}
