//! Blob metadata: the sliver-pair hashes from which the blob ID is derived
//! (SPEC.md section 3).
//!
//! Verification is encoded in types: metadata received from the network is an
//! [`UnverifiedBlobMetadataWithId`]; only [`UnverifiedBlobMetadataWithId::verify`]
//! (or the encoder) produces a [`VerifiedBlobMetadataWithId`], which is what
//! sliver verification and decoding accept.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::{
    BlobId, EncodingConfig, SliverType,
    error::{DataTooLargeError, MetadataVerificationError},
    hash::Node,
    merkle::MerkleTree,
};

/// The encoding type. Only RS2 (tag `1`) exists in this project.
///
/// BCS: one byte (the same bytes as upstream's enum variant index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncodingType {
    /// Red Stuff over `reed-solomon-simd`, tag `1`.
    Rs2,
}

impl EncodingType {
    /// The tag byte.
    pub fn as_u8(self) -> u8 {
        match self {
            EncodingType::Rs2 => 1,
        }
    }
}

impl TryFrom<u8> for EncodingType {
    type Error = MetadataVerificationError;

    fn try_from(tag: u8) -> Result<Self, Self::Error> {
        match tag {
            1 => Ok(EncodingType::Rs2),
            other => Err(MetadataVerificationError::UnsupportedEncodingType(other)),
        }
    }
}

impl Serialize for EncodingType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.as_u8())
    }
}

impl<'de> Deserialize<'de> for EncodingType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        EncodingType::try_from(u8::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

/// The hashes of one sliver pair: primary sliver `i` and secondary sliver `n-1-i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliverPairMetadata {
    /// Merkle root of the expanded primary sliver (row `i` of the matrix).
    pub primary_hash: Node,
    /// Merkle root of the expanded secondary sliver (column `n-1-i`).
    pub secondary_hash: Node,
}

impl SliverPairMetadata {
    /// The 64-byte leaf input of this pair in the blob's root tree.
    pub fn leaf_input(&self) -> [u8; 64] {
        let mut input = [0; 64];
        input[..32].copy_from_slice(&self.primary_hash.bytes());
        input[32..].copy_from_slice(&self.secondary_hash.bytes());
        input
    }
}

/// Version 1 of the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMetadataV1 {
    /// Always RS2.
    pub encoding_type: EncodingType,
    /// The blob's length in bytes.
    pub unencoded_length: u64,
    /// One entry per sliver pair, `n` in all, entry `i` for pair `i`.
    pub hashes: Vec<SliverPairMetadata>,
}

/// Blob metadata. BCS: `BlobMetadata::V1 { encoding_type: u8,
/// unencoded_length: u64, hashes: Vec<SliverPairMetadata> }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobMetadata {
    /// The only version.
    V1(BlobMetadataV1),
}

impl BlobMetadata {
    fn v1(&self) -> &BlobMetadataV1 {
        match self {
            BlobMetadata::V1(v1) => v1,
        }
    }

    /// The encoding type.
    pub fn encoding_type(&self) -> EncodingType {
        self.v1().encoding_type
    }

    /// The blob's length in bytes.
    pub fn unencoded_length(&self) -> u64 {
        self.v1().unencoded_length
    }

    /// The sliver-pair hashes, entry `i` for pair `i`.
    pub fn hashes(&self) -> &[SliverPairMetadata] {
        &self.v1().hashes
    }

    /// The Merkle root over the sliver pairs (leaf `i` = primary hash `i` ||
    /// secondary hash `i`).
    pub fn root(&self) -> Node {
        let leaves: Vec<[u8; 64]> = self
            .hashes()
            .iter()
            .map(SliverPairMetadata::leaf_input)
            .collect();
        MerkleTree::build(leaves.iter().map(|leaf| leaf.as_slice())).root()
    }

    /// The blob ID this metadata derives.
    pub fn compute_blob_id(&self) -> BlobId {
        BlobId::from_root(&self.root(), self.encoding_type(), self.unencoded_length())
    }
}

/// Metadata with the blob ID it claims to belong to, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnverifiedBlobMetadataWithId {
    /// The claimed blob ID.
    pub blob_id: BlobId,
    /// The metadata.
    pub metadata: BlobMetadata,
}

impl UnverifiedBlobMetadataWithId {
    /// Pairs metadata with a claimed blob ID.
    pub fn new(blob_id: BlobId, metadata: BlobMetadata) -> Self {
        Self { blob_id, metadata }
    }

    /// Checks the metadata against `config` and the claimed blob ID.
    ///
    /// # Errors
    /// [`MetadataVerificationError`] when the number of hashes is not `n`, the
    /// length is too large for `config`, or the derived blob ID differs.
    pub fn verify(
        self,
        config: &EncodingConfig,
    ) -> Result<VerifiedBlobMetadataWithId, MetadataVerificationError> {
        let expected = usize::from(config.n_shards());
        let actual = self.metadata.hashes().len();
        if actual != expected {
            return Err(MetadataVerificationError::WrongNumberOfHashes { expected, actual });
        }
        config.symbol_size(self.metadata.unencoded_length())?;
        if let Some(pair) = self
            .metadata
            .hashes()
            .iter()
            .position(|h| h.primary_hash == Node::Empty || h.secondary_hash == Node::Empty)
        {
            return Err(MetadataVerificationError::EmptyHash(pair));
        }
        let computed = self.metadata.compute_blob_id();
        if computed != self.blob_id {
            return Err(MetadataVerificationError::BlobIdMismatch {
                claimed: self.blob_id,
                computed,
            });
        }
        Ok(VerifiedBlobMetadataWithId {
            blob_id: self.blob_id,
            metadata: self.metadata,
        })
    }
}

/// Metadata known to derive its blob ID under a given configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBlobMetadataWithId {
    blob_id: BlobId,
    metadata: BlobMetadata,
}

impl VerifiedBlobMetadataWithId {
    /// Wraps metadata the encoder just computed; the blob ID is derived here.
    pub(crate) fn from_encoder(metadata: BlobMetadata) -> Self {
        Self {
            blob_id: metadata.compute_blob_id(),
            metadata,
        }
    }

    /// The blob ID.
    pub fn blob_id(&self) -> &BlobId {
        &self.blob_id
    }

    /// The metadata.
    pub fn metadata(&self) -> &BlobMetadata {
        &self.metadata
    }

    /// Gives up the verified status, for sending.
    pub fn into_unverified(self) -> UnverifiedBlobMetadataWithId {
        UnverifiedBlobMetadataWithId::new(self.blob_id, self.metadata)
    }

    /// The symbol size of this blob under `config`.
    ///
    /// # Errors
    /// [`DataTooLargeError`] if `config` is not the one the metadata was
    /// verified with and cannot hold a blob of this length.
    pub fn symbol_size(&self, config: &EncodingConfig) -> Result<u16, DataTooLargeError> {
        config.symbol_size(self.metadata.unencoded_length())
    }

    /// The number of shards the metadata was verified for (its number of pairs).
    pub fn n_shards(&self) -> usize {
        self.metadata.hashes().len()
    }

    /// Whether `config` has the number of shards this metadata was verified for.
    pub fn matches(&self, config: &EncodingConfig) -> bool {
        self.n_shards() == usize::from(config.n_shards())
    }

    /// The hash of sliver `index` of `sliver_type`, or `None` if `index >= n`.
    pub fn sliver_hash(&self, sliver_type: SliverType, index: u16) -> Option<Node> {
        let hashes = self.metadata.hashes();
        let n = hashes.len();
        let index = usize::from(index);
        if index >= n {
            return None;
        }
        Some(match sliver_type {
            SliverType::Primary => hashes[index].primary_hash,
            SliverType::Secondary => hashes[n - 1 - index].secondary_hash,
        })
    }
}
