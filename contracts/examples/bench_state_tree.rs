//! State commitment cost per checkpoint: a chain state holding N Blob
//! objects (10^4, 10^5, 10^6 by default), then checkpoints that each change
//! 1,000 of them. Prints the median time of committing one such checkpoint
//! (the authenticated state tree's diff and update, `ChainState` sealing an
//! empty checkpoint), and for comparison the whole-state blake3 digest the
//! chain used before (`State::digest`). Used by `bench/state_tree.sh`.
//!
//! `cargo run --release -p walrus-contracts --example bench_state_tree -- [N...]`
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // a benchmark measures time
#![allow(missing_docs)]

mod synthetic;

use std::time::Instant;

use synthetic::{blob, id};
use walrus_contracts::{
    ObjectId,
    ledger::{execution::ChainState, genesis::GenesisSpec},
};

const CHANGED: usize = 1_000;
const ROUNDS: usize = 7;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn run(n: usize) {
    let spec = GenesisSpec::local(4, 100, [5; 32]);
    let (genesis, _) = spec.generate().expect("genesis");
    let mut chain = ChainState::genesis(&genesis).expect("genesis state");
    for i in 0..n {
        chain.state.blobs.insert(ObjectId(id(i, 0)), blob(i, 10));
    }
    let mut time_ms = 1_800_000_000_001;
    let start = Instant::now();
    chain.build_checkpoint(time_ms, Vec::new());
    let initial_s = start.elapsed().as_secs_f64();
    let (mut commit, mut digest) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for k in 0..CHANGED {
            let i = (round * 7919 + k * 104_729) % n;
            let end_epoch = 11 + u32::try_from(round).expect("small");
            chain
                .state
                .blobs
                .insert(ObjectId(id(i, 0)), blob(i, end_epoch));
        }
        time_ms += 1;
        let start = Instant::now();
        let (checkpoint, _) = chain.build_checkpoint(time_ms, Vec::new());
        commit.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(checkpoint.state_root, chain.root());
        let start = Instant::now();
        std::hint::black_box(chain.state.digest());
        digest.push(start.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "{n:>9} objects: commit of {CHANGED} changed {:>8.2} ms (median of {ROUNDS}); \
         whole-state blake3 digest {:>9.2} ms; first build {:.2} s",
        median(commit),
        median(digest),
        initial_s
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("N: a number of objects"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    for n in sizes {
        run(n);
    }
}
