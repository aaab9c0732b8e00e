//! The Walrus client SDK: store, read and query blobs, manage WAL and stake,
//! plus the publisher/aggregator HTTP daemon ([`daemon`]).
//!
//! A [`Client`] talks to the chain API (for the committee, prices and
//! transactions) and directly to the storage nodes (SPEC.md sections 6-7):
//!
//! ```no_run
//! # async fn example() -> Result<(), walrus_client::ClientError> {
//! use walrus_client::{Client, ConsistencyCheck, StoreOptions, config::find_config};
//! let client = Client::new(find_config(None)?)?;
//! let stored = client.store(b"hello".to_vec(), &StoreOptions::default()).await?;
//! let bytes = client.read(&stored.blob_id, ConsistencyCheck::Default).await?;
//! assert_eq!(bytes, b"hello");
//! # Ok(()) }
//! ```

pub mod audit;
pub mod config;
pub mod daemon;
mod error;
mod read;
mod store;

use std::{path::PathBuf, sync::Arc};

use ed25519_dalek::SigningKey;
use serde::Serialize;
use walrus_codec::{BlobId, EncodingConfig};
use walrus_contracts::{
    Address, Blob, Call, Event, ObjectId, ObjectRef, StakedWal,
    ledger::{
        execution::Outcome,
        transaction::{Transaction, address_of},
    },
};
use walrus_types::{
    ChainClient,
    chain::{ChainObject, CommitteeInfo},
    node::NodeHealth as NodeHealthReply,
};

pub use config::ClientConfig;
pub use error::ClientError;
pub use read::ConsistencyCheck;
pub use store::{StoreOptions, StoreOutcome, StoreTimings};
pub use walrus_types::{
    NodeClient, NodeError,
    node::BlobStatus as NodeBlobStatus,
    publisher::{BlobObject, StoreResult},
};

/// A stage of a long operation, for progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Encoding the blob (units: bytes of the blob).
    Encode,
    /// Sending slivers to storage nodes (units: bytes of slivers).
    Upload,
    /// Fetching slivers (units: bytes of slivers).
    Download,
}

/// Receives progress of long operations; the CLI draws bars with it.
pub trait Progress: Send + Sync {
    /// `phase` started; `total` units are expected.
    fn start(&self, phase: Phase, total: u64);
    /// `amount` more units of `phase` are done.
    fn advance(&self, phase: Phase, amount: u64);
    /// `phase` ended.
    fn finish(&self, phase: Phase);
}

struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: Phase, _: u64) {}
    fn advance(&self, _: Phase, _: u64) {}
    fn finish(&self, _: Phase) {}
}

/// The signing key and a local nonce counter, so that concurrent
/// transactions of one client (a publisher) get consecutive nonces.
struct Wallet {
    key: SigningKey,
    address: Address,
    next_nonce: tokio::sync::Mutex<Option<u64>>,
}

/// A Walrus client: see the crate documentation.
#[derive(Clone)]
pub struct Client {
    chain: ChainClient,
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    wallet: Option<Arc<Wallet>>,
    /// A lock file shared by every process using the same wallet.
    wallet_lock: Option<Arc<PathBuf>>,
    progress: Arc<dyn Progress>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("chain", &self.chain.base_url())
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

/// The health of one committee member, as its API reports it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeHealth {
    /// The node.
    pub node_id: ObjectId,
    /// Its name.
    pub name: String,
    /// Its API address.
    pub network_address: String,
    /// Shards it holds in the committee.
    pub shards: usize,
    /// Its health reply, or the error reaching it.
    pub status: Result<NodeHealthReply, String>,
}

/// The status of a blob ID as the storage nodes report it, combined over
/// the committee (SPEC.md section 6, `/status`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobStatus {
    /// The blob ID.
    pub blob_id: BlobId,
    /// The status reported by the most shard weight.
    pub status: NodeBlobStatus,
    /// Shard weight that reported `status`.
    pub weight: u16,
    /// Shard weight that answered at all.
    pub answered: u16,
    /// Number of shards.
    pub n_shards: u16,
}

impl BlobStatus {
    /// Whether a certified Blob object exists for the ID.
    pub fn is_certified(&self) -> bool {
        self.status.is_certified()
    }

    /// The latest end epoch (exclusive) of the ID's Blob objects, if any.
    pub fn end_epoch(&self) -> Option<u32> {
        self.status.end_epoch()
    }
}

impl Client {
    /// A client of the network `config` describes; loads its wallet if one
    /// is configured.
    ///
    /// # Errors
    /// [`ClientError::Config`] when the wallet file is unreadable.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let key = match &config.wallet {
            Some(_) => Some(config.load_wallet()?),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(config.communication.request_timeout())
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| ClientError::Config(format!("HTTP client: {e}")))?;
        let client = Self {
            chain: ChainClient::new(config.chain_url.clone()),
            http,
            config: Arc::new(config),
            wallet: None,
            wallet_lock: None,
            progress: Arc::new(NoProgress),
        };
        Ok(match key {
            Some(key) => client.with_wallet(key),
            None => client,
        })
    }

    /// The same client signing with `key`.
    pub fn with_wallet(mut self, key: SigningKey) -> Self {
        let address = address_of(&key.verifying_key());
        self.wallet = Some(Arc::new(Wallet {
            key,
            address,
            next_nonce: tokio::sync::Mutex::new(None),
        }));
        self
    }

    /// The same client taking an exclusive lock on the file `path` (created
    /// if missing) around each transaction, from reading the wallet's next
    /// nonce to the transaction's checkpoint: processes sharing one wallet
    /// (several `walrus store` at once) then never race for a nonce. Within
    /// one client, transactions then go one at a time. Issue 21, failure 8.
    pub fn with_wallet_lock(mut self, path: PathBuf) -> Self {
        self.wallet_lock = Some(Arc::new(path));
        self
    }

    /// The same client reporting progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// The chain API client.
    pub fn chain(&self) -> &ChainClient {
        &self.chain
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The wallet's address, if a wallet is configured.
    pub fn address(&self) -> Option<Address> {
        self.wallet.as_ref().map(|w| w.address)
    }

    fn wallet(&self) -> Result<&Wallet, ClientError> {
        self.wallet
            .as_deref()
            .ok_or_else(|| ClientError::Config("this operation needs a wallet".into()))
    }

    /// The current committee, prices and parameters.
    ///
    /// # Errors
    /// [`ClientError::Chain`] when the chain cannot be reached.
    pub async fn committee(&self) -> Result<CommitteeInfo, ClientError> {
        Ok(self.chain.committee().await?)
    }

    fn encoding_config(committee: &CommitteeInfo) -> Result<EncodingConfig, ClientError> {
        EncodingConfig::new(committee.n_shards).map_err(|e| ClientError::Codec(e.to_string()))
    }

    fn node_client(&self, address: &str) -> NodeClient {
        NodeClient::new(
            self.http.clone(),
            address,
            self.config.communication.retry_policy(),
        )
    }

    /// A client of one node whose reads give up after `timeout`.
    fn reader(&self, address: &str, timeout: std::time::Duration) -> NodeClient {
        self.node_client(address).with_read_timeout(timeout)
    }

    /// Signs and submits `calls` as one transaction with the wallet, and
    /// waits for its checkpoint. Returns the events and the created objects.
    ///
    /// # Errors
    /// [`ClientError::Transaction`] when it executed and failed,
    /// [`ClientError::Chain`] when it could not be submitted.
    pub async fn execute(
        &self,
        calls: Vec<Call>,
    ) -> Result<(Vec<Event>, Vec<ObjectId>), ClientError> {
        let wallet = self.wallet()?;
        let _held = match &self.wallet_lock {
            Some(path) => {
                let held = lock_wallet_file(Arc::clone(path)).await?;
                // Another process may have used nonces since: ask the chain.
                *wallet.next_nonce.lock().await = None;
                Some(held)
            }
            None => None,
        };
        let mut attempt = 0;
        loop {
            let nonce = {
                let mut next = wallet.next_nonce.lock().await;
                let nonce = match *next {
                    Some(nonce) => nonce,
                    None => self.chain.account(&wallet.address).await?.next_nonce,
                };
                *next = Some(nonce + 1);
                nonce
            };
            let signed = Transaction {
                sender: wallet.address,
                nonce,
                calls: calls.clone(),
            }
            .sign(&wallet.key);
            match self.chain.submit_bytes(signed.to_bytes()).await {
                Ok(response) => {
                    return match response.outcome {
                        Outcome::Success { events, created } => Ok((events, created)),
                        Outcome::Failure { code, message } => {
                            Err(ClientError::Transaction { code, message })
                        }
                    };
                }
                Err(error) => {
                    // The local counter may be off (another client of the
                    // same wallet, or a lost submission): resynchronise.
                    let expected = error.expected_nonce();
                    *wallet.next_nonce.lock().await = expected;
                    attempt += 1;
                    if expected.is_none() || attempt >= 5 {
                        return Err(ClientError::Chain(error));
                    }
                }
            }
        }
    }

    /// Mints `amount` FROST to the wallet (devnet faucet).
    ///
    /// # Errors
    /// As [`Client::execute`].
    pub async fn get_wal(&self, amount: u64) -> Result<(), ClientError> {
        self.execute(vec![Call::Faucet { amount }]).await.map(drop)
    }

    /// The wallet's balance in FROST.
    ///
    /// # Errors
    /// [`ClientError::Chain`].
    pub async fn balance(&self) -> Result<u64, ClientError> {
        Ok(self.chain.account(&self.wallet()?.address).await?.balance)
    }

    /// The wallet's Blob objects, in object-ID order.
    ///
    /// # Errors
    /// [`ClientError::Chain`].
    pub async fn list_blobs(&self) -> Result<Vec<(ObjectId, Blob)>, ClientError> {
        let mut blobs = Vec::new();
        let account = self.chain.account(&self.wallet()?.address).await?;
        for id in account.blobs {
            if let Some(blob) = self.chain.blob(&id).await? {
                blobs.push((id, blob));
            }
        }
        Ok(blobs)
    }

    /// The wallet's StakedWal objects.
    ///
    /// # Errors
    /// [`ClientError::Chain`].
    pub async fn list_staked(&self) -> Result<Vec<(ObjectId, StakedWal)>, ClientError> {
        let mut staked = Vec::new();
        let account = self.chain.account(&self.wallet()?.address).await?;
        for id in account.staked_wal {
            match self.chain.object(&id).await? {
                Some(ChainObject::StakedWal { staked_wal, .. }) => staked.push((id, staked_wal)),
                other => {
                    return Err(ClientError::Unexpected(format!(
                        "{id} is listed as staked WAL but is {other:?}"
                    )));
                }
            }
        }
        Ok(staked)
    }

    /// The wallet's Blob objects for `blob_id`.
    ///
    /// # Errors
    /// [`ClientError::Chain`].
    pub async fn blob_objects(
        &self,
        blob_id: &BlobId,
    ) -> Result<Vec<(ObjectId, Blob)>, ClientError> {
        Ok(self
            .list_blobs()
            .await?
            .into_iter()
            .filter(|(_, blob)| &blob.blob_id == blob_id)
            .collect())
    }

    /// Deletes the deletable Blob object `object`; its storage resource
    /// returns to the wallet.
    ///
    /// # Errors
    /// As [`Client::execute`] (e.g. a permanent blob).
    pub async fn delete(&self, object: ObjectId) -> Result<(), ClientError> {
        self.execute(vec![Call::DeleteBlob {
            blob: ObjectRef::from(object),
        }])
        .await
        .map(drop)
    }

    /// Extends the certified Blob object `object` by `epochs`; returns the new end epoch.
    ///
    /// # Errors
    /// As [`Client::execute`].
    pub async fn extend(&self, object: ObjectId, epochs: u32) -> Result<u32, ClientError> {
        self.execute(vec![Call::ExtendBlob {
            blob: ObjectRef::from(object),
            epochs,
        }])
        .await?;
        let blob = self.chain.blob(&object).await?.ok_or_else(|| {
            ClientError::Unexpected(format!("blob {object} vanished after extension"))
        })?;
        Ok(blob.storage.end_epoch)
    }

    /// Stakes `amount` FROST with `node_id`; returns the StakedWal object.
    ///
    /// # Errors
    /// As [`Client::execute`].
    pub async fn stake(&self, node_id: ObjectId, amount: u64) -> Result<ObjectId, ClientError> {
        let (_, created) = self.execute(vec![Call::Stake { node_id, amount }]).await?;
        created
            .first()
            .copied()
            .ok_or_else(|| ClientError::Unexpected("stake created no object".into()))
    }

    /// Requests withdrawal of the StakedWal object `staked`.
    ///
    /// # Errors
    /// As [`Client::execute`].
    pub async fn request_withdraw_stake(&self, staked: ObjectId) -> Result<(), ClientError> {
        self.execute(vec![Call::RequestWithdrawStake {
            staked_wal: ObjectRef::from(staked),
        }])
        .await
        .map(drop)
    }

    /// Withdraws the StakedWal object `staked` (its withdraw epoch must have come).
    ///
    /// # Errors
    /// As [`Client::execute`].
    pub async fn withdraw_stake(&self, staked: ObjectId) -> Result<(), ClientError> {
        self.execute(vec![Call::WithdrawStake {
            staked_wal: ObjectRef::from(staked),
        }])
        .await
        .map(drop)
    }

    /// The health of every committee member, in committee order.
    ///
    /// # Errors
    /// [`ClientError::Chain`] when the committee cannot be read; unreachable
    /// nodes are reported in their entry.
    pub async fn health(&self) -> Result<Vec<NodeHealth>, ClientError> {
        let committee = self.committee().await?;
        let mut tasks = tokio::task::JoinSet::new();
        let timeout = self.config.communication.metadata_timeout();
        for (index, member) in committee.members.iter().enumerate() {
            let node = self.reader(&member.network_address, timeout);
            tasks.spawn(async move { (index, node.health().await.map_err(|e| e.to_string())) });
        }
        let mut statuses = vec![Err("no answer".to_owned()); committee.members.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, status)) = joined {
                statuses[index] = status;
            }
        }
        Ok(committee
            .members
            .into_iter()
            .zip(statuses)
            .map(|(member, status)| NodeHealth {
                node_id: member.node_id,
                name: member.name,
                network_address: member.network_address,
                shards: member.shards.len(),
                status,
            })
            .collect())
    }

    /// The blob ID's status, asking every committee member and taking the
    /// answer with the most shard weight. Stops waiting as soon as one
    /// answer has a quorum of the shards (no other can then outweigh it);
    /// a node that does not answer within
    /// [`CommunicationConfig::metadata_timeout_ms`](crate::config::CommunicationConfig)
    /// counts as not answering (issue 21, failure 7).
    ///
    /// # Errors
    /// [`ClientError::Chain`] when the committee cannot be read, or
    /// [`ClientError::BlobNotFound`] when no node answers at all.
    pub async fn blob_status(&self, blob_id: &BlobId) -> Result<BlobStatus, ClientError> {
        let committee = self.committee().await?;
        let timeout = self.config.communication.metadata_timeout();
        let mut tasks = tokio::task::JoinSet::new();
        for member in &committee.members {
            let node = self.reader(&member.network_address, timeout);
            let weight = member.weight();
            let blob_id = *blob_id;
            tasks.spawn(async move { (weight, node.blob_status(&blob_id).await) });
        }
        let mut tally: Vec<(NodeBlobStatus, u16)> = Vec::new();
        let mut answered = 0u16;
        while let Some(joined) = tasks.join_next().await {
            let Ok((weight, Ok(status))) = joined else {
                continue;
            };
            answered = answered.saturating_add(weight);
            let total = match tally.iter_mut().find(|(s, _)| *s == status) {
                Some((_, w)) => {
                    *w = w.saturating_add(weight);
                    *w
                }
                None => {
                    tally.push((status, weight));
                    weight
                }
            };
            if walrus_codec::is_quorum(u32::from(total), u32::from(committee.n_shards)) {
                break;
            }
        }
        tasks.abort_all();
        let (status, weight) = tally
            .into_iter()
            .max_by_key(|(_, w)| *w)
            .ok_or(ClientError::BlobNotFound(*blob_id))?;
        Ok(BlobStatus {
            blob_id: *blob_id,
            status,
            weight,
            answered,
            n_shards: committee.n_shards,
        })
    }
}

/// Blocks (off the async threads) until this process holds an exclusive
/// lock on `path`; the lock is released when the returned file is dropped.
async fn lock_wallet_file(path: Arc<PathBuf>) -> Result<std::fs::File, ClientError> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.as_path())
            .map_err(|e| {
                ClientError::Config(format!("wallet lock file {}: {e}", path.display()))
            })?;
        file.lock().map_err(|e| {
            ClientError::Config(format!("locking wallet lock file {}: {e}", path.display()))
        })?;
        Ok(file)
    })
    .await
    .map_err(|e| ClientError::Config(format!("wallet lock task: {e}")))?
}
