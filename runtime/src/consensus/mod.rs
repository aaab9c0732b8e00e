//! The control plane on Malachite BFT (issue 20, in progress): the
//! context (`context.rs`) and BLS signing (`signing.rs`) the engine runs
//! with, and the conversion of the engine's commit certificates (one
//! signature per validator) into the aggregated [`Certificate`] that
//! checkpoints carry and light clients check with
//! `walrus_contracts::ledger::consensus::verify_commit`.
//!
//! Not yet here: the application loop over the engine's messages, the
//! proposal streaming and block store, the codec, and the processes.

pub mod context;
pub mod signing;

use blst::min_pk::Signature;
use malachitebft_app_channel::app::types::core::CommitCertificate;
use walrus_contracts::{
    Committee, TxError,
    certificate::Certificate,
    ledger::consensus::{self, VoteKind},
};

use context::WalrusContext;

/// A commit certificate that cannot be aggregated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregateError {
    /// A signer is not a member of the committee.
    #[error("signer {0} is not a committee member")]
    NotMember(walrus_contracts::ObjectId),
    /// The certificate's round is nil.
    #[error("a commit certificate for the nil round")]
    NilRound,
    /// A signature is not a valid BLS point.
    #[error(transparent)]
    Bls(#[from] TxError),
}

/// Aggregates the engine's commit `certificate` into one BLS signature with
/// a signer bitmap over `committee`'s order.
///
/// # Errors
/// [`AggregateError`] for a signer outside the committee, a nil round, or a
/// malformed signature. The result is not verified: see
/// [`consensus::verify_commit`].
pub fn aggregate(
    ctx: &WalrusContext,
    certificate: &CommitCertificate<WalrusContext>,
    committee: &Committee,
) -> Result<Certificate, AggregateError> {
    let round = certificate.round.as_u32().ok_or(AggregateError::NilRound)?;
    let mut positions = Vec::with_capacity(certificate.commit_signatures.len());
    let mut signatures = Vec::with_capacity(certificate.commit_signatures.len());
    for signed in &certificate.commit_signatures {
        let node = signed.address.0;
        positions.push(
            committee
                .position(&node)
                .ok_or(AggregateError::NotMember(node))?,
        );
        let signature = Signature::from_bytes(&signed.signature.0)
            .map_err(|_| TxError::InvalidBls("commit signature"))?;
        signatures.push(signature);
    }
    let message = consensus::vote_message(
        &ctx.chain,
        VoteKind::Precommit,
        certificate.height.0,
        Some(round),
        Some(&certificate.value_id.0),
    );
    Ok(Certificate::aggregate(message, &positions, &signatures)?)
}

#[cfg(test)]
mod tests;
