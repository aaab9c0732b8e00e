//! A test cluster in one process: a sequencer and storage nodes on 127.0.0.1
//! port 0, with real SQLite files, and helpers to register, upload, confirm
//! and certify blobs the way a client will.
#![allow(dead_code)] // each test file uses a different part

pub mod nemesis;

use std::{path::PathBuf, time::Duration};

use blst::min_pk::Signature;
use walrus_codec::{BlobId, BlobMetadata, EncodingConfig, Sliver};
use walrus_contracts::{
    Call, Genesis, ObjectId, ObjectRef, Registration, certificate,
    ledger::{
        execution::Outcome,
        genesis::{GenesisSecrets, GenesisSpec},
    },
    money::FROST_PER_WAL,
};
use walrus_runtime::{
    chain::{
        api,
        sequencer::{Sequencer, SequencerConfig},
    },
    storage::{self, NodeConfig, RunningNode, scrub::ScrubConfig},
};
use walrus_types::{
    ChainClient, NodeClient, RetryPolicy,
    error::{ErrorBody, ErrorReason},
};

pub fn temp_dir(name: &str) -> PathBuf {
    // Integration tests get cargo's scratch directory; the bench example
    // that shares this module gets the system's.
    let base = option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub use walrus_types::now_ms;

/// The status of `response` and the reason of its error body, if any.
pub async fn reason(response: reqwest::Response) -> (u16, Option<ErrorReason>) {
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    let reason = serde_json::from_slice::<ErrorBody>(&body)
        .ok()
        .and_then(|b| b.reason());
    (status, reason)
}

/// Sends only the headers of a request declaring `length` body bytes to
/// `address` (`host:port`, with or without `http://`) and returns the HTTP
/// status: a server must refuse by the declared length without reading (or
/// waiting for) the body.
pub async fn status_for_declared_length(
    address: &str,
    path: &str,
    method: &str,
    length: usize,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut reply = vec![0u8; 64];
    let read = stream.read(&mut reply).await.expect("read");
    let line = String::from_utf8_lossy(&reply[..read]).to_string();
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub struct Cluster {
    /// Where the chain and the nodes keep their files.
    pub dir: PathBuf,
    /// The chain API, `http://host:port`.
    pub chain_url: String,
    pub nodes: Vec<RunningNode>,
    pub client: ChainClient,
    pub secrets: GenesisSecrets,
    pub config: EncodingConfig,
    pub http: reqwest::Client,
}

impl Cluster {
    /// A sequencer and `n_nodes` nodes over `n_shards` shards, accepting
    /// request bodies up to 4 MiB.
    pub async fn start(name: &str, n_nodes: usize, n_shards: u16) -> Self {
        Self::start_with_body_limit(name, n_nodes, n_shards, 4 << 20).await
    }

    /// As [`Cluster::start`], with nodes accepting bodies up to `max_body_bytes`.
    pub async fn start_with_body_limit(
        name: &str,
        n_nodes: usize,
        n_shards: u16,
        max_body_bytes: u64,
    ) -> Self {
        Self::start_inner(name, n_nodes, n_shards, max_body_bytes, &[])
            .await
            .0
    }

    /// As [`Cluster::start`], with the nodes `faulty` registered on chain
    /// behind a [`nemesis::Nemesis`] proxy each (returned in that order).
    pub async fn start_with_nemesis(
        name: &str,
        n_nodes: usize,
        n_shards: u16,
        faulty: &[usize],
    ) -> (Self, Vec<nemesis::Nemesis>) {
        Self::start_inner(name, n_nodes, n_shards, 4 << 20, faulty).await
    }

    async fn start_inner(
        name: &str,
        n_nodes: usize,
        n_shards: u16,
        max_body_bytes: u64,
        faulty: &[usize],
    ) -> (Self, Vec<nemesis::Nemesis>) {
        let dir = temp_dir(name);
        let mut listeners = Vec::new();
        for _ in 0..n_nodes {
            listeners.push(
                tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind"),
            );
        }
        let network_addresses = listeners
            .iter()
            .map(|l| l.local_addr().expect("address").to_string())
            .collect();
        let spec = GenesisSpec {
            n_nodes,
            n_shards,
            epoch_duration_ms: 3_600_000,
            n_accounts: 1,
            account_balance: 100_000 * FROST_PER_WAL,
            start_ms: now_ms(),
            seed: [4; 32],
            network_addresses,
        };
        let (genesis, secrets) = spec.generate().expect("genesis");
        let sequencer =
            Sequencer::start(SequencerConfig::new(genesis.clone(), dir.join("chain.db")))
                .await
                .expect("sequencer");
        let chain_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let (chain_address, _) =
            api::serve(sequencer, chain_listener, std::future::pending()).expect("serve");
        let chain_url = format!("http://{chain_address}");
        let mut nodes = Vec::new();
        let mut proxies = Vec::new();
        for (index, ((bls, operator), listener)) in secrets.nodes.iter().zip(listeners).enumerate()
        {
            // A faulty node listens elsewhere; its proxy takes the address
            // on chain.
            let listener = if faulty.contains(&index) {
                let own = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let address = own.local_addr().expect("address");
                proxies.push((index, nemesis::Nemesis::start(listener, address)));
                own
            } else {
                listener
            };
            let config = NodeConfig {
                node_id: Genesis::node_id(index),
                bls_secret: bls.clone(),
                operator_key: operator.clone(),
                db_path: dir.join(format!("node-{index}.db")),
                chain_url: chain_url.clone(),
                genesis: genesis.clone(),
                certified_chain: false,
                max_body_bytes,
                registration_wait: Duration::from_millis(300),
                retry: RetryPolicy::default(),
                // Passes back to back, so tests see repairs at once.
                scrub: ScrubConfig {
                    interval: Duration::from_millis(100),
                    bytes_per_second: 1 << 30,
                },
            };
            nodes.push(
                storage::start(config, listener, std::future::pending()).expect("node starts"),
            );
        }
        let cluster = Self {
            dir,
            chain_url: chain_url.clone(),
            nodes,
            client: ChainClient::new(chain_url),
            secrets,
            config: EncodingConfig::new(n_shards).expect("n"),
            http: reqwest::Client::new(),
        };
        let proxies = faulty
            .iter()
            .filter_map(|i| proxies.iter().find(|(j, _)| j == i).map(|(_, p)| p.clone()))
            .collect();
        (cluster, proxies)
    }

    /// The pairs of `blob_id` that node `index` holds now.
    pub fn pairs_of(&self, index: usize, blob_id: &BlobId) -> Vec<u16> {
        self.nodes[index]
            .shared
            .view()
            .shards
            .iter()
            .map(|s| self.config.pair_for_shard(*s, blob_id))
            .collect()
    }

    pub fn url(&self, node: usize, path: &str) -> String {
        format!("http://{}{path}", self.nodes[node].address)
    }

    /// A typed client of node `index`'s API.
    pub fn node(&self, index: usize) -> NodeClient {
        NodeClient::new(
            self.http.clone(),
            &self.nodes[index].address.to_string(),
            RetryPolicy::ONCE,
        )
    }

    /// Reserves storage and registers a permanent blob; returns the Blob object.
    pub async fn register(&self, blob_id: BlobId, metadata: &BlobMetadata) -> ObjectId {
        let size = metadata.unencoded_length();
        let registration = Registration {
            storage: ObjectRef::Created(0),
            blob_id,
            root_hash: metadata.root().bytes(),
            size,
            encoding_type: 1,
            deletable: false,
        };
        let reserve = Call::ReserveSpace {
            size_bytes: self.config.encoded_length(size).expect("fits"),
            epochs: 3,
        };
        let response = self
            .client
            .execute(
                &self.secrets.accounts[0],
                vec![reserve, Call::RegisterBlob(registration)],
            )
            .await
            .expect("register");
        let Outcome::Success { created, .. } = response.outcome else {
            panic!("registration failed: {response:?}")
        };
        created[1]
    }

    /// Uploads metadata and the slivers `sliver_of(pair)` of node `index`'s shards.
    pub async fn upload(
        &self,
        index: usize,
        blob_id: BlobId,
        metadata: &BlobMetadata,
        sliver_of: impl Fn(u16) -> (Sliver, Sliver),
    ) {
        let node = self.node(index);
        node.store_metadata(&blob_id, metadata)
            .await
            .expect("metadata stored");
        let mut slivers = Vec::new();
        for shard in self.nodes[index].shared.view().shards {
            let (primary, secondary) = sliver_of(self.config.pair_for_shard(shard, &blob_id));
            slivers.extend([primary, secondary]);
        }
        let body = bytes::Bytes::from(bcs::to_bytes(&slivers).expect("bcs"));
        node.store_slivers(&blob_id, &body)
            .await
            .expect("slivers stored");
    }

    /// Collects permanent confirmations from `signers` and certifies the blob.
    pub async fn certify(&self, object: ObjectId, blob_id: BlobId, signers: &[usize]) {
        let message =
            certificate::confirmation_message(self.nodes[0].shared.view().epoch, &blob_id, None);
        let mut signatures = Vec::new();
        let mut positions = Vec::new();
        for index in signers {
            let signed = self
                .node(*index)
                .confirmation(&blob_id, None)
                .await
                .expect("confirmation");
            assert_eq!(signed.serialized_message, message);
            signatures.push(Signature::from_bytes(&signed.signature).expect("signature"));
            positions.push(
                self.nodes[0]
                    .shared
                    .view()
                    .committee
                    .position(&Genesis::node_id(*index))
                    .expect("member"),
            );
        }
        let certificate = certificate::Certificate::aggregate(message, &positions, &signatures)
            .expect("aggregate");
        let response = self
            .client
            .execute(
                &self.secrets.accounts[0],
                vec![Call::CertifyBlob {
                    blob: object.into(),
                    certificate,
                }],
            )
            .await
            .expect("certify");
        assert!(
            matches!(response.outcome, Outcome::Success { .. }),
            "{response:?}"
        );
    }

    /// Node indices by shard count, fewest first.
    pub fn by_weight(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by_key(|i| self.nodes[*i].shared.view().shards.len());
        order
    }

    /// Polls `check` up to 200 times, 50 ms apart (10 s in all).
    pub async fn eventually(&self, what: &str, mut check: impl AsyncFnMut() -> bool) {
        for _ in 0..200 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for: {what}");
    }
}
