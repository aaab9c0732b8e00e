//! The JSON shapes the indexer serves (SPEC.md section 12) (camelCase; IDs and addresses as `0x`
//! and 64 hex digits, blob IDs in their 43-character text form, amounts in
//! FROST as numbers). `/v1/api` documents the same shapes.

use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;
use walrus_contracts::{Address, Event, ObjectId, StakingPool, State};

pub use walrus_contracts::blob_status::BlobState;

/// One Blob object as indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobObjectView {
    /// The Blob object's ID.
    pub object_id: ObjectId,
    /// The blob ID it registers.
    pub blob_id: BlobId,
    /// The owner ([`Address::SYSTEM`] for shared blobs).
    pub owner: Address,
    /// Its state at the indexed checkpoint.
    pub status: BlobState,
    /// Unencoded size in bytes.
    pub size: u64,
    /// The epoch of registration.
    pub registered_epoch: u32,
    /// The epoch of certification, if certified.
    pub certified_epoch: Option<u32>,
    /// Storage end epoch (exclusive).
    pub end_epoch: u32,
    /// Whether the owner may delete it.
    pub deletable: bool,
    /// Whether it is a shared blob.
    pub shared: bool,
    /// The checkpoint that registered it.
    pub registered_checkpoint: u64,
}

/// `GET /v1/blobs/{blob_id}`: the blob ID over all its Blob objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobStatusView {
    /// The blob ID.
    pub blob_id: BlobId,
    /// The most final state of any object: invalid, else certified if any
    /// live object is certified, else registered, expired, deleted.
    pub status: BlobState,
    /// Whether some object is registered and not expired or deleted.
    pub registered: bool,
    /// The earliest certification epoch among live certified objects.
    pub certified_epoch: Option<u32>,
    /// The latest end epoch among live objects (certified ones if any).
    pub end_epoch: Option<u32>,
    /// Whether every live object is deletable (false if one is permanent).
    pub deletable: bool,
    /// Whether the blob ID was invalidated.
    pub invalid: bool,
    /// The epoch of the indexed state.
    pub current_epoch: u32,
    /// Every Blob object ever registered for this ID, oldest first.
    pub objects: Vec<BlobObjectView>,
}

/// A page of results; pass `nextCursor` as `cursor` for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The results.
    pub items: Vec<T>,
    /// `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One committee member of an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    /// The node.
    pub node_id: ObjectId,
    /// Its name.
    pub name: String,
    /// Its shard count.
    pub shards: u16,
    /// Its BLS public key, hex.
    pub public_key: String,
}

/// A committee: certificate signer indices refer to `members`' order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitteeView {
    /// The epoch.
    pub epoch: u32,
    /// Members in node-ID order.
    pub members: Vec<MemberView>,
}

impl CommitteeView {
    /// The current committee of `state`.
    pub fn of(state: &State) -> Self {
        let members = state
            .committee
            .members
            .iter()
            .map(|m| MemberView {
                node_id: m.node_id,
                name: state
                    .pools
                    .get(&m.node_id)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                shards: u16::try_from(m.shards.len()).unwrap_or(u16::MAX),
                public_key: hex::encode(&m.public_key),
            })
            .collect();
        Self {
            epoch: state.epoch,
            members,
        }
    }
}

/// A certification in a blob's history: who signed, against which committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificationView {
    /// The epoch of the certificate (its committee's epoch).
    pub epoch: u32,
    /// The committee of that epoch.
    pub committee: Vec<MemberView>,
    /// The signers' indices in the committee.
    pub signer_indices: Vec<u16>,
    /// The signers.
    pub signers: Vec<ObjectId>,
    /// The signers' shards, of `n_shards`.
    pub signer_shards: u32,
}

/// One event of a blob's provenance history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The checkpoint sequence number.
    pub checkpoint: u64,
    /// The checkpoint's time, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The checkpoint's digest, hex.
    pub checkpoint_digest: String,
    /// The transaction's digest.
    pub tx_digest: String,
    /// The transaction's position in the checkpoint.
    pub tx_position: u32,
    /// The sender.
    pub sender: Address,
    /// The event name (`BlobRegistered`, `BlobCertified`, ...).
    pub kind: String,
    /// The event, as the state machine emitted it.
    pub event: Event,
    /// For `BlobCertified`: the epoch, committee and signers.
    pub certification: Option<CertificationView>,
}

/// `GET /v1/blobs/{blob_id}/history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    /// The blob ID.
    pub blob_id: BlobId,
    /// Every event naming the blob ID, in chain order.
    pub events: Vec<HistoryEntry>,
}

/// One epoch of a staking pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolEpochView {
    /// The epoch.
    pub epoch: u32,
    /// Active stake at the epoch's start, FROST.
    pub stake: u64,
    /// Shards held in the epoch.
    pub shards: u16,
    /// Audit score, basis points (shard-weighted median of reports).
    pub audit_score: u16,
    /// Whether a quorum slashed the node that epoch.
    pub slashed: bool,
    /// Rewards to the pool's stakers, FROST.
    pub pool_reward: u64,
    /// Commission earned, FROST.
    pub commission: u64,
}

/// A staking pool (storage node) now, plus its per-epoch record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolView {
    /// The node ID (the pool's object ID).
    pub node_id: ObjectId,
    /// The node's name.
    pub name: String,
    /// The operator's address.
    pub operator: Address,
    /// The node API address.
    pub network_address: String,
    /// Commission, basis points.
    pub commission_bps: u16,
    /// Active stake, FROST (rewards included).
    pub stake: u64,
    /// Stake waiting to become active, FROST.
    pub pending_stake: u64,
    /// Commission earned and not collected, FROST.
    pub uncollected_commission: u64,
    /// Shards in the current committee (0 if not a member).
    pub shards: u16,
    /// Storage price vote, FROST per unit per epoch.
    pub storage_price_vote: u64,
    /// Write price vote, FROST per unit.
    pub write_price_vote: u64,
    /// Capacity vote, bytes.
    pub capacity_vote: u64,
    /// Per ended epoch, oldest first (filled in by queries).
    #[serde(default)]
    pub epochs: Vec<PoolEpochView>,
}

impl PoolView {
    /// The pool `node_id` of `state`, without its epoch record.
    pub fn of(state: &State, node_id: &ObjectId, pool: &StakingPool) -> Self {
        Self {
            node_id: *node_id,
            name: pool.name.clone(),
            operator: pool.operator,
            network_address: pool.network_address.clone(),
            commission_bps: pool.commission_bps,
            stake: pool.active_wal,
            pending_stake: pool
                .pending_stake
                .values()
                .fold(0, |a, b| a.saturating_add(*b)),
            uncollected_commission: pool.commission,
            shards: state
                .committee
                .position(node_id)
                .map_or(0, |i| state.committee.weight(i)),
            storage_price_vote: pool.votes.storage_price,
            write_price_vote: pool.votes.write_price,
            capacity_vote: pool.votes.capacity,
            epochs: Vec::new(),
        }
    }
}

/// A StakedWal object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StakedWalView {
    /// The object ID.
    pub object_id: ObjectId,
    /// The owner.
    pub owner: Address,
    /// The node staked with.
    pub node_id: ObjectId,
    /// FROST staked.
    pub principal: u64,
    /// The epoch from which it counts.
    pub activation_epoch: u32,
    /// `staked`, `withdrawing` or `withdrawn`.
    pub state: String,
    /// For `withdrawing`: the epoch from which it can be withdrawn.
    pub withdraw_epoch: Option<u32>,
    /// What it is worth now, FROST (see `StakedWal::value`); 0 once withdrawn.
    pub value: u64,
    /// For `withdrawn`: the FROST paid out.
    pub withdrawn_amount: Option<u64>,
}

/// `GET /v1/addresses/{address}/staked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StakesView {
    /// The address.
    pub address: Address,
    /// The sum of `value` over its stakes, FROST.
    pub total_value: u64,
    /// Its StakedWal objects (withdrawn ones too), by object ID.
    pub staked: Vec<StakedWalView>,
}

/// An epoch with its committee and prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochView {
    /// The epoch.
    pub epoch: u32,
    /// The checkpoint that started it (none for epoch 0).
    pub start_checkpoint: Option<u64>,
    /// Its start time, ms since the Unix epoch.
    pub start_ms: u64,
    /// Storage price, FROST per unit per epoch.
    pub storage_price: u64,
    /// Write price, FROST per unit.
    pub write_price: u64,
    /// Total capacity, bytes.
    pub capacity: u64,
    /// The checkpoint where a quorum finished syncing, if it did.
    pub change_done_checkpoint: Option<u64>,
    /// The committee.
    pub committee: CommitteeView,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthView {
    /// Checkpoints `0..checkpoints` are indexed.
    pub checkpoints: u64,
    /// The epoch of the indexed state.
    pub epoch: u32,
    /// The genesis digest of the chain, hex.
    pub genesis: String,
}
