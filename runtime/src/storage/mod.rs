//! The storage node (SPEC.md sections 4 to 6): stores the metadata and
//! slivers of its shards, signs storage confirmations, serves reads and
//! recovery symbols, and follows the chain to learn which blobs exist.
//!
//! `rules` holds the node's protocol decisions, pure; `store` is the
//! SQLite sliver store; `api` the HTTP API (warp); `sync` follows the chain
//! (registrations, certifications, deletions, expiry, epoch changes);
//! `recovery` rebuilds missing slivers from peers. The shared
//! [`NodeShared`] holds the store, the node's view of the committee and its
//! keys.

pub mod api;
pub mod metrics;
pub mod recovery;
pub mod rules;
pub mod scrub;
pub mod store;
pub mod sync;

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, RwLock},
    time::Duration,
};

use walrus_codec::{BlobId, EncodingConfig};
use walrus_contracts::{Committee, ObjectId, TxError, certificate, ledger::genesis::GenesisConfig};
use walrus_types::RetryPolicy;

use rules::BlobFacts;
use store::{NodeStore, StoreError};

/// Why a storage node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The BLS secret key is not a valid 32-byte scalar.
    #[error("invalid BLS secret key in the node configuration")]
    BlsKey,
    /// The genesis does not build.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] TxError),
    /// The genesis's shard count has no code.
    #[error("unsupported shard count: {0}")]
    Encoding(#[from] walrus_codec::error::ConfigError),
    /// The sliver store cannot be opened.
    #[error("sliver store: {0}")]
    Store(#[from] StoreError),
    /// The HTTP client cannot be built.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The listener's address cannot be read.
    #[error("listener: {0}")]
    Listen(#[from] std::io::Error),
}

/// How a storage node runs.
#[derive(Clone)]
pub struct NodeConfig {
    /// The node's ID on chain (its staking pool).
    pub node_id: ObjectId,
    /// The BLS secret key (32 bytes).
    pub bls_secret: Vec<u8>,
    /// The operator's ed25519 key, to send epoch-sync-done transactions.
    pub operator_key: ed25519_dalek::SigningKey,
    /// The SQLite file of the sliver store.
    pub db_path: PathBuf,
    /// The chain API, e.g. `http://127.0.0.1:9100`.
    pub chain_url: String,
    /// The chain's genesis.
    pub genesis: GenesisConfig,
    /// Apply only checkpoints covered by a block certificate of the
    /// validators (`walrus_types::Follower`); `false` for the single
    /// sequencer, which signs nothing.
    pub certified_chain: bool,
    /// Largest request body (a batch of slivers), in bytes.
    pub max_body_bytes: u64,
    /// How long a metadata upload waits for the blob's registration.
    pub registration_wait: Duration,
    /// How requests to peers are retried.
    pub retry: RetryPolicy,
    /// How the scrubber re-verifies stored slivers.
    pub scrub: scrub::ScrubConfig,
}

/// The committee as this node sees it.
#[derive(Debug, Clone)]
pub struct View {
    /// The current epoch.
    pub epoch: u32,
    /// The current committee.
    pub committee: Committee,
    /// The shards this node holds in the current epoch.
    pub shards: BTreeSet<u16>,
    /// Checkpoints applied.
    pub checkpoints: u64,
    /// API address of every storage node (from its staking pool), by node ID.
    pub addresses: std::collections::BTreeMap<ObjectId, String>,
}

impl View {
    /// The view of `state` for `node_id`.
    pub fn of(state: &walrus_contracts::State, node_id: &ObjectId, checkpoints: u64) -> Self {
        Self {
            epoch: state.epoch,
            shards: shards_of(&state.committee, node_id),
            committee: state.committee.clone(),
            checkpoints,
            addresses: state
                .pools
                .iter()
                .map(|(id, pool)| (*id, pool.network_address.clone()))
                .collect(),
        }
    }
}

/// Most upload bodies a node reads at once, each at most
/// [`NodeConfig::max_body_bytes`]: this bounds the memory uploads take
/// (issue 21, failure 2). Further uploads wait for a slot.
pub const MAX_CONCURRENT_UPLOADS: usize = 8;

/// State shared by the API and the chain follower.
pub struct NodeShared {
    pub(crate) config: NodeConfig,
    pub(crate) encoding: EncodingConfig,
    pub(crate) key: blst::min_pk::SecretKey,
    pub(crate) store: Mutex<NodeStore>,
    pub(crate) view: RwLock<View>,
    /// Wakes uploads waiting for a registration.
    pub(crate) registered: tokio::sync::Notify,
    /// What the scrubber found.
    pub(crate) scrub: RwLock<walrus_types::node::ScrubStatus>,
    /// Upload bodies being read (at most [`MAX_CONCURRENT_UPLOADS`]).
    pub(crate) uploads: Arc<tokio::sync::Semaphore>,
    /// For talking to other nodes.
    pub(crate) http: reqwest::Client,
    /// Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl NodeShared {
    /// Opens the store and the keys; the view starts at genesis.
    ///
    /// # Errors
    /// [`StartError`]: bad keys, a bad genesis, or SQLite errors.
    pub fn open(config: NodeConfig) -> Result<Arc<Self>, StartError> {
        let key = blst::min_pk::SecretKey::from_bytes(&config.bls_secret)
            .map_err(|_| StartError::BlsKey)?;
        let state = config.genesis.genesis.build()?;
        let encoding = EncodingConfig::new(state.params.n_shards)?;
        let store = NodeStore::open(&config.db_path)?;
        let view = View::of(&state, &config.node_id, 0);
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Arc::new(Self {
            config,
            encoding,
            key,
            store: Mutex::new(store),
            view: RwLock::new(view),
            registered: tokio::sync::Notify::new(),
            uploads: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_UPLOADS)),
            scrub: RwLock::default(),
            http,
            metrics: Arc::default(),
        }))
    }

    /// A snapshot of the view.
    pub fn view(&self) -> View {
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The node's BLS public key (48 bytes).
    pub fn public_key(&self) -> Vec<u8> {
        self.key.sk_to_pk().to_bytes().to_vec()
    }

    /// Signs `message` with the node's BLS key (96 bytes).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key
            .sign(message, certificate::DST, &[])
            .to_bytes()
            .to_vec()
    }

    /// The sliver pairs of `blob_id` this node holds in the current epoch.
    pub fn pairs_of(&self, blob_id: &BlobId, view: &View) -> Vec<u16> {
        view.shards
            .iter()
            .map(|shard| self.encoding.pair_for_shard(*shard, blob_id))
            .collect()
    }

    /// What the store knows about `blob_id`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn blob_facts(&self, blob_id: &BlobId) -> Result<BlobFacts, StoreError> {
        lock(&self.store).blob_facts(blob_id)
    }

    /// A client of the peer node at `address` (`host:port`).
    pub fn peer(&self, address: &str) -> walrus_types::NodeClient {
        walrus_types::NodeClient::new(self.http.clone(), address, self.config.retry)
    }
}

/// The shards of `node_id` in `committee`.
pub fn shards_of(committee: &Committee, node_id: &ObjectId) -> BTreeSet<u16> {
    committee
        .members
        .iter()
        .filter(|m| &m.node_id == node_id)
        .flat_map(|m| m.shards.iter().copied())
        .collect()
}

/// A storage node serving its API and following the chain.
pub struct RunningNode {
    /// The shared state.
    pub shared: Arc<NodeShared>,
    /// Where the API listens.
    pub address: std::net::SocketAddr,
    /// The API server; ends on shutdown.
    pub server: tokio::task::JoinHandle<()>,
    /// The chain follower; ends only on divergence or a store failure.
    pub follower: tokio::task::JoinHandle<sync::FollowStop>,
}

/// Starts a storage node on `listener`: the API and the chain follower.
///
/// # Errors
/// As [`NodeShared::open`].
pub fn start(
    config: NodeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<RunningNode, StartError> {
    let shared = NodeShared::open(config)?;
    let (certified, certified_events) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(scrub::run(shared.clone(), certified.clone()));
    let follower = tokio::spawn(sync::follow_chain(shared.clone(), certified));
    tokio::spawn(recovery::run(shared.clone(), certified_events));
    let (address, server) = api::serve(shared.clone(), listener, shutdown)?;
    Ok(RunningNode {
        shared,
        address,
        server,
        follower,
    })
}
