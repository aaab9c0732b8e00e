//! JSON shapes of the storage node API (SPEC.md section 6, upstream's
//! `storage.yaml`): successes are `{"success": {"code", "data"}}`, errors
//! are [`crate::error::ErrorBody`]. Metadata, slivers, recovery symbols and
//! inconsistency proofs travel as BCS (`walrus_codec`'s types).

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use walrus_contracts::{Epoch, ObjectId};

/// Largest reply of `GET /v1/blobs/{id}/recoverySymbols/batch`, in bytes of
/// symbol data: targets x served slivers x symbol size. A node refuses a
/// request that could exceed it (`InvalidArgument`, 400) and requesters split
/// their targets to stay under it. One target with `limit` at most the
/// symbols of a sliver (at most 667 x 65,535 bytes, SPEC.md section 3)
/// always fits. Issue 21, failure 1.
pub const MAX_RECOVERY_BATCH_BYTES: usize = 64 << 20;

/// `{"success": {"code": <HTTP status>, "data": T}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessBody<T> {
    /// The success.
    pub success: SuccessInfo<T>,
}

/// The success's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessInfo<T> {
    /// The HTTP status code.
    pub code: u16,
    /// The payload.
    pub data: T,
}

impl<T> SuccessBody<T> {
    /// A success of HTTP status `code` carrying `data`.
    pub fn new(code: u16, data: T) -> Self {
        Self {
            success: SuccessInfo { code, data },
        }
    }
}

/// Whether the node holds a piece (`.../metadata/status`,
/// `.../slivers/{pair}/{type}/status`): `"stored"` or `"nonexistent"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StoredStatus {
    /// Held.
    Stored,
    /// Not held.
    Nonexistent,
}

impl From<bool> for StoredStatus {
    fn from(stored: bool) -> Self {
        if stored {
            Self::Stored
        } else {
            Self::Nonexistent
        }
    }
}

/// A node's view of a blob ID (`GET /v1/blobs/{id}/status`): the one
/// rule of `walrus_contracts::blob_status`, in upstream's shape.
pub use walrus_contracts::blob_status::{BlobStatus, DeletableCounts};

/// A message signed by a node (`{"signed": {...}}`): a storage confirmation
/// or an invalid-blob attestation (SPEC.md section 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReply {
    /// The signed message.
    pub signed: SignedMessage,
}

/// The serialized message and the node's BLS signature over it; both
/// base64 in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedMessage {
    /// The message bytes (BCS, SPEC.md section 5).
    #[serde(with = "base64_bytes")]
    pub serialized_message: Vec<u8>,
    /// BLS signature, 96 bytes.
    #[serde(with = "base64_bytes")]
    pub signature: Vec<u8>,
}

/// A node's health (`GET /v1/health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeHealth {
    /// The epoch the node is in.
    pub epoch: Epoch,
    /// The node's ID (its staking pool).
    pub node_id: ObjectId,
    /// BLS public key, 48 bytes (base64 in JSON).
    #[serde(with = "base64_bytes")]
    pub public_key: Vec<u8>,
    /// Its shards in the current epoch.
    pub shard_summary: ShardSummary,
    /// Blob IDs with stored slivers.
    pub stored_blobs: u64,
    /// How far it has followed the chain.
    pub chain: ChainProgress,
    /// What the scrubber found in the stored slivers.
    #[serde(default)]
    pub scrub: ScrubStatus,
}

/// The scrubber's findings (issue 21, failure 11): stored slivers
/// re-verified against their metadata; bad ones are dropped and rebuilt by
/// recovery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScrubStatus {
    /// Passes completed over every stored sliver.
    pub passes: u64,
    /// Slivers checked since the node started.
    pub checked: u64,
    /// Slivers found unreadable or corrupt since the node started.
    pub bad: u64,
    /// Slivers found bad in the last completed pass.
    pub last_pass_bad: u64,
}

/// A node's shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSummary {
    /// How many.
    pub owned: usize,
    /// Which, ascending.
    pub shards: Vec<u16>,
}

/// How far a node has followed the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainProgress {
    /// Checkpoints applied.
    pub checkpoints: u64,
}

/// Bytes as standard base64 text in JSON.
pub mod base64_bytes {
    use super::*;

    /// Serializes bytes as base64 text.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    /// Deserializes base64 text.
    ///
    /// # Errors
    /// Text that is not base64.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}
