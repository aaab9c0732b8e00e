//! The client's error type.

use walrus_codec::BlobId;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The configuration or wallet is missing or invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A bad argument (size, epochs, ID) caught before any work was done.
    #[error("{0}")]
    InvalidArgument(String),
    /// The chain could not be reached, refused the request, or answered
    /// with something unparsable.
    #[error("chain: {0}")]
    Chain(#[from] walrus_types::ChainError),
    /// The chain answered, but not as it should have (a transaction that
    /// created no object, a vanished object).
    #[error("chain: {0}")]
    Unexpected(String),
    /// What the chain served does not verify from the genesis file: a
    /// forged, under-signed or foreign checkpoint, a tampered event, a
    /// forged state proof (the reason says which).
    #[error("the chain does not verify: {0}")]
    Unverified(String),
    /// The chain executed the transaction and it failed.
    #[error("transaction failed with code {code}: {message}")]
    Transaction {
        /// The stable error code of the contracts (see `walrus_contracts::TxError`).
        code: u16,
        /// The reason.
        message: String,
    },
    /// Too few storage nodes confirmed the blob to certify it.
    #[error(
        "only {weight} of the {needed} shards needed confirmed storage; failures: {}",
        failures.join("; ")
    )]
    NotEnoughConfirmations {
        /// Shard weight of the confirmations received.
        weight: u16,
        /// Shard weight of a quorum.
        needed: u16,
        /// Per failed node, what went wrong.
        failures: Vec<String>,
    },
    /// No storage node holds the blob (or all that answered are faulty).
    #[error("blob {0} not found: no storage node returned valid metadata")]
    BlobNotFound(BlobId),
    /// The blob ID was invalidated (its encoding is inconsistent).
    #[error("blob {0} is marked invalid")]
    BlobInvalid(BlobId),
    /// Too few valid slivers could be fetched to decode.
    #[error("could fetch only {received} of the {needed} verified slivers needed; failures: {}", failures.join("; "))]
    NotEnoughSlivers {
        /// Slivers needed.
        needed: usize,
        /// Verified slivers received.
        received: usize,
        /// What went wrong, per failed request (first few).
        failures: Vec<String>,
    },
    /// The decoded blob does not match its blob ID.
    #[error("the decoded blob is inconsistent with blob ID {0}")]
    Inconsistent(BlobId),
    /// Encoding or decoding failed.
    #[error("codec: {0}")]
    Codec(String),
}
