//! Writing verified checkpoints into SQLite. One batch of checkpoints is one
//! SQLite transaction that also moves the cursor, so a checkpoint is indexed
//! exactly once even if the process dies mid-batch.
//!
//! What a checkpoint writes (its rows and the tables its events drive) is
//! `project.rs`; this file is the batching, the cursor and the checks that
//! a file belongs to the chain it follows.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use walrus_contracts::ledger::{
    execution::{ChainState, Checkpoint},
    genesis::GenesisConfig,
};

use crate::{
    error::IndexError,
    project::{index_checkpoint, insert_epoch, upsert_staked, write_pools},
    schema::{SCHEMA, int},
};

type IndexResult<T> = Result<T, IndexError>;

/// The write side: the SQLite file and the verified chain state beside it.
pub struct Writer {
    conn: Connection,
    chain: ChainState,
    /// Checkpoints `0..indexed` are in the database.
    indexed: u64,
    /// A batch failed after the state in memory moved on.
    failed: bool,
    /// The genesis digest: the chain's ID, which block certificates sign.
    chain_id: [u8; 32],
}

/// Opens (creating if needed) the database at `path` with the schema and
/// the pragmas every connection uses.
///
/// # Errors
/// SQLite errors.
pub(crate) fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Durable enough: a lost last commit loses its cursor too, and those
    // checkpoints are indexed again from the chain.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Blob and object IDs are random keys: their indexes are written all
    // over, so a page cache much larger than the default 2 MiB matters.
    conn.pragma_update(None, "cache_size", -262_144)?; // KiB: 256 MiB
    Ok(conn)
}

impl Writer {
    /// Opens the index at `path` for the chain of `genesis`; a new file is
    /// seeded with the genesis state (epoch 0, pools, genesis stakes).
    /// Returns the writer; its chain state is still at genesis and must be
    /// brought to [`Writer::indexed`] with [`Writer::catch_up`] before
    /// [`Writer::index`] is called.
    ///
    /// # Errors
    /// SQLite errors, an invalid genesis, or a file indexing another chain.
    pub fn open(path: &Path, genesis: &GenesisConfig) -> Result<Self, IndexError> {
        let mut conn = open_connection(path).map_err(|source| IndexError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.execute_batch(SCHEMA)?;
        let chain = ChainState::genesis(genesis)?;
        let digest = genesis.digest();
        let stored: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = 'genesis'", [], |row| {
                row.get(0)
            })
            .optional()?;
        let indexed = match stored {
            Some(stored) if stored == digest => read_cursor(&conn)?,
            Some(_) => return Err(IndexError::OtherChain(path.to_owned())),
            None => {
                let tx = conn.transaction()?;
                seed_genesis(&tx, &chain, genesis)?;
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('genesis', ?1)",
                    params![digest.to_vec()],
                )?;
                set_cursor(&tx, 0, 0)?;
                tx.commit()?;
                0
            }
        };
        Ok(Self {
            conn,
            chain,
            indexed,
            failed: false,
            chain_id: digest,
        })
    }

    /// The chain's ID (`GenesisConfig::digest`).
    pub fn chain_id(&self) -> [u8; 32] {
        self.chain_id
    }

    /// Checkpoints `0..indexed()` are in the database.
    pub fn indexed(&self) -> u64 {
        self.indexed
    }

    /// The verified chain state (after checkpoint `chain().next_sequence - 1`).
    pub fn chain(&self) -> &ChainState {
        &self.chain
    }

    /// Re-executes already indexed checkpoints (after a restart) without
    /// writing them, checking that each is the checkpoint the index holds
    /// (a reset chain serving another history is refused). Checkpoints at
    /// or past [`Writer::indexed`] are refused.
    ///
    /// # Errors
    /// [`Divergence`] (fatal), a checkpoint other than the indexed one, or
    /// one that is not indexed yet.
    pub fn catch_up(&mut self, checkpoint: &Checkpoint) -> Result<(), IndexError> {
        if checkpoint.sequence >= self.indexed {
            return Err(IndexError::OutOfOrder(checkpoint.sequence));
        }
        self.chain.replay(checkpoint)?;
        let stored: Vec<u8> = self
            .conn
            .prepare_cached("SELECT digest FROM checkpoints WHERE sequence = ?1")?
            .query_row(params![int(checkpoint.sequence)], |row| row.get(0))?;
        if stored != self.chain.last_digest {
            return Err(IndexError::Reset(checkpoint.sequence));
        }
        Ok(())
    }

    /// Verifies `checkpoints` by re-execution and indexes them in one
    /// SQLite transaction. Checkpoints already indexed are skipped, so a
    /// batch that overlaps the cursor is harmless.
    ///
    /// # Errors
    /// [`Divergence`] or SQLite errors. Nothing of the batch is written, but
    /// the state in memory may be ahead of the file: the writer refuses
    /// further work; reopen the file to go on.
    pub fn index(&mut self, checkpoints: &[Checkpoint]) -> Result<usize, IndexError> {
        if self.failed {
            return Err(IndexError::Poisoned);
        }
        self.failed = true;
        let written = self.index_batch(checkpoints)?;
        self.failed = false;
        Ok(written)
    }

    fn index_batch(&mut self, checkpoints: &[Checkpoint]) -> Result<usize, IndexError> {
        if self.chain.next_sequence < self.indexed {
            return Err(IndexError::OutOfOrder(self.chain.next_sequence));
        }
        let tx = self.conn.transaction()?;
        let mut written = 0;
        for checkpoint in checkpoints {
            if checkpoint.sequence < self.indexed {
                continue;
            }
            let pre = self.chain.state.clone();
            self.chain.replay(checkpoint)?;
            // After replay, the last digest is this checkpoint's.
            let digest = self.chain.last_digest;
            index_checkpoint(&tx, &pre, checkpoint, digest, &self.chain.state)?;
            written += 1;
        }
        if written > 0 {
            set_cursor(&tx, self.chain.next_sequence, self.chain.state.epoch)?;
            tx.commit()?;
            self.indexed = self.chain.next_sequence;
        }
        Ok(written)
    }
}

fn read_cursor(conn: &Connection) -> IndexResult<u64> {
    let value: i64 = conn.query_row(
        "SELECT value FROM meta WHERE key = 'next_sequence'",
        [],
        |row| row.get(0),
    )?;
    Ok(crate::schema::uint(value))
}

fn set_cursor(tx: &Transaction<'_>, next_sequence: u64, epoch: u32) -> IndexResult<()> {
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_sequence', ?1), ('epoch', ?2)",
        params![int(next_sequence), epoch],
    )?;
    Ok(())
}

fn seed_genesis(
    tx: &Transaction<'_>,
    chain: &ChainState,
    genesis: &GenesisConfig,
) -> IndexResult<()> {
    let state = &chain.state;
    insert_epoch(tx, state, None, genesis.start_ms)?;
    write_pools(tx, state)?;
    for (id, staked) in &state.staked {
        upsert_staked(tx, state, id, staked)?;
    }
    Ok(())
}
