//! Following the checkpoint log with verification: every checkpoint is
//! re-executed and its state root compared. A divergence is fatal: the
//! follower returns [`FollowError::Diverged`] and must not be used again.

use std::time::Duration;

use walrus_contracts::{
    TxError,
    ledger::{
        execution::{ChainState, Checkpoint, Divergence},
        genesis::GenesisConfig,
    },
};

use crate::{ChainClient, ChainError, RetryPolicy};

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The sequencer served a checkpoint that does not re-execute: stop everything.
    #[error("DIVERGENCE: {0}")]
    Diverged(#[from] Divergence),
    /// The sequencer could not be reached; try again.
    #[error("transport: {0}")]
    Transport(#[from] ChainError),
}

/// A verifying follower: keeps its own [`ChainState`] in step with the log.
pub struct Follower {
    client: ChainClient,
    chain: ChainState,
    retry: RetryPolicy,
}

impl Follower {
    /// A follower of the sequencer at `base`, starting from genesis.
    ///
    /// # Errors
    /// The genesis is invalid.
    pub fn new(base: impl Into<String>, genesis: &GenesisConfig) -> Result<Self, TxError> {
        Ok(Self {
            client: ChainClient::new(base),
            chain: ChainState::genesis(genesis)?,
            retry: RetryPolicy::ONCE,
        })
    }

    /// The same follower retrying unreachable or failing (5xx) fetches with
    /// `retry` (by default it makes one attempt).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The verified state so far.
    pub fn chain(&self) -> &ChainState {
        &self.chain
    }

    /// Fetches the checkpoints after the ones already verified (waiting up
    /// to `wait` if there are none), verifies each by re-execution and
    /// returns them in order.
    ///
    /// # Errors
    /// [`FollowError::Diverged`] (fatal) or [`FollowError::Transport`].
    pub async fn next_batch(&mut self, wait: Duration) -> Result<Vec<Checkpoint>, FollowError> {
        let checkpoints = self
            .client
            .checkpoints_retrying(self.chain.next_sequence, wait, self.retry)
            .await?;
        for checkpoint in &checkpoints {
            self.chain.replay(checkpoint)?;
        }
        Ok(checkpoints)
    }

    /// Follows until checkpoint `count - 1` is verified, skipping nothing;
    /// used to catch up from genesis to a consumer's cursor after a restart.
    ///
    /// # Errors
    /// As [`Follower::next_batch`].
    pub async fn catch_up_to(&mut self, count: u64) -> Result<(), FollowError> {
        while self.chain.next_sequence < count {
            self.next_batch(Duration::from_secs(1)).await?;
        }
        Ok(())
    }
}
