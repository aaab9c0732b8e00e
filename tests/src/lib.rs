//! End-to-end tests across crates, run against real `walrus` processes on
//! 127.0.0.1 (see `tests/devnet.rs`, `tests/indexer.rs`). The tests need
//! the `walrus` binary of the same profile, which `cargo test --workspace`
//! builds.
//!
//! [`workload`] generates real chains (signed transactions executed into
//! checkpoints) for the indexer's tests and benchmark.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
};

pub mod certified;
pub mod validators;
pub mod workload;

/// The `walrus` binary next to the running test's directory
/// (`target/<profile>/`).
///
/// # Panics
/// The binary is missing (with the command that builds it).
pub fn walrus_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join("walrus");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo test --workspace` (or `cargo build -p walrus-node`) first",
        path.display()
    );
    path
}

/// An empty directory `name-PID` under `base` (a test's
/// `CARGO_TARGET_TMPDIR`), emptied first if it exists.
///
/// # Panics
/// The directory cannot be created.
pub fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A base port `b` such that `b..b+count` are all free now (bounded search).
///
/// # Panics
/// No such range was found.
pub fn free_ports(count: u16) -> u16 {
    // Below Linux's ephemeral range (32768 and up by default), so that no
    // outgoing connection takes a port between this check and the bind.
    let start = 10_000 + u16::try_from(std::process::id() % 1000).expect("< 1000") * 20;
    for attempt in 0..200u16 {
        let base = 10_000 + (start - 10_000 + attempt * 97) % 22_000;
        let listeners: Vec<_> = (0..count)
            .map_while(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if listeners.len() == usize::from(count) {
            return base;
        }
    }
    panic!("no free port range of {count}");
}
