//! One object of the authenticated state with its Merkle proof
//! (`GET /v1/state/{kind}/{id}` on the chain API), and the path that names
//! each [`StateKey`]. The proof is checked with
//! [`walrus_contracts::ledger::state_tree::StateProof::verify`].

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;
use walrus_contracts::{
    Address, ObjectId,
    ledger::{
        execution::ChainState,
        state_tree::{ProofError, StateKey, StateProof},
    },
};

use crate::node::base64_bytes;

/// `GET /v1/state/...`: `key`'s value (BCS, base64; absent when the object
/// does not exist) and its proof (BCS, base64) against `stateRoot`, the root
/// after checkpoint `checkpoint` (of genesis when `checkpoint` is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateProofInfo {
    /// The checkpoint whose state root the proof is against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<u64>,
    /// The state root, 64 hex digits (as the other digests in JSON).
    #[serde(with = "hex32")]
    pub state_root: [u8; 32],
    /// The object proven.
    pub key: StateKey,
    /// Its BCS value, absent for an object that does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The BCS bytes of the [`StateProof`].
    #[serde(with = "base64_bytes")]
    pub proof: Vec<u8>,
}

/// `GET /v1/state/proofs?keys=K1,K2,...`: several objects proven against
/// one state root, the root after `checkpoint` (genesis when absent). The
/// server answers against the newest checkpoint a block certificate covers
/// (one behind its last), so a light client can check the root at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateProofs {
    /// The checkpoint whose state root every proof is against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<u64>,
    /// That state root, 64 hex digits.
    #[serde(with = "hex32")]
    pub state_root: [u8; 32],
    /// One proof per key asked, in the order asked.
    pub proofs: Vec<StateProofInfo>,
}

/// At most this many keys in one `GET /v1/state/proofs`.
pub const MAX_PROOF_KEYS: usize = 256;

impl StateProofs {
    /// `keys` in `chain`'s state after its checkpoint before the last
    /// ([`ChainState::prove_previous`]); `None` when that state is not kept
    /// (no checkpoint was executed since the server started).
    pub fn previous(chain: &ChainState, keys: &[StateKey]) -> Option<Self> {
        let state_root = chain.previous_root()?;
        let checkpoint = chain.next_sequence.checked_sub(2);
        let proofs = keys
            .iter()
            .map(|key| {
                let (value, proof) = chain.prove_previous(key)?;
                Some(StateProofInfo {
                    checkpoint,
                    state_root,
                    key: *key,
                    value: value.map(|v| BASE64.encode(v)),
                    proof: bcs::to_bytes(&proof).expect("proofs serialize"),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            checkpoint,
            state_root,
            proofs,
        })
    }
}

/// A state proof reply that does not prove what it says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateProofError {
    /// A field is not well-formed (base64, BCS, a 32-byte root).
    #[error("malformed state proof: {0}")]
    Malformed(String),
    /// The root is not the one the caller trusts.
    #[error("the proof is against another state root")]
    OtherRoot,
    /// The proof does not verify.
    #[error(transparent)]
    Rejected(#[from] ProofError),
}

impl StateProofInfo {
    /// `key` in `chain`'s state after its last checkpoint.
    pub fn of(chain: &ChainState, key: StateKey) -> Self {
        let (value, proof) = chain.prove(&key);
        Self {
            checkpoint: chain.next_sequence.checked_sub(1),
            state_root: chain.root(),
            key,
            value: value.map(|v| BASE64.encode(v)),
            proof: bcs::to_bytes(&proof).expect("proofs serialize"),
        }
    }

    /// Checks the proof against `trusted_root` (from a verified checkpoint)
    /// and returns the proven value (`None`: the object does not exist).
    ///
    /// # Errors
    /// [`StateProofError`] when the reply is malformed, names another root
    /// or does not prove the value.
    pub fn verify(&self, trusted_root: [u8; 32]) -> Result<Option<Vec<u8>>, StateProofError> {
        if self.state_root != trusted_root {
            return Err(StateProofError::OtherRoot);
        }
        let malformed = |e: &dyn std::fmt::Display| StateProofError::Malformed(e.to_string());
        let value = match &self.value {
            Some(text) => Some(BASE64.decode(text).map_err(|e| malformed(&e))?),
            None => None,
        };
        let proof: StateProof = bcs::from_bytes(&self.proof).map_err(|e| malformed(&e))?;
        proof.verify(trusted_root, &self.key, value.as_deref())?;
        Ok(value)
    }
}

/// The API path of `key`: `/v1/state/system`, `/v1/state/blob/0x…`, …
pub fn state_path(key: &StateKey) -> String {
    match key {
        StateKey::System => "/v1/state/system".to_owned(),
        StateKey::Account(a) => format!("/v1/state/account/{a}"),
        StateKey::Nonce(a) => format!("/v1/state/nonce/{a}"),
        StateKey::Storage(id) => format!("/v1/state/storage/{id}"),
        StateKey::Blob(id) => format!("/v1/state/blob/{id}"),
        StateKey::SharedBlob(id) => format!("/v1/state/sharedBlob/{id}"),
        StateKey::InvalidBlobId(b) => format!("/v1/state/invalidBlobId/{b}"),
        StateKey::Pool(id) => format!("/v1/state/pool/{id}"),
        StateKey::StakedWal(id) => format!("/v1/state/stakedWal/{id}"),
        StateKey::Income(e) => format!("/v1/state/income/{e}"),
    }
}

/// `key` as one element of `GET /v1/state/proofs?keys=`: its state path
/// without `/v1/state/` (`system`, `blob/0x…`).
pub fn key_param(key: &StateKey) -> String {
    state_path(key)
        .strip_prefix("/v1/state/")
        .expect("every state path starts with /v1/state/")
        .to_owned()
}

/// The keys of a `keys=` parameter (see [`key_param`]), comma-separated;
/// `None` when one is unknown or malformed.
pub fn parse_key_params(keys: &str) -> Option<Vec<StateKey>> {
    keys.split(',')
        .map(|key| match key.split_once('/') {
            None if key == "system" => Some(StateKey::System),
            None => None,
            Some((kind, id)) => parse_state_key(kind, id),
        })
        .collect()
}

/// The key named by the last two segments of a state path (see
/// [`state_path`]); `None` for an unknown kind or a malformed ID.
pub fn parse_state_key(kind: &str, id: &str) -> Option<StateKey> {
    let object = || id.parse::<ObjectId>().ok();
    let address = || id.parse::<Address>().ok();
    match kind {
        "account" => address().map(StateKey::Account),
        "nonce" => address().map(StateKey::Nonce),
        "storage" => object().map(StateKey::Storage),
        "blob" => object().map(StateKey::Blob),
        "sharedBlob" => object().map(StateKey::SharedBlob),
        "invalidBlobId" => id.parse::<BlobId>().ok().map(StateKey::InvalidBlobId),
        "pool" => object().map(StateKey::Pool),
        "stakedWal" => object().map(StateKey::StakedWal),
        "income" => id.parse().ok().map(StateKey::Income),
        _ => None,
    }
}

/// A 32-byte digest as 64 hex digits in JSON.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(bytes)
    }
}
