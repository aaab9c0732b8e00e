//! The calls a transaction can make, and their dispatch.

use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;

use crate::{
    blob::{self, Registration},
    certificate::Certificate,
    context::TxContext,
    epoch::{self, AuditLine},
    errors::TxError,
    events::Event,
    ids::{Address, Epoch, ObjectId, ObjectRef},
    money::{self, TOTAL_SUPPLY_FROST},
    staking::{self, Candidate},
    state::{State, Votes},
    storage_resource,
};

/// One call of a transaction (SPEC.md section 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    /// Devnet only: mints `amount` FROST to the sender.
    Faucet {
        /// FROST to mint.
        amount: u64,
    },
    /// Sends FROST to another account.
    TransferWal {
        /// The recipient.
        to: Address,
        /// FROST.
        amount: u64,
    },
    /// Gives an owned object (storage, blob, staked WAL) to another account.
    TransferObject {
        /// The object.
        object: ObjectRef,
        /// The recipient.
        to: Address,
    },
    /// Buys `size_bytes` of storage for `epochs` epochs from now.
    ReserveSpace {
        /// Bytes of encoded length.
        size_bytes: u64,
        /// Number of epochs.
        epochs: u32,
    },
    /// Splits a storage resource at an epoch.
    SplitStorageByEpoch {
        /// The resource.
        storage: ObjectRef,
        /// The first epoch of the new resource.
        split_epoch: Epoch,
    },
    /// Splits `size_bytes` off a storage resource.
    SplitStorageBySize {
        /// The resource.
        storage: ObjectRef,
        /// Bytes for the new resource.
        size_bytes: u64,
    },
    /// Fuses `second` into `first`.
    FuseStorage {
        /// Kept.
        first: ObjectRef,
        /// Consumed.
        second: ObjectRef,
    },
    /// Registers a blob.
    RegisterBlob(Registration),
    /// Certifies a blob with a quorum certificate.
    CertifyBlob {
        /// The Blob object.
        blob: ObjectRef,
        /// The certificate.
        certificate: Certificate,
    },
    /// Extends a certified blob with a storage resource that continues it.
    ExtendBlobWithStorage {
        /// The Blob object.
        blob: ObjectRef,
        /// The storage resource (consumed).
        storage: ObjectRef,
    },
    /// Extends a certified blob by paying for `epochs` more.
    ExtendBlob {
        /// The Blob object.
        blob: ObjectRef,
        /// Additional epochs.
        epochs: u32,
    },
    /// Deletes a deletable blob.
    DeleteBlob {
        /// The Blob object.
        blob: ObjectRef,
    },
    /// Invalidates a blob ID with an f+1 certificate.
    InvalidateBlobId {
        /// The blob ID.
        blob_id: BlobId,
        /// The certificate over the invalid-blob message.
        certificate: Certificate,
    },
    /// Sets a blob attribute.
    SetAttribute {
        /// The Blob object.
        blob: ObjectRef,
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// Removes a blob attribute.
    RemoveAttribute {
        /// The Blob object.
        blob: ObjectRef,
        /// Key.
        key: String,
    },
    /// Turns a certified permanent blob into a shared blob.
    ShareBlob {
        /// The Blob object.
        blob: ObjectRef,
    },
    /// Adds funds to a shared blob.
    FundSharedBlob {
        /// The shared blob.
        shared_blob: ObjectRef,
        /// FROST.
        amount: u64,
    },
    /// Extends a shared blob from its funds.
    ExtendSharedBlob {
        /// The shared blob.
        shared_blob: ObjectRef,
        /// Additional epochs.
        epochs: u32,
    },
    /// Registers the sender as a storage node candidate.
    RegisterCandidate(Candidate),
    /// Stakes FROST with a node.
    Stake {
        /// The node.
        node_id: ObjectId,
        /// FROST.
        amount: u64,
    },
    /// Requests withdrawal of staked WAL.
    RequestWithdrawStake {
        /// The StakedWal object.
        staked_wal: ObjectRef,
    },
    /// Withdraws staked WAL whose withdraw epoch has come.
    WithdrawStake {
        /// The StakedWal object.
        staked_wal: ObjectRef,
    },
    /// Sets a node's commission.
    SetCommission {
        /// The node.
        node_id: ObjectId,
        /// Basis points.
        commission_bps: u16,
    },
    /// Sets a node's votes.
    SetVotes {
        /// The node.
        node_id: ObjectId,
        /// Price and capacity votes.
        votes: Votes,
    },
    /// Pays a node's commission to its operator.
    CollectCommission {
        /// The node.
        node_id: ObjectId,
    },
    /// A node holds its shards' slivers for `epoch`.
    EpochSyncDone {
        /// The node.
        node_id: ObjectId,
        /// The current epoch.
        epoch: Epoch,
    },
    /// A node's audit report for `epoch`.
    AuditReport {
        /// The reporting node.
        node_id: ObjectId,
        /// The current epoch.
        epoch: Epoch,
        /// Results per audited node.
        lines: Vec<AuditLine>,
    },
    /// A node votes to slash another this epoch.
    SlashVote {
        /// The voting node.
        voter: ObjectId,
        /// The node to slash.
        target: ObjectId,
        /// The current epoch.
        epoch: Epoch,
    },
    /// System: the epoch's midpoint passed; select the next epoch's parameters.
    VotingEnd,
    /// System: the epoch's end passed; start the next epoch.
    EpochChangeStart,
}

impl Call {
    /// Whether only the sequencer ([`Address::SYSTEM`]) may send this call.
    pub fn is_system(&self) -> bool {
        matches!(self, Call::VotingEnd | Call::EpochChangeStart)
    }

    /// The call's name, as in SPEC.md section 8 (`"RegisterBlob"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Call::Faucet { .. } => "Faucet",
            Call::TransferWal { .. } => "TransferWal",
            Call::TransferObject { .. } => "TransferObject",
            Call::ReserveSpace { .. } => "ReserveSpace",
            Call::SplitStorageByEpoch { .. } => "SplitStorageByEpoch",
            Call::SplitStorageBySize { .. } => "SplitStorageBySize",
            Call::FuseStorage { .. } => "FuseStorage",
            Call::RegisterBlob(_) => "RegisterBlob",
            Call::CertifyBlob { .. } => "CertifyBlob",
            Call::ExtendBlobWithStorage { .. } => "ExtendBlobWithStorage",
            Call::ExtendBlob { .. } => "ExtendBlob",
            Call::DeleteBlob { .. } => "DeleteBlob",
            Call::InvalidateBlobId { .. } => "InvalidateBlobId",
            Call::SetAttribute { .. } => "SetAttribute",
            Call::RemoveAttribute { .. } => "RemoveAttribute",
            Call::ShareBlob { .. } => "ShareBlob",
            Call::FundSharedBlob { .. } => "FundSharedBlob",
            Call::ExtendSharedBlob { .. } => "ExtendSharedBlob",
            Call::RegisterCandidate(_) => "RegisterCandidate",
            Call::Stake { .. } => "Stake",
            Call::RequestWithdrawStake { .. } => "RequestWithdrawStake",
            Call::WithdrawStake { .. } => "WithdrawStake",
            Call::SetCommission { .. } => "SetCommission",
            Call::SetVotes { .. } => "SetVotes",
            Call::CollectCommission { .. } => "CollectCommission",
            Call::EpochSyncDone { .. } => "EpochSyncDone",
            Call::AuditReport { .. } => "AuditReport",
            Call::SlashVote { .. } => "SlashVote",
            Call::VotingEnd => "VotingEnd",
            Call::EpochChangeStart => "EpochChangeStart",
        }
    }
}

/// Applies one call to `state` (which the caller discards on error).
pub(crate) fn dispatch(
    state: &mut State,
    ctx: &mut TxContext,
    call: &Call,
) -> Result<Vec<Event>, TxError> {
    if call.is_system() != (ctx.sender() == Address::SYSTEM) {
        return Err(TxError::Unauthorized(ctx.sender()));
    }
    match call {
        Call::Faucet { amount } => faucet(state, ctx, *amount),
        Call::TransferWal { to, amount } => {
            state.debit(ctx.sender(), *amount)?;
            state.credit(*to, *amount)?;
            Ok(Vec::new())
        }
        Call::TransferObject { object, to } => transfer_object(state, ctx, *object, *to),
        Call::ReserveSpace { size_bytes, epochs } => {
            storage_resource::reserve(state, ctx, *size_bytes, *epochs)
        }
        Call::SplitStorageByEpoch {
            storage,
            split_epoch,
        } => storage_resource::split_by_epoch(state, ctx, *storage, *split_epoch),
        Call::SplitStorageBySize {
            storage,
            size_bytes,
        } => storage_resource::split_by_size(state, ctx, *storage, *size_bytes),
        Call::FuseStorage { first, second } => storage_resource::fuse(state, ctx, *first, *second),
        Call::RegisterBlob(registration) => blob::register(state, ctx, registration),
        Call::CertifyBlob { blob, certificate } => blob::certify(state, ctx, *blob, certificate),
        Call::ExtendBlobWithStorage { blob, storage } => {
            blob::extend_with_storage(state, ctx, *blob, *storage)
        }
        Call::ExtendBlob { blob, epochs } => blob::extend_with_payment(state, ctx, *blob, *epochs),
        Call::DeleteBlob { blob } => blob::delete(state, ctx, *blob),
        Call::InvalidateBlobId {
            blob_id,
            certificate,
        } => blob::invalidate(state, *blob_id, certificate),
        Call::SetAttribute { blob, key, value } => {
            blob::set_attribute(state, ctx, *blob, key, value)
        }
        Call::RemoveAttribute { blob, key } => blob::remove_attribute(state, ctx, *blob, key),
        Call::ShareBlob { blob } => blob::share(state, ctx, *blob),
        Call::FundSharedBlob {
            shared_blob,
            amount,
        } => blob::fund_shared(state, ctx, *shared_blob, *amount),
        Call::ExtendSharedBlob {
            shared_blob,
            epochs,
        } => blob::extend_shared(state, ctx, *shared_blob, *epochs),
        Call::RegisterCandidate(candidate) => staking::register_candidate(state, ctx, candidate),
        Call::Stake { node_id, amount } => staking::stake(state, ctx, *node_id, *amount),
        Call::RequestWithdrawStake { staked_wal } => {
            staking::request_withdraw(state, ctx, *staked_wal)
        }
        Call::WithdrawStake { staked_wal } => staking::withdraw(state, ctx, *staked_wal),
        Call::SetCommission {
            node_id,
            commission_bps,
        } => staking::set_commission(state, ctx, *node_id, *commission_bps),
        Call::SetVotes { node_id, votes } => staking::set_votes(state, ctx, *node_id, *votes),
        Call::CollectCommission { node_id } => staking::collect_commission(state, ctx, *node_id),
        Call::EpochSyncDone { node_id, epoch } => epoch::sync_done(state, ctx, *node_id, *epoch),
        Call::AuditReport {
            node_id,
            epoch,
            lines,
        } => epoch::audit_report(state, ctx, *node_id, *epoch, lines),
        Call::SlashVote {
            voter,
            target,
            epoch,
        } => epoch::slash_vote(state, ctx, *voter, *target, *epoch),
        Call::VotingEnd => epoch::voting_end(state),
        Call::EpochChangeStart => epoch::epoch_change_start(state),
    }
}

fn faucet(state: &mut State, ctx: &TxContext, amount: u64) -> Result<Vec<Event>, TxError> {
    if state.params.faucet_max_frost == 0 {
        return Err(TxError::FaucetRefused("the faucet is disabled"));
    }
    if amount > state.params.faucet_max_frost {
        return Err(TxError::FaucetRefused("amount above the per-call limit"));
    }
    let minted = money::add(state.minted, amount)?;
    if minted > TOTAL_SUPPLY_FROST {
        return Err(TxError::FaucetRefused("the total supply would be exceeded"));
    }
    state.credit(ctx.sender(), amount)?;
    state.minted = minted;
    Ok(Vec::new())
}

fn transfer_object(
    state: &mut State,
    ctx: &TxContext,
    object: ObjectRef,
    to: Address,
) -> Result<Vec<Event>, TxError> {
    let id = ctx.resolve(object)?;
    let sender = ctx.sender();
    if let Some((owner, storage)) = state.storages.get(&id).copied() {
        if owner != sender {
            return Err(TxError::NotOwner(id));
        }
        state.storages.insert(id, (to, storage));
    } else if let Some(blob) = state.blobs.get(&id).cloned() {
        if blob.owner != sender {
            return Err(TxError::NotOwner(id));
        }
        state
            .blobs
            .insert(id, crate::state::Blob { owner: to, ..blob });
    } else if let Some(staked) = state.staked.get(&id).cloned() {
        if staked.owner != sender {
            return Err(TxError::NotOwner(id));
        }
        state.staked.insert(
            id,
            crate::state::StakedWal {
                owner: to,
                ..staked
            },
        );
    } else {
        return Err(TxError::ObjectNotFound(id));
    }
    Ok(Vec::new())
}
