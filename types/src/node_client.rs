//! An HTTP client of one storage node's API (SPEC.md section 6). Writes
//! retry transient failures with the [`RetryPolicy`]; reads make one
//! attempt, because readers move on to another node instead.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use walrus_codec::{BlobId, BlobMetadata, RecoverySymbol, Sliver, SliverType};
use walrus_contracts::ObjectId;

use crate::{
    RetryPolicy,
    error::{ErrorBody, ErrorReason},
    node::{BlobStatus, NodeHealth, SignedMessage, SignedReply, StoredStatus, SuccessBody},
};

/// Why one request to a node failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NodeError {
    /// Connection refused, reset, or timed out.
    #[error("{node}: unreachable: {message}")]
    Unreachable {
        /// The node's address.
        node: String,
        /// Transport error.
        message: String,
    },
    /// The node answered with an error status.
    #[error("{node}: HTTP {status}: {message}")]
    Status {
        /// The node's address.
        node: String,
        /// HTTP status.
        status: u16,
        /// The machine-readable reason, if the body carried one.
        reason: Option<ErrorReason>,
        /// The error message from the body.
        message: String,
    },
    /// The node's reply could not be parsed.
    #[error("{node}: malformed reply: {message}")]
    Malformed {
        /// The node's address.
        node: String,
        /// What was wrong.
        message: String,
    },
}

impl NodeError {
    /// Worth retrying: transport errors, 5xx, 408 and 429.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::Malformed { .. } => false,
        }
    }

    /// A 404 answer.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status { status: 404, .. })
    }

    /// The reason the node gave, if it answered with one.
    pub fn reason(&self) -> Option<ErrorReason> {
        match self {
            Self::Status { reason, .. } => *reason,
            _ => None,
        }
    }
}

/// A client of one storage node.
#[derive(Debug, Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    address: String,
    base: String,
    retry: RetryPolicy,
    /// Deadline of each read (a single attempt), if shorter than the HTTP
    /// client's own.
    read_timeout: Option<std::time::Duration>,
}

impl NodeClient {
    /// A client of the node listening at `address` (`host:port`), sharing
    /// `http`'s connection pool, retrying writes with `retry`.
    pub fn new(http: reqwest::Client, address: &str, retry: RetryPolicy) -> Self {
        Self {
            http,
            address: address.to_owned(),
            base: format!("http://{address}"),
            retry,
            read_timeout: None,
        }
    }

    /// The same client giving up each read (metadata, slivers, statuses,
    /// recovery symbols) after `timeout`: a node that accepts connections
    /// but never answers then costs a reader at most this long (issue 21,
    /// failure 6). Writes keep the HTTP client's timeout and the retries.
    #[must_use]
    pub fn with_read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// The node's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    async fn once(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Bytes>,
    ) -> Result<Bytes, NodeError> {
        let is_read = body.is_none() && method == reqwest::Method::GET;
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let (true, Some(timeout)) = (is_read, self.read_timeout) {
            request = request.timeout(timeout);
        }
        if let Some(body) = body {
            // `Bytes` clones share the buffer: retries copy nothing.
            request = request
                .header("content-type", "application/octet-stream")
                .body(body.clone());
        }
        let unreachable = |e: reqwest::Error| NodeError::Unreachable {
            node: self.address.clone(),
            message: e.to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return Ok(bytes);
        }
        let (reason, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => (body.reason(), body.error.message),
            Err(_) => (None, String::from_utf8_lossy(&bytes).into_owned()),
        };
        Err(NodeError::Status {
            node: self.address.clone(),
            status: status.as_u16(),
            reason,
            message,
        })
    }

    /// Sends a request, retrying transient failures with the policy.
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Bytes>,
    ) -> Result<Bytes, NodeError> {
        self.retry
            .run(
                || self.once(method.clone(), path, body),
                NodeError::is_transient,
            )
            .await
    }

    fn malformed(&self, message: impl ToString) -> NodeError {
        NodeError::Malformed {
            node: self.address.clone(),
            message: message.to_string(),
        }
    }

    fn success_data<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, NodeError> {
        serde_json::from_slice::<SuccessBody<T>>(bytes)
            .map(|body| body.success.data)
            .map_err(|e| self.malformed(e))
    }

    fn bcs<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, NodeError> {
        bcs::from_bytes(bytes).map_err(|e| self.malformed(e))
    }

    /// Stores the blob's metadata on the node.
    ///
    /// # Errors
    /// [`NodeError`] after the retries.
    pub async fn store_metadata(
        &self,
        blob_id: &BlobId,
        metadata: &BlobMetadata,
    ) -> Result<(), NodeError> {
        let body = Bytes::from(bcs::to_bytes(metadata).map_err(|e| self.malformed(e))?);
        let path = format!("/v1/blobs/{blob_id}/metadata");
        self.request(reqwest::Method::PUT, &path, Some(&body))
            .await
            .map(drop)
    }

    /// Stores several slivers in one request; `body` is BCS `Vec<Sliver>`.
    ///
    /// # Errors
    /// [`NodeError`] after the retries.
    pub async fn store_slivers(&self, blob_id: &BlobId, body: &Bytes) -> Result<(), NodeError> {
        let path = format!("/v1/blobs/{blob_id}/slivers");
        self.request(reqwest::Method::PUT, &path, Some(body))
            .await
            .map(drop)
    }

    /// The node's storage confirmation, permanent or bound to the deletable
    /// Blob object. Not verified here.
    ///
    /// # Errors
    /// [`NodeError`] after the retries, or a reply without a signature.
    pub async fn confirmation(
        &self,
        blob_id: &BlobId,
        deletable_object: Option<&ObjectId>,
    ) -> Result<SignedMessage, NodeError> {
        let path = match deletable_object {
            None => format!("/v1/blobs/{blob_id}/confirmation/permanent"),
            Some(object) => format!("/v1/blobs/{blob_id}/confirmation/deletable/{object}"),
        };
        let bytes = self.request(reqwest::Method::GET, &path, None).await?;
        Ok(self.success_data::<SignedReply>(&bytes)?.signed)
    }

    /// The blob's metadata as the node has it. Not verified here.
    ///
    /// # Errors
    /// [`NodeError`], or bytes that are not BCS metadata.
    pub async fn metadata(&self, blob_id: &BlobId) -> Result<BlobMetadata, NodeError> {
        let path = format!("/v1/blobs/{blob_id}/metadata");
        let bytes = self.once(reqwest::Method::GET, &path, None).await?;
        self.bcs(&bytes)
    }

    /// The sliver of `pair` of `sliver_type`. Not verified here.
    ///
    /// # Errors
    /// [`NodeError`], or bytes that are not a BCS sliver.
    pub async fn sliver(
        &self,
        blob_id: &BlobId,
        pair: u16,
        sliver_type: SliverType,
    ) -> Result<Sliver, NodeError> {
        let kind = sliver_type.as_str();
        let path = format!("/v1/blobs/{blob_id}/slivers/{pair}/{kind}");
        let bytes = self.once(reqwest::Method::GET, &path, None).await?;
        self.bcs(&bytes)
    }

    /// Whether the node holds the blob's metadata.
    ///
    /// # Errors
    /// [`NodeError`].
    pub async fn metadata_status(&self, blob_id: &BlobId) -> Result<StoredStatus, NodeError> {
        let path = format!("/v1/blobs/{blob_id}/metadata/status");
        let bytes = self.once(reqwest::Method::GET, &path, None).await?;
        self.success_data(&bytes)
    }

    /// Whether the node holds the sliver of `pair` of `sliver_type`.
    ///
    /// # Errors
    /// [`NodeError`].
    pub async fn sliver_status(
        &self,
        blob_id: &BlobId,
        pair: u16,
        sliver_type: SliverType,
    ) -> Result<StoredStatus, NodeError> {
        let kind = sliver_type.as_str();
        let path = format!("/v1/blobs/{blob_id}/slivers/{pair}/{kind}/status");
        let bytes = self.once(reqwest::Method::GET, &path, None).await?;
        self.success_data(&bytes)
    }

    /// Recovery symbols for the `sliver_type` slivers `targets` (beyond
    /// upstream: the batch endpoint, without proofs), at most `limit` per
    /// target. Returns them and the reply's size in bytes. Not verified here.
    ///
    /// # Errors
    /// [`NodeError`], or bytes that are not the BCS list.
    pub async fn recovery_symbols_batch(
        &self,
        blob_id: &BlobId,
        sliver_type: SliverType,
        targets: &[u16],
        limit: usize,
    ) -> Result<(Vec<(u16, Vec<RecoverySymbol>)>, usize), NodeError> {
        let list: Vec<String> = targets.iter().map(u16::to_string).collect();
        let path = format!(
            "/v1/blobs/{blob_id}/recoverySymbols/batch?targetType={}&targets={}&limit={limit}",
            sliver_type.as_str(),
            list.join(",")
        );
        let bytes = self.once(reqwest::Method::GET, &path, None).await?;
        Ok((self.bcs(&bytes)?, bytes.len()))
    }

    /// Up to `limit` recovery symbols with Merkle proofs for the
    /// `sliver_type` sliver `target`. Returns them and the reply's size in
    /// bytes. Not verified here.
    ///
    /// # Errors
    /// [`NodeError`], or bytes that are not the BCS list.
    pub async fn recovery_symbols(
        &self,
        blob_id: &BlobId,
        sliver_type: SliverType,
        target: u16,
        limit: usize,
    ) -> Result<(Vec<RecoverySymbol>, usize), NodeError> {
        let path = format!(
            "/v1/blobs/{blob_id}/recoverySymbols?targetSliver={target}&targetType={}&proofs=true&limit={limit}",
            sliver_type.as_str()
        );
        let bytes = self.once(reqwest::Method::GET, &path, None).await?;
        Ok((self.bcs(&bytes)?, bytes.len()))
    }

    /// Sends an inconsistency proof (`body`: BCS `InconsistencyProof` about
    /// a `sliver_type` sliver); the node's invalid-blob attestation. Not
    /// verified here.
    ///
    /// # Errors
    /// [`NodeError`] (one attempt).
    pub async fn inconsistency_proof(
        &self,
        blob_id: &BlobId,
        sliver_type: SliverType,
        body: &Bytes,
    ) -> Result<SignedMessage, NodeError> {
        let path = format!(
            "/v1/blobs/{blob_id}/inconsistencyProof/{}",
            sliver_type.as_str()
        );
        let bytes = self.once(reqwest::Method::POST, &path, Some(body)).await?;
        Ok(self.success_data::<SignedReply>(&bytes)?.signed)
    }

    /// The node's status of the blob. One attempt: statuses are combined
    /// over the committee.
    ///
    /// # Errors
    /// [`NodeError`].
    pub async fn blob_status(&self, blob_id: &BlobId) -> Result<BlobStatus, NodeError> {
        let path = format!("/v1/blobs/{blob_id}/status");
        let bytes = self.once(reqwest::Method::GET, &path, None).await?;
        self.success_data(&bytes)
    }

    /// The node's health. One attempt: health reports the node as it is.
    ///
    /// # Errors
    /// [`NodeError`].
    pub async fn health(&self) -> Result<NodeHealth, NodeError> {
        let bytes = self.once(reqwest::Method::GET, "/v1/health", None).await?;
        self.success_data(&bytes)
    }
}
