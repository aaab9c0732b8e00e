//! A Byzantine validator changes nothing that honest validators finalize.
//! Four `walrus chain run` validators on 127.0.0.1; validator 3 runs with
//! `--byzantine KIND` and, as proposer, puts a timestamp a minute ahead in
//! its blocks, adds a transaction with a bad signature to them, or signs and
//! streams two different blocks for each of its rounds. Each time the chain
//! stays live, the three honest validators hold identical checkpoints that
//! re-execute from genesis (every signature valid), no timestamp is ahead of
//! the clock, and (for the two invalid blocks) no block of the faulty
//! proposer is decided.

use std::{path::Path, time::Duration};

use walrus_contracts::{
    Address, Call,
    ledger::{
        block::CertifiedHeader,
        execution::{ChainState, Outcome},
    },
};
use walrus_tests::validators::{self, GenesisArgs, Hosts, Keys, Network, all_checkpoints, until};
use walrus_types::ChainClient;

const VALIDATORS: u16 = 4;
const FAULTY: u16 = 3;
/// Transfers per run: enough heights for the faulty validator to propose
/// several times (proposers rotate).
const TRANSFERS: u64 = 16;

async fn all_headers(client: &ChainClient, through: u64) -> Vec<CertifiedHeader> {
    let mut all: Vec<CertifiedHeader> = Vec::new();
    while all.last().map_or(0, |h| h.header.height) < through {
        let from = all.last().map_or(1, |h| h.header.height + 1);
        let batch = client.certified_headers(from, 256).await.expect("headers");
        assert!(!batch.is_empty(), "headers end before {through}");
        all.extend(batch);
    }
    all
}

/// One run with validator [`FAULTY`] doing `fault`.
async fn run(base: &Path, fault: &str) {
    let dir = base.join(fault);
    std::fs::create_dir_all(&dir).expect("dir");
    let args = GenesisArgs {
        nodes: VALIDATORS,
        n_shards: 100,
        epoch_duration: "1h",
        account_wal: 1_000_000,
    };
    let keys: Keys = validators::genesis(&dir, &args);
    let hosts = Hosts::Loopback(walrus_tests::free_ports(2 * VALIDATORS));
    let network = Network::prepare(&dir, VALIDATORS, hosts)
        .with_args(FAULTY, &["--byzantine", fault])
        .launch();
    let honest: Vec<ChainClient> = (0..FAULTY)
        .map(|i| ChainClient::new(network.url(i)))
        .collect();
    for client in &honest {
        until(
            Duration::from_secs(60),
            "honest validator answers",
            || async { client.health().await.is_ok_and(|h| h.checkpoints > 0) },
        )
        .await;
    }
    for (amount, client) in (1..=TRANSFERS).zip(honest.iter().cycle()) {
        let call = Call::TransferWal {
            to: Address([5; 32]),
            amount,
        };
        let response = client
            .execute(&keys.accounts[0], vec![call])
            .await
            .unwrap_or_else(|e| panic!("{fault}: transfer {amount} not ordered: {e}"));
        assert!(
            matches!(response.outcome, Outcome::Success { .. }),
            "{fault}: {response:?}"
        );
    }
    let mut count = u64::MAX;
    for client in &honest {
        count = count.min(client.health().await.expect("health").checkpoints);
    }
    let reference = all_checkpoints(&honest[0], count).await;
    for client in &honest[1..] {
        assert_eq!(
            all_checkpoints(client, count).await,
            reference,
            "{fault}: forked"
        );
    }
    let genesis = walrus_types::genesis_file::load(&dir.join("genesis.json")).expect("genesis");
    let mut state = ChainState::genesis(&genesis).expect("state");
    let limit = walrus_types::now_ms() + 2_000;
    for checkpoint in &reference {
        state
            .replay(checkpoint)
            .unwrap_or_else(|e| panic!("{fault}: a finalized checkpoint does not verify: {e}"));
        assert!(
            checkpoint.timestamp_ms <= limit,
            "{fault}: {checkpoint:?} is ahead"
        );
    }
    if fault == "equivocate" {
        // The honest validators saw both blocks of a faulty round.
        let saw = (0..FAULTY).any(|i| {
            let log = std::fs::read_to_string(dir.join(format!("validator-{i}.log")));
            log.is_ok_and(|text| text.contains("equivocation"))
        });
        assert!(
            saw,
            "no honest validator received two proposals for one round"
        );
    } else {
        let committee = &state.state.committee;
        let faulty_key = keys.nodes[usize::from(FAULTY)].0.sk_to_pk().to_bytes();
        let faulty = committee
            .members
            .iter()
            .find(|m| m.public_key == faulty_key)
            .expect("the faulty validator is a member")
            .node_id;
        let headers = all_headers(&honest[0], count).await;
        assert!(headers.len() >= 8, "{fault}: {} blocks", headers.len());
        assert!(
            headers.iter().all(|h| h.header.proposer != faulty),
            "{fault}: a block of the faulty proposer was decided"
        );
    }
    drop(network);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byzantine_validator_changes_nothing_honest_validators_finalize() {
    let base = walrus_tests::fresh_dir(Path::new(env!("CARGO_TARGET_TMPDIR")), "byzantine");
    for fault in ["future-timestamp", "invalid-transaction", "equivocate"] {
        run(&base, fault).await;
    }
}
