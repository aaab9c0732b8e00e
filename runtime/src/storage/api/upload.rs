//! Uploads: metadata, one sliver, or every sliver a node holds for a blob
//! in one request. Each upload is checked (registration, placement,
//! verification against the metadata) before one durable write.

use std::{sync::Arc, time::Duration};

use walrus_codec::{
    BlobId, BlobMetadata, EncodingConfig, SliverRef, SliverType, UnverifiedBlobMetadataWithId,
    VerifiedBlobMetadataWithId,
};
use walrus_types::error::ErrorReason;
use warp::{http::StatusCode, hyper::body::Bytes};

use super::{
    ApiError, NodeShared, View, blocking, live_facts, lock, parse_blob_id, parse_type, success,
    verified_metadata,
};

/// An upload admitted before its body is read (issue 21, failure 2).
pub(super) struct Admitted {
    shared: Arc<NodeShared>,
    blob_id: BlobId,
    /// One of the node's upload slots, held while the body is read and
    /// stored.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// How long an upload waits for a slot before a 503 asks to retry.
const SLOT_WAIT: Duration = Duration::from_secs(30);

/// BCS bytes a sliver takes beyond its symbols, at most: type, index,
/// symbol size and the length prefix of the symbols.
const SLIVER_OVERHEAD: u64 = 16;

/// Admits a sliver upload (one sliver, or a `batch`) from its path and
/// headers alone: the blob is registered and live, its metadata stored,
/// the declared `Content-Length` at most what this node's slivers of the
/// blob can take, and an upload slot is free. Nothing else reads a body.
///
/// # Errors
/// 400/404 as the checks say, 411 without a length, 413 for more bytes
/// than the node's slivers take, 503 when every slot stays busy.
pub(super) async fn admit_upload(
    shared: Arc<NodeShared>,
    blob_id: String,
    length: Option<u64>,
    batch: bool,
) -> Result<Admitted, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let length = length.ok_or_else(|| {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            ErrorReason::LengthRequired,
            "uploads must declare their Content-Length",
        )
    })?;
    let checking = shared.clone();
    let bound = blocking(move || {
        let view = checking.view();
        live_facts(&checking, &blob_id, &view)?;
        let metadata = verified_metadata(&checking, &blob_id)?;
        let pairs = if batch { view.shards.len() } else { 1 };
        upload_bound(&checking.encoding, &metadata, pairs, batch)
    })
    .await?;
    if length > bound {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorReason::BodyTooLarge,
            format!(
                "{length} bytes declared; this node's slivers of {blob_id} take at most {bound}"
            ),
        ));
    }
    let slot = tokio::time::timeout(SLOT_WAIT, shared.uploads.clone().acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorReason::Unavailable,
                "too many uploads in progress; retry shortly",
            )
        })?;
    Ok(Admitted {
        shared,
        blob_id,
        _slot: slot,
    })
}

/// The most bytes an upload of `pairs` sliver pairs (a batch), or of one
/// sliver, of this blob can take.
fn upload_bound(
    encoding: &EncodingConfig,
    metadata: &VerifiedBlobMetadataWithId,
    pairs: usize,
    batch: bool,
) -> Result<u64, ApiError> {
    let symbol_size = u64::from(
        metadata
            .symbol_size(encoding)
            .map_err(|e| ApiError::internal(&e))?,
    );
    let primary = symbol_size * u64::from(encoding.n_secondary_source_symbols()) + SLIVER_OVERHEAD;
    let secondary = symbol_size * u64::from(encoding.n_primary_source_symbols()) + SLIVER_OVERHEAD;
    if !batch {
        return Ok(primary.max(secondary));
    }
    let pairs = u64::try_from(pairs).unwrap_or(u64::MAX);
    Ok(pairs.saturating_mul(primary + secondary).saturating_add(8))
}

pub(super) async fn put_metadata(
    shared: Arc<NodeShared>,
    blob_id: String,
    body: Bytes,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let metadata: BlobMetadata = bcs::from_bytes(&body).map_err(|e| {
        ApiError::bad(
            ErrorReason::InvalidBody,
            format!("metadata is not BCS: {e}"),
        )
    })?;
    UnverifiedBlobMetadataWithId::new(blob_id, metadata.clone())
        .verify(&shared.encoding)
        .map_err(|e| {
            ApiError::bad(
                ErrorReason::InvalidMetadata,
                format!("metadata does not match blob ID: {e}"),
            )
        })?;
    // The client may upload right after registering: wait for the event
    // (only for metadata that matches its blob ID, checked above).
    let deadline = tokio::time::Instant::now() + shared.config.registration_wait;
    loop {
        let notified = shared.registered.notified();
        let view = shared.view();
        match live_facts(&shared, &blob_id, &view) {
            Err(ApiError {
                reason: ErrorReason::NotRegistered,
                ..
            }) if tokio::time::Instant::now() < deadline => {
                let _ = tokio::time::timeout_at(deadline, notified).await;
            }
            Err(error) => return Err(error),
            Ok(_) => break,
        }
    }
    blocking(move || {
        lock(&shared.store).put_metadata(&blob_id, &metadata)?;
        Ok(success(StatusCode::CREATED, "metadata stored"))
    })
    .await
}

/// Checks that an uploaded sliver belongs here: pair in range and its shard
/// held by this node. Returns the pair index.
fn check_placement(
    shared: &NodeShared,
    view: &View,
    blob_id: &BlobId,
    sliver: &SliverRef<'_>,
) -> Result<u16, ApiError> {
    let n = shared.encoding.n_shards();
    if sliver.index >= n {
        return Err(ApiError::bad(
            ErrorReason::IndexOutOfRange,
            format!("sliver index {} out of range for {n} shards", sliver.index),
        ));
    }
    let pair = sliver.pair_index(&shared.encoding);
    let shard = shared.encoding.shard_for_pair(pair, blob_id);
    if !view.shards.contains(&shard) {
        return Err(ApiError::bad(
            ErrorReason::ShardNotAssigned,
            format!(
                "pair {pair} is stored by shard {shard}, which this node does not hold in epoch {}",
                view.epoch
            ),
        ));
    }
    Ok(pair)
}

/// What an upload body holds.
#[derive(Clone, Copy)]
enum Upload {
    /// One sliver's BCS, for the pair and type in the path.
    One { pair: u16, sliver_type: SliverType },
    /// A BCS vector of slivers.
    Batch,
}

/// Decodes an upload's slivers where they lie in `body` and returns them
/// with the offset of the first one's bytes (after a vector's length).
fn decode_upload<'a>(
    shared: &NodeShared,
    body: &'a [u8],
    upload: Upload,
) -> Result<(Vec<SliverRef<'a>>, usize), ApiError> {
    match upload {
        Upload::One { pair, sliver_type } => {
            let sliver: SliverRef<'a> = bcs::from_bytes(body).map_err(|e| {
                ApiError::bad(ErrorReason::InvalidBody, format!("sliver is not BCS: {e}"))
            })?;
            if sliver.sliver_type != sliver_type {
                return Err(ApiError::bad(
                    ErrorReason::TypeMismatch,
                    "the sliver's type differs from the path",
                ));
            }
            if pair >= shared.encoding.n_shards()
                || sliver.index >= shared.encoding.n_shards()
                || sliver.pair_index(&shared.encoding) != pair
            {
                return Err(ApiError::bad(
                    ErrorReason::IndexMismatch,
                    format!("the sliver does not belong to pair {pair}"),
                ));
            }
            Ok((vec![sliver], 0))
        }
        Upload::Batch => {
            let slivers: Vec<SliverRef<'a>> = bcs::from_bytes(body).map_err(|e| {
                ApiError::bad(
                    ErrorReason::InvalidBody,
                    format!("slivers are not BCS: {e}"),
                )
            })?;
            let prefix = length_prefix_size(slivers.len());
            Ok((slivers, prefix))
        }
    }
}

/// Stores uploaded slivers once every one is placed here and verifies
/// against the metadata (all verified in one batch); any bad sliver rejects
/// the whole request. The slivers are decoded and verified where they lie
/// in `body`, and their BCS bytes stored as they came.
async fn put_slivers(
    shared: Arc<NodeShared>,
    blob_id: BlobId,
    body: Bytes,
    upload: Upload,
) -> Result<warp::reply::Response, ApiError> {
    blocking(move || {
        let (slivers, prefix) = decode_upload(&shared, &body, upload)?;
        let view = shared.view();
        live_facts(&shared, &blob_id, &view)?;
        let metadata = verified_metadata(&shared, &blob_id)?;
        let mut placed = Vec::with_capacity(slivers.len());
        let mut offset = prefix;
        for sliver in &slivers {
            let pair = check_placement(&shared, &view, &blob_id, sliver)?;
            // BCS is canonical: a decoded sliver's bytes are exactly its span.
            let size = bcs::serialized_size(sliver).map_err(|e| {
                ApiError::bad(ErrorReason::InvalidBody, format!("sliver size: {e}"))
            })?;
            let bytes = body.get(offset..offset + size).ok_or_else(|| {
                ApiError::bad(
                    ErrorReason::InvalidBody,
                    "the slivers do not fill the body exactly",
                )
            })?;
            offset += size;
            placed.push((pair, sliver.sliver_type, bytes));
        }
        if offset != body.len() {
            return Err(ApiError::bad(
                ErrorReason::InvalidBody,
                "the slivers do not fill the body exactly",
            ));
        }
        let verdicts = SliverRef::verify_many(&slivers, &shared.encoding, &metadata);
        if let Some(error) = verdicts.into_iter().find_map(Result::err) {
            return Err(ApiError::bad(
                ErrorReason::InvalidSliver,
                format!("sliver does not verify: {error}"),
            ));
        }
        lock(&shared.store).put_encoded_slivers(&blob_id, &placed)?;
        shared
            .metrics
            .slivers_stored
            .inc_by(u64::try_from(placed.len()).unwrap_or(u64::MAX));
        Ok(success(
            StatusCode::CREATED,
            format!("{} slivers stored", placed.len()),
        ))
    })
    .await
}

pub(super) async fn put_sliver(
    admitted: Admitted,
    pair: u16,
    sliver_type: String,
    body: Bytes,
) -> Result<warp::reply::Response, ApiError> {
    let sliver_type = parse_type(&sliver_type)?;
    let upload = Upload::One { pair, sliver_type };
    put_slivers(admitted.shared.clone(), admitted.blob_id, body, upload).await
}

pub(super) async fn put_sliver_batch(
    admitted: Admitted,
    body: Bytes,
) -> Result<warp::reply::Response, ApiError> {
    put_slivers(
        admitted.shared.clone(),
        admitted.blob_id,
        body,
        Upload::Batch,
    )
    .await
}

/// Bytes of a BCS vector's length prefix: the count in ULEB128, 7 bits per byte.
fn length_prefix_size(count: usize) -> usize {
    let bits = usize::BITS - count.leading_zeros();
    usize::try_from(bits.div_ceil(7).max(1)).expect("at most 10 bytes")
}

#[cfg(test)]
mod tests {
    use super::length_prefix_size;

    #[test]
    fn the_length_prefix_size_is_that_of_bcs() {
        for count in [0, 1, 127, 128, 286, 16_383, 16_384, 2_097_152] {
            let encoded = bcs::to_bytes(&vec![0u8; count]).expect("serializes");
            assert_eq!(
                length_prefix_size(count),
                encoded.len() - count,
                "count {count}"
            );
        }
    }
}
