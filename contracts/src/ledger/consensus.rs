//! What the control plane's validators sign (issue 20; the engine is
//! Malachite BFT, `runtime::consensus`), as pure byte layouts, so that a
//! light client checks a commit certificate without the engine.
//!
//! Every message starts with a domain string, then the genesis digest of
//! the chain (a vote of one chain is no vote of another). A vote's bytes
//! leave out the voter: every precommit for one block at one height and
//! round is the same message, so their BLS signatures aggregate into one
//! [`Certificate`] (signer bitmap over the committee, one 96-byte
//! signature) that a light client checks with one pairing.

use crate::{
    certificate::{Certificate, Threshold},
    errors::TxError,
    state::Committee,
};

/// Whether a vote is a prevote or a precommit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VoteKind {
    /// First voting step.
    Prevote,
    /// Second voting step; a quorum of precommits decides.
    Precommit,
}

/// A consensus round: `None` is Tendermint's nil round (`-1`).
pub type Round = Option<u32>;

fn round_bytes(round: Round) -> [u8; 8] {
    round.map_or(-1, i64::from).to_le_bytes()
}

/// The bytes a validator signs to vote `value` (a block hash, `None` for
/// nil) at `height` and `round`:
/// `"walrus/vote/v1" || chain || kind (0 prevote, 1 precommit) || height u64 LE
/// || round i64 LE || 0 | 1 || block hash`.
pub fn vote_message(
    chain: &[u8; 32],
    kind: VoteKind,
    height: u64,
    round: Round,
    value: Option<&[u8; 32]>,
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(14 + 32 + 1 + 8 + 8 + 33);
    bytes.extend_from_slice(b"walrus/vote/v1");
    bytes.extend_from_slice(chain);
    bytes.push(match kind {
        VoteKind::Prevote => 0,
        VoteKind::Precommit => 1,
    });
    bytes.extend_from_slice(&height.to_le_bytes());
    bytes.extend_from_slice(&round_bytes(round));
    match value {
        None => bytes.push(0),
        Some(hash) => {
            bytes.push(1);
            bytes.extend_from_slice(hash);
        }
    }
    bytes
}

/// The bytes a proposer signs to propose block `value` at `height` and
/// `round`, with its proof-of-lock round `pol_round`:
/// `"walrus/proposal/v1" || chain || height u64 LE || round i64 LE ||
/// pol_round i64 LE || block hash`.
pub fn proposal_message(
    chain: &[u8; 32],
    height: u64,
    round: Round,
    pol_round: Round,
    value: &[u8; 32],
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(18 + 32 + 8 + 8 + 8 + 32);
    bytes.extend_from_slice(b"walrus/proposal/v1");
    bytes.extend_from_slice(chain);
    bytes.extend_from_slice(&height.to_le_bytes());
    bytes.extend_from_slice(&round_bytes(round));
    bytes.extend_from_slice(&round_bytes(pol_round));
    bytes.extend_from_slice(value);
    bytes
}

/// The bytes a validator signs to bind its network peer ID to its
/// consensus key: `"walrus/peer/v1" || chain || preimage`, the preimage
/// being the engine's own (key and peer ID, length-prefixed).
pub fn peer_message(chain: &[u8; 32], preimage: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(14 + 32 + preimage.len());
    bytes.extend_from_slice(b"walrus/peer/v1");
    bytes.extend_from_slice(chain);
    bytes.extend_from_slice(preimage);
    bytes
}

/// Checks an aggregated commit certificate: precommits for block `value`
/// at `height` and `round` by members of `committee` holding a quorum of
/// its shards (voting power = shard count). Returns the signer indices.
///
/// # Errors
/// The [`TxError`] of [`Certificate::verify`]: another message, unknown
/// signers, too little weight or a bad signature.
pub fn verify_commit(
    certificate: &Certificate,
    committee: &Committee,
    n_shards: u16,
    chain: &[u8; 32],
    (height, round, value): (u64, u32, &[u8; 32]),
) -> Result<Vec<u16>, TxError> {
    let expected = vote_message(chain, VoteKind::Precommit, height, Some(round), Some(value));
    certificate.verify(committee, n_shards, &expected, Threshold::Quorum)
}
