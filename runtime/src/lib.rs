//! What a storage node runs: the chain service, the sliver store, the node
//! HTTP API, recovery and epoch change (SPEC.md sections 4 to 6 and 11).
//!
//! Not written yet: this crate is empty on purpose until its issues land.
