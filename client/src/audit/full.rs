//! The full audit: every checkpoint from genesis to the tip re-executed
//! ([`ChainState::replay`] checks the digest chain, each transaction's
//! signature and outcome, and each state root), then the tip's commit
//! certificate checked (`tip.rs`). The verdict comes from the replayed state.

use std::collections::BTreeMap;

use walrus_codec::BlobId;
use walrus_contracts::{
    Blob, Committee, Epoch,
    ledger::{execution::ChainState, genesis::GenesisConfig},
};
use walrus_types::ChainClient;

use super::{Audited, evidence_of, tip, verdict_of};
use crate::error::ClientError;

/// Re-executes the chain at `chain` from `genesis` and collects the events
/// naming `blob_id`.
///
/// # Errors
/// [`ClientError::Chain`] if it cannot be fetched, [`ClientError::Unverified`]
/// if it does not re-execute.
pub(super) async fn replay(
    chain: &ChainClient,
    genesis: &GenesisConfig,
    blob_id: &BlobId,
) -> Result<Audited, ClientError> {
    let mut state = ChainState::genesis(genesis)
        .map_err(|e| ClientError::Config(format!("invalid genesis: {e}")))?;
    let n_shards = state.state.params.n_shards;
    let mut committees: BTreeMap<Epoch, Committee> = BTreeMap::new();
    committees.insert(state.state.epoch, state.state.committee.clone());
    let mut history = tip::History::new(&state);
    let mut evidence = Vec::new();
    loop {
        let batch = chain
            .checkpoints(state.next_sequence, std::time::Duration::ZERO)
            .await?;
        if batch.is_empty() {
            break;
        }
        for checkpoint in &batch {
            state
                .replay(checkpoint)
                .map_err(|e| ClientError::Unverified(e.to_string()))?;
            history.record(&state);
            committees
                .entry(state.state.epoch)
                .or_insert_with(|| state.state.committee.clone());
            evidence.extend(evidence_of(checkpoint, &committees, n_shards, blob_id));
        }
    }
    let tip_certificate = tip::check(
        chain,
        &history,
        state.next_sequence,
        n_shards,
        &genesis.digest(),
    )
    .await;
    let s = &state.state;
    let objects: Vec<&Blob> = s
        .blobs
        .values()
        .chain(s.shared_blobs.values().map(|shared| &shared.blob))
        .filter(|b| &b.blob_id == blob_id)
        .collect();
    let invalid = s.invalid_blob_ids.contains(blob_id);
    let verdict = verdict_of(&objects, invalid, s.epoch, !evidence.is_empty());
    let tip = state.next_sequence.checked_sub(1).map(|sequence| {
        (
            sequence,
            state.last_digest,
            state.last_timestamp_ms,
            s.epoch,
        )
    });
    Ok(Audited {
        verdict,
        evidence,
        checkpoints_verified: state.next_sequence,
        block_certificates_verified: u64::from(tip_certificate.as_ref().is_some_and(|t| t.valid)),
        epochs_verified: u64::try_from(committees.len()).unwrap_or(u64::MAX),
        state_proofs_verified: 0,
        tip,
        tip_certificate,
        pending: Vec::new(),
    })
}
