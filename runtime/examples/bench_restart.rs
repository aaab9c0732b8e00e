//! Restart time of the chain service holding N objects (default 10^5 and
//! 10^6 Blob objects): the state is restored from the stored objects and
//! checked against the last state root, without re-executing the log.
//! Used by `bench/restart.sh`.
//!
//! `cargo run --release -p walrus-runtime --example bench_restart -- [N...]`
#![allow(missing_docs)]

#[path = "../../contracts/examples/synthetic/mod.rs"]
mod synthetic;

use std::time::Instant;

use synthetic::{blob, id};
use walrus_contracts::{
    ObjectId,
    ledger::{execution::ChainState, genesis::GenesisSpec},
};
use walrus_runtime::chain::{
    sequencer::{Sequencer, SequencerConfig},
    store::Store,
};

async fn run(n: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("walrus-bench-restart-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("chain.db");
    let spec = GenesisSpec::local(4, 100, [6; 32]);
    let (genesis, _) = spec.generate()?;
    let mut chain = ChainState::genesis(&genesis)?;
    let mut store = Store::open(&db, genesis.digest())?;
    store.write_snapshot(&chain)?;
    for i in 0..n {
        chain.state.blobs.insert(ObjectId(id(i, 0)), blob(i, 10));
    }
    let (checkpoint, _) = chain.build_checkpoint(1_800_000_000_001, Vec::new());
    store.append(&checkpoint, chain.last_changes())?;
    drop(store);
    let start = Instant::now();
    let sequencer = Sequencer::start(SequencerConfig::new(genesis, db)).await?;
    let seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(sequencer.with_chain(ChainState::root) == chain.root());
    println!("{n:>9} objects: restart {seconds:.2} s (restored from stored objects, root checked)");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    for n in sizes {
        run(n).await?;
    }
    Ok(())
}
