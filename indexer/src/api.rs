//! The indexer's HTTP API (warp), JSON throughout. Errors are
//! `{"error": {"code": <HTTP status>, "status": <name>, "message": <reason>}}`.
//! The OpenAPI document at `/v1/api` describes every route.
//!
//! | method | path | |
//! |---|---|---|
//! | GET | / | the explorer page |
//! | GET | /v1/api | the OpenAPI document |
//! | GET | /v1/health | indexed checkpoints, epoch, genesis digest |
//! | GET | /v1/blobs?owner&status&minEndEpoch&maxEndEpoch&cursor&limit | Blob objects, paged |
//! | GET | /v1/blobs/{blob_id} | status over all Blob objects of the ID |
//! | GET | /v1/blobs/{blob_id}/history | every event of the ID, with certificates' signers |
//! | GET | /v1/pools | staking pools with per-epoch stake, shards, audit score, rewards |
//! | GET | /v1/pools/{node_id} | one pool |
//! | GET | /v1/addresses/{address}/staked | StakedWal objects and their value |
//! | GET | /v1/epochs?from&cursor&limit | epochs with committees and prices, paged |
//! | GET | /v1/epochs/{epoch} | one epoch |

use std::{collections::BTreeMap, convert::Infallible, net::SocketAddr, str::FromStr};

use serde::Serialize;
use walrus_codec::BlobId;
use walrus_contracts::{Address, ObjectId};
use warp::{Filter, Rejection, Reply, http::StatusCode};

use walrus_types::{
    error::{ErrorBody, ErrorReason},
    indexer::BlobState,
};

use crate::{
    error::QueryError,
    query::{BlobFilter, MAX_PAGE, Reader},
};

/// The explorer page (static HTML and JavaScript, no build step).
const EXPLORER: &str = include_str!("../static/index.html");
/// The OpenAPI 3 document of this API.
const OPENAPI: &str = include_str!("../static/openapi.json");

/// Default page size of lists.
const DEFAULT_PAGE: usize = 100;

fn error(status: StatusCode, reason: ErrorReason, message: impl ToString) -> warp::reply::Response {
    let body = ErrorBody::new(status.as_u16(), reason, message.to_string());
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn bad_request(message: impl ToString) -> warp::reply::Response {
    error(StatusCode::BAD_REQUEST, ErrorReason::InvalidQuery, message)
}

/// Runs `query` on the blocking pool and replies with its JSON, 404 for
/// `None`, 500 for an error.
async fn reply<T: Serialize + Send + 'static>(
    what: String,
    query: impl FnOnce() -> Result<Option<T>, QueryError> + Send + 'static,
) -> warp::reply::Response {
    let internal = |err: &dyn std::fmt::Display| {
        tracing::error!("query failed: {err}");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorReason::Internal,
            "internal error",
        )
    };
    match tokio::task::spawn_blocking(query).await {
        Ok(Ok(Some(value))) => warp::reply::json(&value).into_response(),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            not_found_reason(&what),
            format!("{what} not found"),
        ),
        Ok(Err(err)) => internal(&err),
        Err(err) => internal(&err),
    }
}

/// The reason of a 404 for `what` (`"blob ..."`, `"pool ..."`).
fn not_found_reason(what: &str) -> ErrorReason {
    if what.starts_with("blob") {
        ErrorReason::BlobNotFound
    } else {
        ErrorReason::ObjectNotFound
    }
}

fn parse<T: FromStr>(name: &str, text: &str, expected: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{name} {text:?} is not {expected}"))
}

fn blob_id(text: &str) -> Result<BlobId, String> {
    parse("blob ID", text, "a blob ID (43 URL-safe base64 characters)")
}

fn check_known(query: &BTreeMap<String, String>, known: &[&str]) -> Result<(), String> {
    match query.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(format!(
            "unknown query parameter {unknown:?}; known: {}",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

fn limit(query: &BTreeMap<String, String>) -> Result<usize, String> {
    match query.get("limit") {
        None => Ok(DEFAULT_PAGE),
        Some(text) => {
            let limit: usize = parse("limit", text, "a number")?;
            if limit == 0 || limit > MAX_PAGE {
                return Err(format!("limit must be 1 to {MAX_PAGE}"));
            }
            Ok(limit)
        }
    }
}

/// Parses the query of `GET /v1/blobs`.
///
/// # Errors
/// The reason, for a 400 reply.
pub fn blob_filter(query: &BTreeMap<String, String>) -> Result<BlobFilter, String> {
    check_known(
        query,
        &[
            "owner",
            "status",
            "minEndEpoch",
            "maxEndEpoch",
            "cursor",
            "limit",
        ],
    )?;
    let epoch = |name: &str| {
        query
            .get(name)
            .map(|t| parse::<u32>(name, t, "an epoch number"))
            .transpose()
    };
    let filter = BlobFilter {
        owner: query
            .get("owner")
            .map(|t| parse::<Address>("owner", t, "0x and 64 hex digits"))
            .transpose()?,
        status: query
            .get("status")
            .map(|t| BlobState::parse(t))
            .transpose()?,
        min_end_epoch: epoch("minEndEpoch")?,
        max_end_epoch: epoch("maxEndEpoch")?,
        cursor: query
            .get("cursor")
            .map(|t| parse::<ObjectId>("cursor", t, "an object ID (0x and 64 hex digits)"))
            .transpose()?,
        limit: limit(query)?,
    };
    if let (Some(min), Some(max)) = (filter.min_end_epoch, filter.max_end_epoch)
        && min > max
    {
        return Err(format!("minEndEpoch {min} is above maxEndEpoch {max}"));
    }
    Ok(filter)
}

async fn handle_rejection(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    Ok(if rejection.is_not_found() {
        error(StatusCode::NOT_FOUND, ErrorReason::NoRoute, "no such route")
    } else if let Some(err) = rejection.find::<warp::reject::InvalidQuery>() {
        bad_request(err)
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorReason::MethodNotAllowed,
            "method not allowed",
        )
    } else {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorReason::Internal,
            format!("{rejection:?}"),
        )
    })
}

type Query = BTreeMap<String, String>;

/// Every route over `reader`.
#[allow(clippy::too_many_lines)] // one route after the other
pub fn routes(reader: Reader) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let with = warp::any().map(move || reader.clone());
    let query = warp::query::<Query>();
    let page = warp::path::end()
        .and(warp::get())
        .map(|| warp::reply::html(EXPLORER).into_response());
    let api = warp::path!("v1" / "api").and(warp::get()).map(|| {
        warp::reply::with_header(OPENAPI, "content-type", "application/json").into_response()
    });
    let health = warp::path!("v1" / "health")
        .and(warp::get())
        .and(with.clone())
        .then(|reader: Reader| reply("index".into(), move || reader.health().map(Some)));
    let blobs = warp::path!("v1" / "blobs")
        .and(warp::get())
        .and(query)
        .and(with.clone())
        .then(|query: Query, reader: Reader| async move {
            match blob_filter(&query) {
                Ok(filter) => {
                    reply(String::new(), move || reader.list_blobs(&filter).map(Some)).await
                }
                Err(reason) => bad_request(reason),
            }
        });
    let blob = warp::path!("v1" / "blobs" / String)
        .and(warp::get())
        .and(with.clone())
        .then(|text: String, reader: Reader| async move {
            match blob_id(&text) {
                Ok(id) => reply(format!("blob {id}"), move || reader.blob_status(&id)).await,
                Err(reason) => bad_request(reason),
            }
        });
    let history = warp::path!("v1" / "blobs" / String / "history")
        .and(warp::get())
        .and(with.clone())
        .then(|text: String, reader: Reader| async move {
            match blob_id(&text) {
                Ok(id) => {
                    reply(format!("blob {id}"), move || {
                        let history = reader.history(&id)?;
                        Ok((!history.events.is_empty()).then_some(history))
                    })
                    .await
                }
                Err(reason) => bad_request(reason),
            }
        });
    let pools = warp::path!("v1" / "pools")
        .and(warp::get())
        .and(with.clone())
        .then(|reader: Reader| reply(String::new(), move || reader.pools().map(Some)));
    let pool = warp::path!("v1" / "pools" / String)
        .and(warp::get())
        .and(with.clone())
        .then(|text: String, reader: Reader| async move {
            match parse::<ObjectId>("node ID", &text, "0x and 64 hex digits") {
                Ok(id) => reply(format!("pool {id}"), move || reader.pool(&id)).await,
                Err(reason) => bad_request(reason),
            }
        });
    let staked = warp::path!("v1" / "addresses" / String / "staked")
        .and(warp::get())
        .and(with.clone())
        .then(|text: String, reader: Reader| async move {
            match parse::<Address>("address", &text, "0x and 64 hex digits") {
                Ok(address) => {
                    reply(String::new(), move || reader.staked(&address).map(Some)).await
                }
                Err(reason) => bad_request(reason),
            }
        });
    let epochs = warp::path!("v1" / "epochs")
        .and(warp::get())
        .and(query)
        .and(with.clone())
        .then(|query: Query, reader: Reader| async move {
            let parsed = check_known(&query, &["from", "cursor", "limit"]).and_then(|()| {
                // `cursor` (the previous page's `nextCursor`) and `from` are
                // the same: the first epoch to list.
                let from = match (query.get("cursor"), query.get("from")) {
                    (Some(text), _) => parse::<u32>("cursor", text, "an epoch number")?,
                    (None, Some(text)) => parse::<u32>("from", text, "an epoch number")?,
                    (None, None) => 0,
                };
                Ok((from, limit(&query)?))
            });
            match parsed {
                Ok((from, limit)) => {
                    reply(String::new(), move || reader.epochs(from, limit).map(Some)).await
                }
                Err(reason) => bad_request(reason),
            }
        });
    let epoch = warp::path!("v1" / "epochs" / String)
        .and(warp::get())
        .and(with)
        .then(|text: String, reader: Reader| async move {
            match parse::<u32>("epoch", &text, "an epoch number") {
                Ok(epoch) => {
                    reply(format!("epoch {epoch}"), move || {
                        let page = reader.epochs(epoch, 1)?;
                        Ok(page.items.into_iter().find(|e| e.epoch == epoch))
                    })
                    .await
                }
                Err(reason) => bad_request(reason),
            }
        });
    page.or(api)
        .unify()
        .or(health)
        .unify()
        .or(blobs)
        .unify()
        .or(history)
        .unify()
        .or(blob)
        .unify()
        .or(pools)
        .unify()
        .or(pool)
        .unify()
        .or(staked)
        .unify()
        .or(epochs)
        .unify()
        .or(epoch)
        .unify()
        .recover(handle_rejection)
        .unify()
        .boxed()
}

/// Serves the API on `listener` until `shutdown` completes; returns the
/// bound address and the server task.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(
    reader: Reader,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let limits = walrus_http::Limits::API;
    let (handle, task) = walrus_http::serve(routes(reader), listener, limits, shutdown)?;
    Ok((handle.address(), task))
}
