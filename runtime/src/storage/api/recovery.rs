//! Serving recovery symbols (one target with or without proofs, or many
//! targets at once) and attesting inconsistency proofs (SPEC.md section 4).

use std::sync::Arc;

use serde::Deserialize;
use walrus_contracts::certificate;
use walrus_types::{error::ErrorReason, node::MAX_RECOVERY_BATCH_BYTES};
use warp::{http::StatusCode, hyper::body::Bytes};

use super::{
    ApiError, NodeShared, bcs_reply, blocking, lock, parse_blob_id, parse_type, rules, signed,
    verified_metadata,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RecoveryQuery {
    target_sliver: u16,
    target_type: String,
    #[serde(default)]
    proofs: bool,
    limit: Option<usize>,
}

pub(super) async fn recovery_symbols(
    shared: Arc<NodeShared>,
    blob_id: String,
    query: RecoveryQuery,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let target_type = parse_type(&query.target_type)?;
    let n = shared.encoding.n_shards();
    if query.target_sliver >= n {
        return Err(ApiError::bad(
            ErrorReason::IndexOutOfRange,
            format!("target sliver {} out of range", query.target_sliver),
        ));
    }
    blocking(move || {
        let view = shared.view();
        let facts = shared.blob_facts(&blob_id)?;
        rules::live_certified(&blob_id, &facts, view.epoch)?;
        let source_type = target_type.orthogonal();
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut symbols = Vec::new();
        for pair in shared.pairs_of(&blob_id, &view) {
            if symbols.len() >= limit {
                break;
            }
            let Some(sliver) = lock(&shared.store).sliver(&blob_id, pair, source_type)? else {
                continue;
            };
            let target = [query.target_sliver];
            let out_of_range = |e: walrus_codec::error::RecoveryError| {
                ApiError::bad(ErrorReason::IndexOutOfRange, e.to_string())
            };
            let symbol = if query.proofs {
                sliver
                    .recovery_symbols(&shared.encoding, &target)
                    .map_err(out_of_range)?
                    .remove(0)
            } else {
                // The honest fast path: no Merkle tree, an empty proof.
                let data = sliver
                    .recovery_symbol_data(&shared.encoding, &target)
                    .map_err(out_of_range)?
                    .remove(0);
                let proof = walrus_codec::merkle::MerkleProof { path: Vec::new() };
                walrus_codec::RecoverySymbol {
                    source_index: sliver.index,
                    data,
                    proof,
                }
            };
            symbols.push(symbol);
        }
        if symbols.is_empty() {
            return Err(ApiError::not_found(
                ErrorReason::SliverNotFound,
                "no sliver here can provide that symbol",
            ));
        }
        bcs_reply(&symbols)
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchRecoveryQuery {
    target_type: String,
    /// Comma-separated target sliver indices.
    targets: String,
    /// At most this many symbols per target.
    limit: Option<usize>,
}

/// Recovery symbols without proofs for many targets at once: each of this
/// node's slivers is expanded once. BCS `Vec<(u16, Vec<RecoverySymbol>)>`,
/// one entry per target, each symbol with an empty proof.
pub(super) async fn recovery_symbols_batch(
    shared: Arc<NodeShared>,
    blob_id: String,
    query: BatchRecoveryQuery,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let target_type = parse_type(&query.target_type)?;
    let targets = parse_targets(&query.targets, shared.encoding.n_shards())?;
    blocking(move || {
        let view = shared.view();
        let facts = shared.blob_facts(&blob_id)?;
        rules::live_certified(&blob_id, &facts, view.epoch)?;
        let mut answer: Vec<(u16, Vec<walrus_codec::RecoverySymbol>)> =
            targets.iter().map(|t| (*t, Vec::new())).collect();
        let pairs = shared.pairs_of(&blob_id, &view);
        let served = pairs.len().min(query.limit.unwrap_or(usize::MAX));
        for pair in pairs.into_iter().take(served) {
            let Some(sliver) =
                lock(&shared.store).sliver(&blob_id, pair, target_type.orthogonal())?
            else {
                continue;
            };
            check_batch_size(targets.len(), served, sliver.symbols.symbol_size())?;
            let data = sliver
                .recovery_symbol_data(&shared.encoding, &targets)
                .map_err(|e| ApiError::bad(ErrorReason::IndexOutOfRange, e.to_string()))?;
            for ((_, symbols), data) in answer.iter_mut().zip(data) {
                let proof = walrus_codec::merkle::MerkleProof { path: Vec::new() };
                symbols.push(walrus_codec::RecoverySymbol {
                    source_index: sliver.index,
                    data,
                    proof,
                });
            }
        }
        bcs_reply(&answer)
    })
    .await
}

/// Distinct sliver indices below `n` from a comma-separated list.
fn parse_targets(list: &str, n: u16) -> Result<Vec<u16>, ApiError> {
    let targets: Vec<u16> = list
        .split(',')
        .map(|t| t.trim().parse::<u16>().ok().filter(|t| *t < n))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            ApiError::bad(
                ErrorReason::IndexOutOfRange,
                "targets must be sliver indices below n, comma-separated",
            )
        })?;
    let distinct: std::collections::BTreeSet<u16> = targets.iter().copied().collect();
    if distinct.len() != targets.len() {
        return Err(ApiError::bad(
            ErrorReason::InvalidArgument,
            "targets must be distinct: ask for each sliver index once",
        ));
    }
    Ok(targets)
}

/// Refuses a batch whose reply could exceed [`MAX_RECOVERY_BATCH_BYTES`].
fn check_batch_size(targets: usize, served: usize, symbol_size: u16) -> Result<(), ApiError> {
    let per_target = served.saturating_mul(usize::from(symbol_size)).max(1);
    if targets.saturating_mul(per_target) <= MAX_RECOVERY_BATCH_BYTES {
        return Ok(());
    }
    let fit = MAX_RECOVERY_BATCH_BYTES / per_target;
    Err(ApiError::bad(
        ErrorReason::InvalidArgument,
        format!(
            "the reply would exceed {MAX_RECOVERY_BATCH_BYTES} bytes: ask for at most {fit} \
             targets per request at this blob's symbol size ({symbol_size} bytes) and limit \
             ({served} slivers), or lower `limit`"
        ),
    ))
}

pub(super) async fn inconsistency_proof(
    shared: Arc<NodeShared>,
    blob_id: String,
    kind: String,
    body: Bytes,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let kind = parse_type(&kind)?;
    let proof: walrus_codec::InconsistencyProof = bcs::from_bytes(&body)
        .map_err(|e| ApiError::bad(ErrorReason::InvalidBody, format!("proof is not BCS: {e}")))?;
    blocking(move || {
        let metadata = verified_metadata(&shared, &blob_id)?;
        proof
            .verify(&shared.encoding, &metadata, kind)
            .map_err(|e| {
                ApiError::bad(
                    ErrorReason::InvalidProof,
                    format!("the inconsistency proof does not hold: {e}"),
                )
            })?;
        let message = certificate::invalid_blob_message(shared.view().epoch, &blob_id);
        let signature = shared.sign(&message);
        Ok(signed(StatusCode::OK, message, signature))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_replies_are_bounded() {
        // One target at the largest symbol size and a full sliver fits.
        assert!(check_batch_size(1, 667, u16::MAX).is_ok());
        // The reported attack: 2,000 targets of 300 slivers of 1 KiB symbols.
        assert!(check_batch_size(2000, 300, 1024).is_err());
        assert!(check_batch_size(usize::MAX, usize::MAX, u16::MAX).is_err());
    }

    #[test]
    fn targets_must_be_distinct_and_in_range() {
        assert_eq!(parse_targets("3,1, 2", 10).expect("valid"), [3, 1, 2]);
        assert!(parse_targets("1,1", 10).is_err());
        assert!(parse_targets("10", 10).is_err());
        assert!(parse_targets("", 10).is_err());
    }
}
