//! The publisher's replies (SPEC.md section 7), in the camelCase shapes
//! upstream's publisher sends: `{"newlyCreated": {"blobObject": {"blobId",
//! "registeredEpoch", ...}, "resourceOperation", "cost"}}` or
//! `{"alreadyCertified": {"blobId", "endEpoch"}}`. (Upstream's generated
//! `publisher.yaml` spells the fields in snake_case; its publisher's JSON,
//! which clients parse, is camelCase.)

use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;
use walrus_contracts::{Epoch, ObjectId};

/// The storage resource of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageObject {
    /// The resource's ID.
    pub id: ObjectId,
    /// First epoch covered.
    pub start_epoch: Epoch,
    /// First epoch not covered.
    pub end_epoch: Epoch,
    /// Bytes of encoded length.
    pub storage_size: u64,
}

/// A Blob object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobObject {
    /// The object ID.
    pub id: ObjectId,
    /// The epoch of registration.
    pub registered_epoch: Epoch,
    /// The blob ID.
    pub blob_id: BlobId,
    /// Unencoded size in bytes.
    pub size: u64,
    /// Encoding type tag (1 = RS2).
    pub encoding_type: u8,
    /// The epoch of certification.
    pub certified_epoch: Option<Epoch>,
    /// Its storage.
    pub storage: StorageObject,
    /// Whether the owner may delete it.
    pub deletable: bool,
}

/// How the storage of a new Blob object was obtained (upstream's `RegisterBlobOp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ResourceOperation {
    /// Storage bought for this blob.
    RegisterFromScratch {
        /// Encoded length in bytes.
        encoded_length: u64,
        /// Epochs of storage, counting the current one.
        epochs_ahead: u32,
    },
    /// An owned registration of the same blob ID, from an interrupted
    /// store, was reused: nothing was paid again.
    ReuseRegistration {
        /// Encoded length in bytes.
        encoded_length: u64,
    },
    /// An owned storage resource was reused.
    ReuseStorage {
        /// Beyond upstream: the resource reused.
        storage: ObjectId,
        /// Encoded length in bytes.
        encoded_length: u64,
    },
}

/// What a store did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum StoreResult {
    /// A new Blob object was registered and certified.
    NewlyCreated {
        /// The certified Blob object.
        blob_object: BlobObject,
        /// How the storage was obtained.
        resource_operation: ResourceOperation,
        /// FROST paid for storage and writing.
        cost: u64,
    },
    /// The blob ID was already certified until at least the wanted epoch.
    AlreadyCertified {
        /// The blob ID.
        blob_id: BlobId,
        /// Its end epoch (exclusive).
        end_epoch: Epoch,
    },
}

impl StoreResult {
    /// The blob ID stored.
    pub fn blob_id(&self) -> &BlobId {
        match self {
            Self::NewlyCreated { blob_object, .. } => &blob_object.blob_id,
            Self::AlreadyCertified { blob_id, .. } => blob_id,
        }
    }
}

/// A daemon's health (`GET /v1/health` of a publisher or aggregator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonHealth {
    /// `"ok"`.
    pub status: String,
    /// `"publisher"`, `"aggregator"` or `"daemon"`.
    pub role: String,
}
