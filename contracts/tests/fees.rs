//! Transaction fees at the chain level (issue 21, failure 4): a sender who
//! cannot pay is refused before ordering; an ordered transaction pays by
//! its bytes and calls even when it fails, into the epoch's income; the
//! devnet faucet and committee duties pay nothing.

use walrus_contracts::ledger::{
    execution::{ChainState, Outcome},
    genesis::{GenesisConfig, GenesisSecrets, GenesisSpec},
    transaction::{Rejection, SignedTransaction, Transaction, address_of},
};
use walrus_contracts::{Call, ObjectId, ObjectRef, fees, money::FROST_PER_WAL};

fn genesis() -> (GenesisConfig, GenesisSecrets) {
    GenesisSpec {
        n_nodes: 4,
        n_shards: 10,
        epoch_duration_ms: 60_000,
        n_accounts: 1,
        account_balance: 100 * FROST_PER_WAL,
        start_ms: 0,
        seed: [5; 32],
        network_addresses: Vec::new(),
    }
    .generate()
    .expect("genesis")
}

fn signed(key: &ed25519_dalek::SigningKey, nonce: u64, calls: Vec<Call>) -> SignedTransaction {
    Transaction {
        sender: address_of(&key.verifying_key()),
        nonce,
        calls,
    }
    .sign(key)
}

#[test]
fn a_failed_transaction_pays_its_fee_into_the_epochs_income() {
    let (genesis, secrets) = genesis();
    let mut chain = ChainState::genesis(&genesis).expect("state");
    let key = &secrets.accounts[0];
    let sender = address_of(&key.verifying_key());
    // A large attribute on an object that does not exist: it fails.
    let tx = signed(
        key,
        0,
        vec![Call::SetAttribute {
            blob: ObjectRef::from(ObjectId([9; 32])),
            key: "k".into(),
            value: "v".repeat(100_000),
        }],
    );
    let fee = chain.check_fee(&tx).expect("the sender can pay");
    let bytes = bcs::serialized_size(&tx).expect("size");
    assert_eq!(fee, fees::fee(bytes, 1));
    assert!(
        fee > FROST_PER_WAL / 10,
        "100 KB costs about 0.1 WAL: {fee}"
    );
    let before = chain.state.balance(&sender);
    let income_before = chain.state.income.get(&0).copied().unwrap_or(0);
    let (checkpoint, rejected) = chain.build_checkpoint(1, vec![tx]);
    assert!(rejected.is_empty());
    assert!(matches!(
        checkpoint.transactions[0].outcome,
        Outcome::Failure { code: 102, .. }
    ));
    assert_eq!(chain.state.balance(&sender), before - fee);
    assert_eq!(
        chain.state.income.get(&0).copied().unwrap_or(0),
        income_before + fee
    );
    assert_eq!(
        u128::from(chain.state.minted),
        u128::from(chain.state.burned) + chain.state.total_held()
    );
}

#[test]
fn senders_without_the_fee_are_refused_before_ordering() {
    let (genesis, _) = genesis();
    let mut chain = ChainState::genesis(&genesis).expect("state");
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let transfer = Call::TransferWal {
        to: address_of(&stranger.verifying_key()),
        amount: 1,
    };
    let tx = signed(&stranger, 0, vec![transfer]);
    assert!(matches!(
        chain.check_fee(&tx),
        Err(Rejection::InsufficientFee { balance: 0, .. })
    ));
    let (checkpoint, rejected) = chain.build_checkpoint(1, vec![tx]);
    assert!(checkpoint.transactions.is_empty(), "nothing is ordered");
    assert!(matches!(
        rejected[0].1,
        Rejection::InsufficientFee { balance: 0, .. }
    ));
    // The devnet faucet is free: a new account can fund itself.
    let faucet = signed(
        &stranger,
        0,
        vec![Call::Faucet {
            amount: FROST_PER_WAL,
        }],
    );
    assert_eq!(chain.check_fee(&faucet), Ok(0));
    let (checkpoint, _) = chain.build_checkpoint(2, vec![faucet]);
    assert!(matches!(
        checkpoint.transactions[0].outcome,
        Outcome::Success { .. }
    ));
    assert_eq!(
        chain.state.balance(&address_of(&stranger.verifying_key())),
        FROST_PER_WAL
    );
}

#[test]
fn transactions_with_too_many_calls_are_refused() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let calls = vec![Call::Faucet { amount: 1 }; fees::MAX_CALLS + 1];
    assert!(matches!(
        signed(&key, 0, calls).verify(),
        Err(Rejection::TooManyCalls { .. })
    ));
}
