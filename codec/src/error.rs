//! Error types of the codec, one narrow type per operation.
//!
//! Every error that bad input can cause is a value here; the codec never
//! panics on input it receives from the network.

use crate::{BlobId, SliverType};

/// The number of shards cannot be used for RS2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Fewer than 4 shards leave no room for a faulty shard (`f = 0`).
    #[error("{n_shards} shards are too few: RS2 needs at least 4")]
    TooFewShards {
        /// The requested number of shards.
        n_shards: u16,
    },
    /// The Reed-Solomon library cannot build a code of this size.
    #[error("{n_shards} shards are not supported by the Reed-Solomon codes")]
    UnsupportedShardCount {
        /// The requested number of shards.
        n_shards: u16,
    },
}

/// The blob is larger than `p * s * 65534` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "data too large: {blob_size} bytes, the maximum for this number of shards is {max_blob_size} bytes"
)]
pub struct DataTooLargeError {
    /// The size of the blob in bytes.
    pub blob_size: u64,
    /// The maximum blob size in bytes.
    pub max_blob_size: u64,
}

/// A blob ID in text form could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobIdParseError {
    /// The text is not URL-safe base64 without padding.
    #[error("blob ID is not URL-safe base64 without padding")]
    InvalidBase64,
    /// The text decodes to a number of bytes other than 32.
    #[error("blob ID must be 32 bytes (43 base64 characters), got {0} bytes")]
    InvalidLength(usize),
}

/// Metadata does not belong to the blob ID it came with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataVerificationError {
    /// The encoding type is not RS2.
    #[error("unsupported encoding type {0}")]
    UnsupportedEncodingType(u8),
    /// The metadata does not hold one hash pair per shard.
    #[error("metadata holds {actual} sliver-pair hashes, expected {expected}")]
    WrongNumberOfHashes {
        /// `n`.
        expected: usize,
        /// What the metadata holds.
        actual: usize,
    },
    /// The unencoded length is too large for the number of shards.
    #[error(transparent)]
    DataTooLarge(#[from] DataTooLargeError),
    /// A hash is the empty node; real metadata holds only digests.
    #[error("metadata holds an empty hash for pair {0}")]
    EmptyHash(usize),
    /// The blob ID derived from the metadata differs from the claimed one.
    #[error("metadata derives blob ID {computed}, not {claimed}")]
    BlobIdMismatch {
        /// The blob ID the metadata came with.
        claimed: BlobId,
        /// The blob ID derived from the metadata.
        computed: BlobId,
    },
}

/// A sliver does not match the metadata of its blob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliverVerificationError {
    /// The sliver index is not below `n`.
    #[error("sliver index {index} out of range for {n_shards} shards")]
    IndexOutOfRange {
        /// The sliver's index.
        index: u16,
        /// `n`.
        n_shards: u16,
    },
    /// The symbol size differs from the one the blob's length implies.
    #[error("symbol size {actual} does not match the blob's symbol size {expected}")]
    SymbolSizeMismatch {
        /// The blob's symbol size in bytes.
        expected: u16,
        /// The sliver's symbol size in bytes.
        actual: u16,
    },
    /// The sliver holds the wrong number of symbols.
    #[error("sliver holds {actual} symbols, expected {expected}")]
    SymbolCountMismatch {
        /// `s` for primary, `p` for secondary slivers.
        expected: usize,
        /// The number of symbols in the sliver.
        actual: usize,
    },
    /// The metadata's blob length does not fit this configuration.
    #[error(transparent)]
    DataTooLarge(#[from] DataTooLargeError),
    /// The metadata was verified for another number of shards.
    #[error("metadata is for {metadata_shards} shards, the configuration has {config_shards}")]
    ConfigMismatch {
        /// Pairs in the metadata.
        metadata_shards: usize,
        /// `n` of the configuration.
        config_shards: u16,
    },
    /// The sliver's hash differs from the one in the metadata.
    #[error("{sliver_type} sliver {index} does not match the hash in the metadata")]
    HashMismatch {
        /// Primary or secondary.
        sliver_type: SliverType,
        /// The sliver's index.
        index: u16,
    },
}

/// A blob could not be decoded from slivers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer distinct slivers than needed (`p` primary or `s` secondary).
    #[error("need {needed} distinct {sliver_type} slivers to decode, got {received}")]
    NotEnoughSlivers {
        /// The sliver type that was given.
        sliver_type: SliverType,
        /// `p` or `s`.
        needed: usize,
        /// Distinct usable slivers received.
        received: usize,
    },
    /// A sliver of the other type was given.
    #[error("expected {expected} slivers, got a {actual} sliver")]
    WrongSliverType {
        /// The type being decoded from.
        expected: SliverType,
        /// The type of the offending sliver.
        actual: SliverType,
    },
    /// A sliver has the wrong index, symbol size or length.
    #[error("unusable sliver: {0}")]
    InvalidSliver(#[from] SliverVerificationError),
    /// The blob length is too large for this configuration.
    #[error(transparent)]
    DataTooLarge(#[from] DataTooLargeError),
    /// The Reed-Solomon library rejected the input.
    #[error("reed-solomon: {0}")]
    ReedSolomon(String),
    /// The decoded blob does not derive the expected blob ID.
    #[error("the decoded blob does not match its blob ID: the blob is inconsistent")]
    Inconsistent,
}

/// A recovery symbol or an inconsistency proof is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// The target sliver index is not below `n`.
    #[error("target sliver index {index} out of range for {n_shards} shards")]
    TargetOutOfRange {
        /// The target index.
        index: u16,
        /// `n`.
        n_shards: u16,
    },
    /// Fewer distinct symbols than the target sliver needs.
    #[error("need {needed} distinct recovery symbols, got {received}")]
    NotEnoughSymbols {
        /// `s` for a primary target, `p` for a secondary target.
        needed: usize,
        /// Distinct usable symbols received.
        received: usize,
    },
    /// A symbol's source index is not below `n`, or appears twice.
    #[error("recovery symbol source index {0} is out of range or repeated")]
    BadSourceIndex(u16),
    /// A symbol's length differs from the blob's symbol size.
    #[error("recovery symbol from sliver {source_index} has {actual} bytes, expected {expected}")]
    SymbolSizeMismatch {
        /// The sliver the symbol came from.
        source_index: u16,
        /// The blob's symbol size in bytes.
        expected: u16,
        /// The symbol's length in bytes.
        actual: usize,
    },
    /// A symbol's Merkle proof does not lead to the source sliver's hash.
    #[error("recovery symbol from sliver {source_index} has an invalid Merkle proof")]
    InvalidProof {
        /// The sliver the symbol came from.
        source_index: u16,
    },
    /// The sliver rebuilt from symbols without proofs does not match the
    /// metadata: a symbol is wrong or the blob is inconsistent. Fetch the
    /// symbols with proofs and build an [`crate::InconsistencyProof`] to tell.
    #[error("recovered {sliver_type} sliver {index} does not match the metadata")]
    RecoveredHashMismatch {
        /// The target's type.
        sliver_type: SliverType,
        /// The target's index.
        index: u16,
    },
    /// The metadata's blob length does not fit this configuration.
    #[error("{0}")]
    MetadataTooLarge(#[from] DataTooLargeError),
    /// The metadata was verified for another number of shards.
    #[error("metadata is for {metadata_shards} shards, the configuration has {config_shards}")]
    ConfigMismatch {
        /// Pairs in the metadata.
        metadata_shards: usize,
        /// `n` of the configuration.
        config_shards: u16,
    },
    /// An inconsistency proof whose symbols decode to the correct sliver.
    #[error("the proof's symbols decode to a sliver that matches the metadata")]
    NotInconsistent,
    /// The proof holds a number of symbols other than exactly the needed one.
    #[error("an inconsistency proof needs exactly {expected} symbols, got {actual}")]
    WrongProofSize {
        /// `s` or `p`.
        expected: usize,
        /// The number of symbols in the proof.
        actual: usize,
    },
    /// The Reed-Solomon library rejected the input.
    #[error("reed-solomon: {0}")]
    ReedSolomon(String),
}
