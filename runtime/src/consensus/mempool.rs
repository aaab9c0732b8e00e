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
