//! Proposing, streaming and checking blocks.

use std::time::Duration;

use malachitebft_app_channel::{
    NetworkMsg,
    app::types::{
        ProposedValue,
        core::{Context as _, Round, Validator as _, Validity},
    },
};
use tokio::sync::mpsc;
use walrus_contracts::ledger::block::{Block, BlockHeader};

use super::App;
use crate::{
    chain::sequencer::{SequencerError, lock},
    consensus::{
        context::{BlockHash, Height, ProposalPart, ValidatorAddress, WalrusContext},
        signing::proposal_bytes,
        streaming::{self, Assembled},
    },
};

impl App {
    /// The block to propose at `height` and `round`: the one stored for
    /// them if this validator proposed before a restart, otherwise a new
    /// one, stored before it is returned.
    pub(super) async fn proposal(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> Result<Block, SequencerError> {
        let round_number = round.as_u32().unwrap_or(0);
        if let Some(block) = self.stored_proposal(round_number)? {
            self.remember_own(round, block.clone());
            return Ok(block);
        }
        self.wait_for_transactions(timeout).await;
        let block = {
            let chain = lock(&self.shared.chain);
            let now = self.shared.config.clock.now_ms();
            let transactions = self.mempool.take(
                &chain,
                self.settings.max_block_transactions,
                self.settings.max_block_bytes,
            );
            let header = BlockHeader {
                height: height.0,
                timestamp_ms: now.max(chain.last_timestamp_ms),
                proposer: self.address.0,
                previous_block: self.last_block,
                previous_checkpoint: chain.last_digest,
                transactions_digest: [0; 32],
                transaction_count: 0,
            };
            super::fault::corrupt(self.settings.fault, Block::new(header, transactions))
        };
        {
            let mut writer = lock(&self.shared.writer);
            writer.put_own_proposal(height.0, round_number, &block)?;
            writer.put_held_block(&block.hash(), &block)?;
        }
        self.remember_own(round, block.clone());
        Ok(block)
    }

    /// Waits up to the idle interval (at most half of `timeout`) for a
    /// first transaction, then one batch interval for more. After a block
    /// with transactions it does not wait for a first one: followers apply
    /// a checkpoint once the next block certifies it.
    async fn wait_for_transactions(&self, timeout: Duration) {
        let idle = self.settings.idle_block_interval.min(timeout / 2);
        let arrival = self.mempool.arrival();
        tokio::pin!(arrival);
        arrival.as_mut().enable();
        if self.mempool.is_empty() && !self.last_block_busy {
            let _ = tokio::time::timeout(idle, arrival).await;
        }
        if !self.mempool.is_empty() {
            tokio::time::sleep(self.shared.config.batch_interval.min(idle)).await;
        }
    }

    /// A proposed block kept on disk, by hash (`Store::put_held_block`).
    pub(super) fn held_block(&self, hash: &BlockHash) -> Result<Option<Block>, SequencerError> {
        Ok(lock(&self.shared.reader).held_block(&hash.0)?)
    }

    /// This validator's stored proposal at the current height and `round`.
    pub(super) fn stored_proposal(&self, round: u32) -> Result<Option<Block>, SequencerError> {
        Ok(lock(&self.shared.reader).own_proposal(self.height.0, round)?)
    }

    /// Keeps an own block as a valid value of this height.
    pub(super) fn remember_own(&mut self, round: Round, block: Block) {
        let value = BlockHash(block.hash());
        if !self.undecided.iter().any(|v| v.value == value) {
            self.undecided.push(ProposedValue {
                height: self.height,
                round,
                valid_round: Round::Nil,
                proposer: self.address,
                value,
                validity: Validity::Valid,
            });
        }
        self.blocks.insert(value, block);
    }

    /// Streams `block` as this validator's proposal at `round`.
    pub(super) async fn publish(
        &self,
        network: &mpsc::Sender<NetworkMsg<WalrusContext>>,
        round: Round,
        pol_round: Round,
        block: &Block,
    ) {
        let id = streaming::stream_id(self.height, round);
        self.publish_on(network, (round, pol_round), block, id)
            .await;
    }

    /// Streams a second, different block for `round` on a stream of its
    /// own: equivocation ([`super::Fault::Equivocate`]).
    pub(super) async fn publish_twin(
        &self,
        network: &mpsc::Sender<NetworkMsg<WalrusContext>>,
        round: Round,
        block: &Block,
    ) {
        let mut id = streaming::stream_id(self.height, round).to_bytes().to_vec();
        id.push(1);
        let id = malachitebft_app_channel::app::streaming::StreamId::new(id.into());
        self.publish_on(network, (round, Round::Nil), block, id)
            .await;
    }

    async fn publish_on(
        &self,
        network: &mpsc::Sender<NetworkMsg<WalrusContext>>,
        (round, pol_round): (Round, Round),
        block: &Block,
        id: malachitebft_app_channel::app::streaming::StreamId,
    ) {
        let hash = BlockHash(block.hash());
        let proposal = self
            .ctx
            .new_proposal(self.height, round, hash, pol_round, self.address);
        let signature = self.signer.sign(&proposal_bytes(&self.ctx, &proposal));
        let init = ProposalPart::Init {
            height: self.height,
            round,
            pol_round,
            proposer: self.address,
        };
        for message in streaming::messages(init, &block.encode(), signature, &id) {
            if network
                .send(NetworkMsg::PublishProposalPart(message))
                .await
                .is_err()
            {
                tracing::warn!("the network stopped; proposal not streamed");
                return;
            }
        }
    }

    /// Checks a complete stream at the current height: the proposer of its
    /// round, its signature, then the block. `None` for streams that are
    /// not a proposal (wrong proposer, bad signature, undecodable);
    /// `Invalid` for a signed proposal of a bad block.
    pub(super) fn check_stream(
        &mut self,
        assembled: Assembled,
    ) -> Option<ProposedValue<WalrusContext>> {
        let expected = self
            .ctx
            .select_proposer(&self.validators, self.height, assembled.round);
        if *expected.address() != assembled.proposer {
            tracing::debug!(proposer = %assembled.proposer, "stream from a validator that is not the proposer");
            return None;
        }
        let block = Block::decode(&assembled.bytes).ok()?;
        let hash = BlockHash(block.hash());
        let proposal = self.ctx.new_proposal(
            self.height,
            assembled.round,
            hash,
            assembled.pol_round,
            assembled.proposer,
        );
        if !assembled
            .signature
            .verifies(&proposal_bytes(&self.ctx, &proposal), expected.public_key())
        {
            tracing::warn!(proposer = %assembled.proposer, "proposal with a bad signature");
            return None;
        }
        let validity = self.check_block(&block, assembled.proposer, true);
        // Kept on disk before the engine may vote for it: after a crash the
        // engine's log can decide it (see `App::decided`).
        if let Err(error) = lock(&self.shared.writer).put_held_block(&hash.0, &block) {
            tracing::error!(%error, "cannot keep a proposed block; not voting for it");
            return None;
        }
        self.blocks.insert(hash, block);
        Some(ProposedValue {
            height: self.height,
            round: assembled.round,
            valid_round: assembled.pol_round,
            proposer: assembled.proposer,
            value: hash,
            validity,
        })
    }

    /// Whether `block` may follow the chain here: its height, proposer,
    /// parent block and checkpoint, a timestamp not before the last
    /// checkpoint's (nor, for a `live` proposal, too far ahead of this
    /// clock), and its size and signatures.
    pub(super) fn check_block(
        &self,
        block: &Block,
        proposer: ValidatorAddress,
        live: bool,
    ) -> Validity {
        let header = &block.header;
        let chain = lock(&self.shared.chain);
        let latest =
            self.shared.config.clock.now_ms().saturating_add(
                u64::try_from(self.settings.max_clock_drift.as_millis()).unwrap_or(0),
            );
        let problem = if header.height != self.height.0 || header.proposer != proposer.0 {
            Some("height or proposer")
        } else if header.previous_block != self.last_block {
            Some("previous block")
        } else if header.previous_checkpoint != chain.last_digest {
            Some("previous checkpoint")
        } else if header.timestamp_ms < chain.last_timestamp_ms
            || (live && header.timestamp_ms > latest)
        {
            Some("timestamp")
        } else if block.transactions.len() > self.settings.max_block_transactions {
            Some("too many transactions")
        } else if block.transactions.iter().any(|t| t.verify().is_err()) {
            Some("a transaction's signature")
        } else {
            None
        };
        match problem {
            None => Validity::Valid,
            Some(what) => {
                tracing::warn!(height = header.height, %proposer, what, "invalid block");
                Validity::Invalid
            }
        }
    }
}
