//! Genesis: the initial state from a configuration every participant can
//! check by digest (SPEC.md section 11).

use serde::{Deserialize, Serialize};

use crate::{
    certificate, committee,
    errors::TxError,
    ids::{Address, ObjectId},
    money::{self, TOTAL_SUPPLY_FROST},
    staking::{Candidate, new_pool},
    state::{EpochAudits, EpochState, ExchangeRate, StakeState, StakedWal, State, SystemParams},
};

/// A storage node present at genesis, with its operator's initial stake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisNode {
    /// The operator account (also the owner of the initial stake).
    pub operator: Address,
    /// Node information and votes; the proof of possession is for epoch 0.
    pub candidate: Candidate,
    /// FROST staked at genesis, active from epoch 0.
    pub stake: u64,
}

/// Everything genesis needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// System parameters.
    pub params: SystemParams,
    /// Initial storage nodes.
    pub nodes: Vec<GenesisNode>,
    /// Funded accounts, FROST.
    pub accounts: Vec<(Address, u64)>,
}

fn genesis_id(kind: &str, index: usize) -> ObjectId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"walrus genesis ");
    hasher.update(kind.as_bytes());
    hasher.update(&u64::try_from(index).expect("small").to_le_bytes());
    ObjectId(*hasher.finalize().as_bytes())
}

impl Genesis {
    /// The ID genesis gives node `index`.
    pub fn node_id(index: usize) -> ObjectId {
        genesis_id("node", index)
    }

    /// The ID genesis gives the StakedWal of node `index`'s initial stake.
    pub fn stake_id(index: usize) -> ObjectId {
        genesis_id("stake", index)
    }

    /// Builds the epoch-0 state.
    ///
    /// # Errors
    /// [`TxError`] for an invalid node key or proof of possession, a
    /// commission above 100%, or more WAL than the total supply.
    pub fn build(&self) -> Result<State, TxError> {
        let mut state = State {
            params: self.params.clone(),
            epoch: 0,
            epoch_state: EpochState::Active { voting_done: false },
            committee: crate::state::Committee {
                epoch: 0,
                members: Vec::new(),
            },
            next: None,
            storage_price: 0,
            write_price: 0,
            capacity: 0,
            accounts: Default::default(),
            storages: Default::default(),
            blobs: Default::default(),
            shared_blobs: Default::default(),
            invalid_blob_ids: Default::default(),
            pools: Default::default(),
            staked: Default::default(),
            income: Default::default(),
            carried: 0,
            audits: EpochAudits::default(),
            minted: 0,
            burned: 0,
        };
        for (address, amount) in &self.accounts {
            state.credit(*address, *amount)?;
            state.minted = money::add(state.minted, *amount)?;
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let candidate = &node.candidate;
            if candidate.commission_bps > 10_000 {
                return Err(TxError::CommissionTooHigh(candidate.commission_bps));
            }
            certificate::verify_proof_of_possession(
                0,
                &node.operator,
                &candidate.public_key,
                &candidate.proof_of_possession,
            )?;
            let mut pool = new_pool(node.operator, candidate);
            pool.active_wal = node.stake;
            pool.active_shares = node.stake;
            pool.exchange_rates
                .insert(0, ExchangeRate { wal: 0, shares: 0 });
            state.pools.insert(Self::node_id(index), pool);
            if node.stake > 0 {
                let staked = StakedWal {
                    owner: node.operator,
                    node_id: Self::node_id(index),
                    principal: node.stake,
                    activation_epoch: 0,
                    state: StakeState::Staked,
                };
                state.staked.insert(Self::stake_id(index), staked);
            }
            state.minted = money::add(state.minted, node.stake)?;
        }
        if state.minted > TOTAL_SUPPLY_FROST {
            return Err(TxError::FaucetRefused("genesis exceeds the total supply"));
        }
        let stakes: Vec<(ObjectId, u64)> = state
            .pools
            .iter()
            .map(|(id, p)| (*id, p.active_wal))
            .collect();
        let counts = committee::apportion(&stakes, state.params.n_shards);
        let due: Vec<(ObjectId, Vec<u8>, u16)> = state
            .pools
            .iter()
            .zip(&counts)
            .map(|((id, pool), count)| (*id, pool.public_key.clone(), *count))
            .collect();
        state.committee = committee::assign_shards(0, &due, None, state.params.n_shards);
        if let Some((storage_price, write_price, capacity)) =
            committee::committee_votes(&state.committee, &state.pools, state.params.n_shards)
        {
            state.storage_price = storage_price;
            state.write_price = write_price;
            state.capacity = capacity;
        }
        Ok(state)
    }
}
