//! Storage nodes and delegated stake: candidates, StakedWal, withdrawals,
//! commission and votes (SPEC.md sections 8 and 9).
//!
//! Stake counts from the next epoch, or the one after when staked after
//! voting end. Shares and WAL convert through the pool's exchange rate with
//! rounding down (see [`ExchangeRate`]); withdrawals leave the pool at an
//! epoch change into a per-epoch pot from which each StakedWal takes its part.

use crate::{
    certificate,
    context::TxContext,
    errors::TxError,
    events::Event,
    ids::{Epoch, ObjectId, ObjectRef},
    money,
    state::{EpochState, ExchangeRate, StakeState, StakedWal, StakingPool, State, Votes},
};

/// What a candidate registers with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    /// Human-readable name.
    pub name: String,
    /// host:port of the node's API.
    pub network_address: String,
    /// BLS12-381 min_pk public key, 48 bytes.
    pub public_key: Vec<u8>,
    /// Signature over the proof-of-possession message of the current epoch.
    pub proof_of_possession: Vec<u8>,
    /// Commission in basis points.
    pub commission_bps: u16,
    /// Price and capacity votes.
    pub votes: Votes,
}

/// The first epoch in which something done now takes effect.
pub(crate) fn effective_epoch(state: &State) -> Result<Epoch, TxError> {
    let delay = match state.epoch_state {
        EpochState::Active { voting_done: true } => 2,
        _ => 1,
    };
    state.epoch.checked_add(delay).ok_or(TxError::Overflow)
}

fn pool<'a>(state: &'a State, node_id: &ObjectId) -> Result<&'a StakingPool, TxError> {
    state
        .pools
        .get(node_id)
        .ok_or(TxError::NodeNotFound(*node_id))
}

fn operated_pool(
    state: &State,
    ctx: &TxContext,
    node_id: &ObjectId,
) -> Result<StakingPool, TxError> {
    let pool = pool(state, node_id)?;
    if pool.operator != ctx.sender() {
        return Err(TxError::NotOperator(*node_id));
    }
    Ok(pool.clone())
}

/// Registers the sender as the operator of a new storage node.
pub(crate) fn register_candidate(
    state: &mut State,
    ctx: &mut TxContext,
    candidate: &Candidate,
) -> Result<Vec<Event>, TxError> {
    if candidate.commission_bps > 10_000 {
        return Err(TxError::CommissionTooHigh(candidate.commission_bps));
    }
    if candidate.name.len() > crate::fees::MAX_CANDIDATE_TEXT_BYTES {
        return Err(TxError::TextTooLong("the candidate's name"));
    }
    if candidate.network_address.len() > crate::fees::MAX_CANDIDATE_TEXT_BYTES {
        return Err(TxError::TextTooLong("the candidate's network address"));
    }
    certificate::verify_proof_of_possession(
        state.epoch,
        &ctx.sender(),
        &candidate.public_key,
        &candidate.proof_of_possession,
    )?;
    if state
        .pools
        .values()
        .any(|p| p.public_key == candidate.public_key)
    {
        return Err(TxError::NodeAlreadyRegistered);
    }
    let node_id = ctx.fresh_id();
    state
        .pools
        .insert(node_id, new_pool(ctx.sender(), candidate));
    Ok(Vec::new())
}

/// An empty pool for `candidate`.
pub(crate) fn new_pool(operator: crate::ids::Address, candidate: &Candidate) -> StakingPool {
    StakingPool {
        operator,
        name: candidate.name.clone(),
        network_address: candidate.network_address.clone(),
        public_key: candidate.public_key.clone(),
        commission_bps: candidate.commission_bps,
        votes: candidate.votes,
        active_wal: 0,
        active_shares: 0,
        pending_stake: Default::default(),
        pending_withdrawals: Default::default(),
        withdrawable: Default::default(),
        exchange_rates: Default::default(),
        commission: 0,
    }
}

/// Stakes `amount` FROST of the sender with `node_id`.
pub(crate) fn stake(
    state: &mut State,
    ctx: &mut TxContext,
    node_id: ObjectId,
    amount: u64,
) -> Result<Vec<Event>, TxError> {
    let mut pool = pool(state, &node_id)?.clone();
    if amount == 0 {
        return Err(TxError::ZeroStake);
    }
    let activation_epoch = effective_epoch(state)?;
    let pending = pool.pending_stake.entry(activation_epoch).or_insert(0);
    *pending = money::add(*pending, amount)?;
    state.debit(ctx.sender(), amount)?;
    state.pools.insert(node_id, pool);
    let staked_wal_id = ctx.fresh_id();
    let staked = StakedWal {
        owner: ctx.sender(),
        node_id,
        principal: amount,
        activation_epoch,
        state: StakeState::Staked,
    };
    state.staked.insert(staked_wal_id, staked);
    Ok(vec![Event::StakeDeposited {
        epoch: state.epoch,
        node_id,
        staked_wal_id,
        amount,
        activation_epoch,
    }])
}

fn owned_staked(
    state: &State,
    ctx: &TxContext,
    object: ObjectRef,
) -> Result<(ObjectId, StakedWal), TxError> {
    let id = ctx.resolve(object)?;
    let staked = state.staked.get(&id).ok_or(TxError::ObjectNotFound(id))?;
    if staked.owner != ctx.sender() {
        return Err(TxError::NotOwner(id));
    }
    Ok((id, staked.clone()))
}

/// Asks to withdraw staked WAL: at once if not yet active, else from the
/// next effective epoch.
pub(crate) fn request_withdraw(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
) -> Result<Vec<Event>, TxError> {
    let (id, staked) = owned_staked(state, ctx, object)?;
    if staked.state != StakeState::Staked {
        return Err(TxError::NotWithdrawable(
            "a withdrawal is already requested",
        ));
    }
    let mut pool = pool(state, &staked.node_id)?.clone();
    if staked.activation_epoch > state.epoch {
        // Not active yet: the principal is still pending and goes straight back.
        let pending = pool
            .pending_stake
            .get_mut(&staked.activation_epoch)
            .ok_or(TxError::NotWithdrawable("pending stake missing"))?;
        *pending = pending
            .checked_sub(staked.principal)
            .ok_or(TxError::Overflow)?;
        if *pending == 0 {
            pool.pending_stake.remove(&staked.activation_epoch);
        }
        state.pools.insert(staked.node_id, pool);
        state.staked.remove(&id);
        state.credit(ctx.sender(), staked.principal)?;
        let event = Event::StakeWithdrawn {
            epoch: state.epoch,
            node_id: staked.node_id,
            staked_wal_id: id,
            amount: staked.principal,
        };
        return Ok(vec![event]);
    }
    let rate = pool
        .exchange_rates
        .get(&staked.activation_epoch)
        .copied()
        .unwrap_or(ExchangeRate { wal: 0, shares: 0 });
    let shares = rate.to_shares(staked.principal)?;
    let withdraw_epoch = effective_epoch(state)?;
    let pending = pool.pending_withdrawals.entry(withdraw_epoch).or_insert(0);
    *pending = money::add(*pending, shares)?;
    state.pools.insert(staked.node_id, pool);
    let node_id = staked.node_id;
    state.staked.insert(
        id,
        StakedWal {
            state: StakeState::Withdrawing {
                epoch: withdraw_epoch,
                shares,
            },
            ..staked
        },
    );
    Ok(vec![Event::WithdrawRequested {
        epoch: state.epoch,
        node_id,
        staked_wal_id: id,
        withdraw_epoch,
    }])
}

/// Pays out staked WAL whose withdraw epoch has come.
pub(crate) fn withdraw(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
) -> Result<Vec<Event>, TxError> {
    let (id, staked) = owned_staked(state, ctx, object)?;
    let StakeState::Withdrawing { epoch, shares } = staked.state else {
        return Err(TxError::NotWithdrawable("request a withdrawal first"));
    };
    if epoch > state.epoch {
        return Err(TxError::NotWithdrawable(
            "the withdraw epoch has not started",
        ));
    }
    let mut pool = pool(state, &staked.node_id)?.clone();
    let pot = pool
        .withdrawable
        .get(&epoch)
        .copied()
        .ok_or(TxError::NotWithdrawable("no withdrawals for that epoch"))?;
    // The last claimant takes whatever rounding left in the pot.
    let amount = if shares >= pot.shares {
        pot.wal
    } else {
        pot.to_wal(shares)?
    };
    let rest = ExchangeRate {
        wal: pot.wal - amount,
        shares: pot.shares.saturating_sub(shares),
    };
    if rest.shares == 0 {
        pool.withdrawable.remove(&epoch);
        state.burned = money::add(state.burned, rest.wal)?;
    } else {
        pool.withdrawable.insert(epoch, rest);
    }
    state.pools.insert(staked.node_id, pool);
    state.staked.remove(&id);
    state.credit(ctx.sender(), amount)?;
    Ok(vec![Event::StakeWithdrawn {
        epoch: state.epoch,
        node_id: staked.node_id,
        staked_wal_id: id,
        amount,
    }])
}

/// Moves a pool into epoch `epoch`: withdrawals leave into that epoch's pot
/// at the current rate, then pending stake joins. Records the rate.
pub(crate) fn advance_pool(pool: &mut StakingPool, epoch: Epoch) -> Result<(), TxError> {
    if let Some(shares) = pool.pending_withdrawals.remove(&epoch) {
        let rate = ExchangeRate {
            wal: pool.active_wal,
            shares: pool.active_shares,
        };
        let wal = if shares >= pool.active_shares {
            pool.active_wal
        } else {
            rate.to_wal(shares)?
        };
        pool.active_wal -= wal;
        pool.active_shares = pool.active_shares.saturating_sub(shares);
        let pot = pool
            .withdrawable
            .entry(epoch)
            .or_insert(ExchangeRate { wal: 0, shares: 0 });
        pot.wal = money::add(pot.wal, wal)?;
        pot.shares = money::add(pot.shares, shares)?;
    }
    let rate = ExchangeRate {
        wal: pool.active_wal,
        shares: pool.active_shares,
    };
    pool.exchange_rates.insert(epoch, rate);
    if let Some(amount) = pool.pending_stake.remove(&epoch) {
        let shares = rate.to_shares(amount)?;
        pool.active_wal = money::add(pool.active_wal, amount)?;
        pool.active_shares = money::add(pool.active_shares, shares)?;
    }
    Ok(())
}

/// Sets a node's commission.
pub(crate) fn set_commission(
    state: &mut State,
    ctx: &TxContext,
    node_id: ObjectId,
    commission_bps: u16,
) -> Result<Vec<Event>, TxError> {
    let pool = operated_pool(state, ctx, &node_id)?;
    if commission_bps > 10_000 {
        return Err(TxError::CommissionTooHigh(commission_bps));
    }
    state.pools.insert(
        node_id,
        StakingPool {
            commission_bps,
            ..pool
        },
    );
    Ok(Vec::new())
}

/// Sets a node's price and capacity votes.
pub(crate) fn set_votes(
    state: &mut State,
    ctx: &TxContext,
    node_id: ObjectId,
    votes: Votes,
) -> Result<Vec<Event>, TxError> {
    let pool = operated_pool(state, ctx, &node_id)?;
    state.pools.insert(node_id, StakingPool { votes, ..pool });
    Ok(Vec::new())
}

/// Pays a node's accumulated commission to its operator.
pub(crate) fn collect_commission(
    state: &mut State,
    ctx: &TxContext,
    node_id: ObjectId,
) -> Result<Vec<Event>, TxError> {
    let pool = operated_pool(state, ctx, &node_id)?;
    let amount = pool.commission;
    state.credit(ctx.sender(), amount)?;
    state.pools.insert(
        node_id,
        StakingPool {
            commission: 0,
            ..pool
        },
    );
    Ok(vec![Event::CommissionCollected { node_id, amount }])
}
