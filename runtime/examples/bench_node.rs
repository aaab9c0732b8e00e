//! Storage node throughput at n = 1000 with 4 nodes (250 shards each) on
//! 127.0.0.1: sliver write (one batch upload of all of node 0's slivers,
//! verified and stored durably) and read (one GET per sliver) in MB/s of
//! sliver bytes, for 1 MiB and 64 MiB blobs; then recovery of one node's
//! slivers of a 1 MiB blob: time and bytes downloaded per byte recovered.
//!
//! `cargo run --release -p walrus-runtime --example bench_node`
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use blst::min_pk::{AggregateSignature, Signature};
use walrus_codec::{EncodedBlob, EncodingConfig, SliverType};
use walrus_contracts::ledger::{execution::Outcome, genesis::GenesisSpec};
use walrus_contracts::{
    Call, Genesis, ObjectId, ObjectRef, Registration, certificate, money::FROST_PER_WAL,
};
use walrus_runtime::{
    chain::{
        api,
        sequencer::{Sequencer, SequencerConfig},
    },
    storage::{self, NodeConfig, RunningNode},
};
use walrus_types::{ChainClient, NodeClient, RetryPolicy};

struct Bench {
    nodes: Vec<RunningNode>,
    client: ChainClient,
    account: ed25519_dalek::SigningKey,
    encoding: EncodingConfig,
    http: reqwest::Client,
}

impl Bench {
    fn url(&self, node: usize, path: &str) -> String {
        format!("http://{}{path}", self.nodes[node].address)
    }

    async fn register(&self, encoded: &EncodedBlob, size: u64) -> anyhow::Result<ObjectId> {
        let registration = Registration {
            storage: ObjectRef::Created(0),
            blob_id: *encoded.blob_id(),
            root_hash: encoded.metadata().metadata().root().bytes(),
            size,
            encoding_type: 1,
            deletable: false,
        };
        let reserve = Call::ReserveSpace {
            size_bytes: self.encoding.encoded_length(size)?,
            epochs: 2,
        };
        let response = self
            .client
            .execute(
                &self.account,
                vec![reserve, Call::RegisterBlob(registration)],
            )
            .await?;
        let Outcome::Success { created, .. } = response.outcome else {
            anyhow::bail!("registration failed: {response:?}")
        };
        Ok(created[1])
    }

    /// Uploads node `index`'s slivers in one batch; returns (sliver bytes, seconds).
    async fn upload(&self, index: usize, encoded: &EncodedBlob) -> anyhow::Result<(usize, f64)> {
        let blob_id = encoded.blob_id();
        let metadata = bcs::to_bytes(encoded.metadata().metadata())?;
        let reply = self
            .http
            .put(self.url(index, &format!("/v1/blobs/{blob_id}/metadata")))
            .body(metadata)
            .send()
            .await?;
        anyhow::ensure!(
            reply.status() == 201,
            "metadata upload failed: {}",
            reply.text().await?
        );
        let mut slivers = Vec::new();
        for shard in self.nodes[index].shared.view().shards {
            let (primary, secondary) =
                encoded.sliver_pair(self.encoding.pair_for_shard(shard, blob_id));
            slivers.extend([primary, secondary]);
        }
        let bytes: usize = slivers.iter().map(|s| s.symbols.data().len()).sum();
        let body = bcs::to_bytes(&slivers)?;
        let start = Instant::now();
        let reply = self
            .http
            .put(self.url(index, &format!("/v1/blobs/{blob_id}/slivers")))
            .body(body)
            .send()
            .await?;
        let seconds = start.elapsed().as_secs_f64();
        anyhow::ensure!(
            reply.status() == 201,
            "sliver upload failed: {}",
            reply.text().await?
        );
        Ok((bytes, seconds))
    }

    async fn read_all(&self, index: usize, encoded: &EncodedBlob) -> anyhow::Result<(usize, f64)> {
        let blob_id = encoded.blob_id();
        let start = Instant::now();
        let mut bytes = 0;
        for shard in self.nodes[index].shared.view().shards {
            let pair = self.encoding.pair_for_shard(shard, blob_id);
            for kind in ["primary", "secondary"] {
                let reply = self
                    .http
                    .get(self.url(index, &format!("/v1/blobs/{blob_id}/slivers/{pair}/{kind}")))
                    .send()
                    .await?;
                anyhow::ensure!(reply.status() == 200, "read failed");
                bytes += reply.bytes().await?.len();
            }
        }
        Ok((bytes, start.elapsed().as_secs_f64()))
    }

    async fn certify(
        &self,
        object: ObjectId,
        encoded: &EncodedBlob,
        signers: &[usize],
    ) -> anyhow::Result<()> {
        let blob_id = encoded.blob_id();
        let message =
            certificate::confirmation_message(self.nodes[0].shared.view().epoch, blob_id, None);
        let mut signatures = Vec::new();
        let mut positions = Vec::new();
        for index in signers {
            let address = self.nodes[*index].address.to_string();
            let node = NodeClient::new(self.http.clone(), &address, RetryPolicy::ONCE);
            let signature = node.confirmation(blob_id, None).await?.signature;
            signatures
                .push(Signature::from_bytes(&signature).map_err(|e| anyhow::anyhow!("{e:?}"))?);
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
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .to_signature();
        let certificate = certificate::Certificate {
            signers: certificate::Certificate::bitmap(&positions),
            message,
            signature: aggregate.to_bytes().to_vec(),
        };
        let response = self
            .client
            .execute(
                &self.account,
                vec![Call::CertifyBlob {
                    blob: object.into(),
                    certificate,
                }],
            )
            .await?;
        anyhow::ensure!(
            matches!(response.outcome, Outcome::Success { .. }),
            "certify failed: {response:?}"
        );
        Ok(())
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("walrus-bench-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut listeners = Vec::new();
    for _ in 0..4 {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
    }
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    let spec = GenesisSpec {
        n_nodes: 4,
        n_shards: 1000,
        epoch_duration_ms: 3_600_000,
        n_accounts: 1,
        account_balance: 100_000 * FROST_PER_WAL,
        start_ms: now_ms,
        seed: [8; 32],
        network_addresses: listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.to_string()))
            .collect::<Result<_, _>>()?,
    };
    let (genesis, secrets) = spec.generate()?;
    let sequencer =
        Sequencer::start(SequencerConfig::new(genesis.clone(), dir.join("chain.db"))).await?;
    let (chain_address, _) = api::serve(
        sequencer,
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        std::future::pending(),
    )?;
    let chain_url = format!("http://{chain_address}");
    let mut nodes = Vec::new();
    for (index, ((bls, operator), listener)) in secrets.nodes.iter().zip(listeners).enumerate() {
        let config = NodeConfig {
            node_id: Genesis::node_id(index),
            bls_secret: bls.clone(),
            operator_key: operator.clone(),
            db_path: dir.join(format!("node-{index}.db")),
            chain_url: chain_url.clone(),
            genesis: genesis.clone(),
            max_body_bytes: 1 << 30,
            registration_wait: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        };
        nodes.push(storage::start(config, listener, std::future::pending())?);
    }
    let bench = Bench {
        nodes,
        client: ChainClient::new(chain_url),
        account: secrets.accounts[0].clone(),
        encoding: EncodingConfig::new(1000)?,
        http: reqwest::Client::new(),
    };

    println!("4 nodes, n = 1000 shards (250 per node); MB = 10^6 bytes of sliver data");
    for size_mib in [1usize, 64] {
        let data = walrus_codec::pseudo_random_bytes(size_mib << 20, 0x1234 + size_mib as u64);
        let encoded = bench.encoding.encode(&data)?;
        bench.register(&encoded, data.len() as u64).await?;
        let (written, write_s) = bench.upload(0, &encoded).await?;
        let (read, read_s) = bench.read_all(0, &encoded).await?;
        println!(
            "{size_mib:>3} MiB blob: write {:>7.1} MB/s ({:.1} MB in {:.2} s, one batch), read {:>7.1} MB/s ({} GETs in {:.2} s)",
            written as f64 / 1e6 / write_s,
            written as f64 / 1e6,
            write_s,
            read as f64 / 1e6 / read_s,
            500,
            read_s
        );
    }

    for size_mib in [1usize, 64] {
        recovery(&bench, size_mib).await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Node 0 misses a blob that nodes 1..3 hold and certify, then recovers it.
async fn recovery(bench: &Bench, size_mib: usize) -> anyhow::Result<()> {
    let data = walrus_codec::pseudo_random_bytes(size_mib << 20, 99 + size_mib as u64);
    let encoded = bench.encoding.encode(&data)?;
    let object = bench.register(&encoded, data.len() as u64).await?;
    for index in 1..4 {
        bench.upload(index, &encoded).await?;
    }
    let start = Instant::now();
    bench.certify(object, &encoded, &[1, 2, 3]).await?;
    let metrics = bench.nodes[0].shared.metrics.clone();
    let (downloaded_before, recovered_before, count_before) = (
        metrics.recovery_bytes_downloaded.get(),
        metrics.recovery_bytes_recovered.get(),
        metrics.slivers_recovered.get(),
    );
    let expected = count_before + 500;
    let deadline = Instant::now() + Duration::from_secs(600);
    while metrics.slivers_recovered.get() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let downloaded = metrics.recovery_bytes_downloaded.get() - downloaded_before;
    let recovered = metrics.recovery_bytes_recovered.get() - recovered_before;
    println!(
        "recovery of node 0's {} slivers of a {size_mib} MiB blob: {:.1} s, downloaded {:.2} MB for {:.2} MB recovered ({:.3}x)",
        metrics.slivers_recovered.get() - count_before,
        start.elapsed().as_secs_f64(),
        downloaded as f64 / 1e6,
        recovered as f64 / 1e6,
        downloaded as f64 / recovered.max(1) as f64
    );
    let _ = encoded.sliver(SliverType::Primary, 0);
    Ok(())
}
