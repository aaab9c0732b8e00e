//! `walrus audit`: a blob's provenance verified without trusting the
//! indexer or the sequencer. The only trust anchor is the genesis file.
//!
//! Every checkpoint from genesis to the tip is fetched from the chain and
//! re-executed ([`ChainState::replay`]), which checks the digest chain
//! (each checkpoint names its predecessor's digest, the first one the
//! genesis digest), every transaction's signature and outcome, and the
//! state root. Each certificate naming the blob is then checked again on
//! its own: its aggregate BLS signature and signer weight against the
//! committee of its epoch. The verdict comes from the verified state. The
//! newest certified checkpoint's commit certificate (aggregated precommits
//! of a quorum of the validators) is checked too (`tip.rs`). If an
//! indexer is configured, its history is compared with what the chain
//! showed, and differences are reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;
use walrus_contracts::{
    Address, Blob, Call, Committee, Event, ObjectId, ObjectRef,
    blob_status::{BlobState, ObjectFacts, blob_id_state, object_state},
    certificate::{self, Certificate, Threshold},
    ledger::{
        execution::{ChainState, Outcome, TxKind},
        genesis::GenesisConfig,
    },
};
use walrus_types::{
    ChainClient,
    indexer::{BlobStatusView, HealthView, HistoryView},
};

use crate::error::ClientError;

mod tip;
pub use tip::TipCertificate;

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
    /// What the verified chain says.
    pub verdict: Verdict,
    /// True when every certificate of the blob verified.
    pub certificates_valid: bool,
    /// The genesis digest the chain was verified from (hex).
    pub genesis_digest: String,
    /// Checkpoints re-executed (all of them, from genesis).
    pub checkpoints_verified: u64,
    /// The digest of the last verified checkpoint (hex).
    pub tip_digest: String,
    /// The time of the last verified checkpoint, ms since the Unix epoch.
    /// A chain endpoint could withhold newer checkpoints, so an old tip is
    /// worth a look.
    pub tip_timestamp_ms: u64,
    /// The epoch at the tip.
    pub epoch: u32,
    /// The newest certified checkpoint's commit certificate, checked;
    /// `None` when the chain serves no certified blocks (the single
    /// sequencer).
    pub tip_certificate: Option<TipCertificate>,
    /// Every event naming the blob, in chain order.
    pub evidence: Vec<Evidence>,
    /// The indexer comparison, if an indexer was given.
    pub indexer: Option<IndexerComparison>,
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

fn names_blob(event: &Event, blob_id: &BlobId) -> bool {
    match event {
        Event::BlobRegistered { blob_id: id, .. }
        | Event::BlobCertified { blob_id: id, .. }
        | Event::BlobExtended { blob_id: id, .. }
        | Event::BlobDeleted { blob_id: id, .. }
        | Event::InvalidBlobId { blob_id: id, .. } => id == blob_id,
        _ => false,
    }
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

/// The verdict of the verified state: the one blob-status rule of
/// `walrus_contracts::blob_status` over the ID's Blob objects; a blob ID
/// whose objects are all gone was deleted if the chain ever showed it.
fn verdict(chain: &ChainState, blob_id: &BlobId, ever_seen: bool) -> Verdict {
    let state = &chain.state;
    let invalid = state.invalid_blob_ids.contains(blob_id);
    let objects: Vec<&Blob> = state
        .blobs
        .values()
        .chain(state.shared_blobs.values().map(|s| &s.blob))
        .filter(|b| &b.blob_id == blob_id)
        .collect();
    let with_state: Vec<(&Blob, BlobState)> = objects
        .iter()
        .map(|b| {
            let facts = ObjectFacts {
                end_epoch: b.storage.end_epoch,
                deletable: b.deletable,
                certified_epoch: b.certified_epoch,
                deleted: false,
            };
            (*b, object_state(&facts, invalid, state.epoch))
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

/// Audits `blob_id` on the chain at `chain`, from `genesis`; compares with
/// the indexer at `indexer_url` if given.
///
/// # Errors
/// [`ClientError::Chain`] if the chain cannot be fetched or does not
/// re-execute from the genesis (a forged or foreign chain).
pub async fn audit(
    chain: &ChainClient,
    genesis: &GenesisConfig,
    blob_id: &BlobId,
    indexer_url: Option<&str>,
) -> Result<AuditReport, ClientError> {
    let mut state = ChainState::genesis(genesis)
        .map_err(|e| ClientError::Config(format!("invalid genesis: {e}")))?;
    let n_shards = state.state.params.n_shards;
    let mut committees: BTreeMap<u32, Committee> = BTreeMap::new();
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
                .map_err(|e| ClientError::Unexpected(format!("the chain does not verify: {e}")))?;
            history.record(&state);
            committees
                .entry(state.state.epoch)
                .or_insert_with(|| state.state.committee.clone());
            let digest = hex(&state.last_digest);
            for executed in &checkpoint.transactions {
                let Outcome::Success { events, created } = &executed.outcome else {
                    continue;
                };
                let calls: &[Call] = match &executed.kind {
                    TxKind::User(signed) => &signed.transaction.calls,
                    TxKind::System(call) => std::slice::from_ref(call),
                };
                for event in events.iter().filter(|e| names_blob(e, blob_id)) {
                    let (object_id, epoch) = event_details(event);
                    let certificate = certificate_for(calls, created, event).and_then(|c| {
                        check_certificate(c, committees.get(&epoch), n_shards, event)
                    });
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
    let verdict = verdict(&state, blob_id, !evidence.is_empty());
    let indexer = match indexer_url {
        Some(url) => {
            Some(compare_with_indexer(url, blob_id, &evidence, state.next_sequence, &verdict).await)
        }
        None => None,
    };
    Ok(AuditReport {
        blob_id: *blob_id,
        verdict,
        tip_timestamp_ms: state.last_timestamp_ms,
        certificates_valid: evidence
            .iter()
            .filter_map(|e| e.certificate.as_ref())
            .all(|c| c.valid),
        genesis_digest: hex(&genesis.digest()),
        checkpoints_verified: state.next_sequence,
        tip_digest: hex(&state.last_digest),
        epoch: state.state.epoch,
        tip_certificate,
        evidence,
        indexer,
    })
}

/// The status word and end epoch the indexer should report for `verdict`.
fn expected_status(verdict: &Verdict) -> (&'static str, Option<u32>) {
    match verdict {
        Verdict::Certified { end_epoch, .. } => ("certified", Some(*end_epoch)),
        Verdict::Registered => ("registered", None),
        Verdict::Expired => ("expired", None),
        Verdict::Deleted => ("deleted", None),
        Verdict::Invalid => ("invalid", None),
        Verdict::Unknown => ("unknown", None),
    }
}

async fn compare_with_indexer(
    url: &str,
    blob_id: &BlobId,
    evidence: &[Evidence],
    tip: u64,
    verdict: &Verdict,
) -> IndexerComparison {
    let chain_events: Vec<(u64, String, String)> = evidence
        .iter()
        .map(|e| (e.checkpoint, e.tx_digest.clone(), e.kind.clone()))
        .collect();
    let base = url.trim_end_matches('/');
    let fetched = async {
        let indexed: HealthView = reqwest::get(format!("{base}/v1/health"))
            .await?
            .error_for_status()?
            .json()
            .await?;
        let response = reqwest::get(format!("{base}/v1/blobs/{blob_id}/history")).await?;
        let events = if response.status() == reqwest::StatusCode::NOT_FOUND {
            Vec::new()
        } else {
            let history: HistoryView = response.error_for_status()?.json().await?;
            history.events
        };
        let response = reqwest::get(format!("{base}/v1/blobs/{blob_id}")).await?;
        let status = if response.status() == reqwest::StatusCode::NOT_FOUND {
            None
        } else {
            Some(
                response
                    .error_for_status()?
                    .json::<BlobStatusView>()
                    .await?,
            )
        };
        Ok::<_, reqwest::Error>((indexed.checkpoints, events, status))
    }
    .await;
    let mut differences = Vec::new();
    let mut indexed_checkpoints = 0;
    match fetched {
        Err(err) => differences.push(format!("the indexer could not be asked: {err}")),
        Ok((cursor, events, status)) => {
            indexed_checkpoints = cursor;
            if cursor < tip {
                differences.push(format!(
                    "the indexer is behind: {cursor} of {tip} checkpoints indexed"
                ));
            }
            // Compare up to where both have been, in order, duplicates included.
            let upto = cursor.min(tip);
            let expected: Vec<_> = chain_events.iter().filter(|e| e.0 < upto).collect();
            let indexed: Vec<(u64, String, String)> = events
                .into_iter()
                .map(|e| (e.checkpoint, e.tx_digest, e.kind))
                .filter(|e| e.0 < upto)
                .collect();
            let indexed: Vec<_> = indexed.iter().collect();
            if indexed != expected {
                differences.push(format!(
                    "the history differs: the chain has {} events ({}), the indexer {} ({})",
                    expected.len(),
                    describe(&expected),
                    indexed.len(),
                    describe(&indexed)
                ));
            }
            // The status is comparable only when both saw the same checkpoints.
            if cursor == tip {
                let (word, end_epoch) = expected_status(verdict);
                let reported =
                    status.map_or(("unknown", None), |s| (s.status.as_str(), s.end_epoch));
                if reported.0 != word || (end_epoch.is_some() && reported.1 != end_epoch) {
                    differences.push(format!(
                        "the indexer reports {} (end epoch {:?}), the chain {word} (end epoch {end_epoch:?})",
                        reported.0, reported.1
                    ));
                }
            }
        }
    }
    IndexerComparison {
        url: url.to_owned(),
        indexed_checkpoints,
        agrees: differences.is_empty(),
        differences,
    }
}

fn describe(events: &[&(u64, String, String)]) -> String {
    events
        .iter()
        .map(|(checkpoint, tx, kind)| format!("{kind}@{checkpoint} tx {tx}"))
        .collect::<Vec<_>>()
        .join(", ")
}
