//! The light audit: a blob's verdict and history checked from the genesis
//! file alone, without executing anything.
//!
//! A checkpoint `c` is *certified* when the block at height `c + 2` names
//! its digest and that block's commit certificate (aggregated BLS
//! precommits) verifies against the validators of that height: the
//! committee once `c` checkpoints are executed
//! (`walrus_contracts::ledger::block`). The audit
//! 1. walks the committee chain: each epoch's first checkpoint, certified
//!    by the previous committee, holds an `EpochChangeStart` event naming
//!    the new committee;
//! 2. certifies the tip the state proofs are against (the chain serves them
//!    for the newest checkpoint a block certificate covers) and checks that
//!    its epoch is the last one walked, so no epoch start was withheld;
//! 3. checks each proof (owned and shared Blob objects named by the blob's
//!    registrations, the invalid-blob-ID marker, the system object) against
//!    that checkpoint's state root: the verdict comes from these values;
//! 4. certifies every checkpoint the chain lists as naming the blob, and
//!    reports its events as evidence.
//!
//! The chain's indexes (`/v1/epochs`, `/v1/blobs/{id}/checkpoints`) only
//! say what to fetch. A chain that withholds an epoch start is caught in
//! step 2; one that withholds a registration can hide that Blob object
//! (the verdict may then understate the blob) but cannot invent, alter or
//! revive one.

use std::collections::{BTreeMap, BTreeSet};

use walrus_codec::BlobId;
use walrus_contracts::{
    Blob, Committee, Epoch, Event, ObjectId, SharedBlob,
    ledger::{
        block::CertifiedHeader,
        execution::{ChainState, Checkpoint},
        genesis::GenesisConfig,
        state_tree::{StateKey, SystemObject},
    },
};
use walrus_types::{
    ChainClient, ChainError,
    chain::EpochStart,
    state_proof::{MAX_PROOF_KEYS, StateProofs},
};

use super::{Audited, TipCertificate, event_details, evidence_of, verdict_of};
use crate::error::ClientError;

/// Where a light audit reads the chain: a validator's API
/// ([`ChainClient`]), or in tests one that tampers with what it serves.
/// Nothing it returns is trusted.
#[allow(async_fn_in_trait)] // used through generics only
pub trait AuditSource {
    /// Where each epoch after genesis started (`GET /v1/epochs`).
    async fn epoch_starts(&self) -> Result<Vec<EpochStart>, ChainError>;
    /// Up to 1000 checkpoints from `from` on naming `blob_id`.
    async fn blob_checkpoints(&self, blob_id: &BlobId, from: u64) -> Result<Vec<u64>, ChainError>;
    /// Checkpoint `sequence`, `None` if not reached.
    async fn checkpoint(&self, sequence: u64) -> Result<Option<Checkpoint>, ChainError>;
    /// The certified header of block `height`, `None` if not decided.
    async fn certified_header(&self, height: u64) -> Result<Option<CertifiedHeader>, ChainError>;
    /// `keys` proven against the newest certified checkpoint's root.
    async fn state_proofs(&self, keys: &[StateKey]) -> Result<StateProofs, ChainError>;
}

impl AuditSource for ChainClient {
    async fn epoch_starts(&self) -> Result<Vec<EpochStart>, ChainError> {
        ChainClient::epoch_starts(self).await
    }

    async fn blob_checkpoints(&self, blob_id: &BlobId, from: u64) -> Result<Vec<u64>, ChainError> {
        ChainClient::blob_checkpoints(self, blob_id, from).await
    }

    async fn checkpoint(&self, sequence: u64) -> Result<Option<Checkpoint>, ChainError> {
        ChainClient::checkpoint(self, sequence).await
    }

    async fn certified_header(&self, height: u64) -> Result<Option<CertifiedHeader>, ChainError> {
        let mut headers = self.certified_headers(height, 1).await?;
        Ok(headers.pop().filter(|h| h.header.height == height))
    }

    async fn state_proofs(&self, keys: &[StateKey]) -> Result<StateProofs, ChainError> {
        ChainClient::state_proofs(self, keys).await
    }
}

fn unverified(reason: String) -> ClientError {
    ClientError::Unverified(reason)
}

/// Each epoch's committee, learned from certified checkpoints.
struct Committees {
    /// `(n, committee)`: the committee once `n` checkpoints are executed.
    changes: Vec<(u64, Committee)>,
    by_epoch: BTreeMap<Epoch, Committee>,
}

impl Committees {
    fn new(genesis: &Committee) -> Self {
        Self {
            changes: vec![(0, genesis.clone())],
            by_epoch: BTreeMap::from([(genesis.epoch, genesis.clone())]),
        }
    }

    fn last(&self) -> &Committee {
        &self.changes.last().expect("the genesis committee").1
    }

    /// The validators of block `height`: the committee once `height - 2`
    /// checkpoints are executed.
    fn for_height(&self, height: u64) -> &Committee {
        let executed = height.saturating_sub(2);
        let (_, committee) = self
            .changes
            .iter()
            .rev()
            .find(|(n, _)| *n <= executed)
            .expect("the genesis entry covers every height");
        committee
    }
}

/// Verifies checkpoints against block certificates, counting what it did.
struct Verifier<'a, S> {
    source: &'a S,
    n_shards: u16,
    chain_id: [u8; 32],
    committees: Committees,
    certified: BTreeSet<u64>,
}

impl<S: AuditSource> Verifier<'_, S> {
    async fn fetch(&self, sequence: u64) -> Result<Checkpoint, ClientError> {
        match self.source.checkpoint(sequence).await? {
            Some(checkpoint) if checkpoint.sequence == sequence => Ok(checkpoint),
            Some(other) => Err(unverified(format!(
                "asked for checkpoint {sequence}, got {}",
                other.sequence
            ))),
            None => Err(unverified(format!(
                "checkpoint {sequence} is listed but not served"
            ))),
        }
    }

    /// The certified header of block `height`, waiting up to 3 s for a
    /// validator that is one block behind.
    async fn header(&self, height: u64) -> Result<CertifiedHeader, ClientError> {
        for _ in 0..30 {
            if let Some(header) = self.source.certified_header(height).await? {
                return Ok(header);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(unverified(format!(
            "no certified block {height} is served: the chain serves no block certificates \
             (a single sequencer: audit with --full) or is stalled"
        )))
    }

    /// Checks `checkpoint` against the certificate of block `sequence + 2`.
    async fn certify(&mut self, checkpoint: &Checkpoint) -> Result<TipCertificate, ClientError> {
        let sequence = checkpoint.sequence;
        let height = sequence + 2;
        let certified = self.header(height).await?;
        let digest = checkpoint.digest();
        if certified.header.previous_checkpoint != digest {
            return Err(unverified(format!(
                "checkpoint {sequence}: the served checkpoint has digest {}, the certified block \
                 {height} names {}: the checkpoint was tampered with",
                hex::encode(digest),
                hex::encode(certified.header.previous_checkpoint)
            )));
        }
        let committee = self.committees.for_height(height);
        let signers = certified
            .verify(committee, self.n_shards, &self.chain_id)
            .map_err(|e| {
                unverified(format!(
                    "checkpoint {sequence}: the certificate of block {height} does not verify \
                     against the committee of epoch {}: {e}",
                    committee.epoch
                ))
            })?;
        self.certified.insert(sequence);
        Ok(TipCertificate {
            height,
            checkpoint: Some(sequence),
            signers: signers.len(),
            validators: committee.members.len(),
            signer_shards: signers
                .iter()
                .map(|i| u32::from(committee.weight(usize::from(*i))))
                .sum(),
            valid: true,
            error: None,
        })
    }

    /// Learns the committee of `start.epoch` from its certified first
    /// checkpoint.
    async fn enter_epoch(&mut self, start: EpochStart) -> Result<(), ClientError> {
        let last = self.committees.last().epoch;
        if Some(start.epoch) != last.checked_add(1) {
            return Err(unverified(format!(
                "the chain lists the start of epoch {} after epoch {last}: an epoch start is \
                 missing or out of order",
                start.epoch
            )));
        }
        let checkpoint = self.fetch(start.checkpoint).await?;
        self.certify(&checkpoint).await?;
        let committee = checkpoint.events().find_map(|event| match event {
            Event::EpochChangeStart { epoch, committee } if *epoch == start.epoch => {
                Some(committee.clone())
            }
            _ => None,
        });
        let Some(committee) = committee.filter(|c| c.epoch == start.epoch) else {
            return Err(unverified(format!(
                "certified checkpoint {} does not start epoch {}",
                start.checkpoint, start.epoch
            )));
        };
        self.committees
            .changes
            .push((start.checkpoint + 1, committee.clone()));
        self.committees.by_epoch.insert(start.epoch, committee);
        Ok(())
    }
}

/// Runs the light audit of `blob_id` against `source` (module docs).
///
/// # Errors
/// [`ClientError::Chain`] if the source fails, [`ClientError::Unverified`]
/// with the reason if what it serves does not verify.
pub(super) async fn verify(
    source: &impl AuditSource,
    genesis: &GenesisConfig,
    blob_id: &BlobId,
) -> Result<Audited, ClientError> {
    let start = ChainState::genesis(genesis)
        .map_err(|e| ClientError::Config(format!("invalid genesis: {e}")))?;
    let mut verifier = Verifier {
        source,
        n_shards: start.state.params.n_shards,
        chain_id: genesis.digest(),
        committees: Committees::new(&start.state.committee),
        certified: BTreeSet::new(),
    };
    let listed = blob_history(source, blob_id, &verifier).await?;
    let keys = proof_keys(blob_id, &listed)?;
    let newest = listed.last().map(|c| c.sequence);
    let proofs = certified_proofs(source, &keys, newest).await?;
    let Some(tip) = proofs.checkpoint else {
        return Err(unverified(
            "the chain has certified no checkpoint yet: retry in a few seconds".to_owned(),
        ));
    };
    for epoch_start in source.epoch_starts().await? {
        if epoch_start.checkpoint <= tip {
            verifier.enter_epoch(epoch_start).await?;
        }
    }
    let tip_checkpoint = verifier.fetch(tip).await?;
    let tip_certificate = verifier.certify(&tip_checkpoint).await?;
    let walked = verifier.committees.last().epoch;
    if tip_checkpoint.epoch != walked {
        return Err(unverified(format!(
            "certified checkpoint {tip} is in epoch {}, but the chain lists epoch starts only \
             up to epoch {walked}: an epoch start was withheld",
            tip_checkpoint.epoch
        )));
    }
    let proven = check_proofs(&proofs, &keys, tip, tip_checkpoint.state_root)?;
    let mut evidence = Vec::new();
    let pending: Vec<u64> = listed
        .iter()
        .map(|c| c.sequence)
        .filter(|s| *s > tip)
        .collect();
    for checkpoint in listed.iter().filter(|c| c.sequence <= tip) {
        verifier.certify(checkpoint).await?;
        let committees = &verifier.committees.by_epoch;
        evidence.extend(evidence_of(
            checkpoint,
            committees,
            verifier.n_shards,
            blob_id,
        ));
    }
    let objects: Vec<&Blob> = proven
        .blobs
        .iter()
        .filter(|b| &b.blob_id == blob_id)
        .collect();
    let verdict = verdict_of(&objects, proven.invalid, proven.epoch, !evidence.is_empty());
    Ok(Audited {
        verdict,
        evidence,
        checkpoints_verified: u64::try_from(verifier.certified.len()).unwrap_or(u64::MAX),
        block_certificates_verified: u64::try_from(verifier.certified.len()).unwrap_or(u64::MAX),
        epochs_verified: u64::try_from(verifier.committees.by_epoch.len()).unwrap_or(u64::MAX),
        state_proofs_verified: u64::try_from(keys.len()).unwrap_or(u64::MAX),
        tip: Some((
            tip,
            tip_checkpoint.digest(),
            tip_checkpoint.timestamp_ms,
            tip_checkpoint.epoch,
        )),
        tip_certificate: Some(tip_certificate),
        pending,
    })
}

/// The state proofs of `keys`, waiting up to 10 s (a block comes at least
/// every idle-block interval) until their checkpoint covers `newest`, the
/// newest checkpoint with an event of the blob: the certified tip lags the
/// chain by one checkpoint.
async fn certified_proofs(
    source: &impl AuditSource,
    keys: &[StateKey],
    newest: Option<u64>,
) -> Result<StateProofs, ClientError> {
    let mut proofs = source.state_proofs(keys).await?;
    for _ in 0..50 {
        if proofs.checkpoint >= newest {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        proofs = source.state_proofs(keys).await?;
    }
    Ok(proofs)
}

/// The checkpoints the chain lists as naming `blob_id`, fetched (not yet
/// verified), ascending.
async fn blob_history<S: AuditSource>(
    source: &S,
    blob_id: &BlobId,
    verifier: &Verifier<'_, S>,
) -> Result<Vec<Checkpoint>, ClientError> {
    let mut sequences: Vec<u64> = Vec::new();
    loop {
        let from = sequences.last().map_or(0, |last| last + 1);
        let page = source.blob_checkpoints(blob_id, from).await?;
        if page.iter().any(|s| *s < from) {
            return Err(unverified(
                "the blob's checkpoint index is out of order".to_owned(),
            ));
        }
        let done = page.len() < 1000;
        sequences.extend(page);
        if done {
            break;
        }
    }
    let mut checkpoints = Vec::with_capacity(sequences.len());
    for sequence in sequences {
        checkpoints.push(verifier.fetch(sequence).await?);
    }
    Ok(checkpoints)
}

/// The objects whose proofs decide the verdict: the system object (the
/// epoch), the invalid-blob-ID marker, and each registered Blob object,
/// owned or shared.
fn proof_keys(blob_id: &BlobId, listed: &[Checkpoint]) -> Result<Vec<StateKey>, ClientError> {
    let objects: BTreeSet<ObjectId> = listed
        .iter()
        .flat_map(Checkpoint::events)
        .filter(|e| e.blob_id() == Some(blob_id))
        .filter_map(|e| event_details(e).0)
        .collect();
    let mut keys = vec![StateKey::System, StateKey::InvalidBlobId(*blob_id)];
    for id in objects {
        keys.push(StateKey::Blob(id));
        keys.push(StateKey::SharedBlob(id));
    }
    if keys.len() > MAX_PROOF_KEYS {
        return Err(ClientError::InvalidArgument(format!(
            "blob {blob_id} has {} Blob objects; a light audit proves at most {}: audit it \
             with --full",
            (keys.len() - 2) / 2,
            (MAX_PROOF_KEYS - 2) / 2
        )));
    }
    Ok(keys)
}

/// What the state proofs showed.
struct Proven {
    blobs: Vec<Blob>,
    invalid: bool,
    epoch: Epoch,
}

impl Proven {
    fn new() -> Self {
        Self {
            blobs: Vec::new(),
            invalid: false,
            epoch: 0,
        }
    }
}

/// Checks every proof against the certified `root` of checkpoint `tip`
/// and decodes the proven values.
fn check_proofs(
    proofs: &StateProofs,
    keys: &[StateKey],
    tip: u64,
    root: [u8; 32],
) -> Result<Proven, ClientError> {
    if proofs.state_root != root || proofs.proofs.len() != keys.len() {
        return Err(unverified(format!(
            "the state proofs are not against the state root of certified checkpoint {tip}"
        )));
    }
    let mut proven = Proven::new();
    for (key, info) in keys.iter().zip(&proofs.proofs) {
        if info.key != *key || info.checkpoint != Some(tip) {
            return Err(unverified(format!(
                "the chain proved {:?} for {key:?}",
                info.key
            )));
        }
        let value = info
            .verify(root)
            .map_err(|e| unverified(format!("{key:?} at checkpoint {tip}: {e}")))?;
        let Some(value) = value else {
            if *key == StateKey::System {
                return Err(unverified(format!(
                    "the proof shows no system object at {tip}"
                )));
            }
            continue;
        };
        let bad = |e: bcs::Error| unverified(format!("proven {key:?} does not decode: {e}"));
        match key {
            StateKey::System => {
                proven.epoch = bcs::from_bytes::<SystemObject>(&value).map_err(bad)?.epoch;
            }
            StateKey::InvalidBlobId(_) => proven.invalid = true,
            StateKey::Blob(_) => proven.blobs.push(bcs::from_bytes(&value).map_err(bad)?),
            StateKey::SharedBlob(_) => {
                proven
                    .blobs
                    .push(bcs::from_bytes::<SharedBlob>(&value).map_err(bad)?.blob);
            }
            _ => {}
        }
    }
    Ok(proven)
}
