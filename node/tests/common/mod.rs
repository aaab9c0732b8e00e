//! Helpers of the tests that run the real `walrus` binary.
#![allow(dead_code)] // each test file uses a different part

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// The `walrus` binary of this build.
pub fn walrus() -> Command {
    Command::new(env!("CARGO_BIN_EXE_walrus"))
}

/// A fresh scratch directory named `name` under cargo's temporary directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `walrus chain genesis` into `dir`: 4 nodes, 10 shards, hour-long
/// epochs, `accounts` funded accounts, every key from `seed_byte`.
///
/// # Panics
/// If the command fails.
pub fn chain_genesis(dir: &Path, accounts: usize, seed_byte: u8) {
    let status = walrus()
        .args(["chain", "genesis", "--nodes", "4", "--n-shards", "10"])
        .args([
            "--accounts",
            &accounts.to_string(),
            "--epoch-duration",
            "1h",
        ])
        .args(["--seed", &format!("{seed_byte:02x}").repeat(32)])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .expect("walrus chain genesis runs");
    assert!(status.success(), "walrus chain genesis failed");
}
