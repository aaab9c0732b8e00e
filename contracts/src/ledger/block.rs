//! Blocks of the replicated control plane (issue 20): what validators
//! agree on at each height, and the certified header a light client checks.
//!
//! Height `h` (Malachite's first height is 1) decides block `h`; executing
//! its transactions afterwards gives checkpoint `h - 1`. A block names the
//! digest of the last checkpoint executed when it was proposed (checkpoint
//! `h - 2`; the genesis digest at height 1), so block `h`'s commit
//! certificate certifies checkpoint `h - 2` and, through the checkpoints'
//! digest chain, every checkpoint before it.
//!
//! The validators of height `h` are the committee after checkpoint `h - 3`
//! (the genesis committee for `h <= 2`): the committee that certifies a
//! checkpoint is always one a light client learned from an earlier,
//! already certified checkpoint. See [`validator_committee_lag`].

use serde::{Deserialize, Serialize};

use crate::{
    certificate::Certificate, errors::TxError, ids::ObjectId, ledger::consensus::verify_commit,
    ledger::transaction::SignedTransaction, state::Committee,
};

/// How many checkpoints the validator committee lags: the validators of
/// height `h` are the committee after checkpoint `h - 3`.
pub const fn validator_committee_lag() -> u64 {
    3
}

/// What a block's hash covers: everything but the transactions, which
/// `transactions_digest` commits to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The consensus height (>= 1); its checkpoint is `height - 1`.
    pub height: u64,
    /// The proposer's clock, ms since the Unix epoch; the checkpoint's
    /// timestamp. Never below the previous checkpoint's.
    pub timestamp_ms: u64,
    /// The proposer (a committee member's node ID).
    pub proposer: ObjectId,
    /// The hash of block `height - 1` (zeros at height 1).
    pub previous_block: [u8; 32],
    /// The digest of the last checkpoint executed when proposing: checkpoint
    /// `height - 2`, or the genesis digest (the chain's initial
    /// `ChainState::last_digest`) at height 1.
    pub previous_checkpoint: [u8; 32],
    /// blake3 of the BCS of the transactions.
    pub transactions_digest: [u8; 32],
    /// How many transactions the block holds.
    pub transaction_count: u32,
}

impl BlockHeader {
    /// The block hash: blake3 of `"walrus/block/v1" || BCS(header)`. This is
    /// the value validators vote for.
    pub fn hash(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"walrus/block/v1");
        hasher.update(&bcs::to_bytes(self).expect("a header always serializes"));
        *hasher.finalize().as_bytes()
    }
}

/// A block: its header and the user transactions it orders (system calls
/// are derived at execution).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in order.
    pub transactions: Vec<SignedTransaction>,
}

/// The digest of a block's transactions.
pub fn transactions_digest(transactions: &[SignedTransaction]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"walrus/block-transactions/v1");
    hasher.update(&bcs::to_bytes(transactions).expect("transactions always serialize"));
    *hasher.finalize().as_bytes()
}

/// A block whose body does not match its header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The bytes are not a BCS block.
    #[error("not a BCS block: {0}")]
    Decode(String),
    /// The transactions do not hash to the header's digest, or their
    /// count differs.
    #[error("the transactions do not match the block header")]
    Body,
}

impl Block {
    /// A block of `transactions` with the rest of the header from `header`
    /// (its `transactions_digest` and `transaction_count` are overwritten).
    pub fn new(mut header: BlockHeader, transactions: Vec<SignedTransaction>) -> Self {
        header.transactions_digest = transactions_digest(&transactions);
        header.transaction_count = u32::try_from(transactions.len()).unwrap_or(u32::MAX);
        Self {
            header,
            transactions,
        }
    }

    /// Decodes a block and checks its body against its header.
    ///
    /// # Errors
    /// [`BlockError`] for bytes that are not a block or a body that does
    /// not match.
    pub fn decode(bytes: &[u8]) -> Result<Self, BlockError> {
        let block: Self = bcs::from_bytes(bytes).map_err(|e| BlockError::Decode(e.to_string()))?;
        let count_matches = usize::try_from(block.header.transaction_count)
            .is_ok_and(|count| count == block.transactions.len());
        if !count_matches
            || transactions_digest(&block.transactions) != block.header.transactions_digest
        {
            return Err(BlockError::Body);
        }
        Ok(block)
    }

    /// The BCS bytes.
    pub fn encode(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("a block always serializes")
    }

    /// The block hash ([`BlockHeader::hash`]).
    pub fn hash(&self) -> [u8; 32] {
        self.header.hash()
    }
}

/// A block header with the aggregated commit certificate that decided it:
/// what the chain API serves to light clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedHeader {
    /// The header.
    pub header: BlockHeader,
    /// The consensus round the block was decided in.
    pub round: u32,
    /// Precommits of a quorum of the height's validators, aggregated.
    pub certificate: Certificate,
}

impl CertifiedHeader {
    /// Checks the certificate: precommits for this header's hash at its
    /// height and round by members of `committee` (the committee after
    /// checkpoint `height - 3`) holding a quorum of the `n_shards` shards.
    /// Returns the signer indices.
    ///
    /// # Errors
    /// The [`TxError`] of [`verify_commit`].
    pub fn verify(
        &self,
        committee: &Committee,
        n_shards: u16,
        chain: &[u8; 32],
    ) -> Result<Vec<u16>, TxError> {
        let hash = self.header.hash();
        verify_commit(
            &self.certificate,
            committee,
            n_shards,
            chain,
            (self.header.height, self.round, &hash),
        )
    }
}
