//! Writes one valid input per fuzz target into `fuzz/corpus/<target>/`
//! (`cargo +nightly run --release --example seed`), so the fuzzer starts from real
//! shapes: slivers, metadata, recovery symbols, a transaction, a checkpoint
//! and a certificate of the same fixture the targets use.

use walrus_codec::{EncodingConfig, SliverType};
use walrus_contracts::{
    Call,
    certificate::Certificate,
    ledger::{
        execution::ChainState,
        transaction::{Transaction, address_of},
    },
};

#[allow(dead_code)]
mod targets {
    include!("../targets.rs");
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("seed");
}

fn main() {
    let config = EncodingConfig::new(10).expect("10 shards");
    let blob = targets::fixture_blob();
    let encoded = config.encode(&blob).expect("encode");
    let (primary, secondary) = encoded.sliver_pair(0);
    write("sliver", "one", &bcs::to_bytes(&primary).expect("bcs"));
    write(
        "sliver",
        "batch",
        &bcs::to_bytes(&vec![primary.clone(), secondary.clone()]).expect("bcs"),
    );
    write(
        "metadata",
        "real",
        &bcs::to_bytes(encoded.metadata().metadata()).expect("bcs"),
    );
    let symbols = secondary
        .recovery_symbols(&config, &[0, 1])
        .expect("symbols");
    write(
        "recovery_symbols",
        "real",
        &bcs::to_bytes(&symbols).expect("bcs"),
    );
    write("inconsistency_proof", "empty", &[0]);
    let (genesis, secrets) = targets::fixture_genesis().generate().expect("genesis");
    let key = &secrets.accounts[0];
    let tx = Transaction {
        sender: address_of(&key.verifying_key()),
        nonce: 0,
        calls: vec![
            Call::ReserveSpace {
                size_bytes: 1 << 20,
                epochs: 2,
            },
            Call::Faucet { amount: 5 },
        ],
    }
    .sign(key);
    write("transaction", "real", &tx.to_bytes());
    let mut chain = ChainState::genesis(&genesis).expect("state");
    let (checkpoint, _) = chain.build_checkpoint(1, vec![tx]);
    write(
        "checkpoints",
        "real",
        &bcs::to_bytes(&vec![checkpoint]).expect("bcs"),
    );
    let certificate = Certificate {
        signers: vec![0b0111],
        message: walrus_contracts::certificate::confirmation_message(0, encoded.blob_id(), None),
        signature: vec![0; 96],
    };
    write(
        "certificate",
        "real",
        &bcs::to_bytes(&certificate).expect("bcs"),
    );
    let _ = SliverType::Primary;
}
