//! End-to-end tests across crates, run against real `walrus` processes on
//! 127.0.0.1 (see `tests/devnet.rs`). The tests need the `walrus` binary of
//! the same profile, which `cargo test --workspace` builds.
