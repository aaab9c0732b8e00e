//! Certifying checkpoints before a follower acts on them: a checkpoint is
//! applied only once a block certificate of the committee in force covers it.
//!
//! Block `h` names checkpoint `h - 2` by digest, and its validators are the
//! committee after checkpoint `h - 3` ([`super::block`]), i.e. the committee
//! in force while the named checkpoint executed. Checkpoints chain by digest,
//! so one verified certificate covers every checkpoint up to the one it
//! names. The committee changes only at `EpochChangeStart`, whose event
//! names the new committee; a checkpoint that changes it must be certified
//! by the old committee before anything signed by the new one is trusted.
//! So a run of fetched checkpoints costs one aggregate-signature check per
//! committee change plus one for the newest certified checkpoint, however
//! long the run: catching up a long chain stays cheap.
//!
//! [`Certifier`] is the pure part: it holds fetched checkpoints that are
//! chained to the verified state but not yet certified, says which block
//! headers it needs ([`Certifier::wanted`]) and releases the certified
//! prefix ([`Certifier::certify`]). Followers fetch over HTTP and re-execute
//! what it releases (`walrus_types::Follower`, the indexer).

use std::collections::VecDeque;

use crate::{
    events::Event,
    ledger::{
        block::CertifiedHeader,
        execution::{ChainState, Checkpoint},
    },
    state::Committee,
};

/// Why fetched checkpoints or headers were refused. None of these changes
/// the certifier's verified position: refetch and try again (another
/// validator may serve the certified history).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertifyError {
    /// A fetched checkpoint does not continue the chain held so far.
    #[error("checkpoint {sequence} does not continue the chain: {reason}")]
    Unchained {
        /// The checkpoint's sequence number.
        sequence: u64,
        /// What did not match.
        reason: &'static str,
    },
    /// A block header names another digest for the checkpoint than the one
    /// fetched: the fetched checkpoints are not the certified history.
    #[error("block {height} certifies another checkpoint {sequence} than the one served")]
    Forked {
        /// The header's height.
        height: u64,
        /// The checkpoint it names.
        sequence: u64,
    },
    /// A block certificate does not verify against the committee in force.
    #[error("block {height}: certificate invalid: {reason}")]
    Certificate {
        /// The header's height.
        height: u64,
        /// Why it failed.
        reason: String,
    },
}

/// Fetched checkpoints waiting for a block certificate (module docs).
#[derive(Debug, Clone)]
pub struct Certifier {
    chain_id: [u8; 32],
    n_shards: u16,
    /// The validators of the block naming `pending[0]` (the committee after
    /// the last released checkpoint).
    committee: Committee,
    /// The sequence number of the next checkpoint to release.
    next: u64,
    /// The digest of the last released checkpoint (or the genesis).
    last_digest: [u8; 32],
    /// Chained, unreleased checkpoints with their digests.
    pending: VecDeque<(Checkpoint, [u8; 32])>,
}

impl Certifier {
    /// A certifier continuing from the verified `chain` of the chain
    /// `chain_id` (`GenesisConfig::digest`).
    pub fn new(chain: &ChainState, chain_id: [u8; 32]) -> Self {
        Self {
            chain_id,
            n_shards: chain.state.params.n_shards,
            committee: chain.state.committee.clone(),
            next: chain.next_sequence,
            last_digest: chain.last_digest,
            pending: VecDeque::new(),
        }
    }

    /// How many fetched checkpoints wait for a certificate.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The sequence number of the next checkpoint to fetch.
    pub fn next_fetch(&self) -> u64 {
        self.next + u64::try_from(self.pending.len()).expect("a queue length fits in u64")
    }

    /// Appends fetched checkpoints; those already held are skipped.
    ///
    /// # Errors
    /// [`CertifyError::Unchained`] if one does not follow the last held by
    /// sequence and digest; the ones before it are kept.
    pub fn push(&mut self, checkpoints: Vec<Checkpoint>) -> Result<(), CertifyError> {
        for checkpoint in checkpoints {
            let expected = self.next_fetch();
            if checkpoint.sequence < expected {
                continue;
            }
            let unchained = |reason| CertifyError::Unchained {
                sequence: checkpoint.sequence,
                reason,
            };
            if checkpoint.sequence > expected {
                return Err(unchained("a gap in sequence numbers"));
            }
            let previous = self.pending.back().map_or(self.last_digest, |(_, d)| *d);
            if checkpoint.previous_digest != previous {
                return Err(unchained("wrong previous digest"));
            }
            let digest = checkpoint.digest();
            self.pending.push_back((checkpoint, digest));
        }
        Ok(())
    }

    /// Drops every unreleased checkpoint (after [`CertifyError::Forked`]:
    /// they are refetched).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// The block heights whose headers [`Certifier::certify`] needs, in
    /// order: the block naming each pending checkpoint that changes the
    /// committee, then the blocks naming the last two pending checkpoints
    /// (the newest may not be decided yet). Empty when nothing is pending.
    pub fn wanted(&self) -> Vec<u64> {
        let mut heights: Vec<u64> = self
            .pending
            .iter()
            .filter(|(c, _)| new_committee(c).is_some())
            .map(|(c, _)| c.sequence + 2)
            .collect();
        let tail = self
            .pending
            .iter()
            .rev()
            .take(2)
            .map(|(c, _)| c.sequence + 2);
        heights.extend(tail.collect::<Vec<_>>().into_iter().rev());
        heights.dedup();
        heights
    }

    /// Releases the longest prefix of pending checkpoints that `headers`
    /// certify (module docs), in order; empty when none is certified yet.
    /// Headers at heights that are not needed are ignored.
    ///
    /// # Errors
    /// [`CertifyError::Forked`] or [`CertifyError::Certificate`] for a
    /// needed header that does not certify the pending checkpoint; nothing
    /// is released then.
    pub fn certify(
        &mut self,
        headers: &[CertifiedHeader],
    ) -> Result<Vec<Checkpoint>, CertifyError> {
        let header_at = |height: u64| headers.iter().find(|h| h.header.height == height);
        let mut committee = self.committee.clone();
        let mut certified = None;
        // The newest checkpoint with a header since the last committee
        // change: one check covers it and everything before it.
        let mut candidate = None;
        for (index, (checkpoint, digest)) in self.pending.iter().enumerate() {
            let header = header_at(checkpoint.sequence + 2);
            if let Some(next) = new_committee(checkpoint) {
                // Nothing signed by the next committee is trusted before
                // the old one certified the change.
                let Some(header) = header else { break };
                self.check(header, checkpoint.sequence, digest, &committee)?;
                committee = next.clone();
                certified = Some(index);
                candidate = None;
            } else if let Some(header) = header {
                candidate = Some((index, header, checkpoint.sequence, digest));
            }
        }
        if let Some((index, header, sequence, digest)) = candidate {
            self.check(header, sequence, digest, &committee)?;
            certified = Some(index);
        }
        let Some(last) = certified else {
            return Ok(Vec::new());
        };
        self.last_digest = self.pending[last].1;
        let released: Vec<Checkpoint> = self.pending.drain(..=last).map(|(c, _)| c).collect();
        self.next += u64::try_from(released.len()).expect("a queue length fits in u64");
        self.committee = committee;
        Ok(released)
    }

    fn check(
        &self,
        header: &CertifiedHeader,
        sequence: u64,
        digest: &[u8; 32],
        committee: &Committee,
    ) -> Result<(), CertifyError> {
        let height = header.header.height;
        if header.header.previous_checkpoint != *digest {
            return Err(CertifyError::Forked { height, sequence });
        }
        header
            .verify(committee, self.n_shards, &self.chain_id)
            .map(drop)
            .map_err(|e| CertifyError::Certificate {
                height,
                reason: e.to_string(),
            })
    }
}

/// The committee a checkpoint installs, if it starts an epoch.
fn new_committee(checkpoint: &Checkpoint) -> Option<&Committee> {
    checkpoint.events().find_map(|event| match event {
        Event::EpochChangeStart { committee, .. } => Some(committee),
        _ => None,
    })
}
