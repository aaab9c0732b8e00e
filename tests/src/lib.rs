//! End-to-end tests across crates, run against real processes on 127.0.0.1.
//!
//! Empty until there is a network to test end to end; the codec's own tests
//! live in `codec/tests/` and the CLI's in `node/tests/`.
