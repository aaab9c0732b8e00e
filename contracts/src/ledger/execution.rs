//! Deterministic execution of checkpoints (SPEC.md section 11).
//!
//! The sequencer builds a checkpoint from admitted transactions with
//! [`ChainState::build_checkpoint`]; followers re-execute it with
//! [`ChainState::replay`] and must reach the same state root. Time enters only
//! as the checkpoint timestamp; the epoch transitions due at that time are
//! inserted first, as system transactions.

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use crate::{
    Address, Call, Event, ObjectId, State, TxContext, TxError, apply, due_system_calls, fees,
};

use super::{
    genesis::GenesisConfig,
    state_tree::{self, Objects, StateKey, StateProof, StateTree},
    transaction::{Rejection, SignedTransaction, TxDigest},
};

/// The result of a transaction that was ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// All calls succeeded.
    Success {
        /// Events of all calls, in order.
        events: Vec<Event>,
        /// Objects created, in order.
        created: Vec<ObjectId>,
    },
    /// A call failed; nothing changed but the nonce.
    Failure {
        /// The stable error code.
        code: u16,
        /// The error message.
        message: String,
    },
}

/// What was executed: a user transaction or a system call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxKind {
    /// A signed user transaction.
    User(SignedTransaction),
    /// An epoch transition inserted by the sequencer.
    System(Call),
}

/// One transaction in a checkpoint, with its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutedTransaction {
    /// The transaction.
    pub kind: TxKind,
    /// Its digest.
    pub digest: TxDigest,
    /// What happened.
    pub outcome: Outcome,
}

impl ExecutedTransaction {
    /// The sender (the system address for system calls).
    pub fn sender(&self) -> Address {
        match &self.kind {
            TxKind::User(signed) => signed.transaction.sender,
            TxKind::System(_) => Address::SYSTEM,
        }
    }
}

/// An ordered batch of transactions and the state root after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// 0, 1, 2, ...
    pub sequence: u64,
    /// The epoch after execution.
    pub epoch: u32,
    /// The time of the checkpoint, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The digest of the previous checkpoint (of the genesis for checkpoint 0).
    pub previous_digest: [u8; 32],
    /// Transactions in order, system calls first.
    pub transactions: Vec<ExecutedTransaction>,
    /// [`ChainState::root`] after execution.
    pub state_root: [u8; 32],
}

impl Checkpoint {
    /// blake3 of the BCS bytes.
    pub fn digest(&self) -> [u8; 32] {
        *blake3::hash(&bcs::to_bytes(self).expect("checkpoints serialize")).as_bytes()
    }

    /// The events of its successful transactions, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.transactions
            .iter()
            .flat_map(|executed| match &executed.outcome {
                Outcome::Success { events, .. } => events.as_slice(),
                Outcome::Failure { .. } => &[],
            })
    }
}

/// A follower computed something other than the checkpoint says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Divergence {
    /// Sequence, previous digest or timestamp out of order.
    #[error("checkpoint {sequence} does not follow: {reason}")]
    OutOfOrder {
        /// The checkpoint.
        sequence: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A transaction that should not have been admitted or ordered.
    #[error("checkpoint {sequence} transaction {index}: {reason}")]
    InvalidTransaction {
        /// The checkpoint.
        sequence: u64,
        /// The transaction's position.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// Re-execution gave another outcome or state root.
    #[error("checkpoint {sequence}: {what} differs after re-execution")]
    Mismatch {
        /// The checkpoint.
        sequence: u64,
        /// "outcome of transaction N", "state root" or "epoch".
        what: String,
    },
}

/// The state every participant keeps: the contracts state plus what the chain
/// itself needs (nonces, epoch start time, position in the log), and the
/// authenticated state tree over them as of the last checkpoint.
#[derive(Debug, Clone)]
pub struct ChainState {
    /// The contracts state.
    pub state: State,
    /// Next nonce per sender.
    pub nonces: OrdMap<Address, u64>,
    /// When the current epoch started (checkpoint time).
    pub epoch_start_ms: u64,
    /// The sequence number of the next checkpoint.
    pub next_sequence: u64,
    /// The digest of the last checkpoint (the genesis digest before any).
    pub last_digest: [u8; 32],
    /// The timestamp of the last checkpoint.
    pub last_timestamp_ms: u64,
    /// The objects as of the last checkpoint (cheap persistent-map clones),
    /// to find what the next one changed.
    sealed: (State, OrdMap<Address, u64>, u64),
    /// The objects as of the checkpoint before the last, once one was
    /// executed since the start (for [`ChainState::prove_previous`]).
    previous: Option<(State, OrdMap<Address, u64>, u64)>,
    /// The authenticated state as of the last checkpoint.
    tree: StateTree,
    /// What the last checkpoint changed, for a store to persist.
    last_changes: Vec<(StateKey, Option<Vec<u8>>)>,
}

/// What a chain store keeps to restart without re-executing the log: every
/// object of the state after checkpoint `next_sequence - 1`, and the
/// position in the log.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Every object and its BCS value ([`Objects::all`]).
    pub objects: Vec<(StateKey, Vec<u8>)>,
    /// The sequence number of the next checkpoint.
    pub next_sequence: u64,
    /// The digest of the last checkpoint.
    pub last_digest: [u8; 32],
    /// The timestamp of the last checkpoint.
    pub last_timestamp_ms: u64,
}

/// A snapshot that cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The genesis does not build.
    #[error("genesis: {0}")]
    Genesis(#[from] TxError),
    /// An object does not decode.
    #[error(transparent)]
    Object(#[from] state_tree::RestoreError),
    /// The objects do not hash to the root the log says.
    #[error("restored objects give state root {got}, the last checkpoint says {expected}")]
    RootMismatch {
        /// The checkpoint's root, hex.
        expected: String,
        /// The restored root, hex.
        got: String,
    },
}

impl ChainState {
    /// The state at genesis.
    ///
    /// # Errors
    /// The contracts genesis is invalid: the [`TxError`] of building it.
    pub fn genesis(config: &GenesisConfig) -> Result<Self, TxError> {
        let state = config.genesis.build()?;
        let nonces = OrdMap::new();
        let objects = Objects {
            state: &state,
            nonces: &nonces,
            epoch_start_ms: config.start_ms,
        };
        let tree = StateTree::build(objects.all());
        Ok(Self {
            sealed: (state.clone(), nonces.clone(), config.start_ms),
            previous: None,
            state,
            nonces,
            epoch_start_ms: config.start_ms,
            next_sequence: 0,
            last_digest: config.digest(),
            last_timestamp_ms: config.start_ms,
            tree,
            last_changes: Vec::new(),
        })
    }

    /// Restores the state from `snapshot` without re-executing anything,
    /// and checks it against `expected_root`: the state root of checkpoint
    /// `next_sequence - 1` (or of genesis).
    ///
    /// # Errors
    /// [`SnapshotError`] when an object does not decode or the root differs.
    pub fn from_snapshot(
        config: &GenesisConfig,
        snapshot: Snapshot,
        expected_root: [u8; 32],
    ) -> Result<Self, SnapshotError> {
        let base = config.genesis.build()?;
        let restored = state_tree::Restored::from_objects(&base, snapshot.objects)?;
        let mut chain = Self {
            sealed: (
                restored.state.clone(),
                restored.nonces.clone(),
                restored.epoch_start_ms,
            ),
            previous: None,
            state: restored.state,
            nonces: restored.nonces,
            epoch_start_ms: restored.epoch_start_ms,
            next_sequence: snapshot.next_sequence,
            last_digest: snapshot.last_digest,
            last_timestamp_ms: snapshot.last_timestamp_ms,
            tree: StateTree::build(Vec::new()),
            last_changes: Vec::new(),
        };
        chain.tree = StateTree::build(chain.objects().all());
        if chain.root() != expected_root {
            return Err(SnapshotError::RootMismatch {
                expected: hex::encode(expected_root),
                got: hex::encode(chain.root()),
            });
        }
        Ok(chain)
    }

    /// What the last checkpoint changed (new BCS value, `None` when
    /// removed): a store applies it to its copy of the objects.
    pub fn last_changes(&self) -> &[(StateKey, Option<Vec<u8>>)] {
        &self.last_changes
    }

    /// The state root after the last checkpoint (after genesis before any):
    /// the root of the authenticated state tree ([`state_tree`]).
    pub fn root(&self) -> [u8; 32] {
        self.tree.root()
    }

    /// The objects the state tree commits to, as they are now.
    pub fn objects(&self) -> Objects<'_> {
        Objects {
            state: &self.state,
            nonces: &self.nonces,
            epoch_start_ms: self.epoch_start_ms,
        }
    }

    /// `key`'s value (BCS bytes, `None` if absent) and its proof against
    /// [`ChainState::root`], the state root of checkpoint
    /// `next_sequence - 1` (of genesis when no checkpoint exists yet).
    pub fn prove(&self, key: &StateKey) -> (Option<Vec<u8>>, StateProof) {
        (self.objects().value(key), self.tree.prove(key))
    }

    /// The state root after checkpoint `next_sequence - 2` (after genesis
    /// when `next_sequence` is 1): the newest checkpoint that a block
    /// certificate covers, one behind the last. `None` until a checkpoint
    /// was executed since this state was built or restored.
    pub fn previous_root(&self) -> Option<[u8; 32]> {
        self.previous.as_ref().and(self.tree.previous_root())
    }

    /// `key`'s value (BCS bytes, `None` if absent) and its proof against
    /// [`ChainState::previous_root`]; `None` when that state is not kept.
    pub fn prove_previous(&self, key: &StateKey) -> Option<(Option<Vec<u8>>, StateProof)> {
        let (state, nonces, epoch_start_ms) = self.previous.as_ref()?;
        let objects = Objects {
            state,
            nonces,
            epoch_start_ms: *epoch_start_ms,
        };
        Some((objects.value(key), self.tree.prove_previous(key)?))
    }

    /// The next nonce of `sender`.
    pub fn next_nonce(&self, sender: &Address) -> u64 {
        self.nonces.get(sender).copied().unwrap_or(0)
    }

    fn system_digest(&self, index: usize) -> TxDigest {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"walrus system call");
        hasher.update(&self.next_sequence.to_le_bytes());
        hasher.update(&u64::try_from(index).expect("small").to_le_bytes());
        TxDigest(*hasher.finalize().as_bytes())
    }

    fn run_system(&mut self, call: &Call, index: usize, timestamp_ms: u64) -> ExecutedTransaction {
        let digest = self.system_digest(index);
        let mut ctx = TxContext::new(Address::SYSTEM, digest.0, timestamp_ms);
        let outcome = outcome(
            apply(&mut self.state, &mut ctx, std::slice::from_ref(call)),
            &ctx,
        );
        if matches!(call, Call::EpochChangeStart) && matches!(outcome, Outcome::Success { .. }) {
            self.epoch_start_ms = timestamp_ms;
        }
        ExecutedTransaction {
            kind: TxKind::System(call.clone()),
            digest,
            outcome,
        }
    }

    fn run_user(
        &mut self,
        signed: SignedTransaction,
        digest: TxDigest,
        timestamp_ms: u64,
    ) -> ExecutedTransaction {
        let sender = signed.transaction.sender;
        self.nonces.insert(sender, self.next_nonce(&sender) + 1);
        let mut ctx = TxContext::new(sender, digest.0, timestamp_ms);
        // Checked before ordering; a fee that cannot be paid fails the
        // transaction without running it.
        let fee = fees::due_for(&self.state, &signed).unwrap_or(u64::MAX);
        let result = fees::charge(&mut self.state, sender, fee)
            .and_then(|()| apply(&mut self.state, &mut ctx, &signed.transaction.calls));
        let outcome = outcome(result, &ctx);
        ExecutedTransaction {
            kind: TxKind::User(signed),
            digest,
            outcome,
        }
    }

    /// Checks a user transaction for ordering now: signature, sender, nonce.
    ///
    /// # Errors
    /// The [`Rejection`].
    pub fn check(&self, signed: &SignedTransaction) -> Result<TxDigest, Rejection> {
        let digest = signed.verify()?;
        self.check_nonce(signed, digest)
    }

    fn check_nonce(
        &self,
        signed: &SignedTransaction,
        digest: TxDigest,
    ) -> Result<TxDigest, Rejection> {
        let expected = self.next_nonce(&signed.transaction.sender);
        if signed.transaction.nonce != expected {
            return Err(Rejection::WrongNonce {
                expected,
                got: signed.transaction.nonce,
            });
        }
        self.check_fee(signed)?;
        Ok(digest)
    }

    /// Checks that the sender can pay the fee of `signed` now: validators
    /// refuse at admission what the sender cannot pay, and a block does
    /// not order it (issue 21, failure 4).
    ///
    /// # Errors
    /// [`Rejection::InsufficientFee`].
    pub fn check_fee(&self, signed: &SignedTransaction) -> Result<u64, Rejection> {
        let fee = fees::due_for(&self.state, signed)?;
        let balance = self.state.balance(&signed.transaction.sender);
        if balance < fee {
            return Err(Rejection::InsufficientFee { fee, balance });
        }
        Ok(fee)
    }

    /// Orders `transactions` into the next checkpoint at `timestamp_ms`
    /// (raised to the last checkpoint's time if the clock went back): first
    /// the due system calls, then every transaction that still checks out.
    /// Returns the checkpoint and the rejected transactions.
    pub fn build_checkpoint(
        &mut self,
        timestamp_ms: u64,
        transactions: Vec<SignedTransaction>,
    ) -> (Checkpoint, Vec<(SignedTransaction, Rejection)>) {
        self.build(timestamp_ms, transactions, true)
    }

    /// [`ChainState::build_checkpoint`] for transactions whose signatures
    /// (and senders, and the absence of system calls) the caller has
    /// already checked with [`SignedTransaction::verify`]: a validator
    /// checks every transaction of a block before voting for it. Only
    /// nonces are checked here; the result is the same checkpoint.
    pub fn build_checkpoint_verified(
        &mut self,
        timestamp_ms: u64,
        transactions: Vec<SignedTransaction>,
    ) -> (Checkpoint, Vec<(SignedTransaction, Rejection)>) {
        self.build(timestamp_ms, transactions, false)
    }

    fn build(
        &mut self,
        timestamp_ms: u64,
        transactions: Vec<SignedTransaction>,
        verify: bool,
    ) -> (Checkpoint, Vec<(SignedTransaction, Rejection)>) {
        let timestamp_ms = timestamp_ms.max(self.last_timestamp_ms);
        let mut executed = Vec::with_capacity(transactions.len() + 1);
        for (index, call) in due_system_calls(&self.state, self.epoch_start_ms, timestamp_ms)
            .iter()
            .enumerate()
        {
            executed.push(self.run_system(call, index, timestamp_ms));
        }
        let mut rejected = Vec::new();
        for signed in transactions {
            let checked = if verify {
                self.check(&signed)
            } else {
                self.check_nonce(&signed, signed.transaction.digest())
            };
            match checked {
                Ok(digest) => executed.push(self.run_user(signed, digest, timestamp_ms)),
                Err(rejection) => rejected.push((signed, rejection)),
            }
        }
        (self.seal(timestamp_ms, executed), rejected)
    }

    /// Applies what changed since the last checkpoint to the state tree.
    fn commit_state(&mut self) -> [u8; 32] {
        let (state, nonces, epoch_start_ms) = &self.sealed;
        let before = Objects {
            state,
            nonces,
            epoch_start_ms: *epoch_start_ms,
        };
        let changes = state_tree::changes(&before, &self.objects());
        let root = self.tree.update(changes.clone());
        self.last_changes = changes;
        let sealed = (self.state.clone(), self.nonces.clone(), self.epoch_start_ms);
        self.previous = Some(std::mem::replace(&mut self.sealed, sealed));
        root
    }

    fn seal(&mut self, timestamp_ms: u64, transactions: Vec<ExecutedTransaction>) -> Checkpoint {
        let state_root = self.commit_state();
        let checkpoint = Checkpoint {
            sequence: self.next_sequence,
            epoch: self.state.epoch,
            timestamp_ms,
            previous_digest: self.last_digest,
            transactions,
            state_root,
        };
        self.next_sequence += 1;
        self.last_digest = checkpoint.digest();
        self.last_timestamp_ms = timestamp_ms;
        checkpoint
    }

    /// Re-executes `checkpoint` and checks that it follows the last one, that
    /// its system calls were due, that every user transaction checks out, and
    /// that outcomes and state root agree. On error the state is unusable:
    /// divergence is fatal.
    ///
    /// # Errors
    /// The [`Divergence`].
    pub fn replay(&mut self, checkpoint: &Checkpoint) -> Result<(), Divergence> {
        let sequence = checkpoint.sequence;
        if sequence != self.next_sequence {
            return Err(Divergence::OutOfOrder {
                sequence,
                reason: "unexpected sequence number",
            });
        }
        if checkpoint.previous_digest != self.last_digest {
            return Err(Divergence::OutOfOrder {
                sequence,
                reason: "previous digest does not match",
            });
        }
        if checkpoint.timestamp_ms < self.last_timestamp_ms {
            return Err(Divergence::OutOfOrder {
                sequence,
                reason: "timestamp went back",
            });
        }
        let due = due_system_calls(&self.state, self.epoch_start_ms, checkpoint.timestamp_ms);
        let mut system_index = 0;
        let mut replayed = Vec::with_capacity(checkpoint.transactions.len());
        for (index, tx) in checkpoint.transactions.iter().enumerate() {
            let invalid = |reason: String| Divergence::InvalidTransaction {
                sequence,
                index,
                reason,
            };
            let executed = match &tx.kind {
                TxKind::System(call) => {
                    if due.get(system_index) != Some(call)
                        || !replayed
                            .iter()
                            .all(|t: &ExecutedTransaction| matches!(t.kind, TxKind::System(_)))
                    {
                        return Err(invalid("a system call that is not due".to_owned()));
                    }
                    system_index += 1;
                    self.run_system(call, index, checkpoint.timestamp_ms)
                }
                TxKind::User(signed) => {
                    let digest = self.check(signed).map_err(|r| invalid(r.to_string()))?;
                    self.run_user(signed.clone(), digest, checkpoint.timestamp_ms)
                }
            };
            if &executed != tx {
                return Err(Divergence::Mismatch {
                    sequence,
                    what: format!("outcome of transaction {index}"),
                });
            }
            replayed.push(executed);
        }
        if system_index != due.len() {
            return Err(Divergence::Mismatch {
                sequence,
                what: "due system calls missing".to_owned(),
            });
        }
        let sealed = self.seal(checkpoint.timestamp_ms, replayed);
        if sealed.state_root != checkpoint.state_root {
            return Err(Divergence::Mismatch {
                sequence,
                what: "state root".to_owned(),
            });
        }
        // Equal fields give equal digests; `seal` already hashed ours into
        // `last_digest`, so no second serialization is needed.
        if sealed.epoch != checkpoint.epoch || &sealed != checkpoint {
            return Err(Divergence::Mismatch {
                sequence,
                what: "checkpoint digest".to_owned(),
            });
        }
        Ok(())
    }
}

fn outcome(result: Result<Vec<Event>, TxError>, ctx: &TxContext) -> Outcome {
    match result {
        Ok(events) => Outcome::Success {
            events,
            created: ctx.created().to_vec(),
        },
        Err(error) => Outcome::Failure {
            code: error.code(),
            message: error.to_string(),
        },
    }
}
