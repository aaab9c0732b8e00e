//! Following the chain: applies each verified checkpoint's events to the
//! sliver store and the node's view (SPEC.md sections 5, 6 and 9).
//!
//! Registrations, certifications, extensions, deletions and invalidations
//! update `blob_objects`; an epoch change updates the view, drops expired
//! blobs and, once this node holds its shards' data (in a committee whose
//! shards do not move, at once), sends epoch sync done. Checkpoints below the
//! store's cursor are re-executed for state but their events are not applied
//! twice. A divergence stops the process.

use std::{sync::Arc, time::Duration};

use walrus_contracts::{Call, EpochState, Event};

use super::{NodeShared, View, lock, store::BlobObject};
use crate::chain::{
    client::ChainClient,
    execution::{Checkpoint, Outcome},
    follower::{FollowError, Follower},
};

fn apply_events(shared: &NodeShared, checkpoint: &Checkpoint) -> anyhow::Result<bool> {
    let mut certified = false;
    let mut store = lock(&shared.store);
    for tx in &checkpoint.transactions {
        let Outcome::Success { events, .. } = &tx.outcome else {
            continue;
        };
        for event in events {
            match event {
                Event::BlobRegistered {
                    blob_id,
                    end_epoch,
                    deletable,
                    object_id,
                    ..
                } => {
                    let object = BlobObject {
                        blob_id: *blob_id,
                        end_epoch: *end_epoch,
                        deletable: *deletable,
                        certified_epoch: None,
                    };
                    store.register(object_id, &object)?;
                }
                Event::BlobCertified {
                    object_id, epoch, ..
                } => {
                    store.certify(object_id, *epoch)?;
                    certified = true;
                }
                Event::BlobExtended {
                    object_id,
                    end_epoch,
                    ..
                } => store.extend(object_id, *end_epoch)?,
                Event::BlobDeleted {
                    object_id, blob_id, ..
                } => store.delete_object(object_id, blob_id)?,
                Event::InvalidBlobId { blob_id, .. } => store.invalidate(blob_id)?,
                _ => {}
            }
        }
    }
    Ok(certified)
}

/// Follows the chain until the process ends. Returns only on divergence
/// (after logging it); the caller must stop the node.
pub async fn follow_chain(
    shared: Arc<NodeShared>,
    certified: tokio::sync::mpsc::UnboundedSender<()>,
) -> anyhow::Error {
    let mut follower = match Follower::new(shared.config.chain_url.clone(), &shared.config.genesis)
    {
        Ok(follower) => follower,
        Err(error) => return error,
    };
    let cursor = match lock(&shared.store).cursor() {
        Ok(cursor) => cursor,
        Err(error) => return error,
    };
    let chain = ChainClient::new(shared.config.chain_url.clone());
    let mut signalled_epoch = None;
    let mut failures = 0u32;
    loop {
        let batch = match follower.next_batch(Duration::from_secs(5)).await {
            Ok(batch) => {
                failures = 0;
                batch
            }
            Err(FollowError::Diverged(divergence)) => {
                tracing::error!("the chain diverged from local re-execution: {divergence}");
                return anyhow::anyhow!("chain divergence: {divergence}");
            }
            Err(FollowError::Transport(error)) => {
                failures = failures.saturating_add(1);
                tracing::warn!(
                    "cannot reach the chain at {}: {error:#}",
                    shared.config.chain_url
                );
                tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(25)))).await;
                continue;
            }
        };
        for checkpoint in &batch {
            if checkpoint.sequence < cursor {
                continue;
            }
            match apply_events(&shared, checkpoint) {
                Ok(true) => {
                    let _ = certified.send(());
                }
                Ok(false) => {}
                Err(error) => return error,
            }
        }
        let state = &follower.chain().state;
        let view = View::of(
            state,
            &shared.config.node_id,
            follower.chain().next_sequence,
        );
        let epoch_changed = view.epoch != shared.view().epoch;
        shared
            .metrics
            .chain_checkpoints
            .set(i64::try_from(view.checkpoints).unwrap_or(i64::MAX));
        shared.metrics.epoch.set(i64::from(view.epoch));
        *shared
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = view;
        {
            let store = lock(&shared.store);
            if let Err(error) = store.set_cursor(follower.chain().next_sequence) {
                return error;
            }
        }
        shared.registered.notify_waiters();
        if epoch_changed {
            match lock(&shared.store).expire(state.epoch) {
                Ok(dropped) if dropped > 0 => {
                    tracing::info!(epoch = state.epoch, dropped, "expired blobs deleted")
                }
                Ok(_) => {}
                Err(error) => return error,
            }
        }
        // Shards stay in place while stake does not change, so this node
        // holds what its shards need as soon as the epoch starts.
        if let EpochState::Syncing { signalled, .. } = &state.epoch_state {
            let member = state.committee.position(&shared.config.node_id).is_some();
            if member
                && !signalled.contains(&shared.config.node_id)
                && signalled_epoch != Some(state.epoch)
            {
                signalled_epoch = Some(state.epoch);
                let call = Call::EpochSyncDone {
                    node_id: shared.config.node_id,
                    epoch: state.epoch,
                };
                let (chain, key, epoch) = (
                    chain.clone(),
                    shared.config.operator_key.clone(),
                    state.epoch,
                );
                tokio::spawn(async move {
                    match chain.execute(&key, vec![call]).await {
                        Ok(response) => {
                            tracing::info!(epoch, outcome = ?response.outcome, "sent epoch sync done")
                        }
                        Err(error) => {
                            tracing::warn!(epoch, "cannot send epoch sync done: {error:#}")
                        }
                    }
                });
            }
        }
    }
}
