//! The audited tip's commit certificate: the validators' aggregated
//! precommits on the block that names the last audited checkpoints
//! (`walrus_contracts::ledger::block`: block `h` names checkpoint `h - 2`,
//! and its validators are the committee after checkpoint `h - 3`). A
//! certified checkpoint was agreed by a quorum of the committee's shards,
//! so one chain endpoint cannot show an auditor a history of its own.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use walrus_contracts::{Committee, ledger::execution::ChainState};
use walrus_types::ChainClient;

/// How the newest certified checkpoint was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TipCertificate {
    /// The block height whose certificate was checked.
    pub height: u64,
    /// The checkpoint it certifies (`None`: the genesis, at height 1).
    pub checkpoint: Option<u64>,
    /// Signing validators, of how many.
    pub signers: usize,
    /// Committee members.
    pub validators: usize,
    /// Shards held by the signers.
    pub signer_shards: u32,
    /// Whether the certificate verified and names the audited checkpoint.
    pub valid: bool,
    /// Why not, if it did not.
    pub error: Option<String>,
}

/// What the tip check needs from the replay: the committee in force after
/// each checkpoint (recorded when it changes) and the last digests.
pub(super) struct History {
    /// `(n, committee)`: the committee once `n` checkpoints are executed.
    committees: Vec<(u64, Committee)>,
    /// `(sequence, digest)` of the last few checkpoints.
    digests: VecDeque<(u64, [u8; 32])>,
    genesis_digest: [u8; 32],
}

impl History {
    /// The history at genesis.
    pub(super) fn new(genesis: &ChainState) -> Self {
        Self {
            committees: vec![(0, genesis.state.committee.clone())],
            digests: VecDeque::new(),
            genesis_digest: genesis.last_digest,
        }
    }

    /// Records the state after a replayed checkpoint.
    pub(super) fn record(&mut self, chain: &ChainState) {
        let last = self.committees.last().map(|(_, c)| c);
        if last != Some(&chain.state.committee) {
            self.committees
                .push((chain.next_sequence, chain.state.committee.clone()));
        }
        if let Some(sequence) = chain.next_sequence.checked_sub(1) {
            self.digests.push_back((sequence, chain.last_digest));
            if self.digests.len() > 4 {
                self.digests.pop_front();
            }
        }
    }

    /// The validators of height `h`: the committee after checkpoint
    /// `h - 3`, i.e. once `h - 2` checkpoints are executed.
    fn committee_for(&self, height: u64) -> Option<&Committee> {
        let executed = height.saturating_sub(2);
        self.committees
            .iter()
            .rev()
            .find(|(n, _)| *n <= executed)
            .map(|(_, c)| c)
    }

    fn digest_of(&self, checkpoint: Option<u64>) -> Option<[u8; 32]> {
        match checkpoint {
            None => Some(self.genesis_digest),
            Some(sequence) => self
                .digests
                .iter()
                .find(|(s, _)| *s == sequence)
                .map(|(_, d)| *d),
        }
    }
}

/// Checks the certificate of the newest block that names one of the last
/// audited checkpoints; `None` when the chain serves no blocks (the single
/// sequencer) or none names them yet.
pub(super) async fn check(
    chain: &ChainClient,
    history: &History,
    checkpoints: u64,
    n_shards: u16,
    chain_id: &[u8; 32],
) -> Option<TipCertificate> {
    // Block h names checkpoint h - 2; the tip is checkpoint `checkpoints - 1`.
    let highest = checkpoints + 1;
    let from = highest.saturating_sub(2).max(1);
    let headers = chain.certified_headers(from, 3).await.ok()?;
    let certified = headers
        .into_iter()
        .filter(|h| h.header.height <= highest)
        .max_by_key(|h| h.header.height)?;
    let height = certified.header.height;
    let checkpoint = height.checked_sub(2);
    let committee = history.committee_for(height)?;
    let mut report = TipCertificate {
        height,
        checkpoint,
        signers: 0,
        validators: committee.members.len(),
        signer_shards: 0,
        valid: false,
        error: None,
    };
    if history.digest_of(checkpoint) != Some(certified.header.previous_checkpoint) {
        report.error = Some("the block names another checkpoint than the audited one".to_owned());
        return Some(report);
    }
    match certified.verify(committee, n_shards, chain_id) {
        Ok(signers) => {
            report.signers = signers.len();
            report.signer_shards = signers
                .iter()
                .map(|i| u32::from(committee.weight(usize::from(*i))))
                .sum();
            report.valid = true;
        }
        Err(error) => report.error = Some(error.to_string()),
    }
    Some(report)
}
