//! The whole control-plane state and its digest (SPEC.md sections 8 and 9).
//!
//! Large collections are `imbl::OrdMap`s: ordered (deterministic iteration)
//! and persistent, so cloning the state for an atomic multi-call transaction
//! costs O(1) and shares structure until written.

use std::collections::{BTreeMap, BTreeSet};

use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;

use crate::{
    errors::TxError,
    ids::{Address, Epoch, ObjectId},
    money,
};

/// Parameters fixed at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemParams {
    /// Number of shards `n`.
    pub n_shards: u16,
    /// Epoch duration in milliseconds (mainnet 2 weeks, devnet 10 minutes).
    pub epoch_duration_ms: u64,
    /// Storage can end at most this many epochs after the current one (53).
    pub max_epochs_ahead: u32,
    /// Largest faucet call in FROST; 0 disables the faucet (non-devnet).
    pub faucet_max_frost: u64,
    /// Audit score (basis points) below which reports count as slashing votes.
    pub audit_threshold_bps: u16,
}

/// A storage reservation: `size_bytes` for epochs `[start_epoch, end_epoch)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storage {
    /// First epoch covered.
    pub start_epoch: Epoch,
    /// First epoch not covered.
    pub end_epoch: Epoch,
    /// Reserved bytes (of encoded length).
    pub size_bytes: u64,
}

/// A registered blob, owned by an account (or held by a [`SharedBlob`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// The owner.
    pub owner: Address,
    /// The blob ID.
    pub blob_id: BlobId,
    /// Unencoded size in bytes.
    pub size: u64,
    /// Encoding type tag (1 = RS2).
    pub encoding_type: u8,
    /// The epoch of registration.
    pub registered_epoch: Epoch,
    /// The epoch of certification, if certified.
    pub certified_epoch: Option<Epoch>,
    /// The ID the storage resource had before it was attached; it gets it back on deletion.
    pub storage_id: ObjectId,
    /// The storage the blob occupies.
    pub storage: Storage,
    /// Whether the owner may delete it.
    pub deletable: bool,
    /// Free-form metadata.
    pub attributes: BTreeMap<String, String>,
}

/// A permanent certified blob that anyone can fund and extend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedBlob {
    /// The blob (its owner is [`Address::SYSTEM`]).
    pub blob: Blob,
    /// FROST available to pay for extensions.
    pub funds: u64,
}

/// Price and capacity votes of a storage node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Votes {
    /// Storage price per unit (1 MiB) per epoch, in FROST.
    pub storage_price: u64,
    /// Write price per unit, in FROST.
    pub write_price: u64,
    /// Capacity in bytes.
    pub capacity: u64,
}

/// A share-to-WAL exchange rate: `wal` FROST back `shares` shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRate {
    /// FROST in the pool's active stake.
    pub wal: u64,
    /// Shares outstanding.
    pub shares: u64,
}

impl ExchangeRate {
    /// Shares for `amount` FROST, rounded down; 1:1 for an empty pool.
    ///
    /// # Errors
    /// [`TxError::Overflow`] if the result does not fit.
    pub fn to_shares(&self, amount: u64) -> Result<u64, TxError> {
        if self.wal == 0 || self.shares == 0 {
            Ok(amount)
        } else {
            money::mul_div_floor(amount, self.shares, self.wal)
        }
    }

    /// FROST for `shares`, rounded down; 1:1 for an empty pool.
    ///
    /// # Errors
    /// [`TxError::Overflow`] if the result does not fit.
    pub fn to_wal(&self, shares: u64) -> Result<u64, TxError> {
        if self.wal == 0 || self.shares == 0 {
            Ok(shares)
        } else {
            money::mul_div_floor(shares, self.wal, self.shares)
        }
    }
}

/// A storage node's staking pool and node information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakingPool {
    /// The account that operates the node.
    pub operator: Address,
    /// Human-readable name.
    pub name: String,
    /// Where the node's API listens (host:port).
    pub network_address: String,
    /// BLS12-381 min_pk public key, 48 bytes compressed.
    pub public_key: Vec<u8>,
    /// Commission in basis points.
    pub commission_bps: u16,
    /// Price and capacity votes.
    pub votes: Votes,
    /// FROST of active stake, rewards included.
    pub active_wal: u64,
    /// Shares of active stake.
    pub active_shares: u64,
    /// FROST waiting to become active, by activation epoch.
    pub pending_stake: BTreeMap<Epoch, u64>,
    /// Shares leaving at the start of an epoch, by that epoch.
    pub pending_withdrawals: BTreeMap<Epoch, u64>,
    /// FROST set aside for withdrawals, by withdraw epoch: (FROST left, shares left).
    pub withdrawable: BTreeMap<Epoch, ExchangeRate>,
    /// The exchange rate recorded at the start of each epoch.
    pub exchange_rates: BTreeMap<Epoch, ExchangeRate>,
    /// Commission earned, not yet collected.
    pub commission: u64,
}

/// Whether staked WAL is active or on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StakeState {
    /// Counting (from the activation epoch on).
    Staked,
    /// Leaving: `shares` can be withdrawn from `epoch` on.
    Withdrawing {
        /// The withdraw epoch.
        epoch: Epoch,
        /// The shares being withdrawn.
        shares: u64,
    },
}

/// WAL staked with a node, owned by the staker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakedWal {
    /// The owner.
    pub owner: Address,
    /// The node staked with.
    pub node_id: ObjectId,
    /// FROST staked.
    pub principal: u64,
    /// The epoch from which the stake counts.
    pub activation_epoch: Epoch,
    /// Active or withdrawing.
    pub state: StakeState,
}

impl StakedWal {
    /// What the stake is worth now in FROST, rewards included: the principal
    /// while not yet active; otherwise its shares (at the exchange rate of
    /// the activation epoch, rounding down) at the pool's current rate, or
    /// at the withdrawal pot's rate once the withdraw epoch has come. This
    /// is what [`crate::Call::WithdrawStake`] would pay now, or once the
    /// withdraw epoch comes at today's rate (SPEC.md section 10).
    pub fn value(&self, pool: &StakingPool, current_epoch: Epoch) -> u64 {
        let current = ExchangeRate {
            wal: pool.active_wal,
            shares: pool.active_shares,
        };
        let shares = match self.state {
            StakeState::Withdrawing { epoch, shares } => {
                if epoch <= current_epoch {
                    return pool.withdrawable.get(&epoch).map_or(0, |pot| {
                        if shares >= pot.shares {
                            pot.wal
                        } else {
                            pot.to_wal(shares).unwrap_or(pot.wal)
                        }
                    });
                }
                shares
            }
            StakeState::Staked => {
                if self.activation_epoch > current_epoch {
                    return self.principal;
                }
                let rate = pool
                    .exchange_rates
                    .get(&self.activation_epoch)
                    .copied()
                    .unwrap_or(ExchangeRate { wal: 0, shares: 0 });
                rate.to_shares(self.principal).unwrap_or(self.principal)
            }
        };
        current.to_wal(shares).unwrap_or(u64::MAX)
    }
}

/// One member of a committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeMember {
    /// The node.
    pub node_id: ObjectId,
    /// Its BLS public key (48 bytes).
    pub public_key: Vec<u8>,
    /// Its shard indices, ascending.
    pub shards: Vec<u16>,
}

/// The committee of an epoch; certificate signer indices refer to `members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committee {
    /// The epoch.
    pub epoch: Epoch,
    /// Members in node-ID order, each with at least one shard.
    pub members: Vec<CommitteeMember>,
}

impl Committee {
    /// The shard weight of member `index`.
    pub fn weight(&self, index: usize) -> u16 {
        self.members.get(index).map_or(0, |m| {
            u16::try_from(m.shards.len()).expect("at most n shards")
        })
    }

    /// The index of `node_id` in the committee.
    pub fn position(&self, node_id: &ObjectId) -> Option<usize> {
        self.members.iter().position(|m| &m.node_id == node_id)
    }
}

/// What the next epoch will use, fixed at voting end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextEpoch {
    /// The next committee.
    pub committee: Committee,
    /// The next storage price per unit per epoch.
    pub storage_price: u64,
    /// The next write price per unit.
    pub write_price: u64,
    /// The next capacity in bytes.
    pub capacity: u64,
}

/// Where the epoch state machine is (SPEC.md section 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EpochState {
    /// Normal operation; `voting_done` once the next parameters are selected.
    Active {
        /// Whether voting end has passed this epoch.
        voting_done: bool,
    },
    /// The epoch started; waiting for a quorum of shards to signal sync done.
    Syncing {
        /// Nodes that signalled.
        signalled: BTreeSet<ObjectId>,
        /// Their shard weight.
        weight: u16,
    },
}

/// Audit reports and slashing votes of the current epoch (SPEC.md section 10).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochAudits {
    /// (target, reporter) -> score in basis points.
    pub scores: BTreeMap<(ObjectId, ObjectId), u16>,
    /// Reporters that submitted this epoch.
    pub reporters: BTreeSet<ObjectId>,
    /// target -> nodes voting to slash it.
    pub slash_votes: BTreeMap<ObjectId, BTreeSet<ObjectId>>,
    /// Nodes slashed this epoch.
    pub slashed: BTreeSet<ObjectId>,
}

/// The whole state. Fields are public for reading; change it only through
/// [`crate::apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Genesis parameters.
    pub params: SystemParams,
    /// The current epoch.
    pub epoch: Epoch,
    /// Where the epoch state machine is.
    pub epoch_state: EpochState,
    /// The current committee.
    pub committee: Committee,
    /// The next epoch's committee and prices, once selected.
    pub next: Option<NextEpoch>,
    /// Storage price per unit per epoch, in FROST.
    pub storage_price: u64,
    /// Write price per unit, in FROST.
    pub write_price: u64,
    /// Total capacity in bytes.
    pub capacity: u64,
    /// WAL balances in FROST.
    pub accounts: OrdMap<Address, u64>,
    /// Storage resources and their owners.
    pub storages: OrdMap<ObjectId, (Address, Storage)>,
    /// Owned blobs.
    pub blobs: OrdMap<ObjectId, Blob>,
    /// Shared blobs.
    pub shared_blobs: OrdMap<ObjectId, SharedBlob>,
    /// Blob IDs invalidated by an f+1 certificate.
    pub invalid_blob_ids: OrdSet<BlobId>,
    /// Staking pools by node ID.
    pub pools: OrdMap<ObjectId, StakingPool>,
    /// Staked WAL objects.
    pub staked: OrdMap<ObjectId, StakedWal>,
    /// Income (FROST) to pay out at the end of each future epoch.
    pub income: OrdMap<Epoch, u64>,
    /// Rounding remainder carried into the next payout.
    pub carried: u64,
    /// Audits and slashing votes of the current epoch.
    pub audits: EpochAudits,
    /// FROST ever minted (faucet and genesis).
    pub minted: u64,
    /// FROST ever burned.
    pub burned: u64,
}

impl State {
    /// The blake3 digest of the BCS bytes of the state; followers compare it.
    pub fn digest(&self) -> [u8; 32] {
        let bytes = bcs::to_bytes(self).expect("the state serializes: all maps have BCS keys");
        *blake3::hash(&bytes).as_bytes()
    }

    /// The balance of `address` in FROST.
    pub fn balance(&self, address: &Address) -> u64 {
        self.accounts.get(address).copied().unwrap_or(0)
    }

    /// FROST held anywhere in the state (accounts, pools, pending income,
    /// shared-blob funds). Conservation: `minted == burned + total_held()`.
    pub fn total_held(&self) -> u128 {
        let accounts: u128 = self.accounts.values().map(|v| u128::from(*v)).sum();
        let pools: u128 = self
            .pools
            .values()
            .map(|p| {
                u128::from(p.active_wal)
                    + u128::from(p.commission)
                    + p.pending_stake
                        .values()
                        .map(|v| u128::from(*v))
                        .sum::<u128>()
                    + p.withdrawable
                        .values()
                        .map(|r| u128::from(r.wal))
                        .sum::<u128>()
            })
            .sum();
        let income: u128 = self.income.values().map(|v| u128::from(*v)).sum();
        let shared: u128 = self
            .shared_blobs
            .values()
            .map(|s| u128::from(s.funds))
            .sum();
        accounts + pools + income + shared + u128::from(self.carried)
    }

    /// Debits `amount` FROST from `address`.
    pub(crate) fn debit(&mut self, address: Address, amount: u64) -> Result<(), TxError> {
        let available = self.balance(&address);
        let rest = available
            .checked_sub(amount)
            .ok_or(TxError::InsufficientBalance {
                needed: amount,
                available,
            })?;
        if rest == 0 {
            self.accounts.remove(&address);
        } else {
            self.accounts.insert(address, rest);
        }
        Ok(())
    }

    /// Credits `amount` FROST to `address`.
    pub(crate) fn credit(&mut self, address: Address, amount: u64) -> Result<(), TxError> {
        if amount > 0 {
            let balance = money::add(self.balance(&address), amount)?;
            self.accounts.insert(address, balance);
        }
        Ok(())
    }

    /// Adds `amount` FROST to the payout of `epoch`.
    pub(crate) fn add_income(&mut self, epoch: Epoch, amount: u64) -> Result<(), TxError> {
        if amount > 0 {
            let total = money::add(self.income.get(&epoch).copied().unwrap_or(0), amount)?;
            self.income.insert(epoch, total);
        }
        Ok(())
    }
}
