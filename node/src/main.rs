//! The `walrus` binary: parses the command line and runs one command.
//!
//! Each command lives in its own module and returns a serializable report, so
//! that `--json` and the human-readable output come from the same value.

mod blob_id;
mod chain;
mod storage_node;

use std::process::ExitCode;

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
}

/// Runs a service on a multi-threaded tokio runtime, logging to stderr
/// (`RUST_LOG` filters, default `info`).
fn run_async(future: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
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
