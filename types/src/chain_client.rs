//! An HTTP client of the chain API (SPEC.md section 11): submit
//! transactions, read objects, accounts, the committee and checkpoints.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use ed25519_dalek::SigningKey;
use serde::de::DeserializeOwned;
use walrus_codec::BlobId;
use walrus_contracts::{
    Address, Blob, Call, ObjectId,
    ledger::{
        block::CertifiedHeader,
        execution::Checkpoint,
        transaction::{Transaction, address_of},
    },
};

use walrus_contracts::ledger::state_tree::StateKey;

use crate::state_proof::{StateProofInfo, StateProofs, key_param, state_path};
use crate::{
    RetryPolicy,
    chain::{
        AccountInfo, ChainHealth, ChainObject, CommitteeInfo, EpochStart, SystemInfo, TxResponse,
    },
    error::{ErrorBody, ErrorReason},
};

/// Why a chain API request failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The chain could not be reached (refused, reset, timed out).
    #[error("chain at {url} unreachable: {message}")]
    Unreachable {
        /// The chain's base URL.
        url: String,
        /// Transport error.
        message: String,
    },
    /// The chain answered with an error.
    #[error("{path}: HTTP {status}: {}", body.error.message)]
    Status {
        /// The request path.
        path: String,
        /// HTTP status.
        status: u16,
        /// The error body (reason and details).
        body: Box<ErrorBody>,
    },
    /// The reply does not parse.
    #[error("{path}: malformed reply: {message}")]
    Malformed {
        /// The request path.
        path: String,
        /// What was wrong.
        message: String,
    },
}

impl ChainError {
    /// The reason the chain gave, if it answered with one.
    pub fn reason(&self) -> Option<ErrorReason> {
        match self {
            Self::Status { body, .. } => body.reason(),
            _ => None,
        }
    }

    /// With a wrong-nonce rejection: the sender's next nonce.
    pub fn expected_nonce(&self) -> Option<u64> {
        match self {
            Self::Status { body, .. } => body
                .detail()
                .filter(|d| d.reason == ErrorReason::WrongNonce)
                .and_then(|d| d.expected_nonce),
            _ => None,
        }
    }

    /// Worth retrying: transport errors and 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            Self::Malformed { .. } => false,
        }
    }

    /// A 404 answer.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status { status: 404, .. })
    }
}

/// An HTTP client of the chain API of one or more validators, with
/// failover: a request that finds its validator unreachable or answering
/// 5xx goes to the next one (each tried once per request), and the client
/// stays with the one that answered.
#[derive(Debug, Clone)]
pub struct ChainClient {
    bases: Arc<Vec<String>>,
    current: Arc<AtomicUsize>,
    http: reqwest::Client,
}

impl ChainClient {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:9100`), or of
    /// several validators' APIs separated by commas
    /// (`http://127.0.0.1:9100,http://127.0.0.1:9401`), tried in order.
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a default HTTP client builds");
        let base = base.into();
        let bases: Vec<String> = base
            .split(',')
            .map(|b| b.trim().trim_end_matches('/').to_owned())
            .filter(|b| !b.is_empty())
            .collect();
        Self {
            bases: Arc::new(if bases.is_empty() { vec![base] } else { bases }),
            current: Arc::new(AtomicUsize::new(0)),
            http,
        }
    }

    /// The base URL of the validator in use.
    pub fn base_url(&self) -> &str {
        let index = self.current.load(Ordering::Relaxed) % self.bases.len();
        &self.bases[index]
    }

    /// Sends `method path` with `body` to the validator in use, failing
    /// over to the next ones while unreachable or answering 5xx.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, ChainError> {
        let start = self.current.load(Ordering::Relaxed);
        let mut last = None;
        for attempt in 0..self.bases.len() {
            let index = (start + attempt) % self.bases.len();
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.bases[index]));
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            match self.send_to(&self.bases[index], request, path).await {
                Err(error) if error.is_transient() => last = Some(error),
                result => {
                    self.current.store(index, Ordering::Relaxed);
                    return result;
                }
            }
        }
        Err(last.expect("at least one base URL"))
    }

    async fn send_to(
        &self,
        base: &str,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<Vec<u8>, ChainError> {
        let unreachable = |e: reqwest::Error| ChainError::Unreachable {
            url: base.to_owned(),
            message: e.to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| {
            ErrorBody::new(
                status.as_u16(),
                ErrorReason::Unknown,
                String::from_utf8_lossy(&bytes),
            )
        });
        Err(ChainError::Status {
            path: path.to_owned(),
            status: status.as_u16(),
            body: Box::new(body),
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ChainError> {
        let bytes = self.send(reqwest::Method::GET, path, None).await?;
        serde_json::from_slice(&bytes).map_err(|e| ChainError::Malformed {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// `key`'s value and Merkle proof against the latest state root
    /// (`GET /v1/state/...`); check it with [`StateProofInfo::verify`].
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn state_proof(&self, key: &StateKey) -> Result<StateProofInfo, ChainError> {
        self.get_json(&state_path(key)).await
    }

    /// Submits signed transaction bytes and waits for the outcome.
    ///
    /// # Errors
    /// [`ChainError`]; a refused transaction is a [`ChainError::Status`]
    /// whose reason says why ([`ChainError::expected_nonce`] for a wrong nonce).
    pub async fn submit_bytes(&self, bytes: Vec<u8>) -> Result<TxResponse, ChainError> {
        let path = "/v1/transactions";
        let body = self.send(reqwest::Method::POST, path, Some(bytes)).await?;
        serde_json::from_slice(&body).map_err(|e| ChainError::Malformed {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Signs `calls` with `key` at the sender's next nonce, submits, waits.
    /// A validator whose view is ahead of the one the nonce was read from
    /// answers with the nonce it expects; the transaction is then signed
    /// again with it (at most 3 times, and only for a higher nonce).
    ///
    /// # Errors
    /// As [`ChainClient::submit_bytes`], or the account cannot be read.
    pub async fn execute(
        &self,
        key: &SigningKey,
        calls: Vec<Call>,
    ) -> Result<TxResponse, ChainError> {
        let sender = address_of(&key.verifying_key());
        let mut nonce = self.account(&sender).await?.next_nonce;
        let mut attempt = 0;
        loop {
            let signed = Transaction {
                sender,
                nonce,
                calls: calls.clone(),
            }
            .sign(key);
            match self.submit_bytes(signed.to_bytes()).await {
                Err(error) if attempt < 3 => match error.expected_nonce() {
                    Some(expected) if expected > nonce => {
                        nonce = expected;
                        attempt += 1;
                    }
                    _ => return Err(error),
                },
                result => return result,
            }
        }
    }

    /// The account `address` (an unknown address is an empty account).
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn account(&self, address: &Address) -> Result<AccountInfo, ChainError> {
        self.get_json(&format!("/v1/accounts/{address}")).await
    }

    /// Object `id`, or `None` if it does not exist.
    ///
    /// # Errors
    /// [`ChainError`] other than a 404.
    pub async fn object(&self, id: &ObjectId) -> Result<Option<ChainObject>, ChainError> {
        match self.get_json(&format!("/v1/objects/{id}")).await {
            Ok(object) => Ok(Some(object)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The Blob object `id`, or `None` if no such blob exists (deleted, or
    /// another kind of object).
    ///
    /// # Errors
    /// [`ChainError`] other than a 404.
    pub async fn blob(&self, id: &ObjectId) -> Result<Option<Blob>, ChainError> {
        Ok(match self.object(id).await? {
            Some(ChainObject::Blob { blob, .. }) => Some(blob),
            _ => None,
        })
    }

    /// The system state.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn system(&self) -> Result<SystemInfo, ChainError> {
        self.get_json("/v1/system").await
    }

    /// The chain's health.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn health(&self) -> Result<ChainHealth, ChainError> {
        self.get_json("/v1/health").await
    }

    /// The current committee, prices and parameters.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn committee(&self) -> Result<CommitteeInfo, ChainError> {
        self.get_json("/v1/committee").await
    }

    /// The ordered transaction `digest` (as `0x` hex), or `None` if unknown.
    ///
    /// # Errors
    /// [`ChainError`] other than a 404.
    pub async fn transaction(&self, digest: &str) -> Result<Option<TxResponse>, ChainError> {
        match self.get_json(&format!("/v1/transactions/{digest}")).await {
            Ok(response) => Ok(Some(response)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Checkpoints from `from`, waiting up to `wait` for the first.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn checkpoints(
        &self,
        from: u64,
        wait: Duration,
    ) -> Result<Vec<Checkpoint>, ChainError> {
        let wait_ms = wait.as_millis();
        self.get_bcs(&format!("/v1/checkpoints?from={from}&wait_ms={wait_ms}"))
            .await
    }

    /// Checkpoint `sequence`, `None` if the chain has not reached it.
    ///
    /// # Errors
    /// [`ChainError`], [`ChainError::Malformed`] if another one comes back.
    pub async fn checkpoint(&self, sequence: u64) -> Result<Option<Checkpoint>, ChainError> {
        let path = format!("/v1/checkpoints?from={sequence}&limit=1");
        let found: Option<Checkpoint> = self.get_bcs::<Vec<Checkpoint>>(&path).await?.pop();
        match found {
            Some(checkpoint) if checkpoint.sequence != sequence => Err(ChainError::Malformed {
                path,
                message: format!("checkpoint {} instead of {sequence}", checkpoint.sequence),
            }),
            found => Ok(found),
        }
    }

    /// Where each epoch after genesis started (`GET /v1/epochs`), as the
    /// chain says: check each against its certified checkpoint.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn epoch_starts(&self) -> Result<Vec<EpochStart>, ChainError> {
        self.get_json("/v1/epochs").await
    }

    /// Up to 1000 checkpoints from `from` on with an event naming
    /// `blob_id` (`GET /v1/blobs/{blob_id}/checkpoints`), as the chain says.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn blob_checkpoints(
        &self,
        blob_id: &BlobId,
        from: u64,
    ) -> Result<Vec<u64>, ChainError> {
        self.get_json(&format!("/v1/blobs/{blob_id}/checkpoints?from={from}"))
            .await
    }

    /// `keys` and their proofs against the state root of the newest
    /// checkpoint a block certificate covers (`GET /v1/state/proofs`); check
    /// each with [`StateProofInfo::verify`].
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn state_proofs(&self, keys: &[StateKey]) -> Result<StateProofs, ChainError> {
        let keys: Vec<String> = keys.iter().map(key_param).collect();
        self.get_json(&format!("/v1/state/proofs?keys={}", keys.join(",")))
            .await
    }

    async fn get_bcs<T: DeserializeOwned>(&self, path: &str) -> Result<T, ChainError> {
        let bytes = self.send(reqwest::Method::GET, path, None).await?;
        bcs::from_bytes(&bytes).map_err(|e| ChainError::Malformed {
            path: path.to_owned(),
            message: format!("invalid BCS: {e}"),
        })
    }

    /// Up to `limit` certified block headers from height `from` on
    /// (`GET /v1/blocks`; empty from the single sequencer, which has no
    /// blocks).
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn certified_headers(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<CertifiedHeader>, ChainError> {
        self.get_bcs(&format!("/v1/blocks?from={from}&limit={limit}"))
            .await
    }

    /// [`ChainClient::checkpoints`], retried with `policy` while the chain
    /// is unreachable or answers 5xx (followers that must not give up).
    ///
    /// # Errors
    /// The last [`ChainError`] once `policy` is spent.
    pub async fn checkpoints_retrying(
        &self,
        from: u64,
        wait: Duration,
        policy: RetryPolicy,
    ) -> Result<Vec<Checkpoint>, ChainError> {
        policy
            .run(|| self.checkpoints(from, wait), ChainError::is_transient)
            .await
    }
}
