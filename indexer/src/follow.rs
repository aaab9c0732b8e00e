//! Following the chain: one task fetches checkpoint batches over HTTP while
//! a blocking thread verifies and indexes the previous ones, so network and
//! SQLite overlap.

use std::time::Duration;

use tokio::sync::mpsc;
use walrus_runtime::chain::{
    client::ChainClient,
    execution::{Checkpoint, Outcome},
};

use crate::writer::Writer;

/// How long one long poll for new checkpoints waits.
const POLL_WAIT: Duration = Duration::from_secs(10);
/// Transactions and events indexed per SQLite commit (at least one
/// checkpoint).
const COMMIT_ROWS: usize = 5000;
/// The longest pause between retries when the chain cannot be reached.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

async fn fetch_loop(client: ChainClient, mut from: u64, batches: mpsc::Sender<Vec<Checkpoint>>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.checkpoints(from, POLL_WAIT).await {
            Ok(batch) => {
                backoff = Duration::from_millis(100);
                let Some(last) = batch.last() else { continue };
                from = last.sequence + 1;
                if batches.send(batch).await.is_err() {
                    return; // the indexing side stopped
                }
            }
            Err(err) => {
                tracing::warn!("fetching checkpoints from {from}: {err:#}; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn rows_of(checkpoint: &Checkpoint) -> usize {
    checkpoint
        .transactions
        .iter()
        .map(|t| match &t.outcome {
            Outcome::Success { events, .. } => 1 + events.len(),
            Outcome::Failure { .. } => 1,
        })
        .sum()
}

fn index_loop(
    writer: &mut Writer,
    mut batches: mpsc::Receiver<Vec<Checkpoint>>,
) -> anyhow::Result<()> {
    while let Some(batch) = batches.blocking_recv() {
        let split = batch.partition_point(|c| c.sequence < writer.indexed());
        for checkpoint in &batch[..split] {
            writer.catch_up(checkpoint)?;
        }
        // Commit every few thousand transactions: progress shows, and a
        // restart has little to redo.
        let mut rest = &batch[split..];
        while !rest.is_empty() {
            let mut take = 0;
            let mut rows = 0;
            while take < rest.len() && rows < COMMIT_ROWS {
                rows += rows_of(&rest[take]);
                take += 1;
            }
            writer.index(&rest[..take])?;
            rest = &rest[take..];
            tracing::debug!(checkpoints = writer.indexed(), "indexed");
        }
    }
    Ok(())
}

/// Follows the chain at `chain_url` into `writer` until `shutdown`
/// completes (then finishes the batch in hand) or following fails. After a
/// restart, checkpoints already indexed are re-executed (verified) but not
/// written again.
///
/// # Errors
/// A divergence (the chain served a checkpoint that does not re-execute) or
/// an SQLite error; transport errors are retried with backoff.
pub async fn follow(
    mut writer: Writer,
    chain_url: &str,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = ChainClient::new(chain_url);
    let (sender, receiver) = mpsc::channel(4);
    let fetcher = tokio::spawn(fetch_loop(client, writer.chain().next_sequence, sender));
    let mut indexer = tokio::task::spawn_blocking(move || index_loop(&mut writer, receiver));
    tokio::select! {
        result = &mut indexer => {
            fetcher.abort();
            result?
        }
        () = shutdown => {
            fetcher.abort();
            // The channel closes once the fetcher is gone; the indexer
            // finishes what it holds and returns.
            indexer.await?
        }
    }
}
