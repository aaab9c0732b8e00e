//! The chain's genesis configuration: the contracts genesis plus the start
//! time, identified by a digest every participant can compare.

use crate::{Genesis, TxError};
use serde::{Deserialize, Serialize};

/// Genesis of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisConfig {
    /// The initial contracts state (nodes, stake, accounts, parameters).
    pub genesis: Genesis,
    /// Time of epoch 0's start, milliseconds since the Unix epoch.
    pub start_ms: u64,
}

impl GenesisConfig {
    /// blake3 of the BCS bytes: the chain's identity. Checkpoint 0's
    /// previous digest.
    pub fn digest(&self) -> [u8; 32] {
        *blake3::hash(&bcs::to_bytes(self).expect("genesis serializes")).as_bytes()
    }
}

/// Why a genesis could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// BLS key generation refused the derived seed.
    #[error("BLS key generation: {0}")]
    Key(String),
    /// The generated genesis does not build (e.g. zero nodes or shards).
    #[error("generated genesis is invalid: {0}")]
    Invalid(TxError),
}

/// What to generate a devnet or test genesis for.
#[derive(Debug, Clone)]
pub struct GenesisSpec {
    /// Number of storage nodes, each with equal stake.
    pub n_nodes: usize,
    /// Number of shards.
    pub n_shards: u16,
    /// Epoch duration in milliseconds.
    pub epoch_duration_ms: u64,
    /// Number of funded user accounts.
    pub n_accounts: usize,
    /// FROST per funded account.
    pub account_balance: u64,
    /// Start time, milliseconds since the Unix epoch.
    pub start_ms: u64,
    /// Seed for every key: the same seed gives the same genesis.
    pub seed: [u8; 32],
    /// Each node's API address (`host:port`), by node index; missing ones are empty.
    pub network_addresses: Vec<String>,
}

/// The secrets of a generated genesis.
pub struct GenesisSecrets {
    /// Per node: BLS secret key bytes (32) and the operator's ed25519 key.
    pub nodes: Vec<(Vec<u8>, ed25519_dalek::SigningKey)>,
    /// The funded accounts' keys.
    pub accounts: Vec<ed25519_dalek::SigningKey>,
}

fn derive(seed: &[u8; 32], kind: &str, index: usize) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(seed);
    hasher.update(kind.as_bytes());
    hasher.update(&u64::try_from(index).expect("small").to_le_bytes());
    *hasher.finalize().as_bytes()
}

impl GenesisSpec {
    /// A small fixed chain for tests and benchmarks: `n_nodes` equal nodes
    /// over `n_shards`, one-hour epochs from a fixed start time
    /// (2027-01-15), one account holding 1 WAL, no network addresses. Change
    /// fields with struct update syntax where a caller needs more.
    pub fn local(n_nodes: usize, n_shards: u16, seed: [u8; 32]) -> Self {
        Self {
            n_nodes,
            n_shards,
            epoch_duration_ms: 3_600_000,
            n_accounts: 1,
            account_balance: crate::money::FROST_PER_WAL,
            start_ms: 1_800_000_000_000,
            seed,
            network_addresses: Vec::new(),
        }
    }

    /// Generates the genesis and its keys. Nodes vote a storage price of
    /// 100 FROST and a write price of 20 FROST per unit.
    ///
    /// # Errors
    /// [`GenesisError`]: BLS key generation or genesis validation fails.
    pub fn generate(&self) -> Result<(GenesisConfig, GenesisSecrets), GenesisError> {
        use crate::{Candidate, GenesisNode, SystemParams, Votes, certificate};

        use super::transaction::address_of;
        let mut nodes = Vec::new();
        let mut node_secrets = Vec::new();
        for index in 0..self.n_nodes {
            let bls = blst::min_pk::SecretKey::key_gen(&derive(&self.seed, "bls", index), &[])
                .map_err(|e| GenesisError::Key(format!("{e:?}")))?;
            let operator_key =
                ed25519_dalek::SigningKey::from_bytes(&derive(&self.seed, "operator", index));
            let operator = address_of(&operator_key.verifying_key());
            let public_key = bls.sk_to_pk().to_bytes().to_vec();
            let message = certificate::proof_of_possession_message(0, &operator, &public_key);
            let proof = bls
                .sign(&message, certificate::DST, &[])
                .to_bytes()
                .to_vec();
            nodes.push(GenesisNode {
                operator,
                candidate: Candidate {
                    name: format!("node-{index}"),
                    network_address: self
                        .network_addresses
                        .get(index)
                        .cloned()
                        .unwrap_or_default(),
                    public_key,
                    proof_of_possession: proof,
                    commission_bps: 1000,
                    votes: Votes {
                        storage_price: 100,
                        write_price: 20,
                        capacity: 1 << 50,
                    },
                },
                stake: 1_000_000 * crate::money::FROST_PER_WAL,
            });
            node_secrets.push((bls.to_bytes().to_vec(), operator_key));
        }
        let accounts: Vec<ed25519_dalek::SigningKey> = (0..self.n_accounts)
            .map(|i| ed25519_dalek::SigningKey::from_bytes(&derive(&self.seed, "account", i)))
            .collect();
        let genesis = Genesis {
            params: SystemParams {
                n_shards: self.n_shards,
                epoch_duration_ms: self.epoch_duration_ms,
                max_epochs_ahead: 53,
                faucet_max_frost: 1000 * crate::money::FROST_PER_WAL,
                audit_threshold_bps: 5000,
            },
            nodes,
            accounts: accounts
                .iter()
                .map(|k| (address_of(&k.verifying_key()), self.account_balance))
                .collect(),
        };
        let config = GenesisConfig {
            genesis,
            start_ms: self.start_ms,
        };
        config.genesis.build().map_err(GenesisError::Invalid)?;
        Ok((
            config,
            GenesisSecrets {
                nodes: node_secrets,
                accounts,
            },
        ))
    }
}
