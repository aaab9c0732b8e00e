//! The client configuration (`client_config.yaml`) and the wallet file, and
//! where the CLI looks for them.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use walrus_contracts::ledger::transaction::address_of;
use walrus_contracts::{Address, parse_hex};

use crate::error::ClientError;

/// The file name `walrus devnet` writes and the CLI looks for.
pub const CONFIG_FILE_NAME: &str = "client_config.yaml";

/// The client configuration, as YAML:
///
/// ```yaml
/// chain_url: http://127.0.0.1:9100
/// wallet: wallet.yaml            # relative to this file
/// publisher_url: http://127.0.0.1:31415
/// indexer_url: http://127.0.0.1:9300
/// genesis: genesis.json          # relative to this file
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// The chain API.
    pub chain_url: String,
    /// The wallet file (see [`WalletFile`]), relative to the configuration
    /// file's directory unless absolute. None for a read-only client.
    #[serde(default)]
    pub wallet: Option<PathBuf>,
    /// A publisher/aggregator daemon, for reference (the CLI talks to the
    /// nodes directly).
    #[serde(default)]
    pub publisher_url: Option<String>,
    /// The indexer, when one runs.
    #[serde(default)]
    pub indexer_url: Option<String>,
    /// The chain's `genesis.json`, relative to the configuration file's
    /// directory unless absolute: the trust anchor of `walrus audit`.
    #[serde(default)]
    pub genesis: Option<PathBuf>,
    /// Tuning; every field has a default.
    #[serde(default)]
    pub communication: CommunicationConfig,
}

/// How the client talks to storage nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommunicationConfig {
    /// Storage nodes written to at once.
    pub max_concurrent_nodes: usize,
    /// Sliver requests in flight at once when reading.
    pub max_concurrent_sliver_reads: usize,
    /// Largest body of one sliver upload request, in bytes.
    pub max_upload_request_bytes: usize,
    /// Attempts per request before a node counts as failed.
    pub request_attempts: u32,
    /// Delay before the first retry, in milliseconds; doubles each time.
    pub retry_base_delay_ms: u64,
    /// Time limit of one request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Time limit of one read of metadata or a status from one node, in
    /// milliseconds: a node that accepts connections but never answers
    /// costs a read at most this long (issue 21, failure 6).
    pub metadata_timeout_ms: u64,
    /// Time limit of one sliver read from one node, in milliseconds.
    pub sliver_timeout_ms: u64,
    /// After this long without an answer, a read asks one more node in
    /// parallel (a hedged request), in milliseconds. Sliver reads wait at
    /// least three times the median time of the slivers already received.
    pub hedge_delay_ms: u64,
}

impl Default for CommunicationConfig {
    fn default() -> Self {
        Self {
            max_concurrent_nodes: 16,
            max_concurrent_sliver_reads: 32,
            max_upload_request_bytes: 16 << 20,
            request_attempts: 3,
            retry_base_delay_ms: 200,
            request_timeout_ms: 120_000,
            metadata_timeout_ms: 5_000,
            sliver_timeout_ms: 30_000,
            hedge_delay_ms: 500,
        }
    }
}

impl CommunicationConfig {
    /// The per-request time limit.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// [`Self::metadata_timeout_ms`] as a duration.
    pub fn metadata_timeout(&self) -> Duration {
        Duration::from_millis(self.metadata_timeout_ms)
    }

    /// [`Self::sliver_timeout_ms`] as a duration.
    pub fn sliver_timeout(&self) -> Duration {
        Duration::from_millis(self.sliver_timeout_ms)
    }

    /// [`Self::hedge_delay_ms`] as a duration.
    pub fn hedge_delay(&self) -> Duration {
        Duration::from_millis(self.hedge_delay_ms)
    }

    /// How requests to storage nodes are retried.
    pub fn retry_policy(&self) -> walrus_types::RetryPolicy {
        walrus_types::RetryPolicy {
            attempts: self.request_attempts.max(1),
            base_delay: Duration::from_millis(self.retry_base_delay_ms),
            ..walrus_types::RetryPolicy::default()
        }
    }
}

/// A wallet file (YAML): the ed25519 secret key in hex and, for reading
/// convenience, the address it derives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletFile {
    /// 64 hex digits. Keep this file private.
    pub secret: String,
    /// The address (derived from the key; informational).
    pub address: Address,
}

impl WalletFile {
    /// The wallet file of `key`.
    pub fn of(key: &SigningKey) -> Self {
        let secret = hex::encode(key.as_bytes());
        Self {
            secret,
            address: address_of(&key.verifying_key()),
        }
    }

    /// The signing key.
    ///
    /// # Errors
    /// [`ClientError::Config`] if the secret is not 64 hex digits.
    pub fn key(&self) -> Result<SigningKey, ClientError> {
        let bytes = parse_hex(&self.secret)
            .map_err(|_| ClientError::Config("wallet secret must be 64 hex digits".into()))?;
        Ok(SigningKey::from_bytes(&bytes))
    }
}

impl ClientConfig {
    /// Reads a configuration file; relative wallet and genesis paths are
    /// resolved against the file's directory.
    ///
    /// # Errors
    /// [`ClientError::Config`] naming the file when it cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Self, ClientError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ClientError::Config(format!("cannot read {}: {e}", path.display())))?;
        let mut config: Self = serde_yaml_ng::from_str(&text)
            .map_err(|e| ClientError::Config(format!("invalid {}: {e}", path.display())))?;
        if let (Some(wallet), Some(dir)) = (&config.wallet, path.parent())
            && wallet.is_relative()
        {
            config.wallet = Some(dir.join(wallet));
        }
        if let (Some(genesis), Some(dir)) = (&config.genesis, path.parent())
            && genesis.is_relative()
        {
            config.genesis = Some(dir.join(genesis));
        }
        Ok(config)
    }

    /// Writes the configuration as YAML.
    ///
    /// # Errors
    /// [`ClientError::Config`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), ClientError> {
        let text = serde_yaml_ng::to_string(self)
            .map_err(|e| ClientError::Config(format!("cannot serialize: {e}")))?;
        std::fs::write(path, text)
            .map_err(|e| ClientError::Config(format!("cannot write {}: {e}", path.display())))
    }

    /// The wallet's signing key.
    ///
    /// # Errors
    /// [`ClientError::Config`] when no wallet is configured or it is unreadable.
    pub fn load_wallet(&self) -> Result<SigningKey, ClientError> {
        let path = self
            .wallet
            .as_ref()
            .ok_or_else(|| ClientError::Config("no wallet in the client configuration".into()))?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| ClientError::Config(format!("cannot read {}: {e}", path.display())))?;
        let file: WalletFile = serde_yaml_ng::from_str(&text)
            .map_err(|e| ClientError::Config(format!("invalid {}: {e}", path.display())))?;
        file.key()
    }
}

/// The places the CLI looks for a configuration, in order: `$WALRUS_CONFIG`,
/// `./client_config.yaml`, `~/.walrus/devnet/client_config.yaml` (what
/// `walrus devnet` writes by default), `~/.config/walrus/client_config.yaml`.
pub fn default_config_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(path) = std::env::var_os("WALRUS_CONFIG") {
        paths.push(PathBuf::from(path));
    }
    paths.push(PathBuf::from(CONFIG_FILE_NAME));
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        paths.push(home.join(".walrus/devnet").join(CONFIG_FILE_NAME));
        paths.push(home.join(".config/walrus").join(CONFIG_FILE_NAME));
    }
    paths
}

/// Loads `explicit`, or the first existing file of [`default_config_paths`].
///
/// # Errors
/// [`ClientError::Config`] when none exists (the message lists where it
/// looked) or the file is invalid.
pub fn find_config(explicit: Option<&Path>) -> Result<ClientConfig, ClientError> {
    if let Some(path) = explicit {
        return ClientConfig::load(path);
    }
    let paths = default_config_paths();
    match paths.iter().find(|p| p.is_file()) {
        Some(path) => ClientConfig::load(path),
        None => Err(ClientError::Config(format!(
            "no client configuration found (looked in {}); start `walrus devnet` or pass --config",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_resolves_the_wallet_next_to_it() {
        let dir = std::env::temp_dir().join(format!("walrus-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let config = ClientConfig {
            chain_url: "http://127.0.0.1:9100".into(),
            wallet: Some("wallet.yaml".into()),
            publisher_url: None,
            indexer_url: None,
            genesis: None,
            communication: CommunicationConfig::default(),
        };
        let path = dir.join(CONFIG_FILE_NAME);
        config.save(&path).expect("save");
        let loaded = ClientConfig::load(&path).expect("load");
        assert_eq!(loaded.wallet, Some(dir.join("wallet.yaml")));
        assert_eq!(loaded.chain_url, config.chain_url);

        let key = SigningKey::from_bytes(&[7; 32]);
        std::fs::write(
            dir.join("wallet.yaml"),
            serde_yaml_ng::to_string(&WalletFile::of(&key)).expect("yaml"),
        )
        .expect("write");
        assert_eq!(loaded.load_wallet().expect("wallet").as_bytes(), &[7; 32]);

        std::fs::write(&path, "chain_url: [").expect("write");
        assert!(matches!(
            ClientConfig::load(&path),
            Err(ClientError::Config(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
