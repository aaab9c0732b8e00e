//! A client of the chain API: submit transactions, read objects, accounts,
//! the system state and checkpoints.

use std::time::Duration;

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use serde::de::DeserializeOwned;
use walrus_contracts::{Address, Call, ObjectId};

use super::{
    execution::Checkpoint,
    sequencer::TxResponse,
    transaction::{Transaction, address_of},
};

/// An HTTP client of one sequencer.
#[derive(Debug, Clone)]
pub struct ChainClient {
    base: String,
    http: reqwest::Client,
}

impl ChainClient {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:9100`).
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a default HTTP client builds");
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        serde_json::from_slice(&body).with_context(|| format!("GET {path}: invalid JSON"))
    }

    /// Submits signed transaction bytes and waits for the outcome.
    ///
    /// # Errors
    /// Transport errors or a rejection (the message says why).
    pub async fn submit_bytes(&self, bytes: Vec<u8>) -> anyhow::Result<TxResponse> {
        let response = self
            .http
            .post(format!("{}/v1/transactions", self.base))
            .body(bytes)
            .send()
            .await
            .context("POST /v1/transactions")?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!(
                "transaction rejected: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// Signs `calls` with `key` at the sender's next nonce, submits, waits.
    ///
    /// # Errors
    /// As [`ChainClient::submit_bytes`], or the account cannot be read.
    pub async fn execute(&self, key: &SigningKey, calls: Vec<Call>) -> anyhow::Result<TxResponse> {
        let sender = address_of(&key.verifying_key());
        let nonce = self.next_nonce(&sender).await?;
        let signed = Transaction {
            sender,
            nonce,
            calls,
        }
        .sign(key);
        self.submit_bytes(signed.to_bytes()).await
    }

    /// The next nonce of `address`.
    ///
    /// # Errors
    /// Transport or decoding errors.
    pub async fn next_nonce(&self, address: &Address) -> anyhow::Result<u64> {
        let account: serde_json::Value = self.account(address).await?;
        account["nextNonce"].as_u64().context("nextNonce missing")
    }

    /// The account view of `address` (JSON).
    ///
    /// # Errors
    /// Transport or decoding errors.
    pub async fn account(&self, address: &Address) -> anyhow::Result<serde_json::Value> {
        self.get_json(&format!("/v1/accounts/{address}")).await
    }

    /// Object `id` (JSON).
    ///
    /// # Errors
    /// Transport errors, or the object does not exist.
    pub async fn object(&self, id: &ObjectId) -> anyhow::Result<serde_json::Value> {
        self.get_json(&format!("/v1/objects/{id}")).await
    }

    /// The system state (JSON).
    ///
    /// # Errors
    /// Transport or decoding errors.
    pub async fn system(&self) -> anyhow::Result<serde_json::Value> {
        self.get_json("/v1/system").await
    }

    /// The current committee, prices and parameters.
    ///
    /// # Errors
    /// Transport or decoding errors.
    pub async fn committee(&self) -> anyhow::Result<super::api::CommitteeInfo> {
        self.get_json("/v1/committee").await
    }

    /// The Blob object `id`, or `None` if no such blob exists (deleted, or
    /// another kind of object).
    ///
    /// # Errors
    /// Transport or decoding errors.
    pub async fn blob(&self, id: &ObjectId) -> anyhow::Result<Option<walrus_contracts::Blob>> {
        let response = self
            .http
            .get(format!("{}/v1/objects/{id}", self.base))
            .send()
            .await
            .with_context(|| format!("GET /v1/objects/{id}"))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!(
                "GET /v1/objects/{id}: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let value: serde_json::Value = serde_json::from_slice(&body)?;
        match value.get("blob") {
            Some(blob) => Ok(Some(serde_json::from_value(blob.clone())?)),
            None => Ok(None),
        }
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Checkpoints from `from`, waiting up to `wait` for the first.
    ///
    /// # Errors
    /// Transport or decoding errors.
    pub async fn checkpoints(&self, from: u64, wait: Duration) -> anyhow::Result<Vec<Checkpoint>> {
        let wait_ms = wait.as_millis();
        let path = format!("/v1/checkpoints?from={from}&wait_ms={wait_ms}");
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        bcs::from_bytes(&body).with_context(|| format!("GET {path}: invalid BCS"))
    }
}
