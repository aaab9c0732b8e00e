//! The audit's benchmark (run by `bench/audit.sh`): a generated chain of
//! CHECKPOINTS checkpoints across EPOCHS epochs (one random user
//! transaction per checkpoint, stake moving shards), with a block header
//! per checkpoint, then the light audit of one certified blob against the
//! full re-execution of the chain. Both run in this process on data in
//! memory (no HTTP), so the figures are the verification work alone.
//!
//! Each block header names its checkpoint's digest and the previous header;
//! commit certificates (precommits of every validator, aggregated) are made
//! for the heights the light audit asks for (epoch starts, the blob's
//! checkpoints, the tip), since signing all of them would only slow the
//! generation.
//!
//! `cargo run --release -p walrus-tests --example audit_bench -- [CHECKPOINTS] [EPOCHS]`

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use walrus_codec::BlobId;
use walrus_contracts::ledger::{
    block::CertifiedHeader,
    execution::{ChainState, Checkpoint},
    state_tree::StateKey,
};
use walrus_tests::certified::Generated;
use walrus_types::{ChainError, chain::EpochStart, state_proof::StateProofs};

/// The generated chain, served from memory (`walrus_tests::certified`).
struct Served(Generated);

impl walrus_client::audit::AuditSource for Served {
    async fn epoch_starts(&self) -> Result<Vec<EpochStart>, ChainError> {
        Ok(self.0.epoch_starts())
    }

    async fn blob_checkpoints(&self, blob_id: &BlobId, from: u64) -> Result<Vec<u64>, ChainError> {
        let all = self.0.blob_checkpoints(blob_id);
        Ok(all.into_iter().filter(|s| *s >= from).take(1000).collect())
    }

    async fn checkpoint(&self, sequence: u64) -> Result<Option<Checkpoint>, ChainError> {
        let index = usize::try_from(sequence).expect("small");
        Ok(self.0.workload.checkpoints.get(index).cloned())
    }

    async fn certified_header(&self, height: u64) -> Result<Option<CertifiedHeader>, ChainError> {
        Ok(self.0.certified(height).cloned())
    }

    async fn state_proofs(&self, keys: &[StateKey]) -> Result<StateProofs, ChainError> {
        Ok(StateProofs::previous(&self.0.workload.chain, keys).expect("the previous version"))
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let checkpoints: u64 = args
        .next()
        .map_or(100_000, |a| a.parse().expect("a number"));
    let epochs: u64 = args.next().map_or(20, |a| a.parse().expect("a number"));
    let started = Instant::now();
    let mut chain = Generated::generate(checkpoints, epochs);
    let state = &chain.workload.chain.state;
    let last = chain.workload.chain.next_sequence - 1;
    // A blob certified and live at the end (else any certified one) whose
    // events all precede the certified tip.
    let before_tip = |id: &BlobId| {
        chain
            .blob_checkpoints(id)
            .last()
            .is_some_and(|c| *c + 1 < last)
    };
    let certified = || state.blobs.values().filter(|b| b.certified_epoch.is_some());
    let blob_id = certified()
        .filter(|b| b.storage.end_epoch > state.epoch)
        .map(|b| b.blob_id)
        .find(before_tip)
        .or_else(|| certified().map(|b| b.blob_id).find(before_tip))
        .expect("a certified blob");
    let mut heights: BTreeSet<u64> = chain
        .epoch_starts()
        .iter()
        .map(|s| s.checkpoint + 2)
        .collect();
    heights.extend(chain.blob_checkpoints(&blob_id).iter().map(|c| c + 2));
    heights.insert(last + 1);
    for height in heights {
        chain.certify(height);
    }
    println!(
        "generated {} checkpoints, {} epochs, in {:.1?}; auditing blob {blob_id} ({} events)",
        chain.workload.checkpoints.len(),
        chain.workload.chain.state.epoch,
        started.elapsed(),
        chain.blob_checkpoints(&blob_id).len()
    );
    let genesis = chain.workload.genesis.clone();
    let chain = Served(chain);
    let mut light = Vec::new();
    let mut report = None;
    for _ in 0..5 {
        let start = Instant::now();
        report = Some(
            walrus_client::audit::audit_light_from(&chain, &genesis, &blob_id)
                .await
                .expect("the light audit verifies"),
        );
        light.push(start.elapsed());
    }
    let report = report.expect("five runs");
    let mut full = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let mut state = ChainState::genesis(&genesis).expect("genesis");
        for checkpoint in &chain.0.workload.checkpoints {
            state.replay(checkpoint).expect("the chain re-executes");
        }
        full.push(start.elapsed());
    }
    println!(
        "light audit: median {:.1?} of 5 ({:?}; {} epochs, {} block certificates, {} state \
         proofs)",
        median(light),
        report.verdict,
        report.epochs_verified,
        report.block_certificates_verified,
        report.state_proofs_verified
    );
    println!(
        "full re-execution: median {:.1?} of 3 ({} checkpoints)",
        median(full),
        chain.0.workload.checkpoints.len()
    );
}
