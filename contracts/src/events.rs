//! Every event the state machine emits (SPEC.md section 8), in one place.
//! Followers (storage nodes, the indexer) act on these.

use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;

use crate::{
    ids::{Address, Epoch, ObjectId},
    state::Committee,
};

/// An event emitted by a successful call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A blob was registered: nodes should accept its slivers.
    BlobRegistered {
        /// The current epoch.
        epoch: Epoch,
        /// The blob ID.
        blob_id: BlobId,
        /// Unencoded size in bytes.
        size: u64,
        /// Encoding type tag (1 = RS2).
        encoding_type: u8,
        /// Storage end epoch (exclusive).
        end_epoch: Epoch,
        /// Whether the blob can be deleted.
        deletable: bool,
        /// The Blob object.
        object_id: ObjectId,
        /// The owner.
        owner: Address,
    },
    /// A blob was certified: it is available until `end_epoch`.
    BlobCertified {
        /// The epoch of the certificate.
        epoch: Epoch,
        /// The blob ID.
        blob_id: BlobId,
        /// Storage end epoch (exclusive).
        end_epoch: Epoch,
        /// Whether the blob can be deleted.
        deletable: bool,
        /// The Blob object.
        object_id: ObjectId,
        /// Committee member indices that signed.
        signers: Vec<u16>,
    },
    /// A certified blob's storage was extended.
    BlobExtended {
        /// The current epoch.
        epoch: Epoch,
        /// The blob ID.
        blob_id: BlobId,
        /// The new end epoch (exclusive).
        end_epoch: Epoch,
        /// The Blob object.
        object_id: ObjectId,
    },
    /// A deletable blob was deleted; its storage went back to the owner.
    BlobDeleted {
        /// The current epoch.
        epoch: Epoch,
        /// The blob ID.
        blob_id: BlobId,
        /// The end epoch the blob had.
        end_epoch: Epoch,
        /// The deleted Blob object.
        object_id: ObjectId,
        /// Whether the blob had been certified.
        was_certified: bool,
    },
    /// A blob ID was proven inconsistent by an f+1 certificate.
    InvalidBlobId {
        /// The epoch of the certificate.
        epoch: Epoch,
        /// The blob ID.
        blob_id: BlobId,
    },
    /// At voting end: the next epoch's committee and prices were selected.
    EpochParametersSelected {
        /// The epoch the parameters are for.
        next_epoch: Epoch,
        /// Storage price per unit per epoch, in FROST.
        storage_price: u64,
        /// Write price per unit, in FROST.
        write_price: u64,
        /// Total capacity in bytes.
        capacity: u64,
    },
    /// A new epoch started; nodes move shards and then signal sync done.
    /// It names the new committee, so a light client learns each epoch's
    /// validators from certified checkpoints without executing anything.
    EpochChangeStart {
        /// The new epoch.
        epoch: Epoch,
        /// The committee of the new epoch (members, BLS keys, shards: the
        /// validators and their voting power from the next checkpoint on).
        committee: Committee,
    },
    /// A node signalled that it holds the slivers of its shards.
    ShardsReceived {
        /// The epoch.
        epoch: Epoch,
        /// The node.
        node_id: ObjectId,
        /// Its shards.
        shards: Vec<u16>,
    },
    /// A quorum of shards signalled sync done.
    EpochChangeDone {
        /// The epoch.
        epoch: Epoch,
    },
    /// WAL was staked with a node.
    StakeDeposited {
        /// The current epoch.
        epoch: Epoch,
        /// The node.
        node_id: ObjectId,
        /// The StakedWal object.
        staked_wal_id: ObjectId,
        /// FROST staked.
        amount: u64,
        /// The epoch from which it counts.
        activation_epoch: Epoch,
    },
    /// A withdrawal was requested.
    WithdrawRequested {
        /// The current epoch.
        epoch: Epoch,
        /// The node.
        node_id: ObjectId,
        /// The StakedWal object.
        staked_wal_id: ObjectId,
        /// The epoch from which it can be withdrawn.
        withdraw_epoch: Epoch,
    },
    /// Staked WAL (with rewards) went back to its owner.
    StakeWithdrawn {
        /// The current epoch.
        epoch: Epoch,
        /// The node.
        node_id: ObjectId,
        /// The StakedWal object.
        staked_wal_id: ObjectId,
        /// FROST paid out.
        amount: u64,
    },
    /// An epoch's income was paid out.
    RewardsDistributed {
        /// The epoch whose income was paid.
        epoch: Epoch,
        /// FROST burned (3% plus withheld rewards of slashed nodes).
        burned: u64,
        /// Per node: (node, FROST to the pool, FROST of commission).
        rewards: Vec<(ObjectId, u64, u64)>,
        /// Rounding remainder carried to the next epoch.
        carried: u64,
    },
    /// A node operator collected its commission.
    CommissionCollected {
        /// The node.
        node_id: ObjectId,
        /// FROST paid out.
        amount: u64,
    },
    /// A quorum voted to slash a node for the epoch.
    NodeSlashed {
        /// The epoch.
        epoch: Epoch,
        /// The node.
        node_id: ObjectId,
        /// Accumulated commission burned.
        burned: u64,
    },
    /// Prices changed at an epoch change.
    PricesUpdated {
        /// The epoch from which they apply.
        epoch: Epoch,
        /// Storage price per unit per epoch, in FROST.
        storage_price: u64,
        /// Write price per unit, in FROST.
        write_price: u64,
    },
}

impl Event {
    /// The blob ID a blob event names (registered, certified, extended,
    /// deleted, invalid); `None` for the other events.
    pub fn blob_id(&self) -> Option<&BlobId> {
        match self {
            Event::BlobRegistered { blob_id, .. }
            | Event::BlobCertified { blob_id, .. }
            | Event::BlobExtended { blob_id, .. }
            | Event::BlobDeleted { blob_id, .. }
            | Event::InvalidBlobId { blob_id, .. } => Some(blob_id),
            _ => None,
        }
    }

    /// The event's name, as in SPEC.md section 8.
    pub fn name(&self) -> &'static str {
        match self {
            Event::BlobRegistered { .. } => "BlobRegistered",
            Event::BlobCertified { .. } => "BlobCertified",
            Event::BlobExtended { .. } => "BlobExtended",
            Event::BlobDeleted { .. } => "BlobDeleted",
            Event::InvalidBlobId { .. } => "InvalidBlobId",
            Event::EpochParametersSelected { .. } => "EpochParametersSelected",
            Event::EpochChangeStart { .. } => "EpochChangeStart",
            Event::ShardsReceived { .. } => "ShardsReceived",
            Event::EpochChangeDone { .. } => "EpochChangeDone",
            Event::StakeDeposited { .. } => "StakeDeposited",
            Event::WithdrawRequested { .. } => "WithdrawRequested",
            Event::StakeWithdrawn { .. } => "StakeWithdrawn",
            Event::RewardsDistributed { .. } => "RewardsDistributed",
            Event::CommissionCollected { .. } => "CommissionCollected",
            Event::NodeSlashed { .. } => "NodeSlashed",
            Event::PricesUpdated { .. } => "PricesUpdated",
        }
    }
}
