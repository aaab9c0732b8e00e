//! The `walrus` binary: parses the command line and runs one command.
//!
//! Each command lives in its own module and returns a serializable report, so
//! that `--json` and the human-readable output come from the same value.

mod audit;
mod blob_id;
mod chain;
mod client_args;
mod client_cli;
mod devnet;
mod indexer;
mod storage_node;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

/// Walrus: decentralized blob storage with Red Stuff erasure coding.
#[derive(Debug, Parser)]
#[command(
    name = "walrus",
    version,
    about = "Walrus: decentralized blob storage with Red Stuff erasure coding",
    propagate_version = true
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    /// The client configuration (`client_config.yaml`); by default the
    /// first of `$WALRUS_CONFIG`, `./client_config.yaml`,
    /// `~/.walrus/devnet/client_config.yaml`, `~/.config/walrus/client_config.yaml`.
    #[arg(long, global = true)]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute the blob ID of a file, and its encoded size and storage cost
    /// in units, without storing anything.
    BlobId(blob_id::Args),
    /// Create and run the chain (the control plane's sequencer).
    #[command(subcommand)]
    Chain(chain::Command),
    /// Create and run a storage node.
    #[command(subcommand)]
    Node(storage_node::Command),
    /// Start a local network: chain, storage nodes, publisher/aggregator.
    Devnet(devnet::Args),
    /// The indexer: certified-blob queries, provenance histories, staking views, explorer page.
    #[command(subcommand)]
    Indexer(indexer::Command),
    /// Run a client command given as JSON (`{"command":{"store":{...}}}`).
    Json(client_args::JsonArgs),
    #[command(flatten)]
    Client(client_args::ClientCommand),
}

/// Runs a service on a multi-threaded tokio runtime, logging to stderr
/// (`RUST_LOG` filters, default `info`, with the consensus engine and
/// libp2p at `warn`: they log every vote and connection at `info`).
fn run_async(future: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    run_logged(
        "info,arc_malachitebft=warn,libp2p=warn",
        Finish::Wait,
        future,
    )
}

/// What happens to tasks still running when a command's future is done.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Finish {
    /// Wait for them (services, whose tasks may be writing).
    Wait,
    /// Leave them (one-shot client commands: only uploads past their grace
    /// period can be left, and waiting for the runtime to wind down costs
    /// about 15 ms of every command).
    Leave,
}

/// As [`run_async`] with another default log level.
fn run_logged(
    level: &str,
    finish: Finish,
    future: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(future);
    if finish == Finish::Leave {
        runtime.shutdown_background();
    }
    result
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::BlobId(args) => blob_id::run(&args, cli.json),
        Command::Chain(chain::Command::Genesis(args)) => chain::genesis(&args, cli.json),
        Command::Chain(chain::Command::Run(args)) => run_async(chain::run(&args)),
        Command::Node(storage_node::Command::Keygen(args)) => storage_node::keygen(&args, cli.json),
        Command::Node(storage_node::Command::Config(args)) => storage_node::config(&args),
        Command::Node(storage_node::Command::Run(args)) => run_async(storage_node::run(&args)),
        Command::Devnet(args) => run_async(devnet::run(&args, cli.json)),
        Command::Indexer(indexer::Command::Run(args)) => run_async(indexer::run(&args)),
        Command::Client(command) => {
            if matches!(command, client_args::ClientCommand::Store(_)) {
                // The codec's tables are built while the command starts up.
                std::thread::spawn(walrus_codec::warm_up);
            }
            // Services log their requests; one-shot commands only warnings.
            let (level, finish) = match command {
                client_args::ClientCommand::Publisher(_)
                | client_args::ClientCommand::Aggregator(_)
                | client_args::ClientCommand::Daemon(_) => ("info", Finish::Wait),
                _ => ("warn", Finish::Leave),
            };
            run_logged(
                level,
                finish,
                client_cli::run(command, cli.config.as_deref(), cli.json),
            )
        }
        Command::Json(args) => client_args::parse_json_command(&args).and_then(|parsed| {
            let config = parsed.config.or(cli.config);
            run_logged(
                "warn",
                Finish::Leave,
                client_cli::run(parsed.command, config.as_deref(), true),
            )
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if cli.json {
                let message = format!("{error:#}");
                println!("{}", serde_json::json!({ "error": message }));
            } else {
                eprintln!("Error: {error:#}");
            }
            ExitCode::FAILURE
        }
    }
}
