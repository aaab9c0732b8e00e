//! Load test of the chain service: CLIENTS concurrent HTTP clients each
//! submit PER_CLIENT pre-signed transfers (one at a time, each waiting for its
//! checkpoint) to a sequencer on 127.0.0.1 with a real SQLite log. Prints
//! committed transactions per second and p50/p99 latency to finality.
//!
//! `cargo run --release -p walrus-runtime --example bench_chain -- [CLIENTS] [PER_CLIENT]`
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use walrus_contracts::ledger::{
    genesis::GenesisSpec,
    transaction::{Transaction, address_of},
};
use walrus_contracts::{Call, money::FROST_PER_WAL};
use walrus_runtime::chain::{
    api,
    sequencer::{Sequencer, SequencerConfig},
};
use walrus_types::ChainClient;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map_or(Ok(64), |a| a.parse())?;
    let per_client: usize = args.next().map_or(Ok(150), |a| a.parse())?;
    let dir = std::env::temp_dir().join(format!("walrus-bench-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let spec = GenesisSpec {
        n_nodes: 4,
        n_shards: 1000,
        epoch_duration_ms: 3_600_000,
        n_accounts: clients,
        account_balance: 1000 * FROST_PER_WAL,
        start_ms: 0,
        seed: [9; 32],
        network_addresses: Vec::new(),
    };
    let (genesis, secrets) = spec.generate()?;
    let sequencer = Sequencer::start(SequencerConfig::new(genesis, dir.join("chain.db"))).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (address, _server) = api::serve(sequencer.clone(), listener, std::future::pending())?;
    let base = format!("http://{address}");
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
    let checkpoints_before = sequencer.checkpoint_count();
    let start = Instant::now();
    let tasks: Vec<_> = signed
        .into_iter()
        .map(|transactions| {
            let client = ChainClient::new(base.clone());
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
        "clients: {clients}, transactions: {total} (transfers, each waiting for its checkpoint)"
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
        sequencer.checkpoint_count() - checkpoints_before
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
