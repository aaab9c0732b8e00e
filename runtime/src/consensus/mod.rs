//! The replicated control plane on Malachite BFT (issue 20): the
//! context (`context.rs`), BLS signing (`signing.rs`) and codec
//! (`codec.rs`) the engine runs with; proposal streams (`streaming.rs`);
//! the validator's mempool (`mempool.rs`); the application loop over the
//! engine's messages (`app.rs`); and [`validator::start`], which runs a
//! validator. [`aggregate`] turns the engine's commit certificates (one
//! signature per validator) into the aggregated [`Certificate`] that
//! light clients check with
//! `walrus_contracts::ledger::consensus::verify_commit`.

mod app;
pub mod codec;
pub mod context;
pub mod mempool;
pub mod signing;
pub mod streaming;
pub mod validator;

pub use app::{Fault, Settings};

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
