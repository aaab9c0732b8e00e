//! `walrus indexer run`: follows the chain into an SQLite index and serves
//! the indexer API and the explorer page (see `walrus_indexer`).

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use walrus_indexer::{Reader, Writer, api};
use walrus_types::genesis_file;

/// `walrus indexer ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Follow the chain into SQLite and serve queries and the explorer page.
    Run(RunArgs),
}

/// Arguments of `walrus indexer run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The chain's `genesis.json` (every checkpoint is re-executed from it).
    #[arg(long)]
    pub genesis: PathBuf,
    /// The chain API.
    #[arg(long, default_value = "http://127.0.0.1:9100")]
    pub chain_url: String,
    /// The index file (created if missing; resumed from its cursor).
    #[arg(long)]
    pub db: PathBuf,
    /// Where to serve the API and the explorer.
    #[arg(long, default_value = "127.0.0.1:9300")]
    pub listen: SocketAddr,
    /// Follow a single sequencer (`walrus chain run` without `--keys`),
    /// whose checkpoints carry no block certificates. By default only
    /// checkpoints the validators certified are indexed.
    #[arg(long)]
    pub uncertified_chain: bool,
}

/// Runs the indexer until Ctrl-C or SIGTERM.
///
/// # Errors
/// An unreadable genesis, an index of another chain, a port in use, or a
/// divergence of the chain.
pub async fn run(args: &RunArgs) -> anyhow::Result<()> {
    let genesis = genesis_file::load(&args.genesis)?;
    let writer = Writer::open(&args.db, &genesis)?;
    let reader = Reader::new(&args.db);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (address, server) = api::serve(reader, listener, async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|stop| *stop).await;
    })?;
    // The first line of stdout names the address, for scripts and tests.
    println!("listening on http://{address}");
    tracing::info!(%address, indexed = writer.indexed(), chain = %args.chain_url, "indexer serving");
    let certified = !args.uncertified_chain;
    let shutdown = crate::chain::shutdown_signal();
    let result = walrus_indexer::follow(writer, &args.chain_url, certified, shutdown).await;
    let _ = stop.send(true);
    server.await?;
    tracing::info!("indexer stopped");
    Ok(result?)
}
