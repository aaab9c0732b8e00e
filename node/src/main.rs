//! The `walrus` binary: parses the command line and runs one command.
//!
//! Each command lives in its own module and returns a serializable report, so
//! that `--json` and the human-readable output come from the same value.

mod blob_id;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::BlobId(args) => blob_id::run(&args, cli.json),
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
