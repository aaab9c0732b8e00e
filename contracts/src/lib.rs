//! The control-plane state machine of Walrus: storage resources, blobs,
//! staking, epochs, rewards, audits and slashing (`../shared/SPEC.md`
//! sections 8 to 10). It plays the part of the Walrus Move contracts on Sui.
//!
//! Pure and deterministic: no IO, no clock (time arrives in [`TxContext`]),
//! no OS randomness, no floats, no hash-map iteration; money is `u64` FROST
//! with checked arithmetic. [`apply`] runs a transaction's calls in order on
//! a copy of the state (O(1) to clone: persistent maps) and keeps the copy
//! only if every call succeeds, so an error leaves the state unchanged.
//!
//! Folder = subsystem, file = one object type: `storage_resource.rs`,
//! `blob.rs`, `staking.rs`, `committee.rs`, `epoch.rs`, `certificate.rs`;
//! every event in `events.rs`, every error code in `errors.rs`.
//!
//! Determinism is enforced by lints: `contracts/clippy.toml` refuses hash
//! maps and clocks, and float arithmetic is denied below.
#![deny(
    clippy::float_arithmetic,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

mod blob;
pub mod blob_status;
mod call;
pub mod certificate;
pub mod committee;
mod context;
pub mod epoch;
mod errors;
mod events;
pub mod fees;
mod genesis;
mod ids;
pub mod ledger;
pub mod money;
mod staking;
mod state;
mod storage_resource;

pub use blob::Registration;
pub use call::Call;
pub use context::TxContext;
pub use errors::TxError;
pub use events::Event;
pub use genesis::{Genesis, GenesisNode};
pub use ids::{Address, Epoch, HexIdError, ObjectId, ObjectRef, parse_hex, write_hex};
pub use staking::Candidate;
pub use state::{
    Blob, Committee, CommitteeMember, EpochState, ExchangeRate, NextEpoch, SharedBlob, StakeState,
    StakedWal, StakingPool, State, Storage, SystemParams, Votes,
};
pub use storage_resource::units;

/// Applies a transaction's `calls` in order, atomically. Later calls may use
/// objects created by earlier ones through [`ObjectRef::Created`].
///
/// # Errors
/// [`TxError::EmptyTransaction`], [`TxError::FaucetRefused`] for more than
/// one `Faucet` call, or the first call's [`TxError`]; then `state` is unchanged and `ctx` has
/// forgotten the objects the failed attempt created.
pub fn apply(
    state: &mut State,
    ctx: &mut TxContext,
    calls: &[Call],
) -> Result<Vec<Event>, TxError> {
    if calls.is_empty() {
        return Err(TxError::EmptyTransaction);
    }
    // The faucet's limit is per call; one call per transaction keeps a
    // transaction from minting many limits at once (issue 21, failure 5).
    if calls
        .iter()
        .filter(|c| matches!(c, Call::Faucet { .. }))
        .count()
        > 1
    {
        return Err(TxError::FaucetRefused(
            "at most one faucet call per transaction",
        ));
    }
    let created_before = ctx.created().len();
    let mut draft = state.clone();
    let mut events = Vec::new();
    for call in calls {
        match call::dispatch(&mut draft, ctx, call) {
            Ok(call_events) => events.extend(call_events),
            Err(error) => {
                ctx.truncate_created(created_before);
                return Err(error);
            }
        }
    }
    *state = draft;
    Ok(events)
}

/// The system calls due at checkpoint time `timestamp_ms`, given that epoch
/// `state.epoch` started at `epoch_start_ms`: voting end after the midpoint,
/// epoch change start after the end. The sequencer inserts them.
pub fn due_system_calls(state: &State, epoch_start_ms: u64, timestamp_ms: u64) -> Vec<Call> {
    let duration = state.params.epoch_duration_ms;
    let elapsed = timestamp_ms.saturating_sub(epoch_start_ms);
    match state.epoch_state {
        EpochState::Active { voting_done: false } if elapsed >= duration => {
            vec![Call::EpochChangeStart]
        }
        EpochState::Active { voting_done: false } if elapsed >= duration / 2 => {
            vec![Call::VotingEnd]
        }
        EpochState::Active { voting_done: true } if elapsed >= duration => {
            vec![Call::EpochChangeStart]
        }
        _ => Vec::new(),
    }
}
