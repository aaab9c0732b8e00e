//! Replay catches every kind of tampering with a checkpoint (pure, no IO).

use walrus_contracts::ledger::{
    execution::{ChainState, Checkpoint, Divergence, Outcome, TxKind},
    genesis::{GenesisConfig, GenesisSpec},
    transaction::{Transaction, address_of},
};
use walrus_contracts::{Call, money::FROST_PER_WAL};

fn setup() -> (GenesisConfig, Vec<Checkpoint>) {
    build(false)
}

/// Three checkpoints of transfers; `verified`: built as a validator builds
/// a decided block (signatures checked before, nonces here).
fn build(verified: bool) -> (GenesisConfig, Vec<Checkpoint>) {
    let spec = GenesisSpec {
        n_nodes: 4,
        n_shards: 10,
        epoch_duration_ms: 1000,
        n_accounts: 2,
        account_balance: 100 * FROST_PER_WAL,
        start_ms: 0,
        seed: [3; 32],
        network_addresses: Vec::new(),
    };
    let (genesis, secrets) = spec.generate().expect("genesis");
    let mut chain = ChainState::genesis(&genesis).expect("state");
    let alice = &secrets.accounts[0];
    let sender = address_of(&alice.verifying_key());
    let bob = address_of(&secrets.accounts[1].verifying_key());
    let mut checkpoints = Vec::new();
    // Checkpoint times 100, 600 (voting end due) and 1100 (epoch change due).
    for (nonce, time) in [(0, 100), (1, 600), (2, 1100)] {
        let tx = Transaction {
            sender,
            nonce,
            calls: vec![Call::TransferWal { to: bob, amount: 7 }],
        }
        .sign(alice);
        let (checkpoint, rejected) = if verified {
            chain.build_checkpoint_verified(time, vec![tx.clone(), tx])
        } else {
            chain.build_checkpoint(time, vec![tx.clone(), tx])
        };
        assert_eq!(rejected.len(), 1, "the repeated nonce is refused");
        checkpoints.push(checkpoint);
    }
    assert!(matches!(
        checkpoints[1].transactions[0].kind,
        TxKind::System(Call::VotingEnd)
    ));
    assert!(matches!(
        checkpoints[2].transactions[0].kind,
        TxKind::System(Call::EpochChangeStart)
    ));
    (genesis, checkpoints)
}

fn replay(genesis: &GenesisConfig, checkpoints: &[Checkpoint]) -> Result<ChainState, Divergence> {
    let mut chain = ChainState::genesis(genesis).expect("state");
    for checkpoint in checkpoints {
        chain.replay(checkpoint)?;
    }
    Ok(chain)
}

#[test]
fn checkpoints_of_verified_transactions_are_the_same() {
    let (_, checked) = build(false);
    let (_, verified) = build(true);
    let digests = |list: &[Checkpoint]| list.iter().map(Checkpoint::digest).collect::<Vec<_>>();
    assert_eq!(digests(&checked), digests(&verified));
}

#[test]
fn an_honest_log_replays_to_the_same_root() {
    let (genesis, checkpoints) = setup();
    let chain = replay(&genesis, &checkpoints).expect("replays");
    assert_eq!(chain.root(), checkpoints[2].state_root);
    assert_eq!(chain.state.epoch, 1);
}

#[test]
fn every_tampering_is_a_divergence() {
    let (genesis, checkpoints) = setup();
    let tamper = |edit: &dyn Fn(&mut Vec<Checkpoint>)| {
        let mut log = checkpoints.clone();
        edit(&mut log);
        replay(&genesis, &log).expect_err("tampering must be caught")
    };
    assert!(matches!(
        tamper(&|log| log[0].state_root[0] ^= 1),
        Divergence::Mismatch { .. }
    ));
    assert!(matches!(
        tamper(&|log| log[1].previous_digest[0] ^= 1),
        Divergence::OutOfOrder { .. }
    ));
    assert!(matches!(
        tamper(&|log| log[1].sequence = 5),
        Divergence::OutOfOrder { .. }
    ));
    assert!(matches!(
        tamper(&|log| {
            log.remove(1);
        }),
        Divergence::OutOfOrder { .. }
    ));
    assert!(matches!(
        tamper(&|log| log[2].timestamp_ms = 50),
        Divergence::OutOfOrder { .. }
    ));
    // A forged outcome.
    assert!(matches!(
        tamper(&|log| log[0].transactions[0].outcome = Outcome::Failure {
            code: 101,
            message: String::new()
        }),
        Divergence::Mismatch { .. }
    ));
    // A changed call no longer matches its signature.
    assert!(matches!(
        tamper(&|log| {
            if let TxKind::User(signed) = &mut log[0].transactions[0].kind {
                signed.transaction.calls = vec![Call::Faucet { amount: 1 }];
            }
        }),
        Divergence::InvalidTransaction { .. }
    ));
    // A system call that is not due, and a due one left out.
    assert!(matches!(
        tamper(&|log| {
            let system = log[2].transactions[0].clone();
            log[0].transactions.insert(0, system);
        }),
        Divergence::InvalidTransaction { .. }
    ));
    assert!(matches!(
        tamper(&|log| {
            log[1].transactions.remove(0);
        }),
        Divergence::Mismatch { .. } | Divergence::InvalidTransaction { .. }
    ));
}
