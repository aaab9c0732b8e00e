//! Decided blocks of the replicated control plane, stored beside their
//! checkpoints: table `blocks(height PRIMARY KEY, header, data)` holds each
//! decided block with the engine's commit signatures (served to peers that
//! sync), the aggregated certificate (served to light clients) and the
//! validators of the next height; `own_proposals(height, round, block)`
//! holds every block this validator proposed, so that it proposes the same
//! block again after a restart instead of equivocating.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use walrus_contracts::{
    Committee, ObjectId,
    certificate::Certificate,
    ledger::{
        block::{Block, CertifiedHeader},
        execution::Checkpoint,
        state_tree::StateKey,
    },
};

use super::{Store, StoreError, append_in};

/// A decided block and what decided it, as stored with its checkpoint
/// (BCS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidedBlock {
    /// The block.
    pub block: Block,
    /// The round it was decided in.
    pub round: u32,
    /// The engine's commit certificate: each signer's node ID and its
    /// 96-byte BLS precommit signature.
    pub commit_signatures: Vec<(ObjectId, Vec<u8>)>,
    /// The same precommits aggregated over the height's committee.
    pub certificate: Certificate,
    /// The validators of the next height (the committee after checkpoint
    /// `height - 2`).
    pub next_committee: Committee,
}

impl DecidedBlock {
    /// The header with its aggregated certificate.
    pub fn certified_header(&self) -> CertifiedHeader {
        CertifiedHeader {
            header: self.block.header.clone(),
            round: self.round,
            certificate: self.certificate.clone(),
        }
    }
}

impl Store {
    /// Appends `checkpoint` (with its object `changes`) and the block
    /// `decided` that produced it, in one SQLite transaction, and forgets
    /// own proposals at or below its height.
    ///
    /// # Errors
    /// SQLite errors, including a height or sequence number stored before.
    pub fn append_decided(
        &mut self,
        checkpoint: &Checkpoint,
        changes: &[(StateKey, Option<Vec<u8>>)],
        decided: &DecidedBlock,
    ) -> Result<(), StoreError> {
        let height = i64::try_from(decided.block.header.height)?;
        let tx = self.conn.transaction()?;
        append_in(&tx, checkpoint, changes)?;
        tx.execute(
            "INSERT INTO blocks (height, header, data) VALUES (?1, ?2, ?3)",
            params![
                height,
                bcs::to_bytes(&decided.certified_header())?,
                bcs::to_bytes(decided)?
            ],
        )?;
        tx.execute(
            "DELETE FROM own_proposals WHERE height <= ?1",
            params![height],
        )?;
        tx.execute(
            "DELETE FROM held_blocks WHERE height <= ?1",
            params![height],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The decided block at `height`, if stored.
    ///
    /// # Errors
    /// SQLite or decoding errors.
    pub fn decided(&self, height: u64) -> Result<Option<DecidedBlock>, StoreError> {
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM blocks WHERE height = ?1",
                params![i64::try_from(height)?],
                |row| row.get(0),
            )
            .optional()?;
        Ok(data.map(|data| bcs::from_bytes(&data)).transpose()?)
    }

    /// The highest decided block, if any.
    ///
    /// # Errors
    /// SQLite or decoding errors.
    pub fn last_decided(&self) -> Result<Option<DecidedBlock>, StoreError> {
        let height: Option<i64> =
            self.conn
                .query_row("SELECT MAX(height) FROM blocks", [], |row| row.get(0))?;
        match height {
            Some(height) => self.decided(u64::try_from(height)?),
            None => Ok(None),
        }
    }

    /// Up to `limit` certified headers from height `from` on, in order.
    ///
    /// # Errors
    /// SQLite or decoding errors.
    pub fn certified_headers(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<CertifiedHeader>, StoreError> {
        self.bcs_rows(
            "SELECT header FROM blocks WHERE height >= ?1 ORDER BY height LIMIT ?2",
            from,
            limit,
        )
    }

    /// Records a block this validator proposed at `height` and `round`
    /// (durably, before anyone sees it).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_own_proposal(
        &mut self,
        height: u64,
        round: u32,
        block: &Block,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO own_proposals (height, round, block) VALUES (?1, ?2, ?3)",
            params![i64::try_from(height)?, round, block.encode()],
        )?;
        Ok(())
    }

    /// The block this validator proposed at `height` and `round`, if any.
    ///
    /// # Errors
    /// SQLite or decoding errors.
    pub fn own_proposal(&self, height: u64, round: u32) -> Result<Option<Block>, StoreError> {
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT block FROM own_proposals WHERE height = ?1 AND round = ?2",
                params![i64::try_from(height)?, round],
                |row| row.get(0),
            )
            .optional()?;
        Ok(data.map(|data| bcs::from_bytes(&data)).transpose()?)
    }

    /// Keeps a proposed block this validator checked, by hash, until its
    /// height is decided: the engine may decide it from its own log after
    /// a crash that lost the block in memory.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_held_block(&mut self, hash: &[u8; 32], block: &Block) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO held_blocks (hash, height, block) VALUES (?1, ?2, ?3)",
            params![
                hash.as_slice(),
                i64::try_from(block.header.height)?,
                block.encode()
            ],
        )?;
        Ok(())
    }

    /// A block kept by [`Store::put_held_block`], by hash.
    ///
    /// # Errors
    /// SQLite or decoding errors.
    pub fn held_block(&self, hash: &[u8; 32]) -> Result<Option<Block>, StoreError> {
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT block FROM held_blocks WHERE hash = ?1",
                params![hash.as_slice()],
                |row| row.get(0),
            )
            .optional()?;
        Ok(data.map(|data| bcs::from_bytes(&data)).transpose()?)
    }
}
