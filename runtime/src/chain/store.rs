//! The checkpoint log in SQLite (WAL mode, `synchronous = FULL`): a
//! checkpoint is durable before anyone hears of it.
//!
//! Tables: `meta(key, value)` holds the genesis digest, so a database can
//! never be reused with another genesis; `checkpoints(sequence PRIMARY KEY,
//! digest, data)` holds BCS checkpoints, so a sequence number can never name
//! two checkpoints; `transactions(digest PRIMARY KEY, sequence, position)`
//! indexes transactions for lookups; `objects(key, value)` holds every
//! object of the state after the last checkpoint (BCS [`StateKey`] and
//! value), updated in the same SQLite transaction as each append, and
//! `position` the log position they belong to, so a restart restores the
//! state without re-executing the log ([`Store::snapshot`]). Two indexes
//! serve light clients: `blob_checkpoints(blob_id, sequence)`, the
//! checkpoints with an event naming a blob ID, and `epoch_starts(epoch,
//! sequence)`, the checkpoint where each epoch started.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

mod blocks;
pub use blocks::DecidedBlock;
use walrus_codec::BlobId;
use walrus_contracts::Event;
use walrus_contracts::ledger::{
    execution::{ChainState, Checkpoint, ExecutedTransaction, Snapshot},
    state_tree::StateKey,
    transaction::TxDigest,
};

/// Most bytes of stored values in one page of checkpoints or block
/// headers (one value may exceed it alone): 16 MiB.
pub const MAX_REPLY_BYTES: usize = 16 << 20;

/// Why the checkpoint log failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be opened as SQLite.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: std::path::PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file holds the log of another chain.
    #[error("{0} belongs to another genesis")]
    OtherGenesis(std::path::PathBuf),
    /// A SQLite error (busy, IO, constraint such as a reused sequence number).
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored checkpoint does not decode, or one does not encode.
    #[error("checkpoint BCS: {0}")]
    Bcs(#[from] bcs::Error),
    /// The transaction index names a checkpoint position that is not stored.
    #[error("transaction index points at missing checkpoint {0}")]
    Inconsistent(u64),
    /// The stored log position of the objects is malformed.
    #[error("the stored position of the state objects is malformed")]
    BadPosition,
    /// A stored number is out of range.
    #[error("stored value out of range: {0}")]
    Range(#[from] std::num::TryFromIntError),
}

/// A connection to the checkpoint log.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the log at `path` for the chain with
    /// `genesis_digest`.
    ///
    /// # Errors
    /// SQLite errors, or a log that belongs to another genesis.
    pub fn open(path: &Path, genesis_digest: [u8; 32]) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS checkpoints (sequence INTEGER PRIMARY KEY, digest BLOB NOT NULL, data BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS transactions (digest BLOB PRIMARY KEY, sequence INTEGER NOT NULL, position INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS objects (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS position (id INTEGER PRIMARY KEY CHECK (id = 0), next_sequence INTEGER NOT NULL, last_digest BLOB NOT NULL, last_timestamp_ms INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS blob_checkpoints (blob_id BLOB NOT NULL, sequence INTEGER NOT NULL, PRIMARY KEY (blob_id, sequence)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS epoch_starts (epoch INTEGER PRIMARY KEY, sequence INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, header BLOB NOT NULL, data BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS own_proposals (height INTEGER NOT NULL, round INTEGER NOT NULL, block BLOB NOT NULL, PRIMARY KEY (height, round));
             CREATE TABLE IF NOT EXISTS held_blocks (hash BLOB PRIMARY KEY, height INTEGER NOT NULL, block BLOB NOT NULL);",
        )?;
        let stored: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = 'genesis'", [], |row| {
                row.get(0)
            })
            .optional()?;
        match stored {
            Some(digest) if digest == genesis_digest => {}
            Some(_) => return Err(StoreError::OtherGenesis(path.to_owned())),
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('genesis', ?1)",
                    params![genesis_digest.to_vec()],
                )?;
            }
        }
        Ok(Self { conn })
    }

    /// Appends `checkpoint` durably (one SQLite transaction, synced),
    /// together with the object `changes` it made (`None`: removed) when
    /// the stored objects are those before it.
    ///
    /// # Errors
    /// SQLite errors, including a sequence number that already exists.
    pub fn append(
        &mut self,
        checkpoint: &Checkpoint,
        changes: &[(StateKey, Option<Vec<u8>>)],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        append_in(&tx, checkpoint, changes)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the stored objects with every object of `chain` (after a
    /// replay from genesis, or at the first start).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn write_snapshot(&mut self, chain: &ChainState) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM objects", [])?;
        let all = chain.objects().all();
        write_objects(&tx, all.iter().map(|(k, v)| (k, v.as_deref())))?;
        set_position(
            &tx,
            chain.next_sequence,
            &chain.last_digest,
            chain.last_timestamp_ms,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The stored objects and their log position, `None` before the first
    /// [`Store::write_snapshot`].
    ///
    /// # Errors
    /// SQLite or decoding errors.
    pub fn snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        let position = self
            .conn
            .query_row(
                "SELECT next_sequence, last_digest, last_timestamp_ms FROM position WHERE id = 0",
                [],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()?;
        let Some((next_sequence, digest, timestamp)) = position else {
            return Ok(None);
        };
        let mut statement = self.conn.prepare("SELECT key, value FROM objects")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get(1)?)))?;
        let mut objects = Vec::new();
        for row in rows {
            let (key, value) = row?;
            objects.push((bcs::from_bytes::<StateKey>(&key)?, value));
        }
        Ok(Some(Snapshot {
            objects,
            next_sequence: u64::try_from(next_sequence)?,
            last_digest: digest.try_into().map_err(|_| StoreError::BadPosition)?,
            last_timestamp_ms: u64::try_from(timestamp)?,
        }))
    }

    /// Up to `limit` checkpoints from sequence `from` on, in order.
    ///
    /// # Errors
    /// SQLite or decoding errors.
    pub fn range(&self, from: u64, limit: usize) -> Result<Vec<Checkpoint>, StoreError> {
        self.bcs_rows(
            "SELECT data FROM checkpoints WHERE sequence >= ?1 ORDER BY sequence LIMIT ?2",
            from,
            limit,
        )
    }

    /// The BCS values of the first column of `sql`, run with `from` and
    /// `limit` as its two parameters, stopping once they hold
    /// [`MAX_REPLY_BYTES`] (at least one row).
    fn bcs_rows<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<T>, StoreError> {
        // No row is keyed above i64::MAX: such a `from` finds nothing.
        let Ok(from) = i64::try_from(from) else {
            return Ok(Vec::new());
        };
        let mut query = self.conn.prepare_cached(sql)?;
        let rows = query.query_map(params![from, i64::try_from(limit)?], |row| {
            row.get::<_, Vec<u8>>(0)
        })?;
        // Paged by bytes too: a reply stops after the row that reaches
        // MAX_REPLY_BYTES (issue 21, failure 4); the reader asks again.
        let mut values = Vec::new();
        let mut bytes = 0usize;
        for data in rows {
            let data = data?;
            bytes = bytes.saturating_add(data.len());
            values.push(bcs::from_bytes(&data)?);
            if bytes >= MAX_REPLY_BYTES {
                break;
            }
        }
        Ok(values)
    }

    /// Up to `limit` sequence numbers, ascending from `from`, of the
    /// checkpoints with an event naming `blob_id`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn blob_checkpoints(
        &self,
        blob_id: &BlobId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let mut query = self.conn.prepare_cached(
            "SELECT sequence FROM blob_checkpoints WHERE blob_id = ?1 AND sequence >= ?2 \
             ORDER BY sequence LIMIT ?3",
        )?;
        let Ok(from) = i64::try_from(from) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit)?;
        let rows = query.query_map(params![blob_id.0.to_vec(), from, limit], |row| {
            row.get::<_, i64>(0)
        })?;
        rows.map(|s| Ok(u64::try_from(s?)?)).collect()
    }

    /// `(epoch, sequence)` of every epoch start after genesis, ascending.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn epoch_starts(&self) -> Result<Vec<(u32, u64)>, StoreError> {
        let mut query = self
            .conn
            .prepare_cached("SELECT epoch, sequence FROM epoch_starts ORDER BY epoch")?;
        let rows = query.query_map([], |row| Ok((row.get::<_, u32>(0)?, row.get::<_, i64>(1)?)))?;
        rows.map(|row| {
            let (epoch, sequence) = row?;
            Ok((epoch, u64::try_from(sequence)?))
        })
        .collect()
    }

    /// The number of checkpoints (the next sequence number).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn len(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM checkpoints", [], |row| row.get(0))?;
        Ok(u64::try_from(count)?)
    }

    /// Whether the log is empty.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Where transaction `digest` was ordered: (checkpoint, position).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn locate(&self, digest: &TxDigest) -> Result<Option<(u64, usize)>, StoreError> {
        let row: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT sequence, position FROM transactions WHERE digest = ?1",
                params![digest.0.to_vec()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        row.map(|(s, p)| Ok((u64::try_from(s)?, usize::try_from(p)?)))
            .transpose()
    }

    /// Transaction `digest` as ordered: its checkpoint and execution.
    ///
    /// # Errors
    /// SQLite or decoding errors, or [`StoreError::Inconsistent`].
    pub fn find(
        &self,
        digest: &TxDigest,
    ) -> Result<Option<(u64, ExecutedTransaction)>, StoreError> {
        let Some((sequence, position)) = self.locate(digest)? else {
            return Ok(None);
        };
        let checkpoint = self
            .range(sequence, 1)?
            .pop()
            .ok_or(StoreError::Inconsistent(sequence))?;
        let executed = checkpoint
            .transactions
            .into_iter()
            .nth(position)
            .ok_or(StoreError::Inconsistent(sequence))?;
        Ok(Some((sequence, executed)))
    }
}

/// Writes `checkpoint`, its transaction index and (when the stored objects
/// are those before it) its object `changes`, inside `tx`.
fn append_in(
    tx: &rusqlite::Transaction<'_>,
    checkpoint: &Checkpoint,
    changes: &[(StateKey, Option<Vec<u8>>)],
) -> Result<(), StoreError> {
    let sequence = i64::try_from(checkpoint.sequence)?;
    tx.execute(
        "INSERT INTO checkpoints (sequence, digest, data) VALUES (?1, ?2, ?3)",
        params![
            sequence,
            checkpoint.digest().to_vec(),
            bcs::to_bytes(checkpoint)?
        ],
    )?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO transactions (digest, sequence, position) VALUES (?1, ?2, ?3)",
        )?;
        for (position, executed) in checkpoint.transactions.iter().enumerate() {
            insert.execute(params![
                executed.digest.0.to_vec(),
                sequence,
                i64::try_from(position)?
            ])?;
        }
    }
    index_events(tx, checkpoint)?;
    // The objects follow only if they were at this checkpoint's start;
    // otherwise the next start re-executes the log and rewrites them.
    let at: Option<i64> = tx
        .query_row(
            "SELECT next_sequence FROM position WHERE id = 0",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if at == Some(sequence) {
        write_objects(tx, changes.iter().map(|(k, v)| (k, v.as_deref())))?;
        set_position(
            tx,
            checkpoint.sequence + 1,
            &checkpoint.digest(),
            checkpoint.timestamp_ms,
        )?;
    }
    Ok(())
}

/// Adds `checkpoint`'s blob events and epoch start to the light-client
/// indexes.
fn index_events(tx: &rusqlite::Transaction<'_>, checkpoint: &Checkpoint) -> Result<(), StoreError> {
    let sequence = i64::try_from(checkpoint.sequence)?;
    let mut blob = tx.prepare_cached(
        "INSERT OR IGNORE INTO blob_checkpoints (blob_id, sequence) VALUES (?1, ?2)",
    )?;
    let mut epoch =
        tx.prepare_cached("INSERT OR IGNORE INTO epoch_starts (epoch, sequence) VALUES (?1, ?2)")?;
    for event in checkpoint.events() {
        if let Some(blob_id) = event.blob_id() {
            blob.execute(params![blob_id.0.to_vec(), sequence])?;
        }
        if let Event::EpochChangeStart { epoch: e, .. } = event {
            epoch.execute(params![e, sequence])?;
        }
    }
    Ok(())
}

fn write_objects<'a>(
    tx: &rusqlite::Transaction<'_>,
    objects: impl Iterator<Item = (&'a StateKey, Option<&'a [u8]>)>,
) -> Result<(), StoreError> {
    let mut upsert =
        tx.prepare_cached("INSERT OR REPLACE INTO objects (key, value) VALUES (?1, ?2)")?;
    let mut delete = tx.prepare_cached("DELETE FROM objects WHERE key = ?1")?;
    for (key, value) in objects {
        let key = bcs::to_bytes(key)?;
        match value {
            Some(value) => upsert.execute(params![key, value])?,
            None => delete.execute(params![key])?,
        };
    }
    Ok(())
}

fn set_position(
    tx: &rusqlite::Transaction<'_>,
    next_sequence: u64,
    last_digest: &[u8; 32],
    last_timestamp_ms: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO position (id, next_sequence, last_digest, last_timestamp_ms) VALUES (0, ?1, ?2, ?3)",
        params![
            i64::try_from(next_sequence)?,
            last_digest.to_vec(),
            i64::try_from(last_timestamp_ms)?
        ],
    )?;
    Ok(())
}
