//! The storage node's protocol decisions, pure (no IO, no clock): what the
//! chain's events mean for the store, what to do after a batch of
//! checkpoints, whether a blob is live, and when the node may sign a
//! storage confirmation (SPEC.md sections 5, 6 and 9). The API and the
//! chain follower gather the facts, call these, and carry out the answer.

use walrus_codec::BlobId;
use walrus_contracts::{
    Epoch, EpochState, Event, ObjectId, State,
    blob_status::{BlobStatus, ObjectFacts},
    ledger::execution::{Checkpoint, Outcome},
};
use walrus_types::error::ErrorReason;

/// What the store knows of a blob ID: its live Blob objects (those the chain
/// registered and that were not deleted or dropped at expiry) and whether
/// it was invalidated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobFacts {
    /// Blob objects of the ID, by object ID.
    pub objects: Vec<(ObjectId, ObjectFacts)>,
    /// Whether the blob ID was proven inconsistent.
    pub invalid: bool,
}

impl BlobFacts {
    /// The node's status of the blob ID at `epoch` (upstream's `BlobStatus`).
    pub fn status(&self, epoch: Epoch) -> BlobStatus {
        let objects: Vec<ObjectFacts> = self.objects.iter().map(|(_, o)| *o).collect();
        BlobStatus::of(&objects, self.invalid, epoch)
    }
}

/// Why the node refuses to act on a blob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No Blob object of the ID is known.
    #[error("blob {0} is not registered")]
    NotRegistered(BlobId),
    /// The blob ID was proven inconsistent.
    #[error("blob {0} is invalid")]
    Invalid(BlobId),
    /// Every Blob object's storage has ended.
    #[error("blob {blob_id} expired at epoch {end_epoch}")]
    Expired {
        /// The blob ID.
        blob_id: BlobId,
        /// The latest end epoch of its objects.
        end_epoch: Epoch,
    },
    /// Recovery symbols are served for certified blobs only.
    #[error("blob {0} is not certified; recovery symbols are served for certified blobs only")]
    NotCertified(BlobId),
    /// A permanent confirmation needs a permanent Blob object.
    #[error("no permanent registration of {0}")]
    NoPermanent(BlobId),
    /// A deletable confirmation needs that live deletable Blob object.
    #[error("{object} is not a live deletable registration of {blob_id}")]
    NotLiveDeletable {
        /// The object named in the request.
        object: ObjectId,
        /// The blob ID.
        blob_id: BlobId,
    },
    /// The metadata is not stored yet.
    #[error("metadata of {0} not stored yet")]
    MetadataMissing(BlobId),
    /// Some sliver pairs of this node's shards are not stored yet.
    #[error("{0} sliver pairs of this node's shards are not stored yet")]
    PairsMissing(usize),
}

impl Refusal {
    /// The machine-readable reason of the refusal.
    pub fn reason(&self) -> ErrorReason {
        match self {
            Self::NotRegistered(_) | Self::NoPermanent(_) | Self::NotLiveDeletable { .. } => {
                ErrorReason::NotRegistered
            }
            Self::Invalid(_) => ErrorReason::InvalidBlob,
            Self::Expired { .. } => ErrorReason::Expired,
            Self::NotCertified(_) => ErrorReason::NotCertified,
            Self::MetadataMissing(_) | Self::PairsMissing(_) => ErrorReason::NotStored,
        }
    }
}

/// Checks that the blob is live at `epoch`: registered, not invalid, not
/// expired. Returns its status.
///
/// # Errors
/// [`Refusal::NotRegistered`], [`Refusal::Invalid`] or [`Refusal::Expired`].
pub fn live(blob_id: &BlobId, facts: &BlobFacts, epoch: Epoch) -> Result<BlobStatus, Refusal> {
    if facts.invalid {
        return Err(Refusal::Invalid(*blob_id));
    }
    let Some(end_epoch) = facts.objects.iter().map(|(_, o)| o.end_epoch).max() else {
        return Err(Refusal::NotRegistered(*blob_id));
    };
    match facts.status(epoch) {
        BlobStatus::Nonexistent => Err(Refusal::Expired {
            blob_id: *blob_id,
            end_epoch,
        }),
        status => Ok(status),
    }
}

/// Checks that the blob is live and certified (for serving recovery symbols).
///
/// # Errors
/// As [`live`], or [`Refusal::NotCertified`].
pub fn live_certified(blob_id: &BlobId, facts: &BlobFacts, epoch: Epoch) -> Result<(), Refusal> {
    if live(blob_id, facts, epoch)?.is_certified() {
        Ok(())
    } else {
        Err(Refusal::NotCertified(*blob_id))
    }
}

/// The confirmation rule (SPEC.md section 5): a node signs a storage
/// confirmation for a live blob, for a permanent Blob object or the named
/// live deletable one, only when it holds the metadata and both slivers of
/// every pair of its shards (`missing_pairs` is how many it lacks).
///
/// # Errors
/// The [`Refusal`] that applies first.
pub fn may_confirm(
    blob_id: &BlobId,
    facts: &BlobFacts,
    epoch: Epoch,
    deletable_object: Option<&ObjectId>,
    has_metadata: bool,
    missing_pairs: usize,
) -> Result<(), Refusal> {
    live(blob_id, facts, epoch)?;
    let is_live = |o: &ObjectFacts| !o.deleted && o.end_epoch > epoch;
    match deletable_object {
        None => {
            if !facts
                .objects
                .iter()
                .any(|(_, o)| !o.deletable && is_live(o))
            {
                return Err(Refusal::NoPermanent(*blob_id));
            }
        }
        Some(object) => {
            let found = facts.objects.iter().find(|(id, _)| id == object);
            if !found.is_some_and(|(_, o)| o.deletable && is_live(o)) {
                return Err(Refusal::NotLiveDeletable {
                    object: *object,
                    blob_id: *blob_id,
                });
            }
        }
    }
    if !has_metadata {
        return Err(Refusal::MetadataMissing(*blob_id));
    }
    if missing_pairs > 0 {
        return Err(Refusal::PairsMissing(missing_pairs));
    }
    Ok(())
}

/// One change a checkpoint's events make to the store's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUpdate {
    /// A Blob object was registered.
    Register {
        /// The object.
        object_id: ObjectId,
        /// Its blob ID.
        blob_id: BlobId,
        /// End epoch (exclusive).
        end_epoch: Epoch,
        /// Deletable or permanent.
        deletable: bool,
    },
    /// A Blob object was certified in `epoch`.
    Certify {
        /// The object.
        object_id: ObjectId,
        /// The epoch of certification.
        epoch: Epoch,
    },
    /// A Blob object's storage was extended.
    Extend {
        /// The object.
        object_id: ObjectId,
        /// The new end epoch.
        end_epoch: Epoch,
    },
    /// A Blob object was deleted by its owner.
    Delete {
        /// The object.
        object_id: ObjectId,
        /// Its blob ID.
        blob_id: BlobId,
    },
    /// A blob ID was proven inconsistent.
    Invalidate(BlobId),
}

/// The store updates of `checkpoint`'s successful transactions, in order.
/// Every other event leaves the store alone.
pub fn store_updates(checkpoint: &Checkpoint) -> Vec<StoreUpdate> {
    let events = checkpoint
        .transactions
        .iter()
        .filter_map(|tx| match &tx.outcome {
            Outcome::Success { events, .. } => Some(events),
            Outcome::Failure { .. } => None,
        });
    events
        .flatten()
        .filter_map(|event| match event {
            Event::BlobRegistered {
                blob_id,
                end_epoch,
                deletable,
                object_id,
                ..
            } => Some(StoreUpdate::Register {
                object_id: *object_id,
                blob_id: *blob_id,
                end_epoch: *end_epoch,
                deletable: *deletable,
            }),
            Event::BlobCertified {
                object_id, epoch, ..
            } => Some(StoreUpdate::Certify {
                object_id: *object_id,
                epoch: *epoch,
            }),
            Event::BlobExtended {
                object_id,
                end_epoch,
                ..
            } => Some(StoreUpdate::Extend {
                object_id: *object_id,
                end_epoch: *end_epoch,
            }),
            Event::BlobDeleted {
                object_id, blob_id, ..
            } => Some(StoreUpdate::Delete {
                object_id: *object_id,
                blob_id: *blob_id,
            }),
            Event::InvalidBlobId { blob_id, .. } => Some(StoreUpdate::Invalidate(*blob_id)),
            _ => None,
        })
        .collect()
}

/// What the node does once a batch of checkpoints is applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AfterBatch {
    /// Drop the Blob objects that end at or before this epoch (the epoch
    /// changed).
    pub expire_through: Option<Epoch>,
    /// Send epoch sync done for this epoch.
    pub send_sync_done: Option<Epoch>,
}

/// The decision after a batch: expire when the epoch changed, and send epoch
/// sync done when the epoch is syncing, this node is a member that has not
/// signalled, and it has not already sent it for this epoch
/// (`already_sent`).
///
/// This node holds its shards' data as soon as the epoch starts only while
/// shards do not move between nodes; moved shards are not synced yet, so
/// the signal is sent at once (shard sync is its own issue).
pub fn after_batch(
    previous_epoch: Epoch,
    state: &State,
    node_id: &ObjectId,
    already_sent: Option<Epoch>,
) -> AfterBatch {
    let expire_through = (state.epoch != previous_epoch).then_some(state.epoch);
    let send_sync_done = match &state.epoch_state {
        EpochState::Syncing { signalled, .. }
            if state.committee.position(node_id).is_some()
                && !signalled.contains(node_id)
                && already_sent != Some(state.epoch) =>
        {
            Some(state.epoch)
        }
        _ => None,
    };
    AfterBatch {
        expire_through,
        send_sync_done,
    }
}

#[cfg(test)]
#[path = "rules/tests.rs"]
mod tests;
