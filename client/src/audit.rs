//! `walrus audit`: a blob's provenance verified without trusting the
//! indexer or any validator. The only trust anchor is the genesis file.
//!
//! Two modes ([`AuditMode`]):
//! - **light** (the default, `light.rs`): walks the committee chain from
//!   genesis through the certified checkpoints that start each epoch (each
//!   names the next committee), checks the block certificates of the
//!   checkpoints that hold the blob's events, and takes the verdict from
//!   state proofs against the state root of a certified checkpoint. Nothing
//!   is executed; the work grows with the epochs and the blob's events, not
//!   with the chain's length.
//! - **full** (`full.rs`): re-executes every checkpoint from genesis
//!   ([`ChainState::replay`]), which checks the digest chain, every
//!   transaction and every state root, then checks the tip's certificate.
//!
//! Both check each certificate naming the blob (aggregate BLS signature and
//! signer weight against the committee of its epoch). If an indexer is
//! configured, its history is compared with what the chain showed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;
use walrus_contracts::{
    Address, Blob, Call, Committee, Epoch, Event, ObjectId, ObjectRef,
    blob_status::{BlobState, ObjectFacts, blob_id_state, object_state},
    certificate::{self, Certificate, Threshold},
    ledger::{
        execution::{Checkpoint, Outcome, TxKind},
        genesis::GenesisConfig,
    },
};
use walrus_types::ChainClient;

use crate::error::ClientError;

mod full;
mod indexer;
mod light;
mod tip;
pub use light::AuditSource;
pub use tip::TipCertificate;

/// How the chain is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuditMode {
    /// Certificates, the committee chain and state proofs; nothing executed.
    #[default]
    Light,
    /// Every checkpoint re-executed from genesis.
    Full,
}

/// What the verified chain says about the blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Verdict {
    /// A live certified Blob object exists.
    Certified {
        /// The latest end epoch of a certified object (exclusive).
        end_epoch: u32,
        /// Whether every certified object is deletable.
        deletable: bool,
    },
    /// Registered but not certified (and not expired).
    Registered,
    /// Every object's storage has ended.
    Expired,
    /// Every object was deleted.
    Deleted,
    /// The blob ID was proven inconsistent.
    Invalid,
    /// The chain never saw the blob ID.
    Unknown,
}

/// A certificate checked against its epoch's committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateCheck {
    /// The committee's epoch.
    pub epoch: u32,
    /// Committee size.
    pub committee_size: usize,
    /// The signers' node IDs.
    pub signers: Vec<ObjectId>,
    /// The signers' shards.
    pub signer_shards: u32,
    /// Shards in total.
    pub n_shards: u16,
    /// `quorum` (2f+1, certification) or `validity` (f+1, invalidation).
    pub threshold: String,
    /// Whether the message, weight and aggregate signature all check out.
    pub valid: bool,
    /// Why not, if not.
    pub error: Option<String>,
}

/// One event naming the blob, with where it is on the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// The checkpoint sequence number.
    pub checkpoint: u64,
    /// The checkpoint digest (hex).
    pub checkpoint_digest: String,
    /// The checkpoint time, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The transaction digest.
    pub tx_digest: String,
    /// The sender.
    pub sender: Address,
    /// The event name.
    pub kind: String,
    /// The Blob object, for object events.
    pub object_id: Option<ObjectId>,
    /// The event's epoch.
    pub epoch: u32,
    /// For certifications and invalidations: the certificate check.
    pub certificate: Option<CertificateCheck>,
}

/// The indexer's history compared with the chain's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexerComparison {
    /// The indexer asked.
    pub url: String,
    /// Whether it is at the audited tip and reported exactly the chain's
    /// events, in order, and the same status.
    pub agrees: bool,
    /// Checkpoints it had indexed.
    pub indexed_checkpoints: u64,
    /// What differs (empty when it agrees).
    pub differences: Vec<String>,
}

/// The result of an audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// The blob ID.
    pub blob_id: BlobId,
    /// How the chain was verified.
    pub mode: AuditMode,
    /// What the verified chain says.
    pub verdict: Verdict,
    /// True when every certificate of the blob verified.
    pub certificates_valid: bool,
    /// The genesis digest the chain was verified from (hex).
    pub genesis_digest: String,
    /// Checkpoints verified: re-executed (full: all of them, from genesis),
    /// or checked against a block certificate (light: the epoch starts, the
    /// blob's checkpoints and the tip).
    pub checkpoints_verified: u64,
    /// Block certificates checked against their committee.
    pub block_certificates_verified: u64,
    /// Epochs walked, each committee learned from a certified checkpoint
    /// (light) or from execution (full).
    pub epochs_verified: u64,
    /// State proofs checked against the tip's certified state root (light).
    pub state_proofs_verified: u64,
    /// The sequence number of the last verified checkpoint, whose state the
    /// verdict describes.
    pub tip_checkpoint: Option<u64>,
    /// The digest of the last verified checkpoint (hex).
    pub tip_digest: String,
    /// The time of the last verified checkpoint, ms since the Unix epoch.
    /// A chain endpoint could withhold newer checkpoints, so an old tip is
    /// worth a look.
    pub tip_timestamp_ms: u64,
    /// The epoch at the tip.
    pub epoch: u32,
    /// The tip's commit certificate, checked; `None` when the chain serves
    /// no certified blocks (the single sequencer, full mode only).
    pub tip_certificate: Option<TipCertificate>,
    /// Every event naming the blob, in chain order (light: as the chain's
    /// index lists them, each in a certified checkpoint).
    pub evidence: Vec<Evidence>,
    /// Checkpoints the chain lists for the blob that are newer than the
    /// certified tip (light: none were certified within 10 s), so their
    /// events are not in `evidence`.
    pub pending_checkpoints: Vec<u64>,
    /// The indexer comparison, if an indexer was given.
    pub indexer: Option<IndexerComparison>,
}

/// What either mode verified, before the indexer comparison.
struct Audited {
    verdict: Verdict,
    evidence: Vec<Evidence>,
    checkpoints_verified: u64,
    block_certificates_verified: u64,
    epochs_verified: u64,
    state_proofs_verified: u64,
    /// `(sequence, digest, timestamp_ms, epoch)` of the tip, `None` at genesis.
    tip: Option<(u64, [u8; 32], u64, Epoch)>,
    tip_certificate: Option<TipCertificate>,
    pending: Vec<u64>,
}

/// Audits `blob_id` on the chain at `chain`, from `genesis`, in `mode`;
/// compares with the indexer at `indexer_url` if given.
///
/// # Errors
/// [`ClientError::Chain`] if the chain cannot be fetched;
/// [`ClientError::Unverified`] with the reason if what it serves does not
/// verify from the genesis (a forged, under-signed or foreign chain, a
/// tampered event or a forged state proof), or, in light mode, if it serves
/// no certified blocks (the single sequencer: use full mode).
pub async fn audit(
    chain: &ChainClient,
    genesis: &GenesisConfig,
    blob_id: &BlobId,
    indexer_url: Option<&str>,
    mode: AuditMode,
) -> Result<AuditReport, ClientError> {
    let audited = match mode {
        AuditMode::Light => light::verify(chain, genesis, blob_id).await?,
        AuditMode::Full => full::replay(chain, genesis, blob_id).await?,
    };
    let audited_count = audited.tip.map_or(0, |(sequence, ..)| sequence + 1);
    let indexer = match indexer_url {
        Some(url) => Some(
            indexer::compare_with_indexer(
                url,
                blob_id,
                &audited.evidence,
                audited_count,
                &audited.verdict,
            )
            .await,
        ),
        None => None,
    };
    Ok(report(mode, genesis, blob_id, audited, indexer))
}

/// [`audit`] in light mode against any [`AuditSource`] (tests use one that
/// tampers with what a real chain serves). No indexer comparison.
///
/// # Errors
/// As [`audit`].
pub async fn audit_light_from(
    source: &impl AuditSource,
    genesis: &GenesisConfig,
    blob_id: &BlobId,
) -> Result<AuditReport, ClientError> {
    let audited = light::verify(source, genesis, blob_id).await?;
    Ok(report(AuditMode::Light, genesis, blob_id, audited, None))
}

fn report(
    mode: AuditMode,
    genesis: &GenesisConfig,
    blob_id: &BlobId,
    audited: Audited,
    indexer: Option<IndexerComparison>,
) -> AuditReport {
    let genesis_digest = genesis.digest();
    let (tip_checkpoint, tip_digest, tip_timestamp_ms, epoch) = match audited.tip {
        Some((sequence, digest, timestamp, epoch)) => (Some(sequence), digest, timestamp, epoch),
        None => (None, genesis_digest, genesis.start_ms, 0),
    };
    AuditReport {
        blob_id: *blob_id,
        mode,
        certificates_valid: audited
            .evidence
            .iter()
            .filter_map(|e| e.certificate.as_ref())
            .all(|c| c.valid),
        verdict: audited.verdict,
        genesis_digest: hex(&genesis_digest),
        checkpoints_verified: audited.checkpoints_verified,
        block_certificates_verified: audited.block_certificates_verified,
        epochs_verified: audited.epochs_verified,
        state_proofs_verified: audited.state_proofs_verified,
        tip_checkpoint,
        tip_digest: hex(&tip_digest),
        tip_timestamp_ms,
        epoch,
        tip_certificate: audited.tip_certificate,
        evidence: audited.evidence,
        pending_checkpoints: audited.pending,
        indexer,
    }
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The certificate of the call that produced `event` in a transaction.
fn certificate_for<'a>(
    calls: &'a [Call],
    created: &[ObjectId],
    event: &Event,
) -> Option<&'a Certificate> {
    let resolve = |object: &ObjectRef| match object {
        ObjectRef::Id(id) => Some(*id),
        ObjectRef::Created(index) => created.get(usize::from(*index)).copied(),
    };
    calls.iter().find_map(|call| match (call, event) {
        (Call::CertifyBlob { blob, certificate }, Event::BlobCertified { object_id, .. })
            if resolve(blob) == Some(*object_id) =>
        {
            Some(certificate)
        }
        (
            Call::InvalidateBlobId {
                blob_id,
                certificate,
            },
            Event::InvalidBlobId {
                blob_id: event_id, ..
            },
        ) if blob_id == event_id => Some(certificate),
        _ => None,
    })
}

fn check_certificate(
    certificate: &Certificate,
    committee: Option<&Committee>,
    n_shards: u16,
    event: &Event,
) -> Option<CertificateCheck> {
    let (epoch, expected, threshold) = match event {
        Event::BlobCertified {
            epoch,
            blob_id,
            deletable,
            object_id,
            ..
        } => (
            *epoch,
            certificate::confirmation_message(*epoch, blob_id, deletable.then_some(*object_id)),
            Threshold::Quorum,
        ),
        Event::InvalidBlobId { epoch, blob_id } => (
            *epoch,
            certificate::invalid_blob_message(*epoch, blob_id),
            Threshold::Validity,
        ),
        _ => return None,
    };
    let empty = Committee {
        epoch,
        members: Vec::new(),
    };
    let committee = committee.unwrap_or(&empty);
    let indices = certificate.signer_indices();
    let signers: Vec<ObjectId> = indices
        .iter()
        .filter_map(|i| committee.members.get(*i).map(|m| m.node_id))
        .collect();
    let signer_shards = indices
        .iter()
        .map(|i| u32::from(committee.weight(*i)))
        .sum();
    let result = certificate.verify(committee, n_shards, &expected, threshold);
    Some(CertificateCheck {
        epoch,
        committee_size: committee.members.len(),
        signers,
        signer_shards,
        n_shards,
        threshold: match threshold {
            Threshold::Quorum => "quorum".to_owned(),
            Threshold::Validity => "validity".to_owned(),
        },
        valid: result.is_ok(),
        error: result.err().map(|e| e.to_string()),
    })
}

fn event_details(event: &Event) -> (Option<ObjectId>, u32) {
    match event {
        Event::BlobRegistered {
            object_id, epoch, ..
        }
        | Event::BlobCertified {
            object_id, epoch, ..
        }
        | Event::BlobExtended {
            object_id, epoch, ..
        }
        | Event::BlobDeleted {
            object_id, epoch, ..
        } => (Some(*object_id), *epoch),
        Event::InvalidBlobId { epoch, .. } => (None, *epoch),
        _ => (None, 0),
    }
}

/// The events of `checkpoint` naming `blob_id`, each certificate checked
/// against the committee of its epoch (`committees`).
fn evidence_of(
    checkpoint: &Checkpoint,
    committees: &BTreeMap<Epoch, Committee>,
    n_shards: u16,
    blob_id: &BlobId,
) -> Vec<Evidence> {
    let digest = hex(&checkpoint.digest());
    let mut evidence = Vec::new();
    for executed in &checkpoint.transactions {
        let Outcome::Success { events, created } = &executed.outcome else {
            continue;
        };
        let calls: &[Call] = match &executed.kind {
            TxKind::User(signed) => &signed.transaction.calls,
            TxKind::System(call) => std::slice::from_ref(call),
        };
        for event in events.iter().filter(|e| e.blob_id() == Some(blob_id)) {
            let (object_id, epoch) = event_details(event);
            let certificate = certificate_for(calls, created, event)
                .and_then(|c| check_certificate(c, committees.get(&epoch), n_shards, event));
            evidence.push(Evidence {
                checkpoint: checkpoint.sequence,
                checkpoint_digest: digest.clone(),
                timestamp_ms: checkpoint.timestamp_ms,
                tx_digest: executed.digest.to_string(),
                sender: executed.sender(),
                kind: event.name().to_owned(),
                object_id,
                epoch,
                certificate,
            });
        }
    }
    evidence
}

/// The verdict on a blob ID: the one blob-status rule of
/// `walrus_contracts::blob_status` over its Blob objects (owned and shared)
/// at `epoch`; a blob ID whose objects are all gone was deleted if the
/// chain ever showed it.
fn verdict_of(objects: &[&Blob], invalid: bool, epoch: Epoch, ever_seen: bool) -> Verdict {
    let with_state: Vec<(&Blob, BlobState)> = objects
        .iter()
        .map(|b| {
            let facts = ObjectFacts {
                end_epoch: b.storage.end_epoch,
                deletable: b.deletable,
                certified_epoch: b.certified_epoch,
                deleted: false,
            };
            (*b, object_state(&facts, invalid, epoch))
        })
        .collect();
    match blob_id_state(with_state.iter().map(|(_, s)| *s), invalid) {
        Some(BlobState::Invalid) => Verdict::Invalid,
        Some(BlobState::Certified) => {
            let certified = with_state
                .iter()
                .filter(|(_, s)| *s == BlobState::Certified);
            Verdict::Certified {
                end_epoch: certified
                    .clone()
                    .map(|(b, _)| b.storage.end_epoch)
                    .max()
                    .unwrap_or(0),
                deletable: certified.clone().all(|(b, _)| b.deletable),
            }
        }
        Some(BlobState::Registered) => Verdict::Registered,
        Some(BlobState::Expired) => Verdict::Expired,
        Some(BlobState::Deleted) | None if ever_seen => Verdict::Deleted,
        Some(BlobState::Deleted) | None => Verdict::Unknown,
    }
}
