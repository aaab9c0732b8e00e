//! The node's warp routes: paths, methods and body limits, each mapped to
//! its handler; unmatched requests become typed errors.

use std::sync::Arc;

use warp::Filter;

use crate::http::with_rejection_replies;

use super::{
    NodeShared, blob_status, confirmation, finish, get_metadata, get_sliver, health,
    recovery::{
        BatchRecoveryQuery, RecoveryQuery, inconsistency_proof, recovery_symbols,
        recovery_symbols_batch,
    },
    refuse,
    upload::{admit_upload, put_metadata, put_sliver, put_sliver_batch},
};

/// The node's routes.
pub fn routes(shared: Arc<NodeShared>) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let limit = shared.config.max_body_bytes;
    // BCS metadata: two hashes per pair (a tag and 32 bytes each), the
    // length and the type; bounded generously.
    let metadata_limit = u64::from(shared.encoding.n_shards()) * 80 + 64;
    let with = warp::any().map(move || shared.clone());
    let blobs = warp::path("v1").and(warp::path("blobs"));
    let length = warp::header::optional::<u64>("content-length");
    let metadata_put = blobs
        .and(warp::path!(String / "metadata"))
        .and(warp::put())
        .and(warp::body::content_length_limit(metadata_limit))
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
    // Uploads are admitted from the path and headers before the body is
    // read (issue 21, failure 2).
    let sliver_put = blobs
        .and(warp::path!(String / "slivers" / u16 / String))
        .and(warp::put())
        .and(length)
        .and(with.clone())
        .and_then(|id, pair: u16, kind: String, length, shared| async move {
            match admit_upload(shared, id, length, false).await {
                Ok(admitted) => Ok((admitted, pair, kind)),
                Err(error) => Err(refuse(error)),
            }
        })
        .untuple_one()
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .then(|admitted, pair, kind, body| async move {
            finish(put_sliver(admitted, pair, kind, body).await)
        });
    let batch_put = blobs
        .and(warp::path!(String / "slivers"))
        .and(warp::put())
        .and(length)
        .and(with.clone())
        .and_then(|id, length, shared| async move {
            admit_upload(shared, id, length, true).await.map_err(refuse)
        })
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .then(|admitted, body| async move { finish(put_sliver_batch(admitted, body).await) });
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
    let table = metadata_put
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
        .unify();
    with_rejection_replies(table)
}
