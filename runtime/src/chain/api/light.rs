//! The routes a light client reads: objects of the authenticated state with
//! their proofs, where each epoch started, and which checkpoints name a
//! blob ID. Nothing here is trusted by the client: the proofs are checked
//! against certified state roots and the indexes only say which certified
//! checkpoints to fetch (`walrus_client::audit`).

use serde::Deserialize;
use walrus_codec::BlobId;
use walrus_contracts::ledger::state_tree::StateKey;
use walrus_types::{
    chain::EpochStart,
    error::ErrorReason,
    state_proof::{MAX_PROOF_KEYS, StateProofInfo, StateProofs, parse_key_params, parse_state_key},
};
use warp::{Filter, Reply, http::StatusCode};

use super::{error, internal};
use crate::chain::sequencer::Sequencer;

/// Most checkpoint numbers per `/v1/blobs/{id}/checkpoints` reply.
pub const MAX_BLOB_CHECKPOINTS: usize = 1000;

type Route = warp::filters::BoxedFilter<(warp::reply::Response,)>;

/// `GET /v1/state/system`, `GET /v1/state/{kind}/{id}`,
/// `GET /v1/state/proofs?keys=...`, `GET /v1/epochs` and
/// `GET /v1/blobs/{blob_id}/checkpoints?from=N`.
pub(super) fn routes(sequencer: Sequencer) -> Route {
    state_proofs(sequencer.clone())
        .or(state_proof(sequencer.clone()))
        .unify()
        .or(epochs(sequencer.clone()))
        .unify()
        .or(blob_checkpoints(sequencer))
        .unify()
        .boxed()
}

/// `GET /v1/state/system` and `GET /v1/state/{kind}/{id}`: one object of
/// the authenticated state after the last checkpoint and its proof
/// ([`StateProofInfo`]).
fn state_proof(sequencer: Sequencer) -> Route {
    let with = warp::any().map(move || sequencer.clone());
    let system = warp::path!("v1" / "state" / "system").map(|| Some(StateKey::System));
    let other = warp::path!("v1" / "state" / String / String)
        .map(|kind: String, id: String| parse_state_key(&kind, &id));
    system
        .or(other)
        .unify()
        .and(warp::get())
        .and(with)
        .map(|key: Option<StateKey>, sequencer: Sequencer| match key {
            Some(key) => {
                let info = sequencer.with_chain(|chain| StateProofInfo::of(chain, key));
                warp::reply::json(&info).into_response()
            }
            None => error(
                StatusCode::BAD_REQUEST,
                ErrorReason::InvalidStateKey,
                "expected /v1/state/system or /v1/state/{kind}/{id} with kind one of account, \
                 nonce, storage, blob, sharedBlob, invalidBlobId, pool, stakedWal, income",
            ),
        })
        .boxed()
}

#[derive(Debug, Deserialize)]
struct KeysQuery {
    keys: String,
}

/// `GET /v1/state/proofs?keys=system,blob/0x…`: up to [`MAX_PROOF_KEYS`]
/// objects proven against one root, the one after the checkpoint before
/// the last (which the newest block certificate covers): [`StateProofs`].
fn state_proofs(sequencer: Sequencer) -> Route {
    warp::path!("v1" / "state" / "proofs")
        .and(warp::get())
        .and(warp::query::<KeysQuery>())
        .map(move |query: KeysQuery| {
            let keys = match parse_key_params(&query.keys) {
                Some(keys) if !keys.is_empty() && keys.len() <= MAX_PROOF_KEYS => keys,
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        ErrorReason::InvalidStateKey,
                        format!(
                            "keys= takes 1 to {MAX_PROOF_KEYS} comma-separated keys: system or \
                             {{kind}}/{{id}} as in /v1/state/{{kind}}/{{id}}"
                        ),
                    );
                }
            };
            match sequencer.with_chain(|chain| StateProofs::previous(chain, &keys)) {
                Some(proofs) => warp::reply::json(&proofs).into_response(),
                None => error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorReason::Unavailable,
                    "no checkpoint executed since this server started: retry in a second",
                ),
            }
        })
        .boxed()
}

/// `GET /v1/epochs`: `[{"epoch": E, "checkpoint": N}]`, where each epoch
/// after genesis started.
fn epochs(sequencer: Sequencer) -> Route {
    warp::path!("v1" / "epochs")
        .and(warp::get())
        .then(move || {
            let sequencer = sequencer.clone();
            async move {
                match sequencer.read_store(|store| store.epoch_starts()).await {
                    Ok(starts) => {
                        let starts: Vec<EpochStart> = starts
                            .into_iter()
                            .map(|(epoch, checkpoint)| EpochStart { epoch, checkpoint })
                            .collect();
                        warp::reply::json(&starts).into_response()
                    }
                    Err(err) => internal(err),
                }
            }
        })
        .boxed()
}

#[derive(Debug, Deserialize)]
struct FromQuery {
    from: Option<u64>,
}

/// `GET /v1/blobs/{blob_id}/checkpoints?from=N`: up to
/// [`MAX_BLOB_CHECKPOINTS`] sequence numbers, ascending from `N` (0 by
/// default), of the checkpoints with an event naming the blob ID.
fn blob_checkpoints(sequencer: Sequencer) -> Route {
    warp::path!("v1" / "blobs" / String / "checkpoints")
        .and(warp::get())
        .and(warp::query::<FromQuery>())
        .then(move |blob_id: String, query: FromQuery| {
            let sequencer = sequencer.clone();
            async move {
                let Ok(blob_id) = blob_id.parse::<BlobId>() else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        ErrorReason::InvalidBlobId,
                        "blob ID must be URL-safe base64 of 32 bytes",
                    );
                };
                let from = query.from.unwrap_or(0);
                let read = move |store: &crate::chain::store::Store| {
                    store.blob_checkpoints(&blob_id, from, MAX_BLOB_CHECKPOINTS)
                };
                match sequencer.read_store(read).await {
                    Ok(list) => warp::reply::json(&list).into_response(),
                    Err(err) => internal(err),
                }
            }
        })
        .boxed()
}
