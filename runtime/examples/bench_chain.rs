//! Load test of the chain service: CLIENTS concurrent HTTP clients each
//! submit PER_CLIENT pre-signed transfers (one at a time, each waiting for its
//! checkpoint) on 127.0.0.1 with real SQLite logs: to the single sequencer
//! (VALIDATORS = 0), or spread over VALIDATORS validators of the replicated
//! control plane (Malachite BFT over libp2p TCP, in this one process).
//! Prints committed transactions per second and p50/p99 latency to finality.
//!
//! `cargo run --release -p walrus-runtime --example bench_chain -- [CLIENTS] [PER_CLIENT] [VALIDATORS]`
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use malachitebft_app_channel::EngineHandle;

use walrus_contracts::ledger::{
    genesis::{GenesisConfig, GenesisSecrets, GenesisSpec},
    transaction::{Transaction, address_of},
};
use walrus_contracts::{Call, money::FROST_PER_WAL};
use walrus_runtime::{
    chain::{
        api,
        sequencer::{Sequencer, SequencerConfig},
    },
    consensus::{
        Settings,
        validator::{self, ValidatorConfig},
    },
};
use walrus_types::ChainClient;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map_or(Ok(64), |a| a.parse())?;
    let per_client: usize = args.next().map_or(Ok(150), |a| a.parse())?;
    let validators: usize = args.next().map_or(Ok(0), |a| a.parse())?;
    let dir = std::env::temp_dir().join(format!("walrus-bench-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let spec = GenesisSpec {
        n_nodes: validators.max(4),
        n_shards: 1000,
        epoch_duration_ms: 3_600_000,
        n_accounts: clients,
        account_balance: 1000 * FROST_PER_WAL,
        start_ms: 0,
        seed: [9; 32],
        network_addresses: Vec::new(),
    };
    let (genesis, secrets) = spec.generate()?;
    let (bases, _engines) = if validators == 0 {
        let sequencer =
            Sequencer::start(SequencerConfig::new(genesis, dir.join("chain.db"))).await?;
        (vec![serve(sequencer).await?], Vec::new())
    } else {
        start_validators(&genesis, &secrets, validators, &dir).await?
    };
    let observer = ChainClient::new(bases[0].clone());
    let sink = address_of(&secrets.accounts[0].verifying_key());

    // Sign everything first: signing is the clients' cost, not the chain's.
    let signed: Vec<Vec<Vec<u8>>> = secrets
        .accounts
        .iter()
        .map(|key| {
            let sender = address_of(&key.verifying_key());
            (0..per_client)
                .map(|nonce| {
                    let nonce = u64::try_from(nonce).expect("fits");
                    Transaction {
                        sender,
                        nonce,
                        calls: vec![Call::TransferWal {
                            to: sink,
                            amount: 1,
                        }],
                    }
                    .sign(key)
                    .to_bytes()
                })
                .collect()
        })
        .collect();
    let checkpoints_before = observer.health().await?.checkpoints;
    let start = Instant::now();
    let tasks: Vec<_> = signed
        .into_iter()
        .enumerate()
        .map(|(index, transactions)| {
            let client = ChainClient::new(bases[index % bases.len()].clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(transactions.len());
                for bytes in transactions {
                    let sent = Instant::now();
                    client.submit_bytes(bytes).await.expect("committed");
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    let total = latencies.len();
    println!(
        "clients: {clients}, transactions: {total} (transfers, each waiting for its checkpoint), {}",
        if validators == 0 {
            "single sequencer".to_owned()
        } else {
            format!("{validators} validators")
        }
    );
    println!(
        "committed: {:.0} tx/s over {:.2} s",
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "latency to finality: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(50).as_secs_f64() * 1e3,
        percentile(99).as_secs_f64() * 1e3,
        latencies[total - 1].as_secs_f64() * 1e3
    );
    println!(
        "checkpoints: {}",
        observer.health().await?.checkpoints - checkpoints_before
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn serve(sequencer: Sequencer) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (address, _server) = api::serve(sequencer, listener, std::future::pending())?;
    Ok(format!("http://{address}"))
}

/// A free port on 127.0.0.1 now (the OS's pick; released for the engine).
fn free_port() -> anyhow::Result<std::net::SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Starts `count` validators (nodes 0..count of the genesis) with their
/// APIs; returns the API URLs and the engines (running while held).
async fn start_validators(
    genesis: &GenesisConfig,
    secrets: &GenesisSecrets,
    count: usize,
    dir: &std::path::Path,
) -> anyhow::Result<(Vec<String>, Vec<EngineHandle>)> {
    let mut engines = Vec::with_capacity(count);
    let p2p: Vec<_> = (0..count).map(|_| free_port()).collect::<Result<_, _>>()?;
    let listeners: Vec<_> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    let urls: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| format!("http://{a}")))
        .collect::<Result<_, _>>()?;
    for (index, listener) in listeners.into_iter().enumerate() {
        let secret = blst::min_pk::SecretKey::from_bytes(&secrets.nodes[index].0)
            .map_err(|e| anyhow::anyhow!("BLS key: {e:?}"))?;
        let validator = ValidatorConfig {
            secret,
            p2p_listen: p2p[index],
            peers: others(&p2p, index),
            peer_urls: others(&urls, index),
            wal_path: dir.join(format!("validator-{index}.wal")),
            settings: Settings::default(),
        };
        let mut config =
            SequencerConfig::new(genesis.clone(), dir.join(format!("validator-{index}.db")));
        config.batch_interval = Duration::from_millis(5);
        let (sequencer, engine) = validator::start(config, validator).await?;
        engines.push(engine);
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let _ = api::serve(sequencer, listener, std::future::pending())?;
    }
    Ok((urls, engines))
}

/// Every item of `list` but the one at `index`.
fn others<T: Clone>(list: &[T], index: usize) -> Vec<T> {
    list.iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, v)| v.clone())
        .collect()
}
