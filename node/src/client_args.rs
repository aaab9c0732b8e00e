//! The client commands' arguments (SPEC.md section 7): clap parses them
//! from the command line and serde from `walrus json` documents (camelCase),
//! so both take the same names and defaults.

use std::{io::Read, net::SocketAddr, path::PathBuf};

use anyhow::Context;
use serde::Deserialize;
use walrus_codec::BlobId;
use walrus_contracts::ObjectId;

/// The client commands (also accepted by `walrus json`, camelCase).
#[derive(Debug, clap::Subcommand, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClientCommand {
    /// Store files as blobs: encode, pay, upload, certify.
    Store(StoreArgs),
    /// Read a blob and write it to a file or stdout.
    Read(ReadArgs),
    /// Show a blob ID's status as the storage nodes report it.
    BlobStatus(BlobStatusArgs),
    /// Verify a blob's provenance from the chain itself (re-executing every
    /// checkpoint from genesis) and compare with the indexer.
    Audit(AuditArgs),
    /// List the wallet's Blob objects.
    ListBlobs(NoArgs),
    /// Delete a deletable blob (its storage returns to the wallet).
    Delete(DeleteArgs),
    /// Extend a certified blob's storage by more epochs.
    Extend(ExtendArgs),
    /// The network: epoch, committee, prices, sizes.
    Info(NoArgs),
    /// The health of every storage node.
    Health(NoArgs),
    /// Get WAL from the devnet faucet.
    GetWal(GetWalArgs),
    /// Stake WAL with a storage node.
    Stake(StakeArgs),
    /// Start withdrawing a StakedWal object.
    RequestWithdrawStake(StakedArgs),
    /// Withdraw a StakedWal object whose withdrawal epoch has come.
    WithdrawStake(StakedArgs),
    /// Run a publisher (HTTP store endpoint).
    Publisher(DaemonArgs),
    /// Run an aggregator (HTTP read endpoints).
    Aggregator(DaemonArgs),
    /// Run a publisher and aggregator in one.
    Daemon(DaemonArgs),
}

/// No arguments.
#[derive(Debug, Default, clap::Args, Deserialize)]
pub struct NoArgs {}

fn one() -> u32 {
    1
}

/// Arguments of `walrus store`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreArgs {
    /// The files to store.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Epochs to store for, counting the current one.
    #[arg(long, default_value_t = 1)]
    #[serde(default = "one")]
    pub epochs: u32,
    /// Store as deletable (the default).
    #[arg(long, conflicts_with = "permanent")]
    #[serde(default)]
    pub deletable: bool,
    /// Store as permanent (cannot be deleted before its end epoch).
    #[arg(long)]
    #[serde(default)]
    pub permanent: bool,
    /// Print the blob ID and the cost without storing.
    #[arg(long)]
    #[serde(default)]
    pub dry_run: bool,
    /// Store even if the blob is already certified for long enough.
    #[arg(long)]
    #[serde(default)]
    pub force: bool,
}

/// Arguments of `walrus read`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadArgs {
    /// The blob ID.
    pub blob_id: BlobId,
    /// Where to write the blob (default: stdout).
    #[arg(long)]
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// Re-encode the blob and check its blob ID.
    #[arg(long, conflicts_with = "skip_consistency_check")]
    #[serde(default)]
    pub strict_consistency_check: bool,
    /// Do not verify slivers (faster, trusts the nodes).
    #[arg(long)]
    #[serde(default)]
    pub skip_consistency_check: bool,
}

/// Arguments of `walrus blob-status`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobStatusArgs {
    /// The blob ID.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    #[serde(default)]
    pub blob_id: Option<BlobId>,
    /// Compute the blob ID of this file instead.
    #[arg(long)]
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// Arguments of `walrus audit`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditArgs {
    /// The blob ID.
    pub blob_id: BlobId,
    /// The chain's `genesis.json`, the trust anchor (default: `genesis` in
    /// the client configuration).
    #[arg(long)]
    #[serde(default)]
    pub genesis: Option<PathBuf>,
    /// Do not compare with the indexer of the client configuration.
    #[arg(long)]
    #[serde(default)]
    pub no_indexer: bool,
    /// Re-execute every checkpoint from genesis instead of the light audit
    /// (block certificates, the committee chain and state proofs); needed
    /// for a single-sequencer chain, which serves no certificates.
    #[arg(long)]
    #[serde(default)]
    pub full: bool,
}

/// Arguments of `walrus delete`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteArgs {
    /// The Blob object to delete.
    #[arg(long, required_unless_present = "blob_id", conflicts_with = "blob_id")]
    #[serde(default)]
    pub object_id: Option<ObjectId>,
    /// Delete every deletable Blob object of the wallet with this blob ID.
    #[arg(long)]
    #[serde(default)]
    pub blob_id: Option<BlobId>,
}

/// Arguments of `walrus extend`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtendArgs {
    /// The Blob object.
    #[arg(long)]
    pub object_id: ObjectId,
    /// Additional epochs.
    #[arg(long)]
    pub epochs: u32,
}

/// Arguments of `walrus get-wal`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetWalArgs {
    /// WAL to mint (decimals allowed, e.g. `2.5`).
    #[arg(long, default_value = "100")]
    #[serde(default = "hundred")]
    pub amount: String,
}

fn hundred() -> String {
    "100".into()
}

/// Arguments of `walrus stake`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StakeArgs {
    /// The storage node (its node ID).
    #[arg(long)]
    pub node_id: ObjectId,
    /// WAL to stake (decimals allowed).
    #[arg(long)]
    pub amount: String,
}

/// Arguments of `walrus request-withdraw-stake` and `walrus withdraw-stake`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StakedArgs {
    /// The StakedWal object.
    #[arg(long)]
    pub staked_wal_id: ObjectId,
}

fn default_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 31415))
}

fn default_max_body() -> u64 {
    1 << 30
}

/// Arguments of `walrus publisher`, `aggregator` and `daemon`.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:31415")]
    #[serde(default = "default_bind")]
    pub bind_address: SocketAddr,
    /// Largest blob accepted, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    #[serde(default = "default_max_body")]
    pub max_body_size: u64,
    /// Epochs when a store request gives none.
    #[arg(long, default_value_t = 1)]
    #[serde(default = "one")]
    pub default_epochs: u32,
    /// Memory the stores in progress may take, in bytes (about 6 times
    /// each body); further stores wait, then get 503.
    #[arg(long, default_value_t = walrus_client::daemon::DEFAULT_STORE_MEMORY_BUDGET)]
    #[serde(default = "default_store_budget")]
    pub store_memory_budget: u64,
}

fn default_store_budget() -> u64 {
    walrus_client::daemon::DEFAULT_STORE_MEMORY_BUDGET
}

/// The document `walrus json` reads: `{"config": PATH?, "command": {NAME: ARGS}}`.
#[derive(Debug, Deserialize)]
pub struct JsonCommand {
    /// The client configuration file.
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// The command and its arguments (camelCase, like the CLI's long flags).
    pub command: ClientCommand,
}

/// Arguments of `walrus json`.
#[derive(Debug, clap::Args)]
pub struct JsonArgs {
    /// The command as JSON, e.g. `{"command":{"blobStatus":{"blobId":"..."}}}`;
    /// read from stdin when absent.
    pub command: Option<String>,
}

/// Parses the `walrus json` document.
///
/// # Errors
/// Unreadable stdin or invalid JSON (the message says where).
pub fn parse_json_command(args: &JsonArgs) -> anyhow::Result<JsonCommand> {
    let text = match &args.command {
        Some(text) => text.clone(),
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            text
        }
    };
    serde_json::from_str(&text).context("invalid JSON command")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_commands_use_the_cli_names() {
        let parsed = parse_json_command(&JsonArgs {
            command: Some(
                r#"{"command":{"store":{"files":["a.txt"],"epochs":3,"permanent":true}}}"#.into(),
            ),
        })
        .expect("parses");
        let ClientCommand::Store(args) = parsed.command else {
            panic!("not a store command")
        };
        assert_eq!(args.files, vec![PathBuf::from("a.txt")]);
        assert_eq!(args.epochs, 3);
        assert!(args.permanent && !args.dry_run);
        let parsed = parse_json_command(&JsonArgs {
            command: Some(r#"{"command":{"getWal":{}}}"#.into()),
        })
        .expect("parses");
        assert!(
            matches!(parsed.command, ClientCommand::GetWal(GetWalArgs { amount }) if amount == "100")
        );
        assert!(
            parse_json_command(&JsonArgs {
                command: Some(r#"{"command":{"nope":{}}}"#.into())
            })
            .is_err()
        );
    }
}
