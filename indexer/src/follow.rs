//! Following the chain: one task fetches checkpoint batches over HTTP and
//! releases them once block certificates cover them
//! (`walrus_types::follower::CertifiedFetch`), while a blocking thread
//! re-executes and indexes the previous ones, so network and SQLite overlap.

use std::time::Duration;

use tokio::sync::mpsc;
use walrus_contracts::ledger::execution::{Checkpoint, Outcome};
use walrus_types::{ChainClient, FollowError, RetryPolicy, follower::CertifiedFetch};

use crate::{error::IndexError, writer::Writer};

/// How long one long poll for new checkpoints waits.
const POLL_WAIT: Duration = Duration::from_secs(10);
/// Transactions and events indexed per SQLite commit (at least one
/// checkpoint).
const COMMIT_ROWS: usize = 5000;
/// Retries while the chain cannot be reached: forever, 100 ms doubling to 5 s.
const RETRY: RetryPolicy = RetryPolicy {
    attempts: u32::MAX,
    base_delay: Duration::from_millis(100),
    max_delay: Duration::from_secs(5),
};

async fn fetch_loop(mut fetch: CertifiedFetch, batches: mpsc::Sender<Vec<Checkpoint>>) {
    loop {
        match fetch.next(POLL_WAIT).await {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => {
                if batches.send(batch).await.is_err() {
                    return; // the indexing side stopped
                }
            }
            // Nothing of it was released; fetched again.
            Err(err @ FollowError::Uncertified(_)) => tracing::warn!("refused checkpoints: {err}"),
            // Only a permanent error ends the retries (a 4xx): say so, go on.
            Err(err) => tracing::warn!("fetching checkpoints: {err}; retrying"),
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
) -> Result<(), IndexError> {
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
/// completes (then finishes the batch in hand) or following fails. Only
/// checkpoints that block certificates cover are indexed, unless
/// `certified` is false (the single sequencer signs nothing). After a
/// restart, checkpoints already indexed are re-executed (verified) but not
/// written again.
///
/// # Errors
/// A divergence (the chain served a checkpoint that does not re-execute) or
/// an SQLite error; transport errors are retried with backoff.
pub async fn follow(
    mut writer: Writer,
    chain_url: &str,
    certified: bool,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), IndexError> {
    let client = ChainClient::new(chain_url);
    let mut fetch =
        CertifiedFetch::new(client, writer.chain(), writer.chain_id()).with_retry(RETRY);
    if !certified {
        fetch = fetch.uncertified();
    }
    let (sender, receiver) = mpsc::channel(4);
    let fetcher = tokio::spawn(fetch_loop(fetch, sender));
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
