//! The chain service: what Sui is to upstream Walrus (SPEC.md section 11).
//!
//! `transaction` and `execution` are pure (no IO): signed transactions,
//! checkpoints, deterministic execution and replay. `store` keeps the
//! checkpoint log in SQLite; `sequencer` orders transactions into checkpoints
//! and `api` serves them over HTTP; `client` and `follower` are the other
//! side: submitting transactions and following the log with verification.

pub mod api;
pub mod client;
pub mod execution;
pub mod follower;
pub mod genesis;
pub mod sequencer;
pub mod store;
pub mod transaction;
