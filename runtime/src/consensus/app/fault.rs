//! Byzantine behaviour on purpose, for tests of what honest validators
//! finalize (`walrus chain run --byzantine KIND`, hidden): a validator that
//! proposes blocks with a timestamp a minute ahead, blocks with a
//! transaction whose signature does not verify, or two different signed
//! blocks for each of its rounds (equivocation). Never set in production.

use walrus_contracts::ledger::{
    block::Block,
    transaction::{SignedTransaction, Transaction, address_of},
};

/// What a Byzantine validator does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Proposes blocks timestamped 60 s ahead of its clock.
    FutureTimestamp,
    /// Adds a transaction with a bad signature to every proposal.
    InvalidTransaction,
    /// Streams a second, different signed block for each of its rounds.
    Equivocate,
}

impl std::str::FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "future-timestamp" => Ok(Self::FutureTimestamp),
            "invalid-transaction" => Ok(Self::InvalidTransaction),
            "equivocate" => Ok(Self::Equivocate),
            other => Err(format!(
                "unknown fault {other}: expected future-timestamp, invalid-transaction or \
                 equivocate"
            )),
        }
    }
}

/// `block` as a proposer with `fault` makes it.
pub(super) fn corrupt(fault: Option<Fault>, block: Block) -> Block {
    let Block {
        mut header,
        mut transactions,
    } = block;
    match fault {
        Some(Fault::FutureTimestamp) => header.timestamp_ms += 60_000,
        Some(Fault::InvalidTransaction) => transactions.push(forged_transaction()),
        Some(Fault::Equivocate) | None => {}
    }
    Block::new(header, transactions)
}

/// A second block for the same height and round: the same transactions,
/// one millisecond later.
pub(super) fn twin(block: &Block) -> Block {
    let mut header = block.header.clone();
    header.timestamp_ms += 1;
    Block::new(header, block.transactions.clone())
}

/// A transfer whose signature is flipped in one bit.
fn forged_transaction() -> SignedTransaction {
    let key = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
    let transaction = Transaction {
        sender: address_of(&key.verifying_key()),
        nonce: 0,
        calls: Vec::new(),
    };
    let mut signed = transaction.sign(&key);
    signed.signature[0] ^= 1;
    signed
}
