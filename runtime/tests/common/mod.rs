//! A test cluster in one process: a sequencer and storage nodes on 127.0.0.1
//! port 0, with real SQLite files, and helpers to register, upload, confirm
//! and certify blobs the way a client will.
#![allow(dead_code)] // each test file uses a different part

use std::{path::PathBuf, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use blst::min_pk::{AggregateSignature, Signature};
use walrus_codec::{BlobId, BlobMetadata, EncodingConfig, Sliver};
use walrus_contracts::{
    Call, Genesis, ObjectId, ObjectRef, Registration, certificate, money::FROST_PER_WAL,
};
use walrus_runtime::{
    chain::{
        api,
        client::ChainClient,
        execution::Outcome,
        genesis::{GenesisSecrets, GenesisSpec},
        sequencer::{Sequencer, SequencerConfig},
    },
    node::{self, NodeConfig, RunningNode},
};

pub fn temp_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("fits")
}

pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

pub struct Cluster {
    pub nodes: Vec<RunningNode>,
    pub client: ChainClient,
    pub secrets: GenesisSecrets,
    pub config: EncodingConfig,
    pub http: reqwest::Client,
}

impl Cluster {
    /// A sequencer and `n_nodes` nodes over `n_shards` shards.
    pub async fn start(name: &str, n_nodes: usize, n_shards: u16) -> Self {
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
            account_balance: 1000 * FROST_PER_WAL,
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
        for (index, ((bls, operator), listener)) in secrets.nodes.iter().zip(listeners).enumerate()
        {
            let config = NodeConfig {
                node_id: Genesis::node_id(index),
                bls_secret: bls.clone(),
                operator_key: operator.clone(),
                db_path: dir.join(format!("node-{index}.db")),
                chain_url: chain_url.clone(),
                genesis: genesis.clone(),
                max_body_bytes: 4 << 20,
                registration_wait: Duration::from_millis(300),
            };
            nodes.push(node::start(config, listener, std::future::pending()).expect("node starts"));
        }
        Self {
            nodes,
            client: ChainClient::new(chain_url),
            secrets,
            config: EncodingConfig::new(n_shards).expect("n"),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, node: usize, path: &str) -> String {
        format!("http://{}{path}", self.nodes[node].address)
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
        let (status, body) = json(
            self.http
                .put(self.url(index, &format!("/v1/blobs/{blob_id}/metadata")))
                .body(bcs::to_bytes(metadata).expect("bcs"))
                .send()
                .await
                .expect("put"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let mut slivers = Vec::new();
        for shard in self.nodes[index].shared.view().shards {
            let (primary, secondary) = sliver_of(self.config.pair_for_shard(shard, &blob_id));
            slivers.extend([primary, secondary]);
        }
        let (status, body) = json(
            self.http
                .put(self.url(index, &format!("/v1/blobs/{blob_id}/slivers")))
                .body(bcs::to_bytes(&slivers).expect("bcs"))
                .send()
                .await
                .expect("put"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }

    /// Collects permanent confirmations from `signers` and certifies the blob.
    pub async fn certify(&self, object: ObjectId, blob_id: BlobId, signers: &[usize]) {
        let message =
            certificate::confirmation_message(self.nodes[0].shared.view().epoch, &blob_id, None);
        let mut signatures = Vec::new();
        let mut positions = Vec::new();
        for index in signers {
            let (status, body) = json(
                self.http
                    .get(self.url(
                        *index,
                        &format!("/v1/blobs/{blob_id}/confirmation/permanent"),
                    ))
                    .send()
                    .await
                    .expect("get"),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let signature = BASE64
                .decode(
                    body["success"]["data"]["signed"]["signature"]
                        .as_str()
                        .expect("signature"),
                )
                .expect("base64");
            signatures.push(Signature::from_bytes(&signature).expect("signature"));
            positions.push(
                self.nodes[0]
                    .shared
                    .view()
                    .committee
                    .position(&Genesis::node_id(*index))
                    .expect("member"),
            );
        }
        let refs: Vec<&Signature> = signatures.iter().collect();
        let aggregate = AggregateSignature::aggregate(&refs, true)
            .expect("aggregate")
            .to_signature();
        let certificate = certificate::Certificate {
            signers: certificate::Certificate::bitmap(&positions),
            message,
            signature: aggregate.to_bytes().to_vec(),
        };
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
