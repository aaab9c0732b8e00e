//! The chain's HTTP API (warp). Transactions and checkpoints travel as BCS
//! (`application/octet-stream`); everything else is JSON. Errors are
//! `{"error": {"code": <HTTP status>, "status": <name>, "message": <text>}}`.
//!
//! | method | path | |
//! |---|---|---|
//! | POST | /v1/transactions | submit a BCS `SignedTransaction`; waits for its checkpoint |
//! | GET | /v1/transactions/{digest} | outcome and checkpoint of an ordered transaction |
//! | GET | /v1/checkpoints?from=N&limit=M&wait_ms=T | BCS `Vec<Checkpoint>`, long poll |
//! | GET | /v1/objects/{id} | a storage resource, blob, shared blob, staked WAL or pool |
//! | GET | /v1/accounts/{address} | balance, next nonce, owned objects |
//! | GET | /v1/system | epoch, committee, prices, parameters |
//! | GET | /v1/committee | [`CommitteeInfo`]: what a client needs to store and read |
//! | GET | /v1/health | liveness and progress |
//! | POST | /v1/mempool | a validator admits transactions forwarded by another: BCS list of transactions' bytes; 202 `{"admitted": N}` |
//! | GET | /v1/blocks?from=H&limit=M | BCS `Vec<CertifiedHeader>`: decided block headers with aggregated commit certificates |
//! | GET | /v1/state/system, /v1/state/{kind}/{id} | one object and its proof against the last checkpoint's state root |
//! | GET | /v1/state/proofs?keys=K1,K2 | objects and proofs against the root the newest block certificate covers |
//! | GET | /v1/epochs | `[{"epoch", "checkpoint"}]`: where each epoch started |
//! | GET | /v1/blobs/{blob_id}/checkpoints?from=N | checkpoints with an event naming the blob ID |

use std::{net::SocketAddr, time::Duration};

use serde::{Deserialize, Serialize};
use walrus_contracts::{Address, ObjectId, ledger::transaction::TxDigest};
use walrus_types::{
    chain::{
        AccountInfo, ChainHealth, ChainObject, CommitteeInfo, SystemInfo, TxResponse,
        rejection_error,
    },
    error::{ErrorBody, ErrorReason},
};
use warp::{Filter, Reply, http::StatusCode, hyper::body::Bytes};

use super::sequencer::{Sequencer, SequencerError};

mod light;
pub use light::MAX_BLOB_CHECKPOINTS;

/// Most checkpoints per `/v1/checkpoints` reply.
pub const MAX_CHECKPOINTS_PER_REPLY: usize = 256;
/// Longest long poll.
pub const MAX_WAIT_MS: u64 = 30_000;

fn error_body(body: &ErrorBody) -> warp::reply::Response {
    let status = StatusCode::from_u16(body.error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

use crate::http::{error_reply as error, with_rejection_replies};

fn internal(err: impl std::fmt::Display) -> warp::reply::Response {
    tracing::error!("internal error: {err:#}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorReason::Internal,
        "internal error",
    )
}

#[derive(Debug, Deserialize)]
struct CheckpointQuery {
    from: u64,
    limit: Option<usize>,
    wait_ms: Option<u64>,
}

/// The routes, for embedding or testing.
pub fn routes(sequencer: Sequencer) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let limit = u64::try_from(sequencer.shared.config.max_transaction_bytes).unwrap_or(u64::MAX);
    let with = {
        let sequencer = sequencer.clone();
        warp::any().map(move || sequencer.clone())
    };
    let submit = warp::path!("v1" / "transactions")
        .and(warp::post())
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(with.clone())
        .then(|body: Bytes, sequencer: Sequencer| async move {
            match sequencer.submit(&body).await {
                Ok(response) => warp::reply::json(&response).into_response(),
                Err(rejection) => error_body(&rejection_error(&rejection).1),
            }
        });
    let transaction = warp::path!("v1" / "transactions" / String)
        .and(warp::get())
        .and(with.clone())
        .then(|digest: String, sequencer: Sequencer| async move {
            let Ok(digest) = digest.parse::<TxDigest>() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    ErrorReason::InvalidDigest,
                    "digest must be 0x and 64 hex digits",
                );
            };
            match find_transaction(&sequencer, digest).await {
                Ok(Some(response)) => warp::reply::json(&response).into_response(),
                Ok(None) => error(
                    StatusCode::NOT_FOUND,
                    ErrorReason::TransactionNotFound,
                    format!("transaction {digest} not found"),
                ),
                Err(err) => internal(err),
            }
        });
    let checkpoints = warp::path!("v1" / "checkpoints")
        .and(warp::get())
        .and(warp::query::<CheckpointQuery>())
        .and(with.clone())
        .then(|query: CheckpointQuery, sequencer: Sequencer| async move {
            let limit = query
                .limit
                .unwrap_or(MAX_CHECKPOINTS_PER_REPLY)
                .clamp(1, MAX_CHECKPOINTS_PER_REPLY);
            let wait = Duration::from_millis(query.wait_ms.unwrap_or(0).min(MAX_WAIT_MS));
            match sequencer.checkpoints(query.from, limit, wait).await {
                Ok(list) => bcs_reply(&list),
                Err(err) => internal(err),
            }
        });
    let object = warp::path!("v1" / "objects" / String)
        .and(warp::get())
        .and(with.clone())
        .map(|id: String, sequencer: Sequencer| {
            let Ok(id) = id.parse::<ObjectId>() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    ErrorReason::InvalidObjectId,
                    "object ID must be 0x and 64 hex digits",
                );
            };
            match sequencer.with_chain(|chain| ChainObject::of(chain, &id)) {
                Some(value) => warp::reply::json(&value).into_response(),
                None => error(
                    StatusCode::NOT_FOUND,
                    ErrorReason::ObjectNotFound,
                    format!("object {id} not found"),
                ),
            }
        });
    let account = warp::path!("v1" / "accounts" / String)
        .and(warp::get())
        .and(with.clone())
        .map(|address: String, sequencer: Sequencer| {
            let Ok(address) = address.parse::<Address>() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    ErrorReason::InvalidAddress,
                    "address must be 0x and 64 hex digits",
                );
            };
            warp::reply::json(&sequencer.with_chain(|chain| AccountInfo::of(chain, &address)))
                .into_response()
        });
    let system = warp::path!("v1" / "system")
        .and(warp::get())
        .and(with.clone())
        .map(|sequencer: Sequencer| {
            let count = sequencer.checkpoint_count();
            let value = sequencer.with_chain(|chain| SystemInfo::of(chain, count));
            warp::reply::json(&value).into_response()
        });
    let committee = warp::path!("v1" / "committee")
        .and(warp::get())
        .and(with.clone())
        .map(|sequencer: Sequencer| {
            warp::reply::json(&sequencer.with_chain(CommitteeInfo::of)).into_response()
        });
    let health =
        warp::path!("v1" / "health")
            .and(warp::get())
            .and(with)
            .map(|sequencer: Sequencer| {
                let epoch = sequencer.with_chain(|chain| chain.state.epoch);
                let health = ChainHealth {
                    status: "ok".to_owned(),
                    checkpoints: sequencer.checkpoint_count(),
                    epoch,
                };
                warp::reply::json(&health).into_response()
            });
    let table = submit
        .or(light::routes(sequencer.clone()))
        .unify()
        .or(consensus_routes(sequencer.clone()))
        .unify()
        .or(transaction)
        .unify()
        .or(checkpoints)
        .unify()
        .or(object)
        .unify()
        .or(account)
        .unify()
        .or(system)
        .unify()
        .or(committee)
        .unify()
        .or(health)
        .unify();
    with_rejection_replies(table)
}

#[derive(Debug, Deserialize)]
struct BlocksQuery {
    from: u64,
    limit: Option<usize>,
}

/// The reply to `POST /v1/mempool`.
#[derive(Debug, Serialize)]
struct Relayed {
    /// Transactions admitted of the batch.
    admitted: usize,
}

/// `POST /v1/mempool` and `GET /v1/blocks`: the validators' routes.
fn consensus_routes(sequencer: Sequencer) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let limit =
        u64::try_from(crate::consensus::validator::FORWARD_BYTES + (64 << 10)).unwrap_or(u64::MAX);
    let with = warp::any().map(move || sequencer.clone());
    let mempool = warp::path!("v1" / "mempool")
        .and(warp::post())
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(with.clone())
        .map(
            |body: Bytes, sequencer: Sequencer| match sequencer.relay(&body) {
                Ok(admitted) => warp::reply::with_status(
                    warp::reply::json(&Relayed { admitted }),
                    StatusCode::ACCEPTED,
                )
                .into_response(),
                Err(rejection) => error_body(&rejection_error(&rejection).1),
            },
        );
    let blocks = warp::path!("v1" / "blocks")
        .and(warp::get())
        .and(warp::query::<BlocksQuery>())
        .and(with)
        .then(|query: BlocksQuery, sequencer: Sequencer| async move {
            let limit = query
                .limit
                .unwrap_or(MAX_CHECKPOINTS_PER_REPLY)
                .clamp(1, MAX_CHECKPOINTS_PER_REPLY);
            match sequencer.certified_headers(query.from, limit).await {
                Ok(list) => bcs_reply(&list),
                Err(err) => internal(err),
            }
        });
    mempool.or(blocks).unify().boxed()
}

fn bcs_reply<T: Serialize>(value: &T) -> warp::reply::Response {
    match bcs::to_bytes(value) {
        Ok(bytes) => warp::reply::with_header(bytes, "content-type", "application/octet-stream")
            .into_response(),
        Err(err) => internal(err),
    }
}

async fn find_transaction(
    sequencer: &Sequencer,
    digest: TxDigest,
) -> Result<Option<TxResponse>, SequencerError> {
    let shared = sequencer.shared.clone();
    let found = tokio::task::spawn_blocking(move || {
        shared
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .find(&digest)
    })
    .await??;
    Ok(found.map(|(checkpoint, executed)| TxResponse {
        digest,
        checkpoint,
        outcome: executed.outcome,
    }))
}

/// Serves the API on `listener` until `shutdown` completes; returns the bound address.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(
    sequencer: Sequencer,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let limits = walrus_http::Limits::API;
    let (handle, task) = walrus_http::serve(routes(sequencer), listener, limits, shutdown)?;
    Ok((handle.address(), task))
}
