//! Uploads: metadata, one sliver, or every sliver a node holds for a blob
//! in one request. Each upload is checked (registration, placement,
//! verification against the metadata) before one durable write.

use std::sync::Arc;

use walrus_codec::{BlobId, BlobMetadata, SliverRef, SliverType, UnverifiedBlobMetadataWithId};
use walrus_types::error::ErrorReason;
use warp::{http::StatusCode, hyper::body::Bytes};

use super::{
    ApiError, NodeShared, View, blocking, live_facts, lock, parse_blob_id, parse_type, success,
    verified_metadata,
};

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
    shared: Arc<NodeShared>,
    blob_id: String,
    pair: u16,
    sliver_type: String,
    body: Bytes,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let sliver_type = parse_type(&sliver_type)?;
    put_slivers(shared, blob_id, body, Upload::One { pair, sliver_type }).await
}

pub(super) async fn put_sliver_batch(
    shared: Arc<NodeShared>,
    blob_id: String,
    body: Bytes,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    put_slivers(shared, blob_id, body, Upload::Batch).await
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
