//! JSON shapes of the chain API (SPEC.md section 11), built by the chain
//! service from a [`ChainState`] and parsed by [`crate::ChainClient`].
//! Transactions and checkpoints travel as BCS
//! ([`walrus_contracts::ledger`]); everything here is JSON, camelCase.

use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;
use walrus_contracts::{
    Address, Blob, Committee, EpochState, ObjectId, SharedBlob, StakedWal, StakingPool, Storage,
    SystemParams,
    ledger::{
        execution::{ChainState, Outcome},
        transaction::{Rejection, TxDigest},
    },
};

use crate::error::{ErrorBody, ErrorDetail, ErrorReason};

/// What a client needs to store and read blobs in the current epoch
/// (`GET /v1/committee`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitteeInfo {
    /// The current epoch; confirmations must be signed for it.
    pub epoch: u32,
    /// Number of shards `n`.
    pub n_shards: u16,
    /// Storage price in FROST per unit (1 MiB of encoded length) per epoch.
    pub storage_price: u64,
    /// Write price in FROST per unit.
    pub write_price: u64,
    /// Storage may end at most this many epochs after the current one.
    pub max_epochs_ahead: u32,
    /// Epoch duration in milliseconds.
    pub epoch_duration_ms: u64,
    /// The committee in node-ID order (certificate signer indices refer to it).
    pub members: Vec<MemberInfo>,
}

/// One committee member as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberInfo {
    /// The node (its staking pool's ID).
    pub node_id: ObjectId,
    /// The node's name.
    pub name: String,
    /// Where its API listens (`host:port`).
    pub network_address: String,
    /// BLS12-381 min_pk public key, 48 bytes.
    pub public_key: Vec<u8>,
    /// Its shards, ascending.
    pub shards: Vec<u16>,
}

impl MemberInfo {
    /// Its shard count: its weight in quorums.
    pub fn weight(&self) -> u16 {
        u16::try_from(self.shards.len()).unwrap_or(u16::MAX)
    }
}

impl CommitteeInfo {
    /// The committee info of `chain`'s current state.
    pub fn of(chain: &ChainState) -> Self {
        let state = &chain.state;
        let members = state
            .committee
            .members
            .iter()
            .map(|member| {
                let pool = state.pools.get(&member.node_id);
                MemberInfo {
                    node_id: member.node_id,
                    name: pool.map(|p| p.name.clone()).unwrap_or_default(),
                    network_address: pool.map(|p| p.network_address.clone()).unwrap_or_default(),
                    public_key: member.public_key.clone(),
                    shards: member.shards.clone(),
                }
            })
            .collect();
        Self {
            epoch: state.epoch,
            n_shards: state.params.n_shards,
            storage_price: state.storage_price,
            write_price: state.write_price,
            max_epochs_ahead: state.params.max_epochs_ahead,
            epoch_duration_ms: state.params.epoch_duration_ms,
            members,
        }
    }
}

/// An account (`GET /v1/accounts/{address}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    /// The address.
    pub address: Address,
    /// Balance in FROST.
    pub balance: u64,
    /// The nonce its next transaction must carry.
    pub next_nonce: u64,
    /// Storage resources it owns.
    pub storages: Vec<ObjectId>,
    /// Blob objects it owns.
    pub blobs: Vec<ObjectId>,
    /// The owned Blob objects not yet certified, with their blob IDs: a
    /// store interrupted after registering reuses its registration rather
    /// than paying again (issue 21, failure 7).
    #[serde(default)]
    pub uncertified_blobs: Vec<UncertifiedBlob>,
    /// StakedWal objects it owns.
    pub staked_wal: Vec<ObjectId>,
}

/// An owned Blob object that is registered but not certified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UncertifiedBlob {
    /// The Blob object.
    pub object_id: ObjectId,
    /// Its blob ID.
    pub blob_id: BlobId,
}

impl AccountInfo {
    /// The account `address` in `chain`'s current state (an unknown address
    /// is an empty account).
    pub fn of(chain: &ChainState, address: &Address) -> Self {
        let state = &chain.state;
        let owned = |owner: &Address| owner == address;
        Self {
            address: *address,
            balance: state.balance(address),
            next_nonce: chain.next_nonce(address),
            storages: state
                .storages
                .iter()
                .filter(|(_, (o, _))| owned(o))
                .map(|(id, _)| *id)
                .collect(),
            blobs: state
                .blobs
                .iter()
                .filter(|(_, b)| owned(&b.owner))
                .map(|(id, _)| *id)
                .collect(),
            uncertified_blobs: state
                .blobs
                .iter()
                .filter(|(_, b)| owned(&b.owner) && b.certified_epoch.is_none())
                .map(|(id, b)| UncertifiedBlob {
                    object_id: *id,
                    blob_id: b.blob_id,
                })
                .collect(),
            staked_wal: state
                .staked
                .iter()
                .filter(|(_, s)| owned(&s.owner))
                .map(|(id, _)| *id)
                .collect(),
        }
    }
}

/// An object (`GET /v1/objects/{id}`): `{"id", "type", "owner"?, <type>: {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ChainObject {
    /// A storage resource.
    Storage {
        /// The object ID.
        id: ObjectId,
        /// Its owner.
        owner: Address,
        /// The resource.
        storage: Storage,
    },
    /// A Blob object.
    Blob {
        /// The object ID.
        id: ObjectId,
        /// Its owner.
        owner: Address,
        /// The blob.
        blob: Blob,
    },
    /// A shared blob (no owner).
    SharedBlob {
        /// The object ID.
        id: ObjectId,
        /// The shared blob.
        shared_blob: SharedBlob,
    },
    /// Staked WAL.
    StakedWal {
        /// The object ID.
        id: ObjectId,
        /// Its owner.
        owner: Address,
        /// The stake.
        staked_wal: StakedWal,
    },
    /// A staking pool (a storage node); owned by its operator.
    StakingPool {
        /// The object ID (the node ID).
        id: ObjectId,
        /// The operator.
        owner: Address,
        /// The pool.
        staking_pool: StakingPool,
    },
}

impl ChainObject {
    /// Object `id` of `chain`'s current state, if it exists.
    pub fn of(chain: &ChainState, id: &ObjectId) -> Option<Self> {
        let state = &chain.state;
        let id = *id;
        if let Some((owner, storage)) = state.storages.get(&id) {
            return Some(Self::Storage {
                id,
                owner: *owner,
                storage: *storage,
            });
        }
        if let Some(blob) = state.blobs.get(&id) {
            return Some(Self::Blob {
                id,
                owner: blob.owner,
                blob: blob.clone(),
            });
        }
        if let Some(shared) = state.shared_blobs.get(&id) {
            return Some(Self::SharedBlob {
                id,
                shared_blob: shared.clone(),
            });
        }
        if let Some(staked) = state.staked.get(&id) {
            return Some(Self::StakedWal {
                id,
                owner: staked.owner,
                staked_wal: staked.clone(),
            });
        }
        state.pools.get(&id).map(|pool| Self::StakingPool {
            id,
            owner: pool.operator,
            staking_pool: pool.clone(),
        })
    }
}

/// The system state (`GET /v1/system`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfo {
    /// The current epoch.
    pub epoch: u32,
    /// Where the epoch is in its change.
    pub epoch_state: EpochState,
    /// When the current epoch started, milliseconds since the Unix epoch.
    pub epoch_start_ms: u64,
    /// The current committee.
    pub committee: Committee,
    /// Storage price in FROST per unit per epoch.
    pub storage_price: u64,
    /// Write price in FROST per unit.
    pub write_price: u64,
    /// Total capacity in bytes the committee offers.
    pub capacity: u64,
    /// System parameters.
    pub params: SystemParams,
    /// Checkpoints stored so far.
    pub checkpoints: u64,
}

impl SystemInfo {
    /// The system info of `chain`, which has stored `checkpoints` checkpoints.
    pub fn of(chain: &ChainState, checkpoints: u64) -> Self {
        let state = &chain.state;
        Self {
            epoch: state.epoch,
            epoch_state: state.epoch_state.clone(),
            epoch_start_ms: chain.epoch_start_ms,
            committee: state.committee.clone(),
            storage_price: state.storage_price,
            write_price: state.write_price,
            capacity: state.capacity,
            params: state.params.clone(),
            checkpoints,
        }
    }
}

/// Liveness and progress (`GET /v1/health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHealth {
    /// `"ok"`.
    pub status: String,
    /// Checkpoints stored so far.
    pub checkpoints: u64,
    /// The current epoch.
    pub epoch: u32,
}

/// The answer to a submitted transaction, or to `GET /v1/transactions/{digest}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxResponse {
    /// The transaction digest.
    pub digest: TxDigest,
    /// The checkpoint that holds it.
    pub checkpoint: u64,
    /// What happened.
    pub outcome: Outcome,
}

/// The HTTP status and error body of a transaction the chain refused to order.
pub fn rejection_error(rejection: &Rejection) -> (u16, ErrorBody) {
    let (code, reason, expected_nonce) = match rejection {
        Rejection::Malformed(_) => (400, ErrorReason::MalformedTransaction, None),
        Rejection::TooLarge { .. } => (400, ErrorReason::BodyTooLarge, None),
        Rejection::BadSignature(_) => (400, ErrorReason::BadSignature, None),
        Rejection::SenderMismatch => (400, ErrorReason::SenderMismatch, None),
        Rejection::WrongNonce { expected, .. } => (400, ErrorReason::WrongNonce, Some(*expected)),
        Rejection::SystemCall => (400, ErrorReason::SystemCall, None),
        Rejection::TooManyCalls { .. } => (400, ErrorReason::MalformedTransaction, None),
        Rejection::InsufficientFee { .. } => (400, ErrorReason::InsufficientFee, None),
        Rejection::Unavailable(_) => (503, ErrorReason::Unavailable, None),
    };
    let detail = ErrorDetail {
        reason,
        expected_nonce,
    };
    (
        code,
        ErrorBody::with_detail(code, detail, rejection.to_string()),
    )
}

/// `GET /v1/epochs`: where an epoch started. The checkpoint holds that
/// epoch's `EpochChangeStart` event, which names its committee; a light
/// client checks it rather than trusting this index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochStart {
    /// The epoch.
    pub epoch: u32,
    /// The checkpoint that started it.
    pub checkpoint: u64,
}
