//! Transaction errors, each with a stable numeric code (SPEC.md section 8).
//!
//! Codes are grouped by subsystem and never renumbered; a test pins every
//! code. An error leaves the state exactly as it was before the transaction.

use walrus_codec::BlobId;

use crate::ids::{Address, Epoch, ObjectId};

/// Why a transaction failed. [`TxError::code`] gives its stable number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    // 1xx: general.
    /// A sum or product does not fit in 64 bits.
    #[error("arithmetic overflow")]
    Overflow,
    /// The sender's WAL balance is too small.
    #[error("insufficient balance: need {needed} FROST, have {available}")]
    InsufficientBalance {
        /// FROST needed.
        needed: u64,
        /// FROST available.
        available: u64,
    },
    /// No object with this ID (of the expected type) exists.
    #[error("object {0} not found")]
    ObjectNotFound(ObjectId),
    /// The sender does not own the object.
    #[error("object {0} is not owned by the sender")]
    NotOwner(ObjectId),
    /// A reference to an object created earlier in the transaction is out of range.
    #[error("no object number {0} was created earlier in this transaction")]
    NoSuchCreatedObject(u16),
    /// The faucet is disabled, or the amount would exceed the total supply or
    /// the per-call limit, or the transaction holds more than one faucet call.
    #[error("faucet refused: {0}")]
    FaucetRefused(&'static str),
    /// A candidate's name or network address is longer than
    /// [`crate::fees::MAX_CANDIDATE_TEXT_BYTES`].
    #[error("{0} is too long")]
    TextTooLong(&'static str),
    /// A system call sent by a user, or a user call sent by the system.
    #[error("call not allowed for sender {0}")]
    Unauthorized(Address),
    /// A transaction without calls.
    #[error("transaction has no calls")]
    EmptyTransaction,

    // 2xx: storage resources.
    /// Zero epochs, zero size, or an end not after the start.
    #[error("invalid storage resource: {0}")]
    InvalidStorage(&'static str),
    /// Storage would end more than `max_epochs_ahead` epochs after the current one.
    #[error("storage would end at epoch {end_epoch}, more than {max} epochs ahead")]
    TooManyEpochsAhead {
        /// The requested end epoch (exclusive).
        end_epoch: Epoch,
        /// `max_epochs_ahead`.
        max: u32,
    },
    /// A split point outside the resource.
    #[error("split point out of range")]
    SplitOutOfRange,
    /// Two resources that are neither adjacent in time with equal size nor
    /// equal in time.
    #[error("storage resources cannot be fused")]
    NotFusable,

    // 3xx: blobs.
    /// The storage resource is smaller than the blob's encoded length.
    #[error("storage holds {available} bytes, the blob needs {needed}")]
    StorageTooSmall {
        /// Encoded length of the blob in bytes.
        needed: u64,
        /// Size of the storage resource in bytes.
        available: u64,
    },
    /// The storage resource does not cover the current epoch.
    #[error("storage does not cover the current epoch")]
    StorageNotCurrent,
    /// The blob ID does not match the root hash, size and encoding type.
    #[error("blob ID {0} does not match its root hash, size and encoding")]
    BlobIdMismatch(BlobId),
    /// The blob is larger than the encoding allows, or the encoding type is unknown.
    #[error("invalid blob: {0}")]
    InvalidBlob(String),
    /// The blob is already certified.
    #[error("blob already certified")]
    AlreadyCertified,
    /// The blob's storage has ended.
    #[error("blob expired at epoch {0}")]
    BlobExpired(Epoch),
    /// Deleting a permanent blob.
    #[error("blob is not deletable")]
    NotDeletable,
    /// The blob ID was invalidated by an f+1 certificate.
    #[error("blob ID {0} is invalid")]
    BlobIdInvalid(BlobId),
    /// An attribute key that is not set.
    #[error("attribute {0:?} not found")]
    AttributeNotFound(String),
    /// An attribute key or value longer than allowed.
    #[error("attribute too long")]
    AttributeTooLong,
    /// The blob must be certified for this call.
    #[error("blob is not certified")]
    NotCertified,
    /// Extending with a storage resource that does not continue the blob's.
    #[error("storage does not continue the blob's storage")]
    ExtensionMismatch,

    // 4xx: certificates.
    /// The certificate's signer bitmap names a member outside the committee.
    #[error("certificate names signer {0}, outside the committee")]
    SignerOutOfRange(usize),
    /// The signers' shard weight is below the required threshold.
    #[error("certificate signers hold {weight} of {n_shards} shards, below the threshold")]
    NotEnoughWeight {
        /// The signers' shard weight.
        weight: u16,
        /// `n`.
        n_shards: u16,
    },
    /// The aggregate signature does not verify.
    #[error("certificate signature does not verify")]
    BadSignature,
    /// The signed message is not the expected one.
    #[error("certificate message does not match: {0}")]
    MessageMismatch(&'static str),
    /// A malformed BLS public key, signature or proof of possession.
    #[error("invalid BLS key or signature: {0}")]
    InvalidBls(&'static str),

    // 5xx: staking.
    /// No storage node with this ID.
    #[error("storage node {0} not found")]
    NodeNotFound(ObjectId),
    /// A node with this public key is already registered.
    #[error("a node with this public key is already registered")]
    NodeAlreadyRegistered,
    /// A commission above 100%.
    #[error("commission {0} basis points is above 10000")]
    CommissionTooHigh(u16),
    /// Staking zero FROST.
    #[error("stake amount must be positive")]
    ZeroStake,
    /// The staked WAL is not in a state that allows this call.
    #[error("staked WAL cannot be withdrawn now: {0}")]
    NotWithdrawable(&'static str),
    /// The sender does not operate the storage node.
    #[error("sender does not operate node {0}")]
    NotOperator(ObjectId),

    // 6xx: epochs, audits, slashing.
    /// The call does not fit the current epoch state.
    #[error("wrong epoch state: {0}")]
    WrongEpochState(&'static str),
    /// The call names another epoch than the current one.
    #[error("call is for epoch {given}, the current epoch is {current}")]
    WrongEpoch {
        /// The epoch in the call.
        given: Epoch,
        /// The current epoch.
        current: Epoch,
    },
    /// The node is not in the current committee.
    #[error("node {0} is not in the committee")]
    NotInCommittee(ObjectId),
    /// The node already did this in this epoch.
    #[error("already done this epoch")]
    Duplicate,
    /// An audit report with `passed > total` or naming a node twice.
    #[error("invalid audit report: {0}")]
    InvalidAuditReport(&'static str),
}

impl TxError {
    /// The stable numeric code of this error.
    pub fn code(&self) -> u16 {
        match self {
            TxError::Overflow => 100,
            TxError::InsufficientBalance { .. } => 101,
            TxError::ObjectNotFound(_) => 102,
            TxError::NotOwner(_) => 103,
            TxError::NoSuchCreatedObject(_) => 104,
            TxError::FaucetRefused(_) => 105,
            TxError::Unauthorized(_) => 106,
            TxError::EmptyTransaction => 107,
            TxError::InvalidStorage(_) => 200,
            TxError::TooManyEpochsAhead { .. } => 201,
            TxError::SplitOutOfRange => 202,
            TxError::NotFusable => 203,
            TxError::StorageTooSmall { .. } => 300,
            TxError::StorageNotCurrent => 301,
            TxError::BlobIdMismatch(_) => 302,
            TxError::InvalidBlob(_) => 303,
            TxError::AlreadyCertified => 304,
            TxError::BlobExpired(_) => 305,
            TxError::NotDeletable => 306,
            TxError::BlobIdInvalid(_) => 307,
            TxError::AttributeNotFound(_) => 308,
            TxError::AttributeTooLong => 309,
            TxError::NotCertified => 310,
            TxError::ExtensionMismatch => 311,
            TxError::SignerOutOfRange(_) => 400,
            TxError::NotEnoughWeight { .. } => 401,
            TxError::BadSignature => 402,
            TxError::MessageMismatch(_) => 403,
            TxError::InvalidBls(_) => 404,
            TxError::NodeNotFound(_) => 500,
            TxError::NodeAlreadyRegistered => 501,
            TxError::CommissionTooHigh(_) => 502,
            TxError::TextTooLong(_) => 506,
            TxError::ZeroStake => 503,
            TxError::NotWithdrawable(_) => 504,
            TxError::NotOperator(_) => 505,
            TxError::WrongEpochState(_) => 600,
            TxError::WrongEpoch { .. } => 601,
            TxError::NotInCommittee(_) => 602,
            TxError::Duplicate => 603,
            TxError::InvalidAuditReport(_) => 604,
        }
    }
}
