//! Executing decided blocks, and serving and checking synced ones.

use std::{ops::RangeInclusive, sync::Arc};

use bytes::Bytes;
use malachitebft_app_channel::app::{
    engine::host::SyncedValueOutcome,
    types::{
        ProposedValue,
        core::{
            CommitCertificate, CommitSignature, ExtendedCommitCertificate, Round, VoteExtensions,
        },
        sync::RawDecidedValue,
    },
};
use walrus_contracts::ledger::{block::Block, execution::Checkpoint};

use super::App;
use crate::{
    chain::{
        sequencer::{SequencerError, Shared, lock},
        store::DecidedBlock,
    },
    consensus::{
        aggregate,
        context::{BlockHash, Height, ValidatorAddress, WalrusContext},
        signing::BlsSignature,
    },
};

impl App {
    /// Executes the decided block into the next checkpoint and stores both
    /// with the certificate; answers the block's submitters.
    ///
    /// # Errors
    /// A certificate that does not aggregate or a store failure: fatal.
    pub(super) async fn decided(
        &mut self,
        certificate: &CommitCertificate<WalrusContext>,
    ) -> Result<(), SequencerError> {
        let held = match self.blocks.remove(&certificate.value_id) {
            Some(block) => Some(block),
            // After a crash the engine's log may decide a block seen
            // before it: every proposal, own or received, is kept on disk
            // by hash before any vote.
            None => self.held_block(&certificate.value_id)?,
        };
        let Some(block) = held else {
            // Not expected (every voted block is kept). `Finalized` then
            // restarts the height and sync fetches the block from the
            // other validators.
            tracing::warn!(
                height = %certificate.height,
                block = %certificate.value_id,
                "decided block not held here; restarting the height"
            );
            return Ok(());
        };
        let aggregated = aggregate(&self.ctx, certificate, &self.committee)
            .map_err(|e| SequencerError::Consensus(format!("commit certificate: {e}")))?;
        let round = certificate.round.as_u32().unwrap_or(0);
        let commit_signatures = certificate
            .commit_signatures
            .iter()
            .map(|s| (s.address.0, s.signature.0.to_vec()))
            .collect();
        let shared = self.shared.clone();
        let height = certificate.height.0;
        let (checkpoint, decided) = tokio::task::spawn_blocking(move || {
            execute(&shared, block, round, commit_signatures, aggregated)
        })
        .await??;
        self.mempool
            .executed(&checkpoint, &lock(&self.shared.chain));
        self.shared.head.send_replace(checkpoint.sequence + 1);
        self.last_block = decided.block.hash();
        self.last_block_busy = !decided.block.transactions.is_empty();
        self.next_committee = Some(decided.next_committee);
        tracing::debug!(
            height,
            transactions = checkpoint.transactions.len(),
            "block decided"
        );
        Ok(())
    }

    /// The stored blocks of `range` with their certificates, for peers
    /// that sync.
    pub(super) async fn decided_values(
        &self,
        range: RangeInclusive<Height>,
    ) -> Result<Vec<RawDecidedValue<WalrusContext>>, SequencerError> {
        let shared = self.shared.clone();
        let (from, to) = (range.start().0, range.end().0);
        let stored =
            tokio::task::spawn_blocking(move || -> Result<Vec<DecidedBlock>, SequencerError> {
                let reader = lock(&shared.reader);
                let mut blocks = Vec::new();
                for height in from..=to.min(from.saturating_add(64)) {
                    match reader.decided(height)? {
                        Some(block) => blocks.push(block),
                        None => break,
                    }
                }
                Ok(blocks)
            })
            .await??;
        Ok(stored.into_iter().filter_map(raw_value).collect())
    }

    /// Checks a block that arrived by sync (its certificate was checked by
    /// the engine).
    pub(super) fn synced(
        &mut self,
        height: Height,
        round: Round,
        proposer: ValidatorAddress,
        bytes: &Bytes,
    ) -> SyncedValueOutcome<WalrusContext> {
        if height != self.height {
            return SyncedValueOutcome::LocalTransientError;
        }
        let Ok(block) = Block::decode(bytes) else {
            return SyncedValueOutcome::PeerFault;
        };
        let validity = self.check_block(&block, proposer, false);
        let value = BlockHash(block.hash());
        self.blocks.insert(value, block);
        SyncedValueOutcome::Verdict(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value,
            validity,
        })
    }
}

/// Runs on a blocking thread: executes `block`, stores checkpoint and block.
fn execute(
    shared: &Arc<Shared>,
    block: Block,
    round: u32,
    commit_signatures: Vec<(walrus_contracts::ObjectId, Vec<u8>)>,
    certificate: walrus_contracts::certificate::Certificate,
) -> Result<(Checkpoint, DecidedBlock), SequencerError> {
    let mut chain = lock(&shared.chain);
    let expected = block.header.height.saturating_sub(1);
    if chain.next_sequence != expected {
        return Err(SequencerError::Consensus(format!(
            "block {} decided but the next checkpoint is {}",
            block.header.height, chain.next_sequence
        )));
    }
    let next_committee = chain.state.committee.clone();
    // Every transaction's signature was checked before the block was
    // voted for (`check_block`) or admitted (own blocks).
    let (checkpoint, rejected) =
        chain.build_checkpoint_verified(block.header.timestamp_ms, block.transactions.clone());
    if !rejected.is_empty() {
        tracing::debug!(
            count = rejected.len(),
            "decided transactions rejected at execution"
        );
    }
    let decided = DecidedBlock {
        block,
        round,
        commit_signatures,
        certificate,
        next_committee,
    };
    lock(&shared.writer).append_decided(&checkpoint, chain.last_changes(), &decided)?;
    Ok((checkpoint, decided))
}

fn raw_value(decided: DecidedBlock) -> Option<RawDecidedValue<WalrusContext>> {
    let commit_signatures = decided
        .commit_signatures
        .iter()
        .map(|(node, signature)| {
            let signature: [u8; 96] = signature.as_slice().try_into().ok()?;
            Some(CommitSignature::new(
                ValidatorAddress(*node),
                BlsSignature(signature),
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    let certificate = CommitCertificate {
        height: Height(decided.block.header.height),
        round: Round::new(decided.round),
        value_id: BlockHash(decided.block.hash()),
        commit_signatures,
    };
    Some(RawDecidedValue {
        value_bytes: Bytes::from(decided.block.encode()),
        certificate: ExtendedCommitCertificate::from_commit_certificate_and_extensions(
            certificate,
            VoteExtensions::default(),
        ),
    })
}
