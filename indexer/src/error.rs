//! The indexer's error types: one for writing (following and indexing the
//! chain), one for queries.

use std::path::PathBuf;

use walrus_contracts::{TxError, ledger::execution::Divergence};

/// Why indexing stopped.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The database file cannot be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file indexes another chain.
    #[error("{0} indexes another chain (genesis digest differs)")]
    OtherChain(PathBuf),
    /// The chain served a checkpoint other than the one indexed under its
    /// sequence number: it was reset.
    #[error(
        "checkpoint {0} differs from the indexed one: the chain was reset; index it into a new file"
    )]
    Reset(u64),
    /// A checkpoint to catch up with is not indexed yet, or indexing was
    /// asked before catching up.
    #[error("checkpoint {0} is out of order for this index")]
    OutOfOrder(u64),
    /// An earlier batch failed after the state in memory moved on.
    #[error("an earlier batch failed: reopen the index")]
    Poisoned,
    /// The chain served a checkpoint that does not re-execute.
    #[error("chain divergence: {0}")]
    Diverged(#[from] Divergence),
    /// The genesis does not build.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] TxError),
    /// A SQLite error (busy, IO, constraint).
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row's JSON body cannot be written.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The indexing thread panicked.
    #[error("indexing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The database file cannot be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A SQLite error (busy, IO).
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON body does not parse.
    #[error("stored {what} does not parse: {source}")]
    Stored {
        /// What it is (event, pool, committee).
        what: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
}

impl QueryError {
    /// A parse failure of a stored `what`.
    pub(crate) fn stored(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |source| Self::Stored { what, source }
    }
}
