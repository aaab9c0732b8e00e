//! The chain's network-facing parsers never panic on mutated or truncated
//! bytes, and whatever parses still has to verify.

use proptest::prelude::*;
use walrus_contracts::ledger::{
    execution::{ChainState, Checkpoint},
    genesis::GenesisSpec,
    transaction::{SignedTransaction, Transaction, address_of},
};
use walrus_contracts::{Call, money::FROST_PER_WAL};

fn sample() -> &'static (Vec<u8>, Vec<u8>) {
    static SAMPLE: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(build_sample)
}

fn build_sample() -> (Vec<u8>, Vec<u8>) {
    let spec = GenesisSpec {
        n_nodes: 4,
        n_shards: 10,
        epoch_duration_ms: 1000,
        n_accounts: 1,
        account_balance: FROST_PER_WAL,
        start_ms: 0,
        seed: [5; 32],
        network_addresses: Vec::new(),
    };
    let (genesis, secrets) = spec.generate().expect("genesis");
    let key = &secrets.accounts[0];
    let sender = address_of(&key.verifying_key());
    let signed = Transaction {
        sender,
        nonce: 0,
        calls: vec![Call::TransferWal {
            to: sender,
            amount: 3,
        }],
    }
    .sign(key);
    let mut chain = ChainState::genesis(&genesis).expect("state");
    let (checkpoint, _) = chain.build_checkpoint(600, vec![signed.clone()]);
    (
        signed.to_bytes(),
        bcs::to_bytes(&vec![checkpoint]).expect("bcs"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_transactions_and_checkpoints_never_panic(
        at in any::<prop::sample::Index>(),
        flip in 1u8..,
        cut in any::<prop::sample::Index>(),
        noise in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let (transaction, checkpoints) = sample();
        for bytes in [transaction.clone(), checkpoints.clone()] {
            let mut mutated = bytes.clone();
            let i = at.index(mutated.len());
            mutated[i] ^= flip;
            let truncated = bytes[..cut.index(bytes.len())].to_vec();
            for input in [mutated, truncated, noise.clone()] {
                if let Ok(signed) = SignedTransaction::from_bytes(&input, 1 << 20) {
                    // A flipped byte inside the signed part must not verify as the original.
                    let _ = signed.verify();
                }
                let _ = bcs::from_bytes::<Vec<Checkpoint>>(&input);
            }
        }
    }
}
