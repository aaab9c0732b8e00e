//! The validator's application: the loop over the engine's [`AppMsg`]s.
//!
//! - `GetValue`: build a block from the mempool (or the block already
//!   proposed at this height and round, stored before it was sent), answer
//!   with its hash and stream it to the other validators.
//! - `ReceivedProposalPart`: put streams back together, check the
//!   proposer, its signature and the block, answer with the value and its
//!   validity.
//! - `Decided`: execute the block into the next checkpoint and store both
//!   with the commit certificate, in one SQLite transaction; answer the
//!   submitters.
//! - `Finalized`: start the next height with its validators (the committee
//!   after checkpoint `height - 2`, see `walrus_contracts::ledger::block`).
//! - Sync: serve stored blocks with their certificates; check synced ones
//!   like proposals (the engine has checked their certificates).

use std::{collections::HashMap, sync::Arc, time::Duration};

use malachitebft_app_channel::{
    AppMsg, Channels, NetworkMsg,
    app::{
        engine::host::{HeightParams, Next},
        types::{
            LocallyProposedValue, ProposedValue,
            core::{CommitCertificate, LinearTimeouts, Round},
        },
    },
};
use tokio::sync::mpsc;
use walrus_contracts::{Committee, ledger::block::Block};

use super::{
    context::{BlockHash, Height, ValidatorAddress, ValidatorSet, WalrusContext},
    mempool::Mempool,
    signing::BlsSigner,
    streaming::{Assembled, Streams},
};
use crate::chain::sequencer::{SequencerError, Shared, stop};

mod blocks;
mod decide;
mod fault;

pub use fault::Fault;

/// Most complete streams kept for later heights.
const MAX_PENDING: usize = 64;

/// What the application knows and decides with.
pub(crate) struct App {
    pub(crate) ctx: WalrusContext,
    pub(crate) shared: Arc<Shared>,
    pub(crate) mempool: Arc<Mempool>,
    pub(crate) signer: BlsSigner,
    pub(crate) address: ValidatorAddress,
    pub(crate) settings: Settings,
    /// The height being decided.
    pub(crate) height: Height,
    /// Its validators and their committee (certificate bitmaps).
    pub(crate) validators: ValidatorSet,
    pub(crate) committee: Committee,
    /// The hash of block `height - 1` (zeros at height 1).
    pub(crate) last_block: [u8; 32],
    /// Whether block `height - 1` held transactions: then the proposer
    /// does not wait for more, so the certificate that covers their
    /// checkpoint (the next block's) comes at once.
    pub(crate) last_block_busy: bool,
    /// Blocks seen at `height`, own and received, by hash.
    pub(crate) blocks: HashMap<BlockHash, Block>,
    /// Checked values at `height`, for `StartedRound` after a restart.
    pub(crate) undecided: Vec<ProposedValue<WalrusContext>>,
    /// Complete streams of later heights.
    pub(crate) pending: Vec<Assembled>,
    pub(crate) streams: Streams,
    /// Set by `Decided`: the next height's committee.
    pub(crate) next_committee: Option<Committee>,
}

/// How blocks are built.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Consensus timeouts of every height.
    pub timeouts: LinearTimeouts,
    /// How long a proposer waits for a first transaction before proposing
    /// an empty block (bounded by half the engine's propose timeout).
    pub idle_block_interval: Duration,
    /// Most transactions per block.
    pub max_block_transactions: usize,
    /// Most transaction bytes per block.
    pub max_block_bytes: usize,
    /// How far ahead of this validator's clock a proposed timestamp may be.
    pub max_clock_drift: Duration,
    /// Byzantine behaviour for tests ([`Fault`]); `None` in production.
    pub fault: Option<Fault>,
}

impl Default for Settings {
    /// 1 s idle blocks, 2000 transactions or 8 MiB per block, 2 s of drift,
    /// the engine's default timeouts (propose 3 s, prevote and precommit
    /// 1 s).
    fn default() -> Self {
        Self {
            timeouts: LinearTimeouts::default(),
            idle_block_interval: Duration::from_secs(1),
            max_block_transactions: 2000,
            max_block_bytes: 8 * 1024 * 1024,
            max_clock_drift: Duration::from_secs(2),
            fault: None,
        }
    }
}

impl App {
    fn params(&self) -> HeightParams<WalrusContext> {
        HeightParams::new(self.validators.clone(), self.settings.timeouts, None)
    }

    /// Runs until the engine's channel closes or a checkpoint cannot be
    /// stored.
    pub(crate) async fn run(mut self, mut channels: Channels<WalrusContext>) {
        while let Some(message) = channels.consensus.recv().await {
            if let Err(error) = self.handle(message, &channels.network).await {
                stop(&self.shared, error);
                return;
            }
        }
        tracing::warn!("the consensus engine stopped");
    }

    async fn handle(
        &mut self,
        message: AppMsg<WalrusContext>,
        network: &mpsc::Sender<NetworkMsg<WalrusContext>>,
    ) -> Result<(), SequencerError> {
        match message {
            AppMsg::ConsensusReady { reply } => {
                tracing::info!(height = %self.height, "consensus ready");
                let _ = reply.send((self.height, self.params()));
            }
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                let values = self.started_round(height, round)?;
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let block = self.proposal(height, round, timeout).await?;
                let value = BlockHash(block.hash());
                let _ = reply.send(LocallyProposedValue::new(height, round, value));
                self.publish(network, round, Round::Nil, &block).await;
                if self.settings.fault == Some(Fault::Equivocate) {
                    let twin = fault::twin(&block);
                    self.publish_twin(network, round, &twin).await;
                }
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let peer = published_by.unwrap_or(from);
                let value = self
                    .streams
                    .insert(peer, part)
                    .and_then(|assembled| self.received(assembled));
                let _ = reply.send(value);
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                if address == self.address
                    && height == self.height
                    && let Some(block) = self.blocks.get(&value_id).cloned()
                {
                    self.publish(network, round, valid_round, &block).await;
                }
            }
            other => self.handle_decisions(other).await?,
        }
        Ok(())
    }

    async fn handle_decisions(
        &mut self,
        message: AppMsg<WalrusContext>,
    ) -> Result<(), SequencerError> {
        match message {
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                self.decided(&certificate).await?;
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate, reply, ..
            } => {
                let _ = reply.send(self.finalized(&certificate)?);
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(range).await?);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let _ = reply.send(self.synced(height, round, proposer, &value_bytes));
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                let verdicts = extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect();
                let _ = reply.send(verdicts);
            }
            _ => {}
        }
        Ok(())
    }

    /// Values already known at `height` (own proposals stored before a
    /// restart, streams that arrived early).
    fn started_round(
        &mut self,
        height: Height,
        round: Round,
    ) -> Result<Vec<ProposedValue<WalrusContext>>, SequencerError> {
        if height != self.height {
            tracing::warn!(%height, expected = %self.height, "round of an unexpected height");
            return Ok(Vec::new());
        }
        let (early, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|a| a.height == height);
        self.pending = later;
        for assembled in early {
            let _ = self.received(assembled);
        }
        if let Some(round_number) = round.as_u32()
            && let Some(block) = self.stored_proposal(round_number)?
        {
            self.remember_own(round, block);
        }
        Ok(self.undecided.clone())
    }

    /// Checks a complete stream; keeps streams of later heights.
    fn received(&mut self, assembled: Assembled) -> Option<ProposedValue<WalrusContext>> {
        if assembled.height > self.height {
            if self.pending.len() < MAX_PENDING {
                self.pending.push(assembled);
            }
            return None;
        }
        if assembled.height < self.height {
            return None;
        }
        let value = self.check_stream(assembled)?;
        if self.undecided.iter().any(|v| {
            v.round == value.round && v.proposer == value.proposer && v.value != value.value
        }) {
            tracing::warn!(
                height = %self.height,
                round = %value.round,
                proposer = %value.proposer,
                "equivocation: a second, different signed proposal for one round"
            );
        }
        self.undecided.push(value.clone());
        Some(value)
    }

    /// Moves to the next height after a decision, or repeats this one if
    /// the decision could not be applied.
    fn finalized(
        &mut self,
        certificate: &CommitCertificate<WalrusContext>,
    ) -> Result<Next<WalrusContext>, SequencerError> {
        let Some(committee) = self.next_committee.take() else {
            tracing::warn!(height = %certificate.height, "finalized without a decided block, restarting the height");
            return Ok(Next::Restart(self.height, self.params()));
        };
        self.validators = ValidatorSet::of(&committee).map_err(|e| {
            SequencerError::Consensus(format!("the next committee is no validator set: {e}"))
        })?;
        self.committee = committee;
        self.height = Height(certificate.height.0 + 1);
        self.blocks.clear();
        self.undecided.clear();
        Ok(Next::Start(self.height, self.params()))
    }
}
