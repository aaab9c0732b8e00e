//! The sequencer: admits signed transactions, orders them into checkpoints,
//! executes them, stores each checkpoint durably, then answers the submitters
//! and wakes the followers (SPEC.md section 11).
//!
//! Admission checks signature and nonce against the nonces already admitted,
//! so it never waits for execution. One batcher task takes up to `max_batch`
//! transactions every `batch_interval` (or at once when that many wait),
//! executes them on a blocking thread and appends the checkpoint to SQLite
//! before anyone hears of it. A failed append stops the sequencer: memory
//! would be ahead of the log.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::sync::{Notify, oneshot, watch};
use walrus_contracts::{
    Address, TxError, due_system_calls,
    ledger::{
        block::CertifiedHeader,
        execution::{ChainState, Checkpoint, Divergence, SnapshotError},
        genesis::GenesisConfig,
        transaction::{Rejection, SignedTransaction, TxDigest},
    },
};
use walrus_types::{Clock, SystemClock, chain::TxResponse};

use super::store::{Store, StoreError};

/// Why the sequencer could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    /// The checkpoint log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The genesis does not build.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] TxError),
    /// The stored objects do not decode or do not match the last state root.
    #[error("the stored state objects do not restore: {0}")]
    Snapshot(#[from] SnapshotError),
    /// The stored log does not re-execute to its own roots.
    #[error("the stored log does not re-execute: {0}")]
    Replay(#[from] Divergence),
    /// The replicated control plane cannot go on (engine start, a decided
    /// block not held, a committee that is no validator set).
    #[error("consensus: {0}")]
    Consensus(String),
    /// A blocking task panicked or was cancelled.
    #[error("sequencer task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// How the sequencer runs.
#[derive(Debug, Clone)]
pub struct SequencerConfig {
    /// The chain's genesis.
    pub genesis: GenesisConfig,
    /// The SQLite file of the checkpoint log.
    pub db_path: PathBuf,
    /// How long to gather transactions into one checkpoint.
    pub batch_interval: Duration,
    /// Most transactions per checkpoint.
    pub max_batch: usize,
    /// Largest accepted transaction, in bytes.
    pub max_transaction_bytes: usize,
    /// How often to check for due epoch transitions without traffic.
    pub tick: Duration,
    /// Where checkpoint timestamps come from.
    pub clock: Arc<dyn Clock>,
}

impl SequencerConfig {
    /// Defaults: 20 ms batches of at most 2000 transactions of at most 1 MiB,
    /// a 100 ms tick.
    pub fn new(genesis: GenesisConfig, db_path: PathBuf) -> Self {
        Self {
            genesis,
            db_path,
            batch_interval: Duration::from_millis(20),
            max_batch: 2000,
            max_transaction_bytes: 1 << 20,
            tick: Duration::from_millis(100),
            clock: Arc::new(SystemClock),
        }
    }
}

type Responder = oneshot::Sender<Result<TxResponse, Rejection>>;

#[derive(Default)]
pub(crate) struct Mempool {
    queue: Vec<(SignedTransaction, Responder)>,
    /// The next nonce per sender, counting admitted transactions.
    next_nonce: HashMap<Address, u64>,
}

/// How transactions reach a checkpoint: this process orders them alone,
/// or a validator's mempool feeds the replicated control plane
/// (`crate::consensus`).
pub(crate) enum Admission {
    /// The single sequencer's queue and its batcher's wake-up.
    Solo {
        mempool: Mutex<Mempool>,
        wake: Notify,
    },
    /// A validator: its mempool and the other validators' URLs to forward to.
    Replicated(crate::consensus::validator::Admission),
}

pub(crate) struct Shared {
    pub(crate) config: SequencerConfig,
    pub(crate) chain: Mutex<ChainState>,
    pub(crate) admission: Admission,
    pub(crate) head: watch::Sender<u64>,
    pub(crate) reader: Mutex<Store>,
    pub(crate) writer: Mutex<Store>,
    /// Set once when the sequencer had to stop (a failed append).
    fatal: watch::Sender<Option<Arc<SequencerError>>>,
}

/// A handle on a running sequencer.
#[derive(Clone)]
pub struct Sequencer {
    pub(crate) shared: Arc<Shared>,
}

/// The state after the stored log: from the stored objects when they are
/// at the log's end (no re-execution), otherwise by re-executing the log
/// from genesis and storing the objects for the next start.
pub(crate) fn restore(
    genesis: &GenesisConfig,
    writer: &mut Store,
    reader: &Store,
) -> Result<ChainState, SequencerError> {
    let mut chain = ChainState::genesis(genesis)?;
    let count = reader.len()?;
    if let Some(snapshot) = reader.snapshot()?
        && snapshot.next_sequence == count
        && count > 0
    {
        let last = reader.range(count - 1, 1)?;
        let expected = last.first().ok_or(StoreError::Inconsistent(count - 1))?;
        let chain = ChainState::from_snapshot(genesis, snapshot, expected.state_root)?;
        tracing::info!(checkpoints = count, "state restored from stored objects");
        return Ok(chain);
    }
    loop {
        let batch = reader.range(chain.next_sequence, 1000)?;
        if batch.is_empty() {
            break;
        }
        for checkpoint in &batch {
            chain.replay(checkpoint)?;
        }
    }
    writer.write_snapshot(&chain)?;
    Ok(chain)
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens the log at `config.db_path` twice (writer, reader) and restores
/// the state after it.
pub(crate) async fn open(
    config: &SequencerConfig,
) -> Result<(ChainState, Store, Store), SequencerError> {
    let genesis_digest = config.genesis.digest();
    let config = config.clone();
    let (chain, writer, reader) =
        tokio::task::spawn_blocking(move || -> Result<_, SequencerError> {
            let mut writer = Store::open(&config.db_path, genesis_digest)?;
            let reader = Store::open(&config.db_path, genesis_digest)?;
            let chain = restore(&config.genesis, &mut writer, &reader)?;
            Ok((chain, writer, reader))
        })
        .await??;
    tracing::info!(
        checkpoints = chain.next_sequence,
        epoch = chain.state.epoch,
        "chain state rebuilt from the log"
    );
    Ok((chain, writer, reader))
}

impl Shared {
    pub(crate) fn new(
        config: SequencerConfig,
        chain: ChainState,
        (writer, reader): (Store, Store),
        admission: Admission,
    ) -> Arc<Self> {
        let (head, _) = watch::channel(chain.next_sequence);
        Arc::new(Self {
            config,
            chain: Mutex::new(chain),
            admission,
            head,
            reader: Mutex::new(reader),
            writer: Mutex::new(writer),
            fatal: watch::channel(None).0,
        })
    }
}

impl Sequencer {
    /// Opens the log, restores the state from its stored objects (checked
    /// against the last checkpoint's state root), or re-executes the log when
    /// no objects are stored, and starts the batcher on the current tokio
    /// runtime.
    ///
    /// # Errors
    /// The log cannot be opened, belongs to another genesis, does not
    /// re-execute to the stored roots, or its objects do not match the last
    /// state root.
    pub async fn start(config: SequencerConfig) -> Result<Self, SequencerError> {
        let (chain, writer, reader) = open(&config).await?;
        let mempool = Mempool {
            queue: Vec::new(),
            next_nonce: chain.nonces.iter().map(|(a, n)| (*a, *n)).collect(),
        };
        let admission = Admission::Solo {
            mempool: Mutex::new(mempool),
            wake: Notify::new(),
        };
        let shared = Shared::new(config, chain, (writer, reader), admission);
        tokio::spawn(run_batcher(shared.clone()));
        Ok(Self { shared })
    }

    /// Admits a transaction (BCS bytes) and waits until it is ordered and stored.
    ///
    /// # Errors
    /// The [`Rejection`] if it is not admitted.
    pub async fn submit(&self, bytes: &[u8]) -> Result<TxResponse, Rejection> {
        let signed =
            SignedTransaction::from_bytes(bytes, self.shared.config.max_transaction_bytes)?;
        let digest = signed.verify()?;
        if self.shared.fatal.borrow().is_some() {
            return Err(Rejection::Unavailable("the sequencer stopped"));
        }
        let (mempool, wake) = match &self.shared.admission {
            Admission::Solo { mempool, wake } => (mempool, wake),
            Admission::Replicated(admission) => {
                return admission.submit(&self.shared, signed, digest, bytes).await;
            }
        };
        lock(&self.shared.chain).check_fee(&signed)?;
        let (sender, receiver) = oneshot::channel();
        {
            let mut mempool = lock(mempool);
            let address = signed.transaction.sender;
            let expected = mempool.next_nonce.get(&address).copied().unwrap_or(0);
            if signed.transaction.nonce != expected {
                return Err(Rejection::WrongNonce {
                    expected,
                    got: signed.transaction.nonce,
                });
            }
            mempool.next_nonce.insert(address, expected + 1);
            mempool.queue.push((signed, sender));
        }
        wake.notify_one();
        receiver
            .await
            .unwrap_or(Err(Rejection::Unavailable("the sequencer stopped")))
    }

    /// Admits transactions forwarded by another validator, without
    /// waiting for them: `body` is the BCS list of their bytes (at most
    /// `FORWARD_BATCH`). Transactions that do not parse, verify or fit the
    /// mempool are skipped. Returns how many were admitted.
    ///
    /// # Errors
    /// [`Rejection::Malformed`] for a body that is not such a list;
    /// [`Rejection::Unavailable`] on the single sequencer, which has no
    /// peers.
    pub fn relay(&self, body: &[u8]) -> Result<usize, Rejection> {
        let Admission::Replicated(admission) = &self.shared.admission else {
            return Err(Rejection::Unavailable(
                "this chain service is the single sequencer, not a validator",
            ));
        };
        let list: Vec<Vec<u8>> =
            bcs::from_bytes(body).map_err(|e| Rejection::Malformed(e.to_string()))?;
        if list.len() > crate::consensus::validator::FORWARD_BATCH {
            return Err(Rejection::Malformed(format!(
                "{} transactions in one forwarded batch",
                list.len()
            )));
        }
        let limit = self.shared.config.max_transaction_bytes;
        let admitted = list
            .iter()
            .filter_map(|bytes| SignedTransaction::from_bytes(bytes, limit).ok())
            .filter_map(|signed| signed.verify().ok().map(|digest| (signed, digest)))
            .filter(|(signed, digest)| {
                admission
                    .relay(&self.shared, signed.clone(), *digest)
                    .is_ok()
            })
            .count();
        Ok(admitted)
    }

    /// Whether this chain service is a validator of the replicated control
    /// plane (otherwise the single sequencer).
    pub fn is_validator(&self) -> bool {
        matches!(self.shared.admission, Admission::Replicated(_))
    }

    /// Up to `limit` certified block headers from height `from` on.
    ///
    /// # Errors
    /// [`SequencerError::Store`], or the reading task failed.
    pub async fn certified_headers(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<CertifiedHeader>, SequencerError> {
        self.read_store(move |store| store.certified_headers(from, limit))
            .await
    }

    /// Runs `read` on the log's reader connection, off the async threads.
    ///
    /// # Errors
    /// `read`'s [`SequencerError::Store`], or the reading task failed.
    pub async fn read_store<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, SequencerError> {
        let shared = self.shared.clone();
        Ok(tokio::task::spawn_blocking(move || read(&lock(&shared.reader))).await??)
    }

    /// The number of checkpoints stored so far.
    pub fn checkpoint_count(&self) -> u64 {
        *self.shared.head.borrow()
    }

    /// Reads the chain state.
    pub fn with_chain<T>(&self, read: impl FnOnce(&ChainState) -> T) -> T {
        read(&lock(&self.shared.chain))
    }

    /// Up to `limit` checkpoints from `from`, waiting up to `wait` for the
    /// first one if none exists yet.
    ///
    /// # Errors
    /// [`SequencerError::Store`], or the reading task failed.
    pub async fn checkpoints(
        &self,
        from: u64,
        limit: usize,
        wait: Duration,
    ) -> Result<Vec<Checkpoint>, SequencerError> {
        let mut head = self.shared.head.subscribe();
        if *head.borrow() <= from {
            let _ = tokio::time::timeout(wait, head.wait_for(|count| *count > from)).await;
        }
        self.read_store(move |store| store.range(from, limit)).await
    }

    /// Completes with the error that stopped the sequencer, if one ever
    /// does (a checkpoint that could not be stored: memory would be ahead
    /// of the log). The binary then exits; library code never does.
    pub async fn stopped(&self) -> Arc<SequencerError> {
        let mut fatal = self.shared.fatal.subscribe();
        loop {
            if let Some(error) = fatal.borrow_and_update().clone() {
                return error;
            }
            if fatal.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

async fn run_batcher(shared: Arc<Shared>) {
    let Admission::Solo { mempool, wake } = &shared.admission else {
        return;
    };
    loop {
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(shared.config.tick) => {}
        }
        if lock(mempool).queue.len() < shared.config.max_batch {
            tokio::time::sleep(shared.config.batch_interval).await;
        }
        let batch: Vec<(SignedTransaction, Responder)> = {
            let mut mempool = lock(mempool);
            let take = mempool.queue.len().min(shared.config.max_batch);
            mempool.queue.drain(..take).collect()
        };
        let worker = shared.clone();
        let result = tokio::task::spawn_blocking(move || seal_batch(&worker, batch)).await;
        match result {
            Ok(Ok(Some(count))) => {
                shared.head.send_replace(count);
            }
            Ok(Ok(None)) => {}
            Ok(Err(error)) => return stop(&shared, error),
            Err(error) => return stop(&shared, error.into()),
        }
    }
}

/// Records the fatal `error`; the batcher then ends and admissions stop.
pub(crate) fn stop(shared: &Shared, error: SequencerError) {
    tracing::error!("cannot store checkpoint, stopping the sequencer: {error}");
    shared.fatal.send_replace(Some(Arc::new(error)));
}

/// Builds, stores and answers one checkpoint; `None` if there was nothing to do.
fn seal_batch(
    shared: &Shared,
    batch: Vec<(SignedTransaction, Responder)>,
) -> Result<Option<u64>, SequencerError> {
    let mut chain = lock(&shared.chain);
    let now = shared.config.clock.now_ms();
    if batch.is_empty()
        && due_system_calls(
            &chain.state,
            chain.epoch_start_ms,
            now.max(chain.last_timestamp_ms),
        )
        .is_empty()
    {
        return Ok(None);
    }
    let (transactions, responders): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let mut waiting: HashMap<TxDigest, Responder> = HashMap::new();
    for (signed, responder) in transactions.iter().zip(responders) {
        waiting.insert(signed.transaction.digest(), responder);
    }
    let (checkpoint, rejected) = chain.build_checkpoint(now, transactions);
    lock(&shared.writer).append(&checkpoint, chain.last_changes())?;
    let count = chain.next_sequence;
    drop(chain);
    for executed in &checkpoint.transactions {
        if let Some(responder) = waiting.remove(&executed.digest) {
            let response = TxResponse {
                digest: executed.digest,
                checkpoint: checkpoint.sequence,
                outcome: executed.outcome.clone(),
            };
            let _ = responder.send(Ok(response));
        }
    }
    for (signed, rejection) in rejected {
        if let Some(responder) = waiting.remove(&signed.transaction.digest()) {
            let _ = responder.send(Err(rejection));
        }
    }
    Ok(Some(count))
}
