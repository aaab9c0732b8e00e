//! The error body every Walrus HTTP API answers with (chain, storage node,
//! publisher/aggregator, indexer), after upstream's storage node API
//! (`../shared/reference/walrus-openapi/storage.yaml`, `Status`):
//!
//! ```json
//! {"error": {"code": 409, "status": "Conflict", "message": "...",
//!            "details": [{"reason": "WRONG_NONCE", "expectedNonce": 5}]}}
//! ```
//!
//! Clients decide on [`ErrorReason`] and the detail's fields, never on the
//! English `message`, which may be reworded freely.

use serde::{Deserialize, Serialize};

/// Why a request failed, machine-readable. JSON: `SCREAMING_SNAKE_CASE`;
/// a reason this version does not know parses as [`ErrorReason::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorReason {
    /// The request is malformed in a way no other reason names.
    BadRequest,
    /// The body is larger than the server accepts.
    BodyTooLarge,
    /// A `Content-Length` header is required.
    LengthRequired,
    /// No route matches the path.
    NoRoute,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// A query parameter is missing, unknown or malformed.
    InvalidQuery,
    /// The body does not parse.
    InvalidBody,
    /// A request argument (size, epochs, flag combination) is not allowed.
    InvalidArgument,
    /// A server-side failure; the message is generic, the log has details.
    Internal,
    /// The server is shutting down or overloaded; retry later.
    Unavailable,
    /// The sender cannot pay the transaction's fee.
    InsufficientFee,
    /// The blob ID in the path is malformed.
    InvalidBlobId,
    /// The object ID in the path is malformed.
    InvalidObjectId,
    /// The address in the path is malformed.
    InvalidAddress,
    /// The kind or ID of a `/v1/state/...` path is unknown or malformed.
    InvalidStateKey,
    /// The transaction digest in the path is malformed.
    InvalidDigest,
    /// The sliver type in the path is neither `primary` nor `secondary`.
    InvalidSliverType,
    /// A sliver or pair index is outside `0..n`.
    IndexOutOfRange,
    /// No live registration of the blob is known.
    NotRegistered,
    /// The blob is not certified.
    NotCertified,
    /// The blob's storage has ended.
    Expired,
    /// The blob was marked invalid on chain.
    InvalidBlob,
    /// The metadata does not match the blob ID.
    InvalidMetadata,
    /// The metadata must be stored before slivers.
    MetadataMissing,
    /// The sliver does not verify against the metadata.
    InvalidSliver,
    /// The sliver's index is not the pair's.
    IndexMismatch,
    /// The sliver's type is not the one in the path.
    TypeMismatch,
    /// The pair's shard is not this node's in the current epoch.
    ShardNotAssigned,
    /// Not every sliver this node must hold is stored yet.
    NotStored,
    /// The inconsistency proof does not hold.
    InvalidProof,
    /// The node has no metadata for the blob.
    MetadataNotFound,
    /// The node has no such sliver.
    SliverNotFound,
    /// No such object.
    ObjectNotFound,
    /// No such transaction.
    TransactionNotFound,
    /// No Blob object of this ID is known, or no node has it.
    BlobNotFound,
    /// The blob's encoding is inconsistent (it was invalidated, or its
    /// decoded bytes do not match the blob ID).
    BlobInvalid,
    /// The requested byte range lies outside the blob.
    RangeNotSatisfiable,
    /// A transaction executed and failed (its code is in the message).
    TransactionFailed,
    /// Too few storage nodes answered.
    NotEnoughNodes,
    /// A transaction is not BCS, or not a signed transaction.
    MalformedTransaction,
    /// A transaction's public key or signature does not verify.
    BadSignature,
    /// A transaction's sender is not its public key's address.
    SenderMismatch,
    /// A transaction's nonce is not the sender's next; the detail carries
    /// `expectedNonce`.
    WrongNonce,
    /// System calls cannot be submitted.
    SystemCall,
    /// A reason this version does not know.
    #[serde(other)]
    Unknown,
}

/// One entry of `details`: the reason, and the data some reasons carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Why.
    pub reason: ErrorReason,
    /// With [`ErrorReason::WrongNonce`]: the sender's next nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_nonce: Option<u64>,
}

/// `{"error": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorInfo,
}

/// The error's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The HTTP status code.
    pub code: u16,
    /// The status's canonical name (`"Not Found"`).
    pub status: String,
    /// What went wrong, for people.
    pub message: String,
    /// Machine-readable reasons; servers of this project send exactly one.
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

impl ErrorBody {
    /// An error of HTTP status `code` for `reason`.
    pub fn new(code: u16, reason: ErrorReason, message: impl Into<String>) -> Self {
        Self::with_detail(
            code,
            ErrorDetail {
                reason,
                expected_nonce: None,
            },
            message,
        )
    }

    /// An error of HTTP status `code` with a full `detail`.
    pub fn with_detail(code: u16, detail: ErrorDetail, message: impl Into<String>) -> Self {
        let status = reqwest::StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_owned();
        Self {
            error: ErrorInfo {
                code,
                status,
                message: message.into(),
                details: vec![detail],
            },
        }
    }

    /// The first detail's reason, if any.
    pub fn reason(&self) -> Option<ErrorReason> {
        self.error.details.first().map(|d| d.reason)
    }

    /// The first detail, if any.
    pub fn detail(&self) -> Option<&ErrorDetail> {
        self.error.details.first()
    }
}
