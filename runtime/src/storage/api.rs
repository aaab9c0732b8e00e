//! The storage node's HTTP API (SPEC.md section 6), on warp. Binary bodies
//! are BCS; JSON replies are `{"success": {"code", "data"}}`; errors are
//! `{"error": {"code", "status", "message", "details": [{"reason"}]}}`.
//!
//! Besides upstream's paths, `PUT /v1/blobs/{blob_id}/slivers` takes a BCS
//! `Vec<Sliver>` with every sliver this node holds for the blob, in one
//! request and one durable write; and `GET
//! /v1/blobs/{blob_id}/recoverySymbols/batch?targetType=T&targets=a,b,c`
//! answers for many target slivers at once, expanding each local sliver
//! once (recovering a whole node's slivers is then O(n) expansions per
//! peer, not O(n^2)).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use serde::Serialize;
use walrus_codec::{BlobId, SliverType, UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId};
use walrus_contracts::{ObjectId, certificate};
use walrus_types::{
    error::ErrorReason,
    node::{
        ChainProgress, NodeHealth, ShardSummary, SignedMessage, SignedReply, StoredStatus,
        SuccessBody,
    },
};
use warp::{Reply, http::StatusCode};

use super::{
    NodeShared, View, lock,
    rules::{self, Refusal},
    store::StoreError,
};

mod recovery;
mod routes;
mod upload;
pub use routes::routes;

/// A failed request: HTTP status, machine-readable reason, message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    reason: ErrorReason,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, reason: ErrorReason, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
        }
    }

    fn bad(reason: ErrorReason, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    fn not_found(reason: ErrorReason, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason, message)
    }
}

impl ApiError {
    fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!("internal error: {error}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorReason::Internal,
            "internal error",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(&error)
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        Self::bad(refusal.reason(), refusal.to_string())
    }
}

fn error_reply(error: &ApiError) -> warp::reply::Response {
    crate::http::error_reply(error.status, error.reason, error.message.clone())
}

fn success<T: Serialize>(status: StatusCode, data: T) -> warp::reply::Response {
    let body = SuccessBody::new(status.as_u16(), data);
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn signed(status: StatusCode, message: Vec<u8>, signature: Vec<u8>) -> warp::reply::Response {
    let signed = SignedMessage {
        serialized_message: message,
        signature,
    };
    success(status, SignedReply { signed })
}

fn bcs_reply<T: serde::Serialize>(value: &T) -> Result<warp::reply::Response, ApiError> {
    let bytes = bcs::to_bytes(value).map_err(|e| ApiError::internal(&e))?;
    Ok(octet_stream(bytes))
}

fn octet_stream(bytes: Vec<u8>) -> warp::reply::Response {
    warp::reply::with_header(bytes, "content-type", "application/octet-stream").into_response()
}

/// A rejection that answers with `error`, for filters that refuse a
/// request before its body is read.
fn refuse(error: ApiError) -> warp::Rejection {
    warp::reject::custom(crate::http::Refusal {
        status: error.status,
        reason: error.reason,
        message: error.message,
    })
}

fn finish(result: Result<warp::reply::Response, ApiError>) -> warp::reply::Response {
    result.unwrap_or_else(|error| error_reply(&error))
}

fn parse_blob_id(text: &str) -> Result<BlobId, ApiError> {
    text.parse()
        .map_err(|e| ApiError::bad(ErrorReason::InvalidBlobId, format!("invalid blob ID: {e}")))
}

fn parse_type(text: &str) -> Result<SliverType, ApiError> {
    text.parse()
        .map_err(|e| ApiError::bad(ErrorReason::InvalidSliverType, format!("{e}")))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&format!("worker failed: {e}")))?
}

/// Checks that the blob is registered, not invalid and not expired
/// ([`rules::live`]); returns what the store knows of it.
fn live_facts(
    shared: &NodeShared,
    blob_id: &BlobId,
    view: &View,
) -> Result<rules::BlobFacts, ApiError> {
    let facts = shared.blob_facts(blob_id)?;
    rules::live(blob_id, &facts, view.epoch)?;
    Ok(facts)
}

/// The stored metadata of `blob_id`, verified.
fn verified_metadata(
    shared: &NodeShared,
    blob_id: &BlobId,
) -> Result<VerifiedBlobMetadataWithId, ApiError> {
    let metadata = lock(&shared.store).metadata(blob_id)?.ok_or_else(|| {
        ApiError::bad(
            ErrorReason::MetadataMissing,
            format!("metadata of {blob_id} is not stored here; upload it first"),
        )
    })?;
    UnverifiedBlobMetadataWithId::new(*blob_id, metadata)
        .verify(&shared.encoding)
        .map_err(|e| ApiError::internal(&format!("stored metadata does not verify: {e}")))
}

async fn get_sliver(
    shared: Arc<NodeShared>,
    blob_id: String,
    pair: u16,
    sliver_type: String,
    status_only: bool,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let sliver_type = parse_type(&sliver_type)?;
    if pair >= shared.encoding.n_shards() {
        return Err(ApiError::bad(
            ErrorReason::IndexOutOfRange,
            format!("pair {pair} out of range"),
        ));
    }
    blocking(move || {
        let store = lock(&shared.store);
        if status_only {
            let stored = store.has_sliver(&blob_id, pair, sliver_type)?;
            return Ok(success(StatusCode::OK, StoredStatus::from(stored)));
        }
        // Stored as the BCS bytes of a verified sliver: served as they are.
        let sliver = store
            .sliver_bytes(&blob_id, pair, sliver_type)?
            .ok_or_else(|| {
                ApiError::not_found(
                    ErrorReason::SliverNotFound,
                    format!("{sliver_type} sliver of pair {pair} of {blob_id} is not stored here"),
                )
            })?;
        Ok(octet_stream(sliver))
    })
    .await
}

async fn get_metadata(
    shared: Arc<NodeShared>,
    blob_id: String,
    status_only: bool,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    blocking(move || {
        let metadata = lock(&shared.store).metadata(&blob_id)?;
        match (metadata, status_only) {
            (Some(_), true) => Ok(success(StatusCode::OK, StoredStatus::Stored)),
            (None, true) => Ok(success(StatusCode::OK, StoredStatus::Nonexistent)),
            (Some(metadata), false) => bcs_reply(&metadata),
            (None, false) => Err(ApiError::not_found(
                ErrorReason::MetadataNotFound,
                format!("metadata of {blob_id} is not stored here"),
            )),
        }
    })
    .await
}

async fn confirmation(
    shared: Arc<NodeShared>,
    blob_id: String,
    object: Option<String>,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let object = object
        .map(|o| {
            o.parse::<ObjectId>().map_err(|_| {
                ApiError::bad(
                    ErrorReason::InvalidObjectId,
                    "object ID must be 0x and 64 hex digits",
                )
            })
        })
        .transpose()?;
    blocking(move || {
        let view = shared.view();
        let store = lock(&shared.store);
        let facts = store.blob_facts(&blob_id)?;
        let has_metadata = store.metadata(&blob_id)?.is_some();
        let complete: std::collections::BTreeSet<u16> =
            store.complete_pairs(&blob_id)?.into_iter().collect();
        drop(store);
        let missing = shared
            .pairs_of(&blob_id, &view)
            .into_iter()
            .filter(|p| !complete.contains(p))
            .count();
        rules::may_confirm(
            &blob_id,
            &facts,
            view.epoch,
            object.as_ref(),
            has_metadata,
            missing,
        )?;
        let message = certificate::confirmation_message(view.epoch, &blob_id, object);
        let signature = shared.sign(&message);
        Ok(signed(StatusCode::OK, message, signature))
    })
    .await
}

async fn blob_status(
    shared: Arc<NodeShared>,
    blob_id: String,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let epoch = shared.view().epoch;
    let facts = blocking(move || Ok(shared.blob_facts(&blob_id)?)).await?;
    let status = facts.status(epoch);
    Ok(success(StatusCode::OK, status))
}

fn health(shared: &NodeShared) -> warp::reply::Response {
    let view = shared.view();
    let stored_blobs = lock(&shared.store).stored_blob_count().unwrap_or(0);
    let health = NodeHealth {
        epoch: view.epoch,
        node_id: shared.config.node_id,
        public_key: shared.public_key(),
        shard_summary: ShardSummary {
            owned: view.shards.len(),
            shards: view.shards.iter().copied().collect(),
        },
        stored_blobs,
        chain: ChainProgress {
            checkpoints: view.checkpoints,
        },
        scrub: shared.scrub_status(),
    };
    success(StatusCode::OK, health)
}

/// Serves the API on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(
    shared: Arc<NodeShared>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let limits = walrus_http::Limits::API;
    let (handle, task) = walrus_http::serve(routes(shared), listener, limits, shutdown)?;
    Ok((handle.address(), task))
}

/// How long requests wait at most for a registration (re-exported default).
pub const DEFAULT_REGISTRATION_WAIT: Duration = Duration::from_secs(10);
