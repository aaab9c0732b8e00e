//! Following the chain: applies each verified checkpoint's events to the
//! sliver store and the node's view (SPEC.md sections 5, 6 and 9).
//!
//! The decisions are pure, in [`super::rules`]: which store updates a
//! checkpoint's events make ([`rules::store_updates`]) and what to do after
//! a batch ([`rules::after_batch`]: expire on an epoch change, send epoch
//! sync done). Epoch sync done is sent as soon as this node is a member of a
//! syncing epoch: shards do not move yet (shard sync is its own issue), so
//! the node already holds its shards' data. This loop fetches (retrying the
//! chain forever with backoff), applies, and carries the decisions out.
//! Checkpoints below the store's cursor are re-executed for state but their
//! events are not applied twice. A divergence stops the node.

use std::{sync::Arc, time::Duration};

use walrus_contracts::{
    Call, Epoch, TxError,
    ledger::execution::{Checkpoint, Divergence},
};
use walrus_types::{ChainClient, FollowError, Follower, RetryPolicy};

use super::{NodeShared, View, lock, rules, store::StoreError};

/// Why the follower stopped; the node must stop too.
#[derive(Debug, thiserror::Error)]
pub enum FollowStop {
    /// The chain served a checkpoint that does not re-execute.
    #[error("chain divergence: {0}")]
    Diverged(#[from] Divergence),
    /// The genesis does not build.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] TxError),
    /// The sliver store failed.
    #[error("sliver store: {0}")]
    Store(#[from] StoreError),
}

/// Applies the events of checkpoints at or above `cursor`; returns whether
/// any blob was certified.
fn apply_batch(shared: &NodeShared, batch: &[Checkpoint], cursor: u64) -> Result<bool, StoreError> {
    let mut certified = false;
    let mut store = lock(&shared.store);
    for checkpoint in batch.iter().filter(|c| c.sequence >= cursor) {
        for update in rules::store_updates(checkpoint) {
            certified |= matches!(update, rules::StoreUpdate::Certify { .. });
            store.apply(&update)?;
        }
    }
    Ok(certified)
}

/// Publishes the new view and the cursor; returns the previous epoch.
fn publish_view(shared: &NodeShared, view: View) -> Result<Epoch, StoreError> {
    lock(&shared.store).set_cursor(view.checkpoints)?;
    let checkpoints = i64::try_from(view.checkpoints).unwrap_or(i64::MAX);
    shared.metrics.chain_checkpoints.set(checkpoints);
    shared.metrics.epoch.set(i64::from(view.epoch));
    let mut current = shared
        .view
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let previous = current.epoch;
    *current = view;
    drop(current);
    shared.registered.notify_waiters();
    Ok(previous)
}

fn send_sync_done(shared: &NodeShared, chain: &ChainClient, epoch: Epoch) {
    let call = Call::EpochSyncDone {
        node_id: shared.config.node_id,
        epoch,
    };
    let (chain, key) = (chain.clone(), shared.config.operator_key.clone());
    tokio::spawn(async move {
        match chain.execute(&key, vec![call]).await {
            Ok(response) => {
                tracing::info!(epoch, outcome = ?response.outcome, "sent epoch sync done")
            }
            Err(error) => tracing::warn!(epoch, "cannot send epoch sync done: {error}"),
        }
    });
}

/// Follows the chain until the process ends. Returns only when following
/// cannot go on (after logging why); the caller must stop the node.
pub async fn follow_chain(
    shared: Arc<NodeShared>,
    certified: tokio::sync::mpsc::UnboundedSender<()>,
) -> FollowStop {
    match follow(&shared, &certified).await {
        Ok(never) => match never {},
        Err(stop) => {
            tracing::error!("chain follower stopped: {stop}");
            stop
        }
    }
}

async fn follow(
    shared: &NodeShared,
    certified: &tokio::sync::mpsc::UnboundedSender<()>,
) -> Result<std::convert::Infallible, FollowStop> {
    let url = shared.config.chain_url.clone();
    let retry = RetryPolicy::forever(Duration::from_millis(200), Duration::from_secs(5));
    let mut follower = Follower::new(url.clone(), &shared.config.genesis)?.with_retry(retry);
    if !shared.config.certified_chain {
        follower = follower.uncertified();
    }
    let cursor = lock(&shared.store).cursor()?;
    let chain = ChainClient::new(url);
    let mut sync_done_sent = None;
    loop {
        let batch = match follower.next_batch(Duration::from_secs(5)).await {
            Ok(batch) => batch,
            Err(FollowError::Diverged(divergence)) => return Err(divergence.into()),
            Err(FollowError::Transport(error)) => {
                // Only a permanent error ends the retries (a 4xx): say so, go on.
                tracing::warn!("cannot follow the chain: {error}");
                continue;
            }
            Err(error @ FollowError::Uncertified(_)) => {
                // Nothing of it was applied; fetched again on the next call.
                tracing::warn!("refused checkpoints: {error}");
                continue;
            }
        };
        if apply_batch(shared, &batch, cursor)? {
            let _ = certified.send(());
        }
        let (state, next) = (&follower.chain().state, follower.chain().next_sequence);
        let previous_epoch = publish_view(shared, View::of(state, &shared.config.node_id, next))?;
        let plan = rules::after_batch(
            previous_epoch,
            state,
            &shared.config.node_id,
            sync_done_sent,
        );
        if let Some(epoch) = plan.expire_through {
            let dropped = lock(&shared.store).expire(epoch)?;
            if dropped > 0 {
                tracing::info!(epoch, dropped, "expired blobs deleted");
            }
        }
        if let Some(epoch) = plan.send_sync_done {
            sync_done_sent = Some(epoch);
            send_sync_done(shared, &chain, epoch);
        }
    }
}
