//! The client SDK (store, read, query) and the publisher/aggregator daemon
//! (SPEC.md section 7).
//!
//! Not written yet: this crate is empty on purpose until its issue lands.
