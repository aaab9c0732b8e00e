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

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde::Deserialize;
use serde_json::{Value, json};
use walrus_codec::{BlobId, SliverType, UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId};
use walrus_contracts::{ObjectId, certificate};
use warp::{Filter, Rejection as WarpRejection, Reply, http::StatusCode, hyper::body::Bytes};

use super::{NodeShared, View, lock, store::BlobInfo};

mod upload;
use upload::{put_metadata, put_sliver, put_sliver_batch};

/// A failed request: HTTP status, machine-readable reason, message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
        }
    }

    fn bad(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    fn not_found(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason, message)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        tracing::error!("internal error: {error:#}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error",
        )
    }
}

fn error_reply(error: &ApiError) -> warp::reply::Response {
    let body = json!({ "error": {
        "code": error.status.as_u16(),
        "status": error.status.canonical_reason().unwrap_or(""),
        "message": error.message,
        "details": [{ "reason": error.reason }],
    }});
    warp::reply::with_status(warp::reply::json(&body), error.status).into_response()
}

fn success(status: StatusCode, data: Value) -> warp::reply::Response {
    let body = json!({ "success": { "code": status.as_u16(), "data": data } });
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn bcs_reply<T: serde::Serialize>(value: &T) -> Result<warp::reply::Response, ApiError> {
    let bytes = bcs::to_bytes(value).map_err(anyhow::Error::from)?;
    Ok(octet_stream(bytes))
}

fn octet_stream(bytes: Vec<u8>) -> warp::reply::Response {
    warp::reply::with_header(bytes, "content-type", "application/octet-stream").into_response()
}

fn finish(result: Result<warp::reply::Response, ApiError>) -> warp::reply::Response {
    result.unwrap_or_else(|error| error_reply(&error))
}

fn parse_blob_id(text: &str) -> Result<BlobId, ApiError> {
    text.parse()
        .map_err(|e| ApiError::bad("INVALID_BLOB_ID", format!("invalid blob ID: {e}")))
}

fn parse_type(text: &str) -> Result<SliverType, ApiError> {
    text.parse()
        .map_err(|e| ApiError::bad("INVALID_SLIVER_TYPE", format!("{e}")))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::from(anyhow::anyhow!("worker failed: {e}")))?
}

/// Checks that the blob is registered, not invalid and not expired.
fn live_info(shared: &NodeShared, blob_id: &BlobId, view: &View) -> Result<BlobInfo, ApiError> {
    let info = shared.blob_info(blob_id)?.ok_or_else(|| {
        ApiError::bad(
            "NOT_REGISTERED",
            format!("blob {blob_id} is not registered"),
        )
    })?;
    if info.invalid {
        return Err(ApiError::bad(
            "INVALID_BLOB",
            format!("blob {blob_id} is invalid"),
        ));
    }
    if info.end_epoch <= view.epoch {
        return Err(ApiError::bad(
            "EXPIRED",
            format!("blob {blob_id} expired at epoch {}", info.end_epoch),
        ));
    }
    Ok(info)
}

/// The stored metadata of `blob_id`, verified.
fn verified_metadata(
    shared: &NodeShared,
    blob_id: &BlobId,
) -> Result<VerifiedBlobMetadataWithId, ApiError> {
    let metadata = lock(&shared.store).metadata(blob_id)?.ok_or_else(|| {
        ApiError::bad(
            "METADATA_MISSING",
            format!("metadata of {blob_id} is not stored here; upload it first"),
        )
    })?;
    UnverifiedBlobMetadataWithId::new(*blob_id, metadata)
        .verify(&shared.encoding)
        .map_err(|e| ApiError::from(anyhow::anyhow!("stored metadata does not verify: {e}")))
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
            "INDEX_OUT_OF_RANGE",
            format!("pair {pair} out of range"),
        ));
    }
    blocking(move || {
        let store = lock(&shared.store);
        if status_only {
            let stored = store.has_sliver(&blob_id, pair, sliver_type)?;
            return Ok(success(
                StatusCode::OK,
                json!(if stored { "stored" } else { "nonexistent" }),
            ));
        }
        // Stored as the BCS bytes of a verified sliver: served as they are.
        let sliver = store
            .sliver_bytes(&blob_id, pair, sliver_type)?
            .ok_or_else(|| {
                ApiError::not_found(
                    "SLIVER_NOT_FOUND",
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
            (Some(_), true) => Ok(success(StatusCode::OK, json!("stored"))),
            (None, true) => Ok(success(StatusCode::OK, json!("nonexistent"))),
            (Some(metadata), false) => bcs_reply(&metadata),
            (None, false) => Err(ApiError::not_found(
                "METADATA_NOT_FOUND",
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
                    "INVALID_OBJECT_ID",
                    "object ID must be 0x and 64 hex digits",
                )
            })
        })
        .transpose()?;
    blocking(move || {
        let view = shared.view();
        let info = live_info(&shared, &blob_id, &view)?;
        match object {
            None if !info.has_permanent => return Err(ApiError::bad("NOT_REGISTERED", format!("no permanent registration of {blob_id}"))),
            Some(id) => {
                let registered = lock(&shared.store).object(&id)?;
                if !registered.is_some_and(|o| o.blob_id == blob_id && o.deletable && o.end_epoch > view.epoch) {
                    return Err(ApiError::bad("NOT_REGISTERED", format!("{id} is not a live deletable registration of {blob_id}")));
                }
            }
            None => {}
        }
        let store = lock(&shared.store);
        if store.metadata(&blob_id)?.is_none() {
            return Err(ApiError::bad("NOT_STORED", "metadata not stored yet"));
        }
        let complete: std::collections::BTreeSet<u16> = store.complete_pairs(&blob_id)?.into_iter().collect();
        let missing = shared.pairs_of(&blob_id, &view).into_iter().filter(|p| !complete.contains(p)).count();
        drop(store);
        if missing > 0 {
            return Err(ApiError::bad("NOT_STORED", format!("{missing} sliver pairs of this node's shards are not stored yet")));
        }
        let message = certificate::confirmation_message(view.epoch, &blob_id, object);
        let signature = shared.sign(&message);
        Ok(success(StatusCode::OK, json!({ "signed": { "serializedMessage": BASE64.encode(&message), "signature": BASE64.encode(signature) } })))
    })
    .await
}

async fn blob_status(
    shared: Arc<NodeShared>,
    blob_id: String,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let epoch = shared.view().epoch;
    let info = blocking(move || Ok(shared.blob_info(&blob_id)?)).await?;
    let status = match info {
        None => json!("nonexistent"),
        Some(info) if info.invalid => json!({ "invalid": {} }),
        Some(info) if info.end_epoch <= epoch => json!("nonexistent"),
        Some(info) => {
            let counts = json!({ "countDeletableTotal": info.deletable_counts.0, "countDeletableCertified": info.deletable_counts.1 });
            if info.has_permanent {
                json!({ "permanent": {
                    "endEpoch": info.end_epoch,
                    "isCertified": info.certified_end_epoch.is_some(),
                    "initialCertifiedEpoch": info.initial_certified_epoch,
                    "deletableCounts": counts,
                }})
            } else {
                // Beyond upstream: the end epoch and certification, which
                // upstream's deletable status leaves out.
                json!({ "deletable": {
                    "initialCertifiedEpoch": info.initial_certified_epoch,
                    "deletableCounts": counts,
                    "endEpoch": info.end_epoch,
                    "isCertified": info.certified_end_epoch.is_some(),
                }})
            }
        }
    };
    Ok(success(StatusCode::OK, status))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecoveryQuery {
    target_sliver: u16,
    target_type: String,
    #[serde(default)]
    proofs: bool,
    limit: Option<usize>,
}

async fn recovery_symbols(
    shared: Arc<NodeShared>,
    blob_id: String,
    query: RecoveryQuery,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let target_type = parse_type(&query.target_type)?;
    let n = shared.encoding.n_shards();
    if query.target_sliver >= n {
        return Err(ApiError::bad(
            "INDEX_OUT_OF_RANGE",
            format!("target sliver {} out of range", query.target_sliver),
        ));
    }
    blocking(move || {
        let view = shared.view();
        let info = live_info(&shared, &blob_id, &view)?;
        if info.certified_end_epoch.is_none() {
            return Err(ApiError::bad(
                "NOT_CERTIFIED",
                "recovery symbols are served for certified blobs only",
            ));
        }
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
                ApiError::bad("INDEX_OUT_OF_RANGE", e.to_string())
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
                "SLIVER_NOT_FOUND",
                "no sliver here can provide that symbol",
            ));
        }
        bcs_reply(&symbols)
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchRecoveryQuery {
    target_type: String,
    /// Comma-separated target sliver indices.
    targets: String,
    /// At most this many symbols per target.
    limit: Option<usize>,
}

/// Recovery symbols without proofs for many targets at once: each of this
/// node's slivers is expanded once. BCS `Vec<(u16, Vec<RecoverySymbol>)>`,
/// one entry per target, each symbol with an empty proof.
async fn recovery_symbols_batch(
    shared: Arc<NodeShared>,
    blob_id: String,
    query: BatchRecoveryQuery,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let target_type = parse_type(&query.target_type)?;
    let n = shared.encoding.n_shards();
    let targets: Vec<u16> = query
        .targets
        .split(',')
        .map(|t| t.trim().parse::<u16>().ok().filter(|t| *t < n))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            ApiError::bad(
                "INDEX_OUT_OF_RANGE",
                "targets must be sliver indices below n, comma-separated",
            )
        })?;
    blocking(move || {
        let view = shared.view();
        let info = live_info(&shared, &blob_id, &view)?;
        if info.certified_end_epoch.is_none() {
            return Err(ApiError::bad(
                "NOT_CERTIFIED",
                "recovery symbols are served for certified blobs only",
            ));
        }
        let mut answer: Vec<(u16, Vec<walrus_codec::RecoverySymbol>)> =
            targets.iter().map(|t| (*t, Vec::new())).collect();
        let limit = query.limit.unwrap_or(usize::MAX);
        for pair in shared.pairs_of(&blob_id, &view).into_iter().take(limit) {
            let Some(sliver) =
                lock(&shared.store).sliver(&blob_id, pair, target_type.orthogonal())?
            else {
                continue;
            };
            let data = sliver
                .recovery_symbol_data(&shared.encoding, &targets)
                .map_err(|e| ApiError::bad("INDEX_OUT_OF_RANGE", e.to_string()))?;
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

async fn inconsistency_proof(
    shared: Arc<NodeShared>,
    blob_id: String,
    kind: String,
    body: Bytes,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id = parse_blob_id(&blob_id)?;
    let kind = parse_type(&kind)?;
    let proof: walrus_codec::InconsistencyProof = bcs::from_bytes(&body)
        .map_err(|e| ApiError::bad("INVALID_BODY", format!("proof is not BCS: {e}")))?;
    blocking(move || {
        let metadata = verified_metadata(&shared, &blob_id)?;
        proof
            .verify(&shared.encoding, &metadata, kind)
            .map_err(|e| ApiError::bad("INVALID_PROOF", format!("the inconsistency proof does not hold: {e}")))?;
        let message = certificate::invalid_blob_message(shared.view().epoch, &blob_id);
        let signature = shared.sign(&message);
        Ok(success(StatusCode::OK, json!({ "signed": { "serializedMessage": BASE64.encode(&message), "signature": BASE64.encode(signature) } })))
    })
    .await
}

fn health(shared: &NodeShared) -> warp::reply::Response {
    let view = shared.view();
    let stored = lock(&shared.store).stored_blob_count().unwrap_or(0);
    success(
        StatusCode::OK,
        json!({
            "epoch": view.epoch,
            "nodeId": shared.config.node_id,
            "publicKey": BASE64.encode(shared.public_key()),
            "shardSummary": { "owned": view.shards.len(), "shards": view.shards },
            "storedBlobs": stored,
            "chain": { "checkpoints": view.checkpoints },
        }),
    )
}

/// The node's routes.
pub fn routes(shared: Arc<NodeShared>) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let limit = shared.config.max_body_bytes;
    let with = warp::any().map(move || shared.clone());
    let blobs = warp::path("v1").and(warp::path("blobs"));
    let metadata_put = blobs
        .and(warp::path!(String / "metadata"))
        .and(warp::put())
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(with.clone())
        .then(|id, body, shared| async move { finish(put_metadata(shared, id, body).await) });
    let metadata_get = blobs
        .and(warp::path!(String / "metadata"))
        .and(warp::get())
        .and(with.clone())
        .then(|id, shared| async move { finish(get_metadata(shared, id, false).await) });
    let metadata_status = blobs
        .and(warp::path!(String / "metadata" / "status"))
        .and(warp::get())
        .and(with.clone())
        .then(|id, shared| async move { finish(get_metadata(shared, id, true).await) });
    let sliver_put = blobs
        .and(warp::path!(String / "slivers" / u16 / String))
        .and(warp::put())
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(with.clone())
        .then(|id, pair, kind, body, shared| async move {
            finish(put_sliver(shared, id, pair, kind, body).await)
        });
    let batch_put = blobs
        .and(warp::path!(String / "slivers"))
        .and(warp::put())
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(with.clone())
        .then(|id, body, shared| async move { finish(put_sliver_batch(shared, id, body).await) });
    let sliver_get = blobs
        .and(warp::path!(String / "slivers" / u16 / String))
        .and(warp::get())
        .and(with.clone())
        .then(|id, pair, kind, shared| async move {
            finish(get_sliver(shared, id, pair, kind, false).await)
        });
    let sliver_status = blobs
        .and(warp::path!(String / "slivers" / u16 / String / "status"))
        .and(warp::get())
        .and(with.clone())
        .then(|id, pair, kind, shared| async move {
            finish(get_sliver(shared, id, pair, kind, true).await)
        });
    let permanent = blobs
        .and(warp::path!(String / "confirmation" / "permanent"))
        .and(warp::get())
        .and(with.clone())
        .then(|id, shared| async move { finish(confirmation(shared, id, None).await) });
    let deletable =
        blobs
            .and(warp::path!(String / "confirmation" / "deletable" / String))
            .and(warp::get())
            .and(with.clone())
            .then(|id, object, shared| async move {
                finish(confirmation(shared, id, Some(object)).await)
            });
    let status = blobs
        .and(warp::path!(String / "status"))
        .and(warp::get())
        .and(with.clone())
        .then(|id, shared| async move { finish(blob_status(shared, id).await) });
    let recovery = blobs
        .and(warp::path!(String / "recoverySymbols"))
        .and(warp::get())
        .and(warp::query::<RecoveryQuery>())
        .and(with.clone())
        .then(|id, query, shared| async move { finish(recovery_symbols(shared, id, query).await) });
    let recovery_batch = blobs
        .and(warp::path!(String / "recoverySymbols" / "batch"))
        .and(warp::get())
        .and(warp::query::<BatchRecoveryQuery>())
        .and(with.clone())
        .then(|id, query, shared| async move {
            finish(recovery_symbols_batch(shared, id, query).await)
        });
    let inconsistency = blobs
        .and(warp::path!(String / "inconsistencyProof" / String))
        .and(warp::post())
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(with.clone())
        .then(|id, kind, body, shared| async move {
            finish(inconsistency_proof(shared, id, kind, body).await)
        });
    let health = warp::path!("v1" / "health")
        .and(warp::get())
        .and(with)
        .map(|shared: Arc<NodeShared>| health(&shared));
    metadata_put
        .or(metadata_get)
        .unify()
        .or(metadata_status)
        .unify()
        .or(sliver_put)
        .unify()
        .or(batch_put)
        .unify()
        .or(sliver_get)
        .unify()
        .or(sliver_status)
        .unify()
        .or(permanent)
        .unify()
        .or(deletable)
        .unify()
        .or(status)
        .unify()
        .or(recovery)
        .unify()
        .or(recovery_batch)
        .unify()
        .or(inconsistency)
        .unify()
        .or(health)
        .unify()
        .recover(|rejection: WarpRejection| async move {
            Ok::<_, Infallible>(rejection_reply(&rejection))
        })
        .unify()
        .boxed()
}

fn rejection_reply(rejection: &WarpRejection) -> warp::reply::Response {
    let error = if rejection.is_not_found() {
        ApiError::not_found("NO_ROUTE", "no such route")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            "request body too large",
        )
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        ApiError::bad("INVALID_QUERY", "invalid query parameters")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "method not allowed",
        )
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "LENGTH_REQUIRED",
            "content length required",
        )
    } else {
        ApiError::bad("BAD_REQUEST", format!("{rejection:?}"))
    };
    error_reply(&error)
}

/// Serves the API on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(
    shared: Arc<NodeShared>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let address = listener.local_addr()?;
    let server = warp::serve(routes(shared))
        .incoming(listener)
        .graceful(shutdown);
    Ok((address, tokio::spawn(server.run())))
}

/// How long requests wait at most for a registration (re-exported default).
pub const DEFAULT_REGISTRATION_WAIT: Duration = Duration::from_secs(10);
