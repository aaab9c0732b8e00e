//! The epoch state machine, rewards, audits and slashing (SPEC.md sections 9
//! and 10).
//!
//! `Active { voting_done: false }` --voting end--> `Active { voting_done:
//! true }` --epoch change start--> `Syncing` --quorum of sync done-->
//! `Active { voting_done: false }`. Voting end and epoch change start are
//! system calls the sequencer inserts when checkpoint time passes the
//! epoch's midpoint and end ([`crate::due_system_calls`]).

use std::collections::BTreeSet;

use crate::{
    committee,
    context::TxContext,
    errors::TxError,
    events::Event,
    ids::{Epoch, ObjectId},
    money, staking,
    state::{Committee, EpochState, ExchangeRate, NextEpoch, State},
};

/// Basis points of a perfect audit score.
pub const FULL_SCORE_BPS: u16 = 10_000;
/// Percentage of each epoch's income that is burned.
pub const BURN_PERCENT: u64 = 3;

/// Stake per pool that will count in `epoch` (active, plus pending that
/// activates by then, minus withdrawals that leave by then at today's rate),
/// in node-ID order.
fn stakes_for(state: &State, epoch: Epoch) -> Vec<(ObjectId, Vec<u8>, u64)> {
    let sum = |map: &std::collections::BTreeMap<Epoch, u64>| -> u64 {
        map.range(..=epoch)
            .map(|(_, v)| *v)
            .fold(0, u64::saturating_add)
    };
    state
        .pools
        .iter()
        .map(|(id, pool)| {
            let rate = ExchangeRate {
                wal: pool.active_wal,
                shares: pool.active_shares,
            };
            let leaving = rate
                .to_wal(sum(&pool.pending_withdrawals))
                .unwrap_or(pool.active_wal)
                .min(pool.active_wal);
            let stake = (pool.active_wal - leaving).saturating_add(sum(&pool.pending_stake));
            (*id, pool.public_key.clone(), stake)
        })
        .collect()
}

/// Selects the committee and prices of the next epoch.
pub(crate) fn voting_end(state: &mut State) -> Result<Vec<Event>, TxError> {
    if state.epoch_state != (EpochState::Active { voting_done: false }) {
        return Err(TxError::WrongEpochState(
            "voting end needs an active epoch before voting",
        ));
    }
    let next_epoch = state.epoch.checked_add(1).ok_or(TxError::Overflow)?;
    let stakes = stakes_for(state, next_epoch);
    let weights: Vec<(ObjectId, u64)> = stakes.iter().map(|(id, _, stake)| (*id, *stake)).collect();
    let counts = committee::apportion(&weights, state.params.n_shards);
    let committee = if counts.iter().any(|c| *c > 0) {
        let due: Vec<(ObjectId, Vec<u8>, u16)> = stakes
            .into_iter()
            .zip(&counts)
            .map(|((id, key, _), count)| (id, key, *count))
            .collect();
        committee::assign_shards(
            next_epoch,
            &due,
            Some(&state.committee),
            state.params.n_shards,
        )
    } else {
        Committee {
            epoch: next_epoch,
            ..state.committee.clone()
        }
    };
    let (storage_price, write_price, capacity) = committee::committee_votes(
        &committee,
        &state.pools,
        state.params.n_shards,
    )
    .unwrap_or((state.storage_price, state.write_price, state.capacity));
    state.next = Some(NextEpoch {
        committee,
        storage_price,
        write_price,
        capacity,
    });
    state.epoch_state = EpochState::Active { voting_done: true };
    Ok(vec![Event::EpochParametersSelected {
        next_epoch,
        storage_price,
        write_price,
        capacity,
    }])
}

/// Ends the current epoch: pays its income out, moves pools into the next
/// epoch and switches committee and prices. Runs voting end first if due.
pub(crate) fn epoch_change_start(state: &mut State) -> Result<Vec<Event>, TxError> {
    let mut events = Vec::new();
    match state.epoch_state {
        EpochState::Active { voting_done: false } => events.extend(voting_end(state)?),
        EpochState::Active { voting_done: true } => {}
        EpochState::Syncing { .. } => {
            return Err(TxError::WrongEpochState(
                "the previous epoch change is not done",
            ));
        }
    }
    let next = state
        .next
        .take()
        .ok_or(TxError::WrongEpochState("next epoch not selected"))?;
    events.push(distribute_rewards(state)?);
    let new_epoch = state.epoch.checked_add(1).ok_or(TxError::Overflow)?;
    let ids: Vec<ObjectId> = state.pools.keys().copied().collect();
    for id in ids {
        let mut pool = state.pools.get(&id).cloned().expect("id from the map");
        staking::advance_pool(&mut pool, new_epoch)?;
        state.pools.insert(id, pool);
    }
    let prices_changed =
        (next.storage_price, next.write_price) != (state.storage_price, state.write_price);
    state.epoch = new_epoch;
    state.committee = next.committee.clone();
    state.storage_price = next.storage_price;
    state.write_price = next.write_price;
    state.capacity = next.capacity;
    state.audits = Default::default();
    state.epoch_state = EpochState::Syncing {
        signalled: BTreeSet::new(),
        weight: 0,
    };
    if prices_changed {
        events.push(Event::PricesUpdated {
            epoch: new_epoch,
            storage_price: next.storage_price,
            write_price: next.write_price,
        });
    }
    events.push(Event::EpochChangeStart {
        epoch: new_epoch,
        committee: next.committee,
    });
    Ok(events)
}

/// The shard-weighted median of the audit scores reported about `target`,
/// or a full score without reports.
pub fn audit_score(state: &State, target: &ObjectId) -> u16 {
    let mut reports: Vec<(u16, u32)> = state
        .audits
        .scores
        .range((*target, ObjectId([0; 32]))..=(*target, ObjectId([0xff; 32])))
        .filter_map(|((_, reporter), score)| {
            state
                .committee
                .position(reporter)
                .map(|i| (*score, u32::from(state.committee.weight(i))))
        })
        .collect();
    if reports.is_empty() {
        return FULL_SCORE_BPS;
    }
    reports.sort_unstable();
    let total: u32 = reports.iter().map(|(_, w)| w).sum();
    let mut seen = 0;
    for (score, weight) in &reports {
        seen += weight;
        if 2 * seen >= total {
            return *score;
        }
    }
    FULL_SCORE_BPS
}

/// Pays out the current epoch's income: 3% burned, the rest by shards times
/// audit score (slashed nodes get nothing), commission to the pool's
/// operator account, the remainder of rounding carried forward.
fn distribute_rewards(state: &mut State) -> Result<Event, TxError> {
    let epoch = state.epoch;
    let income = state.income.remove(&epoch).unwrap_or(0);
    let total = money::add(income, state.carried)?;
    let burned = total * BURN_PERCENT / 100;
    let distributable = total - burned;
    let weights: Vec<(ObjectId, u64)> = state
        .committee
        .members
        .iter()
        .map(|m| {
            let score = if state.audits.slashed.contains(&m.node_id) {
                0
            } else {
                audit_score(state, &m.node_id)
            };
            (
                m.node_id,
                u64::try_from(m.shards.len()).expect("small") * u64::from(score),
            )
        })
        .collect();
    let total_weight: u64 = weights.iter().map(|(_, w)| w).sum();
    let mut paid = 0u64;
    let mut rewards = Vec::new();
    if total_weight > 0 {
        for (node_id, weight) in weights {
            let reward = money::mul_div_floor(distributable, weight, total_weight)?;
            let Some(mut pool) = state.pools.get(&node_id).cloned() else {
                continue;
            };
            let commission = if pool.active_shares == 0 {
                reward
            } else {
                money::mul_div_floor(reward, u64::from(pool.commission_bps), 10_000)?
            };
            pool.commission = money::add(pool.commission, commission)?;
            pool.active_wal = money::add(pool.active_wal, reward - commission)?;
            state.pools.insert(node_id, pool);
            paid += reward;
            rewards.push((node_id, reward - commission, commission));
        }
    }
    state.carried = distributable - paid;
    state.burned = money::add(state.burned, burned)?;
    Ok(Event::RewardsDistributed {
        epoch,
        burned,
        rewards,
        carried: state.carried,
    })
}

/// The committee index of `node_id`, checking that the sender operates it.
fn operating_member(state: &State, ctx: &TxContext, node_id: &ObjectId) -> Result<usize, TxError> {
    let pool = state
        .pools
        .get(node_id)
        .ok_or(TxError::NodeNotFound(*node_id))?;
    if pool.operator != ctx.sender() {
        return Err(TxError::NotOperator(*node_id));
    }
    state
        .committee
        .position(node_id)
        .ok_or(TxError::NotInCommittee(*node_id))
}

fn check_epoch(state: &State, epoch: Epoch) -> Result<(), TxError> {
    if epoch != state.epoch {
        return Err(TxError::WrongEpoch {
            given: epoch,
            current: state.epoch,
        });
    }
    Ok(())
}

/// A node signals that it holds the slivers of its shards for `epoch`.
pub(crate) fn sync_done(
    state: &mut State,
    ctx: &TxContext,
    node_id: ObjectId,
    epoch: Epoch,
) -> Result<Vec<Event>, TxError> {
    check_epoch(state, epoch)?;
    let index = operating_member(state, ctx, &node_id)?;
    let EpochState::Syncing {
        mut signalled,
        weight,
    } = state.epoch_state.clone()
    else {
        return Err(TxError::WrongEpochState("no epoch change in progress"));
    };
    if !signalled.insert(node_id) {
        return Err(TxError::Duplicate);
    }
    let weight = weight + state.committee.weight(index);
    let shards = state.committee.members[index].shards.clone();
    let mut events = vec![Event::ShardsReceived {
        epoch,
        node_id,
        shards,
    }];
    if walrus_codec::is_quorum(u32::from(weight), u32::from(state.params.n_shards)) {
        state.epoch_state = EpochState::Active { voting_done: false };
        events.push(Event::EpochChangeDone { epoch });
    } else {
        state.epoch_state = EpochState::Syncing { signalled, weight };
    }
    Ok(events)
}

/// One audit report line: how many challenges `target` passed of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditLine {
    /// The audited node.
    pub target: ObjectId,
    /// Challenges passed.
    pub passed: u32,
    /// Challenges made.
    pub total: u32,
}

/// Records `node_id`'s audit report for `epoch`; a score below the threshold
/// counts as that node's vote to slash the target.
pub(crate) fn audit_report(
    state: &mut State,
    ctx: &TxContext,
    node_id: ObjectId,
    epoch: Epoch,
    lines: &[AuditLine],
) -> Result<Vec<Event>, TxError> {
    check_epoch(state, epoch)?;
    operating_member(state, ctx, &node_id)?;
    if state.audits.reporters.contains(&node_id) {
        return Err(TxError::Duplicate);
    }
    let mut targets = BTreeSet::new();
    for line in lines {
        if line.total == 0 || line.passed > line.total {
            return Err(TxError::InvalidAuditReport(
                "passed must be at most total, total positive",
            ));
        }
        if !targets.insert(line.target) || state.committee.position(&line.target).is_none() {
            return Err(TxError::InvalidAuditReport(
                "targets must be distinct committee members",
            ));
        }
    }
    let mut events = Vec::new();
    state.audits.reporters.insert(node_id);
    for line in lines {
        let score = u16::try_from(u64::from(line.passed) * 10_000 / u64::from(line.total))
            .expect("at most 10000");
        state.audits.scores.insert((line.target, node_id), score);
        if score < state.params.audit_threshold_bps {
            events.extend(record_slash_vote(state, node_id, line.target)?);
        }
    }
    Ok(events)
}

/// `voter` votes to slash `target` this epoch.
pub(crate) fn slash_vote(
    state: &mut State,
    ctx: &TxContext,
    voter: ObjectId,
    target: ObjectId,
    epoch: Epoch,
) -> Result<Vec<Event>, TxError> {
    check_epoch(state, epoch)?;
    operating_member(state, ctx, &voter)?;
    if state.committee.position(&target).is_none() {
        return Err(TxError::NotInCommittee(target));
    }
    if state
        .audits
        .slash_votes
        .get(&target)
        .is_some_and(|v| v.contains(&voter))
    {
        return Err(TxError::Duplicate);
    }
    record_slash_vote(state, voter, target)
}

fn record_slash_vote(
    state: &mut State,
    voter: ObjectId,
    target: ObjectId,
) -> Result<Vec<Event>, TxError> {
    let voters = state.audits.slash_votes.entry(target).or_default();
    voters.insert(voter);
    let weight: u32 = voters
        .iter()
        .filter_map(|v| state.committee.position(v))
        .map(|i| u32::from(state.committee.weight(i)))
        .sum();
    if !walrus_codec::is_quorum(weight, u32::from(state.params.n_shards))
        || state.audits.slashed.contains(&target)
    {
        return Ok(Vec::new());
    }
    state.audits.slashed.insert(target);
    let mut pool = state
        .pools
        .get(&target)
        .cloned()
        .ok_or(TxError::NodeNotFound(target))?;
    let burned = pool.commission;
    pool.commission = 0;
    state.pools.insert(target, pool);
    state.burned = money::add(state.burned, burned)?;
    Ok(vec![Event::NodeSlashed {
        epoch: state.epoch,
        node_id: target,
        burned,
    }])
}
