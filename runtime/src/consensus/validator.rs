//! A validator of the replicated control plane: the chain service
//! (checkpoint log, state, HTTP API: `crate::chain`) with Malachite BFT
//! ordering its transactions instead of the single sequencer.
//!
//! [`start`] restores the state from the log, starts the engine (libp2p on
//! `p2p_listen`, the other validators as persistent peers, the engine's
//! write-ahead log at `wal_path`) and the application loop (`app.rs`).
//! Transactions submitted here are admitted to this validator's mempool
//! and forwarded, in batches, to the other validators' `POST /v1/mempool`,
//! so whichever
//! proposes next orders them; the submitter hears the outcome once the
//! block holding it is decided and executed.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use blst::min_pk::SecretKey;
use malachitebft_app_channel::{
    ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, RequestContext, SyncContext,
    WalContext,
    app::{
        config::{ConsensusConfig, NodeConfig, P2pConfig, ValuePayload, ValueSyncConfig},
        net::Multiaddr,
        types::{Keypair, codec::Codec as _},
    },
    start_engine,
};
use malachitebft_signing::Signer as _;
use tokio::sync::{mpsc, oneshot};
use walrus_contracts::{
    Committee, ObjectId,
    ledger::transaction::{Rejection, SignedTransaction, TxDigest},
};
use walrus_types::chain::TxResponse;

use super::{
    app::{App, Settings},
    codec::WalrusCodec,
    context::{ValidatorAddress, ValidatorSet, WalrusContext},
    mempool::Mempool,
    signing::{BlsSigner, BlsVerifier},
    streaming::Streams,
};
use crate::chain::sequencer::{self, Sequencer, SequencerConfig, SequencerError, Shared, lock};

/// How long a submitter waits for its transaction's checkpoint.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Most transactions forwarded to the other validators in one request.
pub const FORWARD_BATCH: usize = 1000;

/// Most bytes of transactions forwarded in one request; a
/// `POST /v1/mempool` body is at most this plus framing.
pub const FORWARD_BYTES: usize = 4 << 20;

/// Transactions waiting to be forwarded; beyond this, a transaction is
/// only in this validator's mempool until it proposes.
const FORWARD_QUEUE: usize = 10_000;

/// What a validator needs beyond the chain service's settings.
pub struct ValidatorConfig {
    /// Its BLS key: a committee member's registered key.
    pub secret: SecretKey,
    /// Where the engine listens for the other validators (TCP).
    pub p2p_listen: SocketAddr,
    /// The other validators' engine addresses.
    pub peers: Vec<SocketAddr>,
    /// The other validators' HTTP API base URLs (mempool forwarding).
    pub peer_urls: Vec<String>,
    /// The engine's write-ahead log file.
    pub wal_path: PathBuf,
    /// Block building and timeouts.
    pub settings: Settings,
}

/// A validator's side of admission: its mempool and the queue of
/// transactions to forward to the other validators.
pub(crate) struct Admission {
    pub(crate) mempool: Arc<Mempool>,
    forward: mpsc::Sender<Vec<u8>>,
}

impl Admission {
    /// Admits `signed` (verified, with `digest`; `bytes` its BCS),
    /// forwards it, waits for its checkpoint.
    pub(crate) async fn submit(
        &self,
        shared: &Shared,
        signed: SignedTransaction,
        digest: TxDigest,
        bytes: &[u8],
    ) -> Result<TxResponse, Rejection> {
        let chain_nonce = {
            let chain = lock(&shared.chain);
            chain.check_fee(&signed)?;
            chain.next_nonce(&signed.transaction.sender)
        };
        let (sender, receiver) = oneshot::channel();
        self.mempool.wait_for(digest, sender);
        if let Err(rejection) = self.mempool.admit(signed, digest, chain_nonce) {
            self.mempool.forget(&digest);
            return Err(rejection);
        }
        if self.forward.try_send(bytes.to_vec()).is_err() {
            tracing::debug!(
                "forwarding queue full; the transaction waits for this validator's turn"
            );
        }
        match tokio::time::timeout(SUBMIT_TIMEOUT, receiver).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(Rejection::Unavailable("the validator stopped")),
            Err(_) => Err(Rejection::Unavailable(
                "not ordered within 60 s; it may still be: look it up by digest",
            )),
        }
    }

    /// Admits a transaction forwarded by another validator (verified,
    /// with `digest`).
    pub(crate) fn relay(
        &self,
        shared: &Shared,
        signed: SignedTransaction,
        digest: TxDigest,
    ) -> Result<(), Rejection> {
        let chain_nonce = {
            let chain = lock(&shared.chain);
            chain.check_fee(&signed)?;
            chain.next_nonce(&signed.transaction.sender)
        };
        self.mempool.admit(signed, digest, chain_nonce)
    }
}

/// Sends queued transactions to every other validator's
/// `POST /v1/mempool`, as BCS lists of at most [`FORWARD_BATCH`]
/// transactions and [`FORWARD_BYTES`] bytes: one request per peer and
/// batch, not per transaction.
async fn forward_batches(peer_urls: Vec<String>, mut queue: mpsc::Receiver<Vec<u8>>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    while let Some(first) = queue.recv().await {
        let mut bytes = first.len();
        let mut batch = vec![first];
        while batch.len() < FORWARD_BATCH && bytes < FORWARD_BYTES {
            let Ok(next) = queue.try_recv() else { break };
            bytes += next.len();
            batch.push(next);
        }
        let body = bytes::Bytes::from(bcs::to_bytes(&batch).expect("byte lists serialize"));
        for url in &peer_urls {
            let request = http
                .post(format!("{url}/v1/mempool"))
                .header("content-type", "application/octet-stream")
                .body(body.clone());
            let url = url.clone();
            tokio::spawn(async move {
                if let Err(error) = request.send().await {
                    tracing::debug!(%url, "cannot forward transactions: {error}");
                }
            });
        }
    }
}

#[derive(Clone)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

fn multiaddr(address: SocketAddr) -> Result<Multiaddr, SequencerError> {
    format!("/ip4/{}/tcp/{}", address.ip(), address.port())
        .parse()
        .map_err(|e| SequencerError::Consensus(format!("address {address}: {e}")))
}

/// The node whose registered key is `secret`'s.
fn node_of(committee: &Committee, secret: &SecretKey) -> Result<ObjectId, SequencerError> {
    let public = secret.sk_to_pk().to_bytes();
    committee
        .members
        .iter()
        .find(|m| m.public_key == public)
        .map(|m| m.node_id)
        .ok_or_else(|| {
            SequencerError::Consensus(
                "this BLS key is not a member of the committee; pass a committee member's key"
                    .to_owned(),
            )
        })
}

/// Starts a validator: the chain service's state and log from `config`,
/// the engine and the application loop.
///
/// # Errors
/// The log does not open or restore, holds checkpoints of the single
/// sequencer (no blocks), the key is not a committee member's, or the
/// engine does not start.
pub async fn start(
    config: SequencerConfig,
    validator: ValidatorConfig,
) -> Result<(Sequencer, EngineHandle), SequencerError> {
    let (chain, writer, reader) = sequencer::open(&config).await?;
    let ctx = WalrusContext {
        chain: config.genesis.digest(),
    };
    let last = reader.last_decided()?;
    let (height, committee, last_block) = match &last {
        Some(decided) => (
            decided.block.header.height + 1,
            decided.next_committee.clone(),
            decided.block.hash(),
        ),
        None => (1, chain.state.committee.clone(), [0; 32]),
    };
    if chain.next_sequence + 1 != height {
        return Err(SequencerError::Consensus(format!(
            "the log holds {} checkpoints but {} decided blocks: it was written by the single sequencer; use a new --db",
            chain.next_sequence,
            height - 1
        )));
    }
    let address = ValidatorAddress(node_of(&chain.state.committee, &validator.secret)?);
    let validators =
        ValidatorSet::of(&committee).map_err(|e| SequencerError::Consensus(e.to_string()))?;
    let mempool = Arc::new(Mempool::default());
    let (forward, queue) = mpsc::channel(FORWARD_QUEUE);
    tokio::spawn(forward_batches(validator.peer_urls.clone(), queue));
    let admission = sequencer::Admission::Replicated(Admission {
        mempool: mempool.clone(),
        forward,
    });
    let shared = Shared::new(config, chain, (writer, reader), admission);
    let signer = BlsSigner::new(ctx, validator.secret.clone());
    let (channels, handle) = start_engine_for(ctx, address, &validator).await?;
    let app = App {
        ctx,
        shared: shared.clone(),
        mempool,
        signer,
        address,
        settings: validator.settings,
        height: super::context::Height(height),
        validators,
        committee,
        last_block,
        last_block_busy: last
            .as_ref()
            .is_some_and(|d| !d.block.transactions.is_empty()),
        blocks: Default::default(),
        undecided: Vec::new(),
        pending: Vec::new(),
        streams: Streams::default(),
        next_committee: None,
    };
    tokio::spawn(app.run(channels));
    Ok((Sequencer { shared }, handle))
}

async fn start_engine_for(
    ctx: WalrusContext,
    address: ValidatorAddress,
    validator: &ValidatorConfig,
) -> Result<
    (
        malachitebft_app_channel::Channels<WalrusContext>,
        EngineHandle,
    ),
    SequencerError,
> {
    let engine = |e: String| SequencerError::Consensus(format!("engine: {e}"));
    let p2p = P2pConfig {
        listen_addr: multiaddr(validator.p2p_listen)?,
        persistent_peers: validator
            .peers
            .iter()
            .map(|p| multiaddr(*p))
            .collect::<Result<_, _>>()?,
        ..P2pConfig::default()
    };
    let consensus = ConsensusConfig {
        value_payload: ValuePayload::ProposalAndParts,
        p2p,
        ..ConsensusConfig::default()
    };
    let moniker = format!("validator-{address}");
    let config = EngineConfig {
        moniker: moniker.clone(),
        consensus,
        value_sync: ValueSyncConfig::default(),
    };
    // The libp2p identity is derived from the BLS key: one secret to keep.
    let mut seed = blake3::derive_key("walrus p2p identity v1", &validator.secret.to_bytes());
    let keypair = Keypair::ed25519_from_bytes(&mut seed).map_err(|e| engine(e.to_string()))?;
    let signer = BlsSigner::new(ctx, validator.secret.clone());
    let public_key = signer.public_key().0.to_vec();
    let proof = signer
        .sign_validator_proof(public_key, keypair.public().to_peer_id().to_bytes())
        .await
        .map_err(|e| engine(e.to_string()))?;
    let proof = WalrusCodec
        .encode(&proof)
        .map_err(|e| engine(e.to_string()))?;
    let identity = NetworkIdentity::new_validator(moniker, keypair, address.to_string(), proof);
    start_engine(
        ctx,
        config,
        WalContext::new(validator.wal_path.clone(), WalrusCodec),
        NetworkContext::new(identity, WalrusCodec),
        ConsensusContext::new_validator(address, Box::new(BlsVerifier::new(ctx)), Box::new(signer)),
        SyncContext::new(WalrusCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| engine(format!("{e:#}")))
}
