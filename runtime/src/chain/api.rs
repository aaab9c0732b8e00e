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

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::json;
use walrus_contracts::{Address, ObjectId};
use warp::{Filter, Rejection as WarpRejection, Reply, http::StatusCode, hyper::body::Bytes};

use super::{
    sequencer::{Sequencer, TxResponse},
    transaction::{Rejection, TxDigest},
};

/// What a client needs to store and read blobs in the current epoch
/// (`GET /v1/committee`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitteeInfo {
    /// The current epoch; confirmations must be signed for it.
    pub epoch: u32,
    /// Number of shards `n`.
    pub n_shards: u16,
    /// Storage price in FROST per unit (1 MiB of encoded length) per epoch.
    pub storage_price: u64,
    /// Write price in FROST per unit.
    pub write_price: u64,
    /// Storage may end at most this many epochs after the current one.
    pub max_epochs_ahead: u32,
    /// Epoch duration in milliseconds.
    pub epoch_duration_ms: u64,
    /// The committee in node-ID order (certificate signer indices refer to it).
    pub members: Vec<MemberInfo>,
}

/// One committee member as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberInfo {
    /// The node (its staking pool's ID).
    pub node_id: ObjectId,
    /// The node's name.
    pub name: String,
    /// Where its API listens (`host:port`).
    pub network_address: String,
    /// BLS12-381 min_pk public key, 48 bytes.
    pub public_key: Vec<u8>,
    /// Its shards, ascending.
    pub shards: Vec<u16>,
}

impl CommitteeInfo {
    /// The committee info of `chain`'s current state.
    pub fn of(chain: &super::execution::ChainState) -> Self {
        let state = &chain.state;
        let members = state
            .committee
            .members
            .iter()
            .map(|member| {
                let pool = state.pools.get(&member.node_id);
                MemberInfo {
                    node_id: member.node_id,
                    name: pool.map(|p| p.name.clone()).unwrap_or_default(),
                    network_address: pool.map(|p| p.network_address.clone()).unwrap_or_default(),
                    public_key: member.public_key.clone(),
                    shards: member.shards.clone(),
                }
            })
            .collect();
        Self {
            epoch: state.epoch,
            n_shards: state.params.n_shards,
            storage_price: state.storage_price,
            write_price: state.write_price,
            max_epochs_ahead: state.params.max_epochs_ahead,
            epoch_duration_ms: state.params.epoch_duration_ms,
            members,
        }
    }
}

/// Most checkpoints per `/v1/checkpoints` reply.
pub const MAX_CHECKPOINTS_PER_REPLY: usize = 256;
/// Longest long poll.
pub const MAX_WAIT_MS: u64 = 30_000;

fn error(status: StatusCode, message: impl ToString) -> warp::reply::Response {
    let body = json!({ "error": { "code": status.as_u16(), "status": status.canonical_reason().unwrap_or(""), "message": message.to_string() } });
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn internal(err: anyhow::Error) -> warp::reply::Response {
    tracing::error!("internal error: {err:#}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
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
                Err(Rejection::Unavailable(reason)) => {
                    error(StatusCode::SERVICE_UNAVAILABLE, reason)
                }
                Err(rejection) => error(StatusCode::BAD_REQUEST, rejection),
            }
        });
    let transaction = warp::path!("v1" / "transactions" / String)
        .and(warp::get())
        .and(with.clone())
        .then(|digest: String, sequencer: Sequencer| async move {
            let Ok(digest) = digest.parse::<TxDigest>() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "digest must be 0x and 64 hex digits",
                );
            };
            match find_transaction(&sequencer, digest).await {
                Ok(Some(response)) => warp::reply::json(&response).into_response(),
                Ok(None) => error(
                    StatusCode::NOT_FOUND,
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
                    "object ID must be 0x and 64 hex digits",
                );
            };
            match sequencer.with_chain(|chain| object_json(chain, &id)) {
                Some(value) => warp::reply::json(&value).into_response(),
                None => error(StatusCode::NOT_FOUND, format!("object {id} not found")),
            }
        });
    let account = warp::path!("v1" / "accounts" / String)
        .and(warp::get())
        .and(with.clone())
        .map(|address: String, sequencer: Sequencer| {
            let Ok(address) = address.parse::<Address>() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "address must be 0x and 64 hex digits",
                );
            };
            warp::reply::json(&sequencer.with_chain(|chain| account_json(chain, &address)))
                .into_response()
        });
    let system = warp::path!("v1" / "system")
        .and(warp::get())
        .and(with.clone())
        .map(|sequencer: Sequencer| {
            let count = sequencer.checkpoint_count();
            let value = sequencer.with_chain(|chain| {
                let state = &chain.state;
                json!({
                    "epoch": state.epoch,
                    "epochState": state.epoch_state,
                    "epochStartMs": chain.epoch_start_ms,
                    "committee": state.committee,
                    "storagePrice": state.storage_price,
                    "writePrice": state.write_price,
                    "capacity": state.capacity,
                    "params": state.params,
                    "checkpoints": count,
                })
            });
            warp::reply::json(&value).into_response()
        });
    let committee = warp::path!("v1" / "committee")
        .and(warp::get())
        .and(with.clone())
        .map(|sequencer: Sequencer| {
            warp::reply::json(&sequencer.with_chain(CommitteeInfo::of)).into_response()
        });
    let health = warp::path!("v1" / "health").and(warp::get()).and(with).map(|sequencer: Sequencer| {
        let epoch = sequencer.with_chain(|chain| chain.state.epoch);
        warp::reply::json(&json!({ "status": "ok", "checkpoints": sequencer.checkpoint_count(), "epoch": epoch })).into_response()
    });
    submit
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
        .unify()
        .recover(|rejection: WarpRejection| async move {
            Ok::<_, Infallible>(rejection_reply(&rejection))
        })
        .unify()
        .boxed()
}

fn rejection_reply(rejection: &WarpRejection) -> warp::reply::Response {
    if rejection.is_not_found() {
        error(StatusCode::NOT_FOUND, "no such route")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        error(StatusCode::PAYLOAD_TOO_LARGE, "body too large")
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        error(StatusCode::BAD_REQUEST, "invalid query parameters")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        error(StatusCode::LENGTH_REQUIRED, "content length required")
    } else {
        error(StatusCode::BAD_REQUEST, format!("{rejection:?}"))
    }
}

fn bcs_reply<T: Serialize>(value: &T) -> warp::reply::Response {
    match bcs::to_bytes(value) {
        Ok(bytes) => warp::reply::with_header(bytes, "content-type", "application/octet-stream")
            .into_response(),
        Err(err) => internal(err.into()),
    }
}

async fn find_transaction(
    sequencer: &Sequencer,
    digest: TxDigest,
) -> anyhow::Result<Option<TxResponse>> {
    let shared = sequencer.shared.clone();
    tokio::task::spawn_blocking(move || {
        let store = shared
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((sequence, position)) = store.locate(&digest)? else {
            return Ok(None);
        };
        let checkpoint = store
            .range(sequence, 1)?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("indexed checkpoint {sequence} missing"))?;
        let executed = checkpoint
            .transactions
            .get(position)
            .ok_or_else(|| anyhow::anyhow!("indexed position missing"))?;
        Ok(Some(TxResponse {
            digest,
            checkpoint: sequence,
            outcome: executed.outcome.clone(),
        }))
    })
    .await?
}

fn object_json(chain: &super::execution::ChainState, id: &ObjectId) -> Option<serde_json::Value> {
    let state = &chain.state;
    if let Some((owner, storage)) = state.storages.get(id) {
        return Some(json!({ "id": id, "type": "storage", "owner": owner, "storage": storage }));
    }
    if let Some(blob) = state.blobs.get(id) {
        return Some(json!({ "id": id, "type": "blob", "owner": blob.owner, "blob": blob }));
    }
    if let Some(shared) = state.shared_blobs.get(id) {
        return Some(json!({ "id": id, "type": "sharedBlob", "sharedBlob": shared }));
    }
    if let Some(staked) = state.staked.get(id) {
        return Some(
            json!({ "id": id, "type": "stakedWal", "owner": staked.owner, "stakedWal": staked }),
        );
    }
    state.pools.get(id).map(|pool| json!({ "id": id, "type": "stakingPool", "owner": pool.operator, "stakingPool": pool }))
}

fn account_json(chain: &super::execution::ChainState, address: &Address) -> serde_json::Value {
    let state = &chain.state;
    let storages: Vec<_> = state
        .storages
        .iter()
        .filter(|(_, (o, _))| o == address)
        .map(|(id, _)| *id)
        .collect();
    let blobs: Vec<_> = state
        .blobs
        .iter()
        .filter(|(_, b)| &b.owner == address)
        .map(|(id, _)| *id)
        .collect();
    let staked: Vec<_> = state
        .staked
        .iter()
        .filter(|(_, s)| &s.owner == address)
        .map(|(id, _)| *id)
        .collect();
    json!({
        "address": address,
        "balance": state.balance(address),
        "nextNonce": chain.next_nonce(address),
        "storages": storages,
        "blobs": blobs,
        "stakedWal": staked,
    })
}

/// Serves the API on `listener` until `shutdown` completes; returns the bound address.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(
    sequencer: Sequencer,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let address = listener.local_addr()?;
    let server = warp::serve(routes(sequencer))
        .incoming(listener)
        .graceful(shutdown);
    Ok((address, tokio::spawn(server.run())))
}
