//! The wire types of every Walrus HTTP API and the clients that speak them.
//!
//! Servers (`walrus-runtime`'s chain service and storage node,
//! `walrus-client`'s publisher/aggregator, `walrus-indexer`) build their
//! replies from these types and clients parse them back into the same
//! types: no JSON literal and no lookup by string key on any API path, so a
//! renamed field is a compile error, not a silent mismatch.
//!
//! - [`error`]: the one error body of every API,
//!   `{"error": {"code", "status", "message", "details": [{"reason", ...}]}}`,
//!   with a typed [`error::ErrorReason`].
//! - [`chain`]: the chain API's JSON (SPEC.md section 11): committee,
//!   account, objects, system, health, transaction responses.
//! - [`node`]: the storage node API's JSON envelopes (SPEC.md section 6):
//!   `{"success": {"code", "data"}}`, blob status, signed messages, health.
//! - [`indexer`]: the indexer's query replies (SPEC.md section 12).
//! - [`publisher`]: the publisher's replies in upstream's camelCase shapes
//!   (SPEC.md section 7).
//! - [`ChainClient`] and [`NodeClient`]: HTTP clients of the chain API and
//!   a storage node's API, retrying transient failures with one policy
//!   ([`RetryPolicy`], on `backon`).
//! - [`Follower`]: follows the checkpoint log, verifying every checkpoint
//!   by re-execution.
//! - [`Clock`]: time as an input ([`SystemClock`], [`ManualClock`]).
//! - [`genesis_file`]: reading and writing `genesis.json`.
//!
//! Depends on `walrus-codec` and `walrus-contracts` (for the types inside
//! the messages), serde and reqwest; never on server code (warp, SQLite,
//! prometheus): the SDK links it.

pub mod chain;
mod chain_client;
pub mod error;
pub mod follower;
pub mod genesis_file;
pub mod indexer;
pub mod node;
mod node_client;
pub mod publisher;
mod retry;
pub mod state_proof;
mod time;

pub use chain_client::{ChainClient, ChainError};
pub use follower::{CertifiedFetch, FollowError, Follower};
pub use node_client::{NodeClient, NodeError};
pub use retry::RetryPolicy;
pub use time::{Clock, ManualClock, SystemClock, now_ms};
