//! The checkpoint log in SQLite (WAL mode, `synchronous = FULL`): a
//! checkpoint is durable before anyone hears of it.
//!
//! Tables: `meta(key, value)` holds the genesis digest, so a database can
//! never be reused with another genesis; `checkpoints(sequence PRIMARY KEY,
//! digest, data)` holds BCS checkpoints, so a sequence number can never name
//! two checkpoints; `transactions(digest PRIMARY KEY, sequence, position)`
//! indexes transactions for lookups.

use std::path::Path;

use anyhow::{Context, bail};
use rusqlite::{Connection, OptionalExtension, params};

use super::{execution::Checkpoint, transaction::TxDigest};

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
    pub fn open(path: &Path, genesis_digest: [u8; 32]) -> anyhow::Result<Self> {
        let conn =
            Connection::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS checkpoints (sequence INTEGER PRIMARY KEY, digest BLOB NOT NULL, data BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS transactions (digest BLOB PRIMARY KEY, sequence INTEGER NOT NULL, position INTEGER NOT NULL);",
        )?;
        let stored: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = 'genesis'", [], |row| {
                row.get(0)
            })
            .optional()?;
        match stored {
            Some(digest) if digest == genesis_digest => {}
            Some(_) => bail!("{} belongs to another genesis", path.display()),
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('genesis', ?1)",
                    params![genesis_digest.to_vec()],
                )?;
            }
        }
        Ok(Self { conn })
    }

    /// Appends `checkpoint` durably (one SQLite transaction, synced).
    ///
    /// # Errors
    /// SQLite errors, including a sequence number that already exists.
    pub fn append(&mut self, checkpoint: &Checkpoint) -> anyhow::Result<()> {
        let sequence = i64::try_from(checkpoint.sequence).context("sequence")?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO checkpoints (sequence, digest, data) VALUES (?1, ?2, ?3)",
            params![
                sequence,
                checkpoint.digest().to_vec(),
                bcs::to_bytes(checkpoint)?
            ],
        )?;
        {
            let mut insert = tx.prepare_cached("INSERT OR IGNORE INTO transactions (digest, sequence, position) VALUES (?1, ?2, ?3)")?;
            for (position, executed) in checkpoint.transactions.iter().enumerate() {
                insert.execute(params![
                    executed.digest.0.to_vec(),
                    sequence,
                    i64::try_from(position)?
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` checkpoints from sequence `from` on, in order.
    ///
    /// # Errors
    /// SQLite or decoding errors.
    pub fn range(&self, from: u64, limit: usize) -> anyhow::Result<Vec<Checkpoint>> {
        let mut query = self.conn.prepare_cached(
            "SELECT data FROM checkpoints WHERE sequence >= ?1 ORDER BY sequence LIMIT ?2",
        )?;
        let rows = query.query_map(
            params![i64::try_from(from)?, i64::try_from(limit)?],
            |row| row.get::<_, Vec<u8>>(0),
        )?;
        rows.map(|data| Ok(bcs::from_bytes(&data?)?)).collect()
    }

    /// The number of checkpoints (the next sequence number).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn len(&self) -> anyhow::Result<u64> {
        let count: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM checkpoints", [], |row| row.get(0))?;
        Ok(u64::try_from(count)?)
    }

    /// Whether the log is empty.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn is_empty(&self) -> anyhow::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Where transaction `digest` was ordered: (checkpoint, position).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn locate(&self, digest: &TxDigest) -> anyhow::Result<Option<(u64, usize)>> {
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
}
