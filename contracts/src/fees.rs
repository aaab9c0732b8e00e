//! Transaction fees (issue 21, failure 4): every ordered transaction pays
//! for the bytes and calls it adds to the chain forever, also when it
//! fails, as gas is paid on Sui. The fee goes to the current epoch's
//! income, so the storage nodes that keep the chain are paid for it.
//!
//! Two kinds of transaction pay nothing: a single `Faucet` call on a chain
//! whose genesis has a faucet (a devnet; new accounts start empty), and the
//! duties of a committee member's operator (epoch sync, audit reports,
//! slashing votes, invalid-blob certificates), which the protocol asks of
//! them and which only committee members can send.

use crate::{
    Address, Call, State, TxError,
    ledger::transaction::{Rejection, SignedTransaction},
};

/// FROST every transaction pays.
pub const BASE_FEE_FROST: u64 = 1_000_000;

/// FROST per byte of the signed transaction's BCS: 1 MiB costs about 1 WAL.
pub const FEE_PER_BYTE_FROST: u64 = 1_000;

/// FROST per call.
pub const FEE_PER_CALL_FROST: u64 = 100_000;

/// Most calls in one transaction.
pub const MAX_CALLS: usize = 1024;

/// Longest candidate name and network address, in bytes.
pub const MAX_CANDIDATE_TEXT_BYTES: usize = 256;

/// The fee of a transaction of `bytes` BCS bytes and `calls` calls, before
/// any exemption, saturating at `u64::MAX`.
pub fn fee(bytes: usize, calls: usize) -> u64 {
    let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
    let calls = u64::try_from(calls).unwrap_or(u64::MAX);
    BASE_FEE_FROST
        .saturating_add(FEE_PER_BYTE_FROST.saturating_mul(bytes))
        .saturating_add(FEE_PER_CALL_FROST.saturating_mul(calls))
}

/// Whether `sender`'s transaction of `calls` pays no fee (see the module
/// documentation).
pub fn exempt(state: &State, sender: &Address, calls: &[Call]) -> bool {
    if let [Call::Faucet { .. }] = calls {
        return state.params.faucet_max_frost > 0;
    }
    let duty = |call: &Call| {
        matches!(
            call,
            Call::EpochSyncDone { .. }
                | Call::AuditReport { .. }
                | Call::SlashVote { .. }
                | Call::InvalidateBlobId { .. }
        )
    };
    !calls.is_empty()
        && calls.iter().all(duty)
        && state.committee.members.iter().any(|member| {
            state
                .pools
                .get(&member.node_id)
                .is_some_and(|pool| pool.operator == *sender)
        })
}

/// The fee `sender` pays for a transaction of `bytes` BCS bytes and
/// `calls`: [`fee`], or 0 when [`exempt`].
pub fn due(state: &State, sender: &Address, calls: &[Call], bytes: usize) -> u64 {
    if exempt(state, sender, calls) {
        0
    } else {
        fee(bytes, calls.len())
    }
}

/// [`due`] for a signed transaction, by its BCS size.
///
/// # Errors
/// [`Rejection::Malformed`] if it does not serialize.
pub fn due_for(state: &State, signed: &SignedTransaction) -> Result<u64, Rejection> {
    let bytes = bcs::serialized_size(signed).map_err(|e| Rejection::Malformed(e.to_string()))?;
    let transaction = &signed.transaction;
    Ok(due(state, &transaction.sender, &transaction.calls, bytes))
}

/// Takes `amount` from `sender` into the current epoch's income.
///
/// # Errors
/// [`TxError::InsufficientBalance`] (nothing is taken then).
pub fn charge(state: &mut State, sender: Address, amount: u64) -> Result<(), TxError> {
    if amount == 0 {
        return Ok(());
    }
    state.debit(sender, amount)?;
    let epoch = state.epoch;
    state.add_income(epoch, amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_grows_with_bytes_and_calls_and_saturates() {
        assert_eq!(fee(0, 0), BASE_FEE_FROST);
        assert_eq!(
            fee(1 << 20, 1),
            BASE_FEE_FROST + FEE_PER_BYTE_FROST * (1 << 20) + FEE_PER_CALL_FROST
        );
        assert!(fee(1 << 20, 1) > crate::money::FROST_PER_WAL);
        assert_eq!(fee(usize::MAX, usize::MAX), u64::MAX);
    }
}
