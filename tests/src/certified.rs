//! A generated chain with block headers and commit certificates, in
//! memory: the audit benchmark's data and the certifier's tests.
//!
//! [`Generated::generate`] runs a [`Workload`] (one random user transaction
//! per checkpoint, stake moving shards across epochs) and makes a block
//! header per checkpoint: header `h` names checkpoint `h - 2` and the
//! previous header. Commit certificates (precommits of every validator in
//! force, aggregated) are made on request ([`Generated::certify`]), since
//! signing all of them would only slow the generation.

use std::collections::BTreeMap;

use walrus_codec::BlobId;
use walrus_contracts::{
    Committee, Event,
    certificate::{self, Certificate},
    ledger::{
        block::{BlockHeader, CertifiedHeader},
        consensus::{VoteKind, vote_message},
        execution::{Checkpoint, TxKind},
    },
};
use walrus_types::chain::EpochStart;

use crate::workload::Workload;

/// The generated chain, served from memory.
pub struct Generated {
    /// The chain: its genesis, checkpoints and state.
    pub workload: Workload,
    /// `(n, committee)`: the committee once `n` checkpoints are executed.
    committees: Vec<(u64, Committee)>,
    headers: Vec<BlockHeader>,
    certified: BTreeMap<u64, CertifiedHeader>,
}

impl Generated {
    /// A chain of `checkpoints` checkpoints across about `epochs` epochs.
    ///
    /// # Panics
    /// The workload fails (a bug).
    pub fn generate(checkpoints: u64, epochs: u64) -> Self {
        let mut workload = Workload::new(7, 4, 100, 16);
        workload.set_checkpoints_per_epoch(checkpoints / epochs.max(1));
        let mut committees = vec![(0, workload.chain.state.committee.clone())];
        while u64::try_from(workload.checkpoints.len()).expect("fits") < checkpoints {
            workload.run_mixed(1, 1);
            let committee = &workload.chain.state.committee;
            if committees.last().map(|(_, c)| c) != Some(committee) {
                committees.push((workload.chain.next_sequence, committee.clone()));
            }
        }
        let mut headers: Vec<BlockHeader> = Vec::new();
        let genesis_digest = workload.genesis.digest();
        for (index, checkpoint) in workload.checkpoints.iter().enumerate() {
            let transactions: Vec<_> = checkpoint
                .transactions
                .iter()
                .filter_map(|t| match &t.kind {
                    TxKind::User(signed) => Some(signed.clone()),
                    TxKind::System(_) => None,
                })
                .collect();
            let previous_checkpoint = match index.checked_sub(1) {
                Some(i) => workload.checkpoints[i].digest(),
                None => genesis_digest,
            };
            let mut header = BlockHeader {
                height: checkpoint.sequence + 1,
                timestamp_ms: checkpoint.timestamp_ms,
                proposer: workload.bls_keys()[index % 4].0,
                previous_block: headers.last().map_or([0; 32], BlockHeader::hash),
                previous_checkpoint,
                transactions_digest: [0; 32],
                transaction_count: 0,
            };
            header = walrus_contracts::ledger::block::Block::new(header, transactions).header;
            headers.push(header);
        }
        // Block N + 1 names checkpoint N - 1, the last one.
        let last = headers.last().expect("checkpoints").clone();
        headers.push(BlockHeader {
            height: last.height + 1,
            previous_block: last.hash(),
            previous_checkpoint: workload.chain.last_digest,
            transactions_digest: walrus_contracts::ledger::block::transactions_digest(&[]),
            transaction_count: 0,
            ..last
        });
        Self {
            workload,
            committees,
            headers,
            certified: BTreeMap::new(),
        }
    }

    /// Signs the certificate of block `height` with every validator.
    ///
    /// # Panics
    /// No such block was generated.
    pub fn certify(&mut self, height: u64) {
        let executed = height.saturating_sub(2);
        let committee = &self
            .committees
            .iter()
            .rev()
            .find(|(n, _)| *n <= executed)
            .expect("genesis entry")
            .1;
        let header = self.headers[usize::try_from(height - 1).expect("small")].clone();
        let message = vote_message(
            &self.workload.genesis.digest(),
            VoteKind::Precommit,
            height,
            Some(0),
            Some(&header.hash()),
        );
        let positions: Vec<usize> = (0..committee.members.len()).collect();
        let signatures: Vec<_> = committee
            .members
            .iter()
            .map(|m| {
                let (_, key) = self
                    .workload
                    .bls_keys()
                    .iter()
                    .find(|(id, _)| *id == m.node_id)
                    .expect("a genesis node");
                key.sign(&message, certificate::DST, &[])
            })
            .collect();
        let certificate = Certificate::aggregate(message, &positions, &signatures).expect("sign");
        self.certified.insert(
            height,
            CertifiedHeader {
                header,
                round: 0,
                certificate,
            },
        );
    }

    /// Where each epoch started.
    pub fn epoch_starts(&self) -> Vec<EpochStart> {
        let mut starts = Vec::new();
        for checkpoint in &self.workload.checkpoints {
            for event in checkpoint.events() {
                if let Event::EpochChangeStart { epoch, .. } = event {
                    starts.push(EpochStart {
                        epoch: *epoch,
                        checkpoint: checkpoint.sequence,
                    });
                }
            }
        }
        starts
    }

    /// The checkpoints that name `blob_id`.
    pub fn blob_checkpoints(&self, blob_id: &BlobId) -> Vec<u64> {
        let names = |c: &&Checkpoint| c.events().any(|e| e.blob_id() == Some(blob_id));
        let found = self.workload.checkpoints.iter().filter(names);
        found.map(|c| c.sequence).collect()
    }

    /// The certified header of block `height`, once [`Generated::certify`]
    /// signed it.
    pub fn certified(&self, height: u64) -> Option<&CertifiedHeader> {
        self.certified.get(&height)
    }
}
