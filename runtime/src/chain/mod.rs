//! The chain service: what Sui is to upstream Walrus (SPEC.md section 11).
//!
//! The ledger itself (signed transactions, checkpoints, deterministic
//! execution and replay, genesis) is pure and lives in
//! `walrus_contracts::ledger`; its wire types and HTTP client in
//! `walrus-types`. Here: `store` keeps the checkpoint log in SQLite,
//! `sequencer` orders transactions into checkpoints and `api` serves them
//! over HTTP.

pub mod api;
pub mod sequencer;
pub mod store;
