//! The publisher/aggregator HTTP daemon (SPEC.md section 7), on warp.
//!
//! | method | path | role | |
//! |---|---|---|---|
//! | PUT | /v1/blobs?epochs=N&deletable=B&permanent=B&force=B | publisher | stores the raw body; JSON [`StoreResult`] |
//! | GET | /v1/blobs/{blob_id} | aggregator | the blob's bytes; HTTP `Range` (one range) gives 206 |
//! | GET | /v1/blobs/by-object-id/{object_id} | aggregator | the same, by Blob object ID |
//! | GET | /v1/health | both | `{"status":"ok", ...}` |
//!
//! Errors are JSON `{"error":{"code":C,"status":S,"message":M,"details":[{"reason":R}]}}`.

use std::{convert::Infallible, net::SocketAddr, ops::RangeInclusive, sync::Arc};

use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use walrus_codec::BlobId;
use walrus_contracts::ObjectId;
use warp::{
    Filter, Rejection, Reply,
    http::{HeaderValue, StatusCode, header},
    hyper::body::Bytes,
};

use walrus_types::{
    error::{ErrorBody, ErrorReason},
    publisher::DaemonHealth,
};

use crate::{Client, ClientError, ConsistencyCheck, StoreOptions};

/// Which endpoints the daemon serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Store only.
    Publisher,
    /// Read only.
    Aggregator,
    /// Both.
    Daemon,
}

/// Daemon settings.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Which endpoints to serve.
    pub role: Role,
    /// Largest blob a publisher accepts, in bytes.
    pub max_body_bytes: u64,
    /// Epochs when a request gives none.
    pub default_epochs: u32,
    /// Memory the stores in progress may take, in bytes: a store takes
    /// about [`STORE_MEMORY_FACTOR`] times its body (the body, its
    /// encoding, the upload buffers), reserved before the body is read;
    /// stores beyond the budget wait (issue 21, failure 10).
    pub store_memory_budget: u64,
    /// How long a store waits for room in the budget before a 503 asks to
    /// retry.
    pub store_wait: std::time::Duration,
}

/// Memory a store takes per body byte, measured: a 400 MB PUT peaked at
/// 2.09 GB (5.2 times).
pub const STORE_MEMORY_FACTOR: u64 = 6;

/// The default [`DaemonConfig::store_memory_budget`]: 4 GiB.
pub const DEFAULT_STORE_MEMORY_BUDGET: u64 = 4 << 30;

#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    reason: ErrorReason,
    message: String,
}

impl warp::reject::Reject for ApiError {}

impl ApiError {
    fn bad(reason: ErrorReason, message: impl ToString) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            reason,
            message: message.to_string(),
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> Self {
        let (status, reason) = match &error {
            ClientError::InvalidArgument(_) => {
                (StatusCode::BAD_REQUEST, ErrorReason::InvalidArgument)
            }
            ClientError::BlobNotFound(_) => (StatusCode::NOT_FOUND, ErrorReason::BlobNotFound),
            ClientError::BlobInvalid(_) | ClientError::Inconsistent(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorReason::BlobInvalid)
            }
            ClientError::Transaction { .. } => {
                (StatusCode::BAD_REQUEST, ErrorReason::TransactionFailed)
            }
            ClientError::NotEnoughConfirmations { .. } | ClientError::NotEnoughSlivers { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorReason::NotEnoughNodes)
            }
            ClientError::Config(_)
            | ClientError::Chain(_)
            | ClientError::Unexpected(_)
            | ClientError::Unverified(_)
            | ClientError::Codec(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorReason::Internal),
        };
        Self {
            status,
            reason,
            message: error.to_string(),
        }
    }
}

fn error_reply(error: &ApiError) -> warp::reply::Response {
    let body = ErrorBody::new(error.status.as_u16(), error.reason, error.message.clone());
    warp::reply::with_status(warp::reply::json(&body), error.status).into_response()
}

fn rejection_reply(rejection: &Rejection) -> warp::reply::Response {
    if let Some(error) = rejection.find::<ApiError>() {
        return error_reply(error);
    }
    let error = if rejection.is_not_found() {
        ApiError {
            status: StatusCode::NOT_FOUND,
            reason: ErrorReason::NoRoute,
            message: "no such route".into(),
        }
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            reason: ErrorReason::BodyTooLarge,
            message: "blob larger than this publisher accepts".into(),
        }
    } else if let Some(query) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::bad(ErrorReason::InvalidQuery, query)
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            reason: ErrorReason::MethodNotAllowed,
            message: "method not allowed".into(),
        }
    } else {
        ApiError::bad(ErrorReason::BadRequest, format!("{rejection:?}"))
    };
    error_reply(&error)
}

/// Query of a publisher's PUT.
#[derive(Debug, Deserialize)]
struct StoreQuery {
    epochs: Option<u32>,
    deletable: Option<bool>,
    permanent: Option<bool>,
    force: Option<bool>,
}

async fn put_blob(
    client: Client,
    config: Arc<DaemonConfig>,
    query: StoreQuery,
    body: Bytes,
) -> Result<warp::reply::Response, ApiError> {
    let deletable = match (query.deletable, query.permanent) {
        (Some(true), Some(true)) => {
            return Err(ApiError::bad(
                ErrorReason::InvalidArgument,
                "a blob cannot be both deletable and permanent",
            ));
        }
        (_, Some(true)) => false,
        (Some(deletable), _) => deletable,
        (None, _) => true,
    };
    let options = StoreOptions {
        epochs: query.epochs.unwrap_or(config.default_epochs),
        deletable,
        force: query.force.unwrap_or(false),
    };
    let outcome = client.store(body.to_vec(), &options).await?;
    tracing::info!(blob_id = %outcome.blob_id, size = outcome.unencoded_size, "stored");
    Ok(warp::reply::json(&outcome.result).into_response())
}

/// The one byte range a `Range` header asks of a blob of `size` bytes:
/// `None` for the whole blob (no header, or several ranges, which RFC 9110
/// lets a server ignore).
fn select_range(size: u64, range: Option<&str>) -> Result<Option<RangeInclusive<u64>>, ApiError> {
    let Some(text) = range else {
        return Ok(None);
    };
    let unsatisfiable = || ApiError {
        status: StatusCode::RANGE_NOT_SATISFIABLE,
        reason: ErrorReason::RangeNotSatisfiable,
        message: format!("range {text:?} does not fit a blob of {size} bytes"),
    };
    let ranges = http_range_header::parse_range_header(text)
        .map_err(|_| unsatisfiable())?
        .validate(size)
        .map_err(|_| unsatisfiable())?;
    Ok(match <[_; 1]>::try_from(ranges) {
        Ok([range]) => Some(range),
        Err(_) => None,
    })
}

/// The blob's bytes, or the one requested range of them (206).
fn blob_reply(blob: Vec<u8>, range: Option<String>) -> Result<warp::reply::Response, ApiError> {
    let size = u64::try_from(blob.len()).expect("a length fits in u64");
    let octets = HeaderValue::from_static("application/octet-stream");
    let Some(range) = select_range(size, range.as_deref())? else {
        let mut response = warp::reply::Response::new(blob.into());
        response.headers_mut().insert(header::CONTENT_TYPE, octets);
        response
            .headers_mut()
            .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        return Ok(response);
    };
    let part = slice(&blob, &range);
    let content_range = format!("bytes {}-{}/{size}", range.start(), range.end());
    let mut response = warp::reply::Response::new(part.to_vec().into());
    *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, octets);
    headers.insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&content_range).expect("ASCII digits"),
    );
    Ok(response)
}

fn slice<'a>(blob: &'a [u8], range: &RangeInclusive<u64>) -> &'a [u8] {
    let start = usize::try_from(*range.start()).expect("validated against the length");
    let end = usize::try_from(*range.end()).expect("validated against the length");
    &blob[start..=end]
}

async fn get_blob(
    client: Client,
    blob_id: String,
    range: Option<String>,
) -> Result<warp::reply::Response, ApiError> {
    let blob_id: BlobId = blob_id
        .parse()
        .map_err(|e| ApiError::bad(ErrorReason::InvalidBlobId, format!("invalid blob ID: {e}")))?;
    let blob = client.read(&blob_id, ConsistencyCheck::Default).await?;
    blob_reply(blob, range)
}

async fn get_by_object(
    client: Client,
    object_id: String,
    range: Option<String>,
) -> Result<warp::reply::Response, ApiError> {
    let id: ObjectId = object_id.parse().map_err(|e| {
        ApiError::bad(
            ErrorReason::InvalidObjectId,
            format!("invalid object ID: {e}"),
        )
    })?;
    let blob = client
        .chain()
        .blob(&id)
        .await
        .map_err(ClientError::Chain)?
        .ok_or(ApiError {
            status: StatusCode::NOT_FOUND,
            reason: ErrorReason::ObjectNotFound,
            message: format!("no Blob object {id}"),
        })?;
    let bytes = client
        .read(&blob.blob_id, ConsistencyCheck::Default)
        .await?;
    blob_reply(bytes, range)
}

/// Reserves room in the memory budget for a store of a body of `length`
/// bytes (the largest accepted body if undeclared), before the body is
/// read; a store larger than the whole budget waits for all of it.
async fn admit_store(
    budget: Arc<Semaphore>,
    config: &DaemonConfig,
    length: Option<u64>,
) -> Result<OwnedSemaphorePermit, ApiError> {
    let length = length
        .unwrap_or(config.max_body_bytes)
        .min(config.max_body_bytes);
    let mib = length.saturating_mul(STORE_MEMORY_FACTOR).div_ceil(1 << 20);
    let total = u32::try_from((config.store_memory_budget >> 20).max(1)).unwrap_or(u32::MAX);
    let wanted = u32::try_from(mib).unwrap_or(u32::MAX).clamp(1, total);
    tokio::time::timeout(config.store_wait, budget.acquire_many_owned(wanted))
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: ErrorReason::Unavailable,
            message: "the publisher's memory budget is taken by stores in progress; retry shortly"
                .to_owned(),
        })
}

fn reply(result: Result<warp::reply::Response, ApiError>) -> warp::reply::Response {
    result.unwrap_or_else(|error| error_reply(&error))
}

/// The daemon's routes.
pub fn routes(
    client: Client,
    config: DaemonConfig,
) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let config = Arc::new(config);
    let role = config.role;
    let with_client = {
        let client = client.clone();
        warp::any().map(move || client.clone())
    };
    let with_config = {
        let config = config.clone();
        warp::any().map(move || config.clone())
    };
    let budget = Arc::new(Semaphore::new(
        usize::try_from(config.store_memory_budget >> 20)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS),
    ));
    let admit = {
        let config = config.clone();
        warp::header::optional::<u64>("content-length").and_then(move |length| {
            let (budget, config) = (budget.clone(), config.clone());
            async move {
                admit_store(budget, &config, length)
                    .await
                    .map_err(warp::reject::custom)
            }
        })
    };
    let put = warp::path!("v1" / "blobs")
        .and(warp::put())
        .and(admit)
        .and(with_client.clone())
        .and(with_config)
        .and(warp::query::<StoreQuery>())
        .and(warp::body::content_length_limit(config.max_body_bytes))
        .and(warp::body::bytes())
        .then(|room, client, config, query, body| async move {
            let reply = reply(put_blob(client, config, query, body).await);
            drop::<OwnedSemaphorePermit>(room);
            reply
        })
        .boxed();
    let by_object = warp::path!("v1" / "blobs" / "by-object-id" / String)
        .and(warp::get())
        .and(with_client.clone())
        .and(warp::header::optional::<String>("range"))
        .then(|object_id, client, range| async move {
            reply(get_by_object(client, object_id, range).await)
        })
        .boxed();
    let get = warp::path!("v1" / "blobs" / String)
        .and(warp::get())
        .and(with_client)
        .and(warp::header::optional::<String>("range"))
        .then(|blob_id, client, range| async move { reply(get_blob(client, blob_id, range).await) })
        .boxed();
    let role_name = match role {
        Role::Publisher => "publisher",
        Role::Aggregator => "aggregator",
        Role::Daemon => "daemon",
    };
    let health = warp::path!("v1" / "health")
        .and(warp::get())
        .map(move || {
            let health = DaemonHealth {
                status: "ok".to_owned(),
                role: role_name.to_owned(),
            };
            warp::reply::json(&health).into_response()
        })
        .boxed();
    let routes = match role {
        Role::Publisher => health.or(put).unify().boxed(),
        Role::Aggregator => health.or(by_object).unify().or(get).unify().boxed(),
        Role::Daemon => health
            .or(put)
            .unify()
            .or(by_object)
            .unify()
            .or(get)
            .unify()
            .boxed(),
    };
    routes
        .recover(
            |rejection: Rejection| async move { Ok::<_, Infallible>(rejection_reply(&rejection)) },
        )
        .unify()
        .boxed()
}

/// Serves the daemon on `listener` until `shutdown` completes; returns the
/// bound address and the server task.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(
    client: Client,
    config: DaemonConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    // A store answers only when it is certified: minutes for large blobs,
    // with no bytes moving meanwhile.
    let limits = walrus_http::Limits {
        idle_timeout: std::time::Duration::from_secs(30 * 60),
        ..walrus_http::Limits::API
    };
    let (handle, task) = walrus_http::serve(routes(client, config), listener, limits, shutdown)?;
    Ok((handle.address(), task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_range_is_selected_several_are_ignored_bad_ones_are_416() {
        assert_eq!(select_range(100, None).expect("ok"), None);
        assert_eq!(
            select_range(100, Some("bytes=10-19")).expect("ok"),
            Some(10..=19)
        );
        assert_eq!(
            select_range(100, Some("bytes=-5")).expect("ok"),
            Some(95..=99)
        );
        assert_eq!(
            select_range(100, Some("bytes=90-")).expect("ok"),
            Some(90..=99)
        );
        assert_eq!(select_range(100, Some("bytes=0-1, 5-6")).expect("ok"), None);
        for bad in ["bytes=100-200", "bytes=abc", "items=0-1", "bytes=5-2"] {
            let error = select_range(100, Some(bad)).expect_err(bad);
            assert_eq!(error.status, StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
        }
        let blob: Vec<u8> = (0..100).collect();
        assert_eq!(slice(&blob, &(10..=19)), &blob[10..20]);
        let response = blob_reply(blob, Some("bytes=10-19".into())).expect("ok");
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes 10-19/100");
    }
}
