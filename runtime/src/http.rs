//! What the chain API and the storage node API share on warp: the typed
//! error reply, and the replies to requests no route accepted.

use std::convert::Infallible;

use walrus_types::error::{ErrorBody, ErrorReason};
use warp::{Filter, Reply, filters::BoxedFilter, http::StatusCode};

/// An error reply: [`ErrorBody`] with `status`, `reason` and `message`.
pub fn error_reply(
    status: StatusCode,
    reason: ErrorReason,
    message: impl Into<String>,
) -> warp::reply::Response {
    let body = ErrorBody::new(status.as_u16(), reason, message);
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

/// A request refused by a filter before its body was read (the body is
/// then never read): the typed error it gets.
#[derive(Debug)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable reason.
    pub reason: ErrorReason,
    /// What to fix.
    pub message: String,
}

impl warp::reject::Reject for Refusal {}

/// The reply to a request that no route accepted: no such path (404), a
/// body over the limit (413), a malformed query (400), another method
/// (405), no length (411).
pub fn rejection_reply(rejection: &warp::Rejection) -> warp::reply::Response {
    if let Some(refusal) = rejection.find::<Refusal>() {
        return error_reply(refusal.status, refusal.reason, refusal.message.clone());
    }
    let (status, reason, message) = if rejection.is_not_found() {
        (
            StatusCode::NOT_FOUND,
            ErrorReason::NoRoute,
            "no such route".to_owned(),
        )
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        let message = "request body too large".to_owned();
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorReason::BodyTooLarge,
            message,
        )
    } else if let Some(query) = rejection.find::<warp::reject::InvalidQuery>() {
        (
            StatusCode::BAD_REQUEST,
            ErrorReason::InvalidQuery,
            query.to_string(),
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        let message = "method not allowed".to_owned();
        (
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorReason::MethodNotAllowed,
            message,
        )
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        let message = "content length required".to_owned();
        (
            StatusCode::LENGTH_REQUIRED,
            ErrorReason::LengthRequired,
            message,
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            ErrorReason::BadRequest,
            format!("{rejection:?}"),
        )
    };
    error_reply(status, reason, message)
}

/// `routes` with every rejection answered by [`rejection_reply`], boxed: the
/// last step of each API's route table.
pub fn with_rejection_replies<F>(routes: F) -> BoxedFilter<(warp::reply::Response,)>
where
    F: Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
        + Clone
        + Send
        + Sync
        + 'static,
{
    routes
        .recover(|rejection: warp::Rejection| async move {
            Ok::<_, Infallible>(rejection_reply(&rejection))
        })
        .unify()
        .boxed()
}
