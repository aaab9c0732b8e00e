//! Following the checkpoint log with verification. Checkpoints are released
//! to the consumer only once a block certificate of the committee in force
//! covers them ([`CertifiedFetch`], over the pure
//! `walrus_contracts::ledger::certify::Certifier`), and each is then
//! re-executed and its state root compared ([`Follower`]). So a storage node
//! or the indexer never acts on a history that a quorum of the validators
//! did not sign, even if the validator it asks lies; a certified checkpoint
//! that does not re-execute is fatal ([`FollowError::Diverged`]).
//!
//! A checkpoint is certified by the block after the one that made it, so a
//! follower sees it about one block later than the validator stored it.
//! The single sequencer (`walrus chain run` without `--keys`) signs
//! nothing; followers of it must say so ([`Follower::uncertified`]).

use std::time::Duration;

use walrus_contracts::{
    TxError,
    ledger::{
        block::CertifiedHeader,
        certify::{Certifier, CertifyError},
        execution::{ChainState, Checkpoint, Divergence},
        genesis::GenesisConfig,
    },
};

use crate::{ChainClient, ChainError, RetryPolicy};

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// A certified checkpoint does not re-execute: stop everything.
    #[error("DIVERGENCE: {0}")]
    Diverged(#[from] Divergence),
    /// The chain could not be reached; try again.
    #[error("transport: {0}")]
    Transport(#[from] ChainError),
    /// What the chain served is not certified (yet); nothing of it was
    /// applied. Try again; a validator that keeps serving it is lying.
    #[error("uncertified: {0}")]
    Uncertified(String),
}

impl From<CertifyError> for FollowError {
    fn from(error: CertifyError) -> Self {
        Self::Uncertified(error.to_string())
    }
}

/// Fetches checkpoints and releases them once certified (module docs); the
/// caller re-executes what it releases.
pub struct CertifiedFetch {
    client: ChainClient,
    /// `None`: the chain is the single sequencer; nothing is checked.
    certifier: Option<Certifier>,
    next: u64,
    retry: RetryPolicy,
}

impl CertifiedFetch {
    /// Fetches from `client` after the verified `chain` of the chain
    /// `chain_id` (`GenesisConfig::digest`), checking block certificates.
    pub fn new(client: ChainClient, chain: &ChainState, chain_id: [u8; 32]) -> Self {
        Self {
            client,
            certifier: Some(Certifier::new(chain, chain_id)),
            next: chain.next_sequence,
            retry: RetryPolicy::ONCE,
        }
    }

    /// The same without certificates, for the single sequencer.
    pub fn uncertified(mut self) -> Self {
        self.certifier = None;
        self
    }

    /// Retries unreachable or failing (5xx) fetches with `retry`.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The next certified checkpoints in order, waiting up to `wait` for new
    /// ones; empty if none was certified in that time.
    ///
    /// # Errors
    /// [`FollowError::Transport`], or [`FollowError::Uncertified`] when the
    /// chain served checkpoints that its certificates do not cover (they
    /// are dropped and fetched again on the next call).
    pub async fn next(&mut self, wait: Duration) -> Result<Vec<Checkpoint>, FollowError> {
        let Some(certifier) = &mut self.certifier else {
            let batch = self
                .client
                .checkpoints_retrying(self.next, wait, self.retry);
            let batch = batch.await?;
            self.next = batch.last().map_or(self.next, |c| c.sequence + 1);
            return Ok(batch);
        };
        let from = certifier.next_fetch();
        let batch = self.client.checkpoints_retrying(from, wait, self.retry);
        certifier
            .push(batch.await?)
            .inspect_err(|_| certifier.clear())?;
        let headers = fetch_headers(&self.client, &certifier.wanted(), self.retry).await?;
        let released = certifier
            .certify(&headers)
            .inspect_err(|_| certifier.clear())?;
        // A validator stores block `s + 2`, which certifies checkpoint `s`,
        // with checkpoint `s + 1`: with two pending, one must be released.
        if released.is_empty() && certifier.pending() >= 2 {
            let first = certifier.next_fetch() - u64::try_from(certifier.pending()).unwrap_or(0);
            certifier.clear();
            tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
            return Err(FollowError::Uncertified(format!(
                "the chain at {} serves checkpoints from {first} on without the block \
                 certificates that cover them; the single sequencer certifies nothing \
                 (follow it uncertified)",
                self.client.base_url(),
            )));
        }
        Ok(released)
    }
}

/// The headers at `heights` (ascending), one request per run of
/// consecutive heights.
async fn fetch_headers(
    client: &ChainClient,
    heights: &[u64],
    retry: RetryPolicy,
) -> Result<Vec<CertifiedHeader>, ChainError> {
    let mut headers = Vec::new();
    let mut rest = heights;
    while let Some(&from) = rest.first() {
        let run = rest
            .iter()
            .zip(from..)
            .take_while(|(height, expected)| **height == *expected)
            .count();
        let fetch = || client.certified_headers(from, run);
        headers.extend(retry.run(fetch, ChainError::is_transient).await?);
        rest = &rest[run..];
    }
    Ok(headers)
}

/// A verifying follower: keeps its own [`ChainState`] in step with the
/// certified log.
pub struct Follower {
    fetch: CertifiedFetch,
    chain: ChainState,
}

impl Follower {
    /// A follower of the validators at `base` (comma-separated URLs, see
    /// [`ChainClient::new`]), starting from genesis, that applies only
    /// certified checkpoints.
    ///
    /// # Errors
    /// The genesis is invalid.
    pub fn new(base: impl Into<String>, genesis: &GenesisConfig) -> Result<Self, TxError> {
        let chain = ChainState::genesis(genesis)?;
        Ok(Self {
            fetch: CertifiedFetch::new(ChainClient::new(base), &chain, genesis.digest()),
            chain,
        })
    }

    /// The same follower for the single sequencer, whose checkpoints carry
    /// no certificates: they are re-executed but not certified.
    pub fn uncertified(mut self) -> Self {
        self.fetch = self.fetch.uncertified();
        self
    }

    /// The same follower retrying unreachable or failing (5xx) fetches with
    /// `retry` (by default it makes one attempt).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.fetch = self.fetch.with_retry(retry);
        self
    }

    /// The verified state so far.
    pub fn chain(&self) -> &ChainState {
        &self.chain
    }

    /// Fetches the checkpoints after the ones already verified (waiting up
    /// to `wait` if there are none), and returns in order those that are
    /// certified, each re-executed.
    ///
    /// # Errors
    /// [`FollowError::Diverged`] (fatal), [`FollowError::Transport`] or
    /// [`FollowError::Uncertified`] (try again).
    pub async fn next_batch(&mut self, wait: Duration) -> Result<Vec<Checkpoint>, FollowError> {
        let checkpoints = self.fetch.next(wait).await?;
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
