//! `genesis.json`: the [`GenesisConfig`] that names a chain, as JSON.

use std::path::{Path, PathBuf};

use walrus_contracts::ledger::genesis::GenesisConfig;

/// Why a genesis file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum GenesisFileError {
    /// The file cannot be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a genesis configuration.
    #[error("invalid genesis {path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// Reads a genesis file.
///
/// # Errors
/// [`GenesisFileError`].
pub fn load(path: &Path) -> Result<GenesisConfig, GenesisFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| GenesisFileError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| GenesisFileError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// Writes `config` to a genesis file (pretty JSON).
///
/// # Errors
/// [`GenesisFileError::Io`].
pub fn save(config: &GenesisConfig, path: &Path) -> Result<(), GenesisFileError> {
    let text = serde_json::to_string_pretty(config).expect("a genesis serializes to JSON");
    std::fs::write(path, text).map_err(|source| GenesisFileError::Io {
        path: path.to_owned(),
        source,
    })
}
