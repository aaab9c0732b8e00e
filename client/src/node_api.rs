//! An HTTP client of one storage node's API (SPEC.md section 6), with
//! retries and backoff for failures that may pass.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use bytes::Bytes;
use serde_json::Value;
use walrus_codec::{BlobId, BlobMetadata, Sliver, SliverType};
use walrus_contracts::ObjectId;

use crate::config::CommunicationConfig;

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
    fn is_transient(&self) -> bool {
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
}

/// A signed message as a node returns it: the serialized message and the
/// node's BLS signature over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedMessage {
    /// The message bytes (BCS, SPEC.md section 5).
    pub message: Vec<u8>,
    /// BLS signature, 96 bytes.
    pub signature: Vec<u8>,
}

/// A client of one storage node.
#[derive(Debug, Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    address: String,
    base: String,
    attempts: u32,
    base_delay: Duration,
}

impl NodeClient {
    /// A client of the node listening at `address` (`host:port`).
    pub fn new(http: reqwest::Client, address: &str, config: &CommunicationConfig) -> Self {
        Self {
            http,
            address: address.to_owned(),
            base: format!("http://{address}"),
            attempts: config.request_attempts.max(1),
            base_delay: Duration::from_millis(config.retry_base_delay_ms),
        }
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
    ) -> Result<Vec<u8>, NodeError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
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
            return Ok(bytes.to_vec());
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        Err(NodeError::Status {
            node: self.address.clone(),
            status: status.as_u16(),
            message,
        })
    }

    /// Sends a request, retrying transient failures with exponential backoff.
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Bytes>,
    ) -> Result<Vec<u8>, NodeError> {
        let mut delay = self.base_delay;
        let mut attempt = 1;
        loop {
            match self.once(method.clone(), path, body).await {
                Err(error) if error.is_transient() && attempt < self.attempts => {
                    tracing::debug!(%error, attempt, "retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn malformed(&self, message: impl ToString) -> NodeError {
        NodeError::Malformed {
            node: self.address.clone(),
            message: message.to_string(),
        }
    }

    fn success_data(&self, bytes: &[u8]) -> Result<Value, NodeError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| self.malformed(e))?;
        Ok(value["success"]["data"].clone())
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
        self.request(
            reqwest::Method::PUT,
            &format!("/v1/blobs/{blob_id}/metadata"),
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// Stores several slivers in one request; `body` is BCS `Vec<Sliver>`.
    ///
    /// # Errors
    /// [`NodeError`] after the retries.
    pub async fn store_slivers(&self, blob_id: &BlobId, body: &Bytes) -> Result<(), NodeError> {
        self.request(
            reqwest::Method::PUT,
            &format!("/v1/blobs/{blob_id}/slivers"),
            Some(body),
        )
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
        let data = self.success_data(&bytes)?;
        let field = |name: &str| {
            data["signed"][name]
                .as_str()
                .and_then(|text| BASE64.decode(text).ok())
                .ok_or_else(|| self.malformed(format!("confirmation without {name}")))
        };
        Ok(SignedMessage {
            message: field("serializedMessage")?,
            signature: field("signature")?,
        })
    }

    /// The blob's metadata as the node has it. Not verified here. One
    /// attempt: readers move on to another node instead of retrying.
    ///
    /// # Errors
    /// [`NodeError`] after the retries, or bytes that are not BCS metadata.
    pub async fn metadata(&self, blob_id: &BlobId) -> Result<BlobMetadata, NodeError> {
        let bytes = self
            .once(
                reqwest::Method::GET,
                &format!("/v1/blobs/{blob_id}/metadata"),
                None,
            )
            .await?;
        bcs::from_bytes(&bytes).map_err(|e| self.malformed(e))
    }

    /// The sliver of `pair` of `sliver_type`. Not verified here. One
    /// attempt: readers fetch another sliver instead of retrying.
    ///
    /// # Errors
    /// [`NodeError`] after the retries, or bytes that are not a BCS sliver.
    pub async fn sliver(
        &self,
        blob_id: &BlobId,
        pair: u16,
        sliver_type: SliverType,
    ) -> Result<Sliver, NodeError> {
        let bytes = self
            .once(
                reqwest::Method::GET,
                &format!(
                    "/v1/blobs/{blob_id}/slivers/{pair}/{}",
                    sliver_type.as_str()
                ),
                None,
            )
            .await?;
        bcs::from_bytes(&bytes).map_err(|e| self.malformed(e))
    }

    /// The node's status of the blob (the `data` of its reply). One attempt:
    /// statuses are combined over the committee.
    ///
    /// # Errors
    /// [`NodeError`].
    pub async fn blob_status(&self, blob_id: &BlobId) -> Result<Value, NodeError> {
        let bytes = self
            .once(
                reqwest::Method::GET,
                &format!("/v1/blobs/{blob_id}/status"),
                None,
            )
            .await?;
        self.success_data(&bytes)
    }

    /// The node's health (the `data` of its reply).
    ///
    /// # Errors
    /// [`NodeError`] (one attempt: health reports the node as it is).
    pub async fn health(&self) -> Result<Value, NodeError> {
        let bytes = self.once(reqwest::Method::GET, "/v1/health", None).await?;
        self.success_data(&bytes)
    }
}
