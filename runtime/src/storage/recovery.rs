//! Write completeness and inconsistency handling (SPEC.md section 4).
//!
//! After a blob is certified, a node that lacks slivers of its shards rebuilds
//! each from recovery symbols: first without proofs (the honest case, one
//! symbol per source sliver, O(|blob|/n) per sliver), checked against the
//! metadata. Only when the rebuilt sliver does not match does it fetch
//! symbols with proofs; if verified symbols still decode to a mismatch, the
//! blob is inconsistent: the node builds an inconsistency proof, collects
//! invalid-blob signatures from other nodes (their POST endpoint verifies the
//! proof) until they reach f+1 shards, and submits the certificate on chain.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use blst::min_pk::Signature;
use bytes::Bytes;
use walrus_codec::{
    BlobId, InconsistencyProof, RecoverySymbol, Sliver, SliverType, UnverifiedBlobMetadataWithId,
    VerifiedBlobMetadataWithId, error::RecoveryError, recover_sliver,
};
use walrus_contracts::{Call, ObjectId, certificate};
use walrus_types::{ChainClient, ChainError, NodeClient, node::MAX_RECOVERY_BATCH_BYTES};

use super::{NodeShared, View, lock, store::StoreError};

/// Why a blob's slivers could not be recovered.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryFailure {
    /// The sliver store failed.
    #[error("sliver store: {0}")]
    Store(#[from] StoreError),
    /// Stored metadata does not verify against the blob ID.
    #[error("stored metadata does not verify: {0}")]
    StoredMetadata(walrus_codec::error::MetadataVerificationError),
    /// No peer served metadata that verifies.
    #[error("no peer served valid metadata")]
    NoMetadata,
    /// Too few (verified) symbols, or a rebuild that failed otherwise.
    #[error("{0}")]
    NotEnoughSymbols(String),
    /// Too few shards attested the blob's inconsistency.
    #[error("only {weight} shards signed the invalid-blob message")]
    NotEnoughAttestations {
        /// Shards that signed.
        weight: u32,
    },
    /// This node's own inconsistency proof or signatures do not check out.
    #[error("own inconsistency evidence is broken: {0}")]
    OwnEvidence(String),
    /// The invalid-blob certificate could not be submitted.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
}

/// Runs recovery once at start and again after each certification (events
/// are coalesced), retrying every 30 s while anything is missing.
pub async fn run(shared: Arc<NodeShared>, mut certified: tokio::sync::mpsc::UnboundedReceiver<()>) {
    loop {
        if let Err(error) = recover_all(&shared).await {
            tracing::warn!("recovery pass failed: {error}");
        }
        tokio::select! {
            event = certified.recv() => if event.is_none() { return },
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
        while certified.try_recv().is_ok() {}
    }
}

async fn recover_all(shared: &Arc<NodeShared>) -> Result<(), RecoveryFailure> {
    let view = shared.view();
    let blobs = {
        let store = lock(&shared.store);
        store.certified_blobs(view.epoch)?
    };
    for blob_id in blobs {
        if let Err(error) = recover_blob(shared, &view, &blob_id).await {
            tracing::warn!(%blob_id, "cannot recover slivers: {error}");
        }
    }
    Ok(())
}

/// Clients of the other committee members, in committee order.
fn peers(shared: &NodeShared, view: &View) -> Vec<(ObjectId, NodeClient)> {
    view.committee
        .members
        .iter()
        .filter(|m| m.node_id != shared.config.node_id)
        .filter_map(|m| {
            view.addresses
                .get(&m.node_id)
                .filter(|a| !a.is_empty())
                .map(|a| (m.node_id, shared.peer(a)))
        })
        .collect()
}

async fn metadata(
    shared: &NodeShared,
    view: &View,
    blob_id: &BlobId,
) -> Result<VerifiedBlobMetadataWithId, RecoveryFailure> {
    if let Some(stored) = lock(&shared.store).metadata(blob_id)? {
        return UnverifiedBlobMetadataWithId::new(*blob_id, stored)
            .verify(&shared.encoding)
            .map_err(RecoveryFailure::StoredMetadata);
    }
    for (_, peer) in peers(shared, view) {
        let Ok(metadata) = peer.metadata(blob_id).await else {
            continue;
        };
        if let Ok(verified) =
            UnverifiedBlobMetadataWithId::new(*blob_id, metadata.clone()).verify(&shared.encoding)
        {
            lock(&shared.store).put_metadata(blob_id, &metadata)?;
            return Ok(verified);
        }
    }
    Err(RecoveryFailure::NoMetadata)
}

async fn recover_blob(
    shared: &Arc<NodeShared>,
    view: &View,
    blob_id: &BlobId,
) -> Result<(), RecoveryFailure> {
    let pairs = shared.pairs_of(blob_id, view);
    let mut missing: BTreeMap<SliverType, Vec<(u16, u16)>> = BTreeMap::new();
    {
        let store = lock(&shared.store);
        for pair in &pairs {
            for kind in [SliverType::Primary, SliverType::Secondary] {
                if !store.has_sliver(blob_id, *pair, kind)? {
                    let target = match kind {
                        SliverType::Primary => *pair,
                        SliverType::Secondary => shared.encoding.secondary_sliver_of_pair(*pair),
                    };
                    missing.entry(kind).or_default().push((*pair, target));
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let metadata = metadata(shared, view, blob_id).await?;
    for (kind, targets) in missing {
        tracing::info!(%blob_id, %kind, missing = targets.len(), "recovering slivers");
        let mut symbols = gather_batch(shared, view, &metadata, kind, &targets).await;
        for (pair, target) in targets {
            let found = symbols.remove(&target).unwrap_or_default();
            let needed = usize::from(shared.encoding.symbols_per_sliver(kind));
            let chosen: Vec<(u16, &[u8])> = found
                .iter()
                .take(needed)
                .map(|(source, data)| (*source, data.as_slice()))
                .collect();
            match recover_sliver(&shared.encoding, &metadata, kind, target, &chosen) {
                Ok(sliver) => {
                    count_recovered(shared, &sliver);
                    lock(&shared.store).put_slivers(blob_id, &[(pair, &sliver)])?;
                }
                // Too few symbols, or a mismatch: retry this one with proofs,
                // which tells a bad peer from an inconsistent blob.
                Err(_) => match recover_with_proofs(shared, view, &metadata, kind, target).await {
                    Ok(sliver) => {
                        count_recovered(shared, &sliver);
                        lock(&shared.store).put_slivers(blob_id, &[(pair, &sliver)])?;
                    }
                    Err(Recovery::Inconsistent(proof)) => {
                        return report_inconsistency(shared, view, &metadata, kind, proof).await;
                    }
                    Err(Recovery::Failed(message)) => {
                        return Err(RecoveryFailure::NotEnoughSymbols(message));
                    }
                },
            }
        }
    }
    Ok(())
}

/// Counts a rebuilt sliver in the metrics.
fn count_recovered(shared: &NodeShared, sliver: &Sliver) {
    shared.metrics.slivers_recovered.inc();
    let bytes = u64::try_from(sliver.symbols.data().len()).unwrap_or(u64::MAX);
    shared.metrics.recovery_bytes_recovered.inc_by(bytes);
}

/// This node's slivers of `blob_id` that are sources of symbols for
/// `kind` targets (the orthogonal type), those it holds.
fn own_sources(
    shared: &NodeShared,
    view: &View,
    blob_id: &BlobId,
    kind: SliverType,
) -> Vec<Sliver> {
    let store = lock(&shared.store);
    shared
        .pairs_of(blob_id, view)
        .into_iter()
        .filter_map(|pair| {
            store
                .sliver(blob_id, pair, kind.orthogonal())
                .ok()
                .flatten()
        })
        .collect()
}

/// Symbols without proofs for all `targets` (target index -> source index ->
/// symbol): this node's own slivers first, then peers, one batch request
/// each, until every target has enough.
async fn gather_batch(
    shared: &NodeShared,
    view: &View,
    metadata: &VerifiedBlobMetadataWithId,
    kind: SliverType,
    targets: &[(u16, u16)],
) -> BTreeMap<u16, BTreeMap<u16, Vec<u8>>> {
    let blob_id = metadata.blob_id();
    let indices: Vec<u16> = targets.iter().map(|(_, t)| *t).collect();
    let mut found: BTreeMap<u16, BTreeMap<u16, Vec<u8>>> =
        indices.iter().map(|t| (*t, BTreeMap::new())).collect();
    let own = own_sources(shared, view, blob_id, kind);
    for sliver in own {
        if let Ok(data) = sliver.recovery_symbol_data(&shared.encoding, &indices) {
            for (target, symbol) in indices.iter().zip(data) {
                found
                    .entry(*target)
                    .or_default()
                    .insert(sliver.index, symbol);
            }
        }
    }
    let mut refused = Vec::new();
    for (_, peer) in peers(shared, view) {
        match ask_peer(shared, metadata, kind, &mut found, &peer).await {
            Asked::Enough => return found,
            Asked::Failed => refused.push(peer),
            Asked::Served => {}
        }
    }
    // A peer serves only blobs it knows certified, and may lag a block
    // behind this node: ask those that failed once more, a moment later.
    if !refused.is_empty() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        for peer in refused {
            if let Asked::Enough = ask_peer(shared, metadata, kind, &mut found, &peer).await {
                break;
            }
        }
    }
    found
}

/// What asking one peer for symbols came to.
enum Asked {
    /// Every target already had enough symbols; nothing was asked.
    Enough,
    /// Every request to the peer succeeded.
    Served,
    /// A request failed.
    Failed,
}

/// Asks `peer` for what the targets in `found` still lack and adds it.
async fn ask_peer(
    shared: &NodeShared,
    metadata: &VerifiedBlobMetadataWithId,
    kind: SliverType,
    found: &mut BTreeMap<u16, BTreeMap<u16, Vec<u8>>>,
    peer: &NodeClient,
) -> Asked {
    let needed = usize::from(shared.encoding.symbols_per_sliver(kind));
    let short: Vec<(u16, usize)> = found
        .iter()
        .filter(|(_, s)| s.len() < needed)
        .map(|(t, s)| (*t, needed - s.len()))
        .collect();
    if short.is_empty() {
        return Asked::Enough;
    }
    // Ask only for what the neediest target still lacks.
    let limit = short.iter().map(|(_, lack)| *lack).max().unwrap_or(0);
    let list: Vec<u16> = short.iter().map(|(t, _)| *t).collect();
    let (answer, complete) = batch_from_peer(shared, peer, metadata, kind, &list, limit).await;
    for (target, symbols) in answer {
        let Some(slot) = found.get_mut(&target) else {
            continue;
        };
        for symbol in symbols {
            if slot.len() < needed {
                slot.entry(symbol.source_index).or_insert(symbol.data);
            }
        }
    }
    if complete {
        Asked::Served
    } else {
        Asked::Failed
    }
}

/// Asks `peer` for symbols of every target in `list`, split into requests
/// whose replies stay under [`MAX_RECOVERY_BATCH_BYTES`]; a failed request
/// only loses its own targets. Returns the answers and whether every
/// request succeeded.
async fn batch_from_peer(
    shared: &NodeShared,
    peer: &NodeClient,
    metadata: &VerifiedBlobMetadataWithId,
    kind: SliverType,
    list: &[u16],
    limit: usize,
) -> (Vec<(u16, Vec<RecoverySymbol>)>, bool) {
    let symbol_size = metadata
        .symbol_size(&shared.encoding)
        .map_or(usize::from(u16::MAX), usize::from);
    let per_target = limit.saturating_mul(symbol_size).max(1);
    let chunk = (MAX_RECOVERY_BATCH_BYTES / per_target).max(1);
    let mut all = Vec::new();
    let mut complete = true;
    for targets in list.chunks(chunk) {
        let Ok((answer, size)) = peer
            .recovery_symbols_batch(metadata.blob_id(), kind, targets, limit)
            .await
        else {
            complete = false;
            continue;
        };
        shared
            .metrics
            .recovery_bytes_downloaded
            .inc_by(u64::try_from(size).unwrap_or(u64::MAX));
        all.extend(answer);
    }
    (all, complete)
}

#[derive(Debug, thiserror::Error)]
enum Recovery {
    #[error("the blob is inconsistent")]
    Inconsistent(InconsistencyProof),
    #[error("{0}")]
    Failed(String),
}

/// Gathers symbols for target sliver `target` of `kind` (this node's own
/// slivers first, then peers, asking each for no more than still needed)
/// and rebuilds it, checking every symbol's proof: a mismatch then means
/// the blob is inconsistent and yields an inconsistency proof.
async fn recover_with_proofs(
    shared: &NodeShared,
    view: &View,
    metadata: &VerifiedBlobMetadataWithId,
    kind: SliverType,
    target: u16,
) -> Result<Sliver, Recovery> {
    let blob_id = metadata.blob_id();
    let needed = usize::from(shared.encoding.symbols_per_sliver(kind));
    let mut symbols: BTreeMap<u16, RecoverySymbol> = BTreeMap::new();
    let own = own_sources(shared, view, blob_id, kind);
    for sliver in own {
        if let Ok(mut list) = sliver.recovery_symbols(&shared.encoding, &[target]) {
            let symbol = list.remove(0);
            symbols.insert(symbol.source_index, symbol);
        }
    }
    for (_, peer) in peers(shared, view) {
        if symbols.len() >= needed {
            break;
        }
        let limit = needed - symbols.len();
        let Ok((list, size)) = peer.recovery_symbols(blob_id, kind, target, limit).await else {
            continue;
        };
        shared
            .metrics
            .recovery_bytes_downloaded
            .inc_by(u64::try_from(size).unwrap_or(u64::MAX));
        for symbol in list {
            if symbol
                .verify(&shared.encoding, metadata, kind, target)
                .is_err()
            {
                tracing::warn!(%blob_id, source = symbol.source_index, "a peer sent a recovery symbol with an invalid proof");
                continue;
            }
            symbols.entry(symbol.source_index).or_insert(symbol);
        }
    }
    if symbols.len() < needed {
        return Err(Recovery::Failed(format!(
            "only {} of {needed} recovery symbols available",
            symbols.len()
        )));
    }
    let chosen: Vec<RecoverySymbol> = symbols.into_values().take(needed).collect();
    let pairs: Vec<(u16, &[u8])> = chosen
        .iter()
        .map(|s| (s.source_index, s.data.as_slice()))
        .collect();
    match recover_sliver(&shared.encoding, metadata, kind, target, &pairs) {
        Ok(sliver) => {
            count_recovered(shared, &sliver);
            Ok(sliver)
        }
        Err(RecoveryError::RecoveredHashMismatch { .. }) => {
            Err(Recovery::Inconsistent(InconsistencyProof {
                target_index: target,
                symbols: chosen,
            }))
        }
        Err(other) => Err(Recovery::Failed(other.to_string())),
    }
}

/// Collects invalid-blob signatures for `proof` until they are f+1 shards
/// (validity), then submits the certificate.
async fn report_inconsistency(
    shared: &NodeShared,
    view: &View,
    metadata: &VerifiedBlobMetadataWithId,
    kind: SliverType,
    proof: InconsistencyProof,
) -> Result<(), RecoveryFailure> {
    let blob_id = *metadata.blob_id();
    proof
        .verify(&shared.encoding, metadata, kind)
        .map_err(|e| RecoveryFailure::OwnEvidence(e.to_string()))?;
    tracing::warn!(%blob_id, "blob is inconsistent; collecting invalid-blob signatures");
    let message = certificate::invalid_blob_message(view.epoch, &blob_id);
    let signers = collect_attestations(shared, view, &message, &blob_id, (&proof, kind)).await?;
    let weight: u32 = signers
        .iter()
        .map(|(i, _)| u32::from(view.committee.weight(*i)))
        .sum();
    if !walrus_codec::is_validity(weight, u32::from(shared.encoding.n_shards())) {
        return Err(RecoveryFailure::NotEnoughAttestations { weight });
    }
    let (positions, signatures): (Vec<usize>, Vec<Signature>) = signers.into_iter().unzip();
    let certificate = certificate::Certificate::aggregate(message, &positions, &signatures)
        .map_err(|e| RecoveryFailure::OwnEvidence(format!("aggregation: {e}")))?;
    let chain = ChainClient::new(shared.config.chain_url.clone());
    let call = Call::InvalidateBlobId {
        blob_id,
        certificate,
    };
    let response = chain
        .execute(&shared.config.operator_key, vec![call])
        .await?;
    tracing::warn!(%blob_id, outcome = ?response.outcome, "submitted the invalid-blob certificate");
    Ok(())
}

/// This node's signature and the peers' over the invalid-blob `message`,
/// as (committee position, signature), until they reach validity. Peers
/// whose reply is not a signature of `message` are skipped; the chain
/// checks the aggregate.
async fn collect_attestations(
    shared: &NodeShared,
    view: &View,
    message: &[u8],
    blob_id: &BlobId,
    (proof, kind): (&InconsistencyProof, SliverType),
) -> Result<Vec<(usize, Signature)>, RecoveryFailure> {
    let mut signers: Vec<(usize, Signature)> = Vec::new();
    if let Some(me) = view.committee.position(&shared.config.node_id) {
        let own = Signature::from_bytes(&shared.sign(message))
            .map_err(|e| RecoveryFailure::OwnEvidence(format!("own signature: {e:?}")))?;
        signers.push((me, own));
    }
    let body =
        Bytes::from(bcs::to_bytes(proof).map_err(|e| RecoveryFailure::OwnEvidence(e.to_string()))?);
    let n = u32::from(shared.encoding.n_shards());
    for (node_id, peer) in peers(shared, view) {
        let weight: u32 = signers
            .iter()
            .map(|(i, _)| u32::from(view.committee.weight(*i)))
            .sum();
        if walrus_codec::is_validity(weight, n) {
            break;
        }
        let Some(position) = view.committee.position(&node_id) else {
            continue;
        };
        let Ok(signed) = peer.inconsistency_proof(blob_id, kind, &body).await else {
            continue;
        };
        if signed.serialized_message != message {
            continue;
        }
        if let Ok(signature) = Signature::from_bytes(&signed.signature) {
            signers.push((position, signature));
        }
    }
    Ok(signers)
}
