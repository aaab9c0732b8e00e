//! A validator's mempool: transactions admitted here or forwarded by
//! other validators, waiting for a block. Every validator forwards what
//! it admits to the others, so whichever validator proposes next can
//! order it.
//!
//! Transactions are kept per sender by nonce; a block takes, per sender,
//! the run of consecutive nonces that starts at the sender's next nonce on
//! chain. Forwarded transactions may arrive out of order, so nonces up to
//! [`NONCE_WINDOW`] ahead are held. After each checkpoint, executed
//! transactions leave, and so do those whose nonce the chain has passed.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Mutex, MutexGuard},
};

use tokio::sync::{Notify, oneshot};
use walrus_contracts::{
    Address,
    ledger::{
        execution::{ChainState, Checkpoint},
        transaction::{Rejection, SignedTransaction, TxDigest},
    },
};
use walrus_types::chain::TxResponse;

/// How far ahead of a sender's next nonce on chain a transaction may be.
pub const NONCE_WINDOW: u64 = 256;

/// Most transactions held at once.
pub const CAPACITY: usize = 100_000;

/// Who waits for a transaction's checkpoint.
pub type Responder = oneshot::Sender<Result<TxResponse, Rejection>>;

#[derive(Default)]
struct Inner {
    by_sender: HashMap<Address, BTreeMap<u64, (TxDigest, SignedTransaction)>>,
    count: usize,
    waiting: HashMap<TxDigest, Vec<Responder>>,
}

/// The mempool; shared by the HTTP API (admission) and the consensus
/// application (block building, clean-up after each checkpoint).
#[derive(Default)]
pub struct Mempool {
    inner: Mutex<Inner>,
    arrived: Notify,
}

fn lock(mutex: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Mempool {
    /// Admits a verified transaction with `digest`, given the sender's next
    /// nonce on chain. Admitting the same transaction twice is a no-op.
    ///
    /// # Errors
    /// [`Rejection::WrongNonce`] for a nonce already used on chain, too far
    /// ahead, or taken by another transaction here;
    /// [`Rejection::Unavailable`] when the mempool is full.
    pub fn admit(
        &self,
        signed: SignedTransaction,
        digest: TxDigest,
        chain_nonce: u64,
    ) -> Result<(), Rejection> {
        let nonce = signed.transaction.nonce;
        let mut inner = lock(&self.inner);
        let pending = inner
            .by_sender
            .entry(signed.transaction.sender)
            .or_default();
        let next_free = (chain_nonce..)
            .find(|n| !pending.contains_key(n))
            .unwrap_or(chain_nonce);
        match pending.get(&nonce) {
            Some((held, _)) if *held == digest => return Ok(()),
            Some(_) => {
                return Err(Rejection::WrongNonce {
                    expected: next_free,
                    got: nonce,
                });
            }
            None => {}
        }
        if nonce < chain_nonce || nonce >= chain_nonce.saturating_add(NONCE_WINDOW) {
            return Err(Rejection::WrongNonce {
                expected: next_free,
                got: nonce,
            });
        }
        if inner.count >= CAPACITY {
            return Err(Rejection::Unavailable("the mempool is full"));
        }
        inner
            .by_sender
            .entry(signed.transaction.sender)
            .or_default()
            .insert(nonce, (digest, signed));
        inner.count += 1;
        drop(inner);
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Registers `responder` to hear the outcome of transaction `digest`.
    pub fn wait_for(&self, digest: TxDigest, responder: Responder) {
        lock(&self.inner)
            .waiting
            .entry(digest)
            .or_default()
            .push(responder);
    }

    /// Stops waiting for `digest` (its admission failed).
    pub fn forget(&self, digest: &TxDigest) {
        lock(&self.inner).waiting.remove(digest);
    }

    /// How many transactions are held.
    pub fn len(&self) -> usize {
        lock(&self.inner).count
    }

    /// Whether no transaction is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A future that completes when a transaction is admitted after it
    /// was enabled (`Notified::enable`) or first polled.
    pub fn arrival(&self) -> tokio::sync::futures::Notified<'_> {
        self.arrived.notified()
    }

    /// Up to `max` transactions (at most `max_bytes` of BCS in all) that
    /// can follow `chain`: per sender, consecutive nonces from its next
    /// nonce on chain.
    pub fn take(&self, chain: &ChainState, max: usize, max_bytes: usize) -> Vec<SignedTransaction> {
        let inner = lock(&self.inner);
        let mut block = Vec::new();
        let mut bytes = 0usize;
        let mut senders: Vec<&Address> = inner.by_sender.keys().collect();
        senders.sort();
        'senders: for sender in senders {
            let mut expected = chain.next_nonce(sender);
            for (nonce, (_, signed)) in inner.by_sender[sender].range(expected..) {
                if *nonce != expected || block.len() >= max {
                    continue 'senders;
                }
                let size = bcs::serialized_size(signed).unwrap_or(usize::MAX);
                if bytes.saturating_add(size) > max_bytes {
                    break 'senders;
                }
                bytes += size;
                block.push(signed.clone());
                expected += 1;
            }
        }
        block
    }

    /// After `checkpoint` was executed into `chain`: answers the waiting
    /// submitters of its transactions, drops them and every transaction
    /// whose nonce the chain has passed (their submitters hear
    /// [`Rejection::WrongNonce`]).
    pub fn executed(&self, checkpoint: &Checkpoint, chain: &ChainState) {
        let mut inner = lock(&self.inner);
        for executed in &checkpoint.transactions {
            if let Some(responders) = inner.waiting.remove(&executed.digest) {
                for responder in responders {
                    let _ = responder.send(Ok(TxResponse {
                        digest: executed.digest,
                        checkpoint: checkpoint.sequence,
                        outcome: executed.outcome.clone(),
                    }));
                }
            }
        }
        let mut stale = Vec::new();
        for (sender, pending) in &mut inner.by_sender {
            let next = chain.next_nonce(sender);
            let kept = pending.split_off(&next);
            stale.extend(
                pending
                    .values()
                    .map(|(digest, signed)| (*digest, next, signed.transaction.nonce)),
            );
            *pending = kept;
        }
        inner.by_sender.retain(|_, pending| !pending.is_empty());
        inner.count = inner.count.saturating_sub(stale.len());
        for (digest, expected, got) in stale {
            for responder in inner.waiting.remove(&digest).unwrap_or_default() {
                let _ = responder.send(Err(Rejection::WrongNonce { expected, got }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use walrus_contracts::{
        Call,
        ledger::{
            execution::Outcome,
            genesis::GenesisSpec,
            transaction::{Transaction, address_of},
        },
    };

    use super::*;

    fn setup() -> (ChainState, SigningKey) {
        let (genesis, secrets) = GenesisSpec::local(4, 100, [3; 32])
            .generate()
            .expect("genesis");
        let chain = ChainState::genesis(&genesis).expect("state");
        (chain, secrets.accounts[0].clone())
    }

    fn transfer(key: &SigningKey, nonce: u64, amount: u64) -> (SignedTransaction, TxDigest) {
        let signed = Transaction {
            sender: address_of(&key.verifying_key()),
            nonce,
            calls: vec![Call::TransferWal {
                to: Address([1; 32]),
                amount,
            }],
        }
        .sign(key);
        let digest = signed.transaction.digest();
        (signed, digest)
    }

    fn nonces(block: &[SignedTransaction]) -> Vec<u64> {
        block.iter().map(|t| t.transaction.nonce).collect()
    }

    #[test]
    fn out_of_order_arrivals_make_a_consecutive_run() {
        let (chain, key) = setup();
        let mempool = Mempool::default();
        for nonce in [2, 0, 3, 5] {
            let (signed, digest) = transfer(&key, nonce, 1);
            mempool.admit(signed, digest, 0).expect("admitted");
        }
        assert_eq!(mempool.len(), 4);
        assert_eq!(
            nonces(&mempool.take(&chain, 100, 1 << 20)),
            [0],
            "1 is missing"
        );
        let (signed, digest) = transfer(&key, 1, 1);
        mempool.admit(signed, digest, 0).expect("admitted");
        assert_eq!(nonces(&mempool.take(&chain, 100, 1 << 20)), [0, 1, 2, 3]);
        assert_eq!(
            nonces(&mempool.take(&chain, 2, 1 << 20)),
            [0, 1],
            "count cap"
        );
        assert!(mempool.take(&chain, 100, 10).is_empty(), "byte cap");
    }

    #[test]
    fn admission_refuses_taken_passed_and_far_nonces() {
        let mempool = Mempool::default();
        let (_, key) = setup();
        let (signed, digest) = transfer(&key, 4, 1);
        mempool.admit(signed.clone(), digest, 4).expect("admitted");
        mempool
            .admit(signed, digest, 4)
            .expect("the same transaction again");
        let (other, other_digest) = transfer(&key, 4, 2);
        let taken = mempool.admit(other, other_digest, 4);
        assert_eq!(
            taken,
            Err(Rejection::WrongNonce {
                expected: 5,
                got: 4
            })
        );
        let (old, old_digest) = transfer(&key, 3, 1);
        assert!(matches!(
            mempool.admit(old, old_digest, 4),
            Err(Rejection::WrongNonce { got: 3, .. })
        ));
        let (far, far_digest) = transfer(&key, 4 + NONCE_WINDOW, 1);
        assert!(mempool.admit(far, far_digest, 4).is_err());
        assert_eq!(mempool.len(), 1);
    }

    #[test]
    fn execution_answers_submitters_and_drops_passed_transactions() {
        let (mut chain, key) = setup();
        let mempool = Mempool::default();
        let (first, first_digest) = transfer(&key, 0, 1);
        let (rival, rival_digest) = transfer(&key, 0, 2);
        let (mut heard, mut rival_heard) = (oneshot::channel(), oneshot::channel());
        mempool.wait_for(first_digest, heard.0);
        mempool.wait_for(rival_digest, rival_heard.0);
        mempool.admit(first, first_digest, 0).expect("admitted");
        // The rival was admitted by another validator and ordered first.
        let (checkpoint, rejected) = chain.build_checkpoint(1_800_000_000_001, vec![rival]);
        assert!(rejected.is_empty());
        mempool.executed(&checkpoint, &chain);
        let rival_outcome = rival_heard.1.try_recv().expect("answered");
        assert!(matches!(
            rival_outcome.map(|r| r.outcome),
            Ok(Outcome::Success { .. })
        ));
        assert!(matches!(
            heard.1.try_recv().expect("answered"),
            Err(Rejection::WrongNonce {
                expected: 1,
                got: 0
            })
        ));
        assert!(mempool.is_empty());
    }
}
