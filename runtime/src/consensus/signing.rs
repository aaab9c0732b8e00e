//! BLS12-381 (min_pk, `blst`, the ciphersuite of SPEC.md section 5) as
//! Malachite's signing scheme: validators sign votes and proposals with the
//! BLS keys the committee registered on chain, over the byte layouts of
//! `walrus_contracts::ledger::consensus`. Precommits leave the voter out of
//! their bytes, so a commit certificate's signatures aggregate into one.

use async_trait::async_trait;
use blst::min_pk::{PublicKey, SecretKey, Signature};
use malachitebft_app_channel::app::types::core::{
    Round, SignedMessage, SigningScheme, ValidatorProof, VoteExtensionScope, VoteType,
};
use malachitebft_signing::{Error, Signer, VerificationResult, Verifier};
use walrus_contracts::{
    certificate::DST,
    ledger::consensus::{self, VoteKind},
};

use super::context::{Proposal, Vote, WalrusContext};

/// The signing scheme marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bls;

/// A compressed BLS public key, 48 bytes, checked to be a valid point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlsPublicKey(pub [u8; 48]);

impl BlsPublicKey {
    /// Parses and validates a compressed key; `None` if it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        PublicKey::key_validate(bytes).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    fn key(&self) -> Option<PublicKey> {
        PublicKey::key_validate(&self.0).ok()
    }
}

/// A compressed BLS signature, 96 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlsSignature(pub [u8; 96]);

impl BlsSignature {
    /// Whether this signs `message` under `key` (with the subgroup check).
    pub fn verifies(&self, message: &[u8], key: &BlsPublicKey) -> bool {
        let (Ok(signature), Some(key)) = (Signature::from_bytes(&self.0), key.key()) else {
            return false;
        };
        signature.verify(true, message, DST, &[], &key, true) == blst::BLST_ERROR::BLST_SUCCESS
    }
}

/// A BLS secret key.
#[derive(Clone)]
pub struct BlsSecret(pub SecretKey);

/// Bytes that are not a BLS key or signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a compressed BLS12-381 {0}")]
pub struct DecodingError(&'static str);

impl SigningScheme for Bls {
    type DecodingError = DecodingError;
    type Signature = BlsSignature;
    type PublicKey = BlsPublicKey;
    type PrivateKey = BlsSecret;

    fn decode_signature(bytes: &[u8]) -> Result<BlsSignature, DecodingError> {
        let bytes: [u8; 96] = bytes.try_into().map_err(|_| DecodingError("signature"))?;
        Ok(BlsSignature(bytes))
    }

    fn encode_signature(signature: &BlsSignature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<BlsPublicKey, DecodingError> {
        BlsPublicKey::from_bytes(bytes).ok_or(DecodingError("public key"))
    }

    fn encode_public_key(public_key: &BlsPublicKey) -> Vec<u8> {
        public_key.0.to_vec()
    }
}

fn round(round: Round) -> Option<u32> {
    round.as_u32()
}

/// The bytes of `vote` that its signature covers.
pub fn vote_bytes(ctx: &WalrusContext, vote: &Vote) -> Vec<u8> {
    let kind = match vote.vote_type {
        VoteType::Prevote => VoteKind::Prevote,
        VoteType::Precommit => VoteKind::Precommit,
    };
    let value = match &vote.value {
        malachitebft_app_channel::app::types::core::NilOrVal::Nil => None,
        malachitebft_app_channel::app::types::core::NilOrVal::Val(hash) => Some(&hash.0),
    };
    consensus::vote_message(&ctx.chain, kind, vote.height.0, round(vote.round), value)
}

/// The bytes of `proposal` that its signature covers (also the `Fin`
/// part's signature).
pub fn proposal_bytes(ctx: &WalrusContext, proposal: &Proposal) -> Vec<u8> {
    consensus::proposal_message(
        &ctx.chain,
        proposal.height.0,
        round(proposal.round),
        round(proposal.pol_round),
        &proposal.value.0,
    )
}

/// Signs with a validator's BLS key.
pub struct BlsSigner {
    ctx: WalrusContext,
    secret: SecretKey,
}

impl BlsSigner {
    /// A signer for `ctx`'s chain with `secret`.
    pub fn new(ctx: WalrusContext, secret: SecretKey) -> Self {
        Self { ctx, secret }
    }

    /// Signs raw `message` bytes.
    pub fn sign(&self, message: &[u8]) -> BlsSignature {
        BlsSignature(self.secret.sign(message, DST, &[]).to_bytes())
    }

    /// The public key.
    pub fn public_key(&self) -> BlsPublicKey {
        BlsPublicKey(self.secret.sk_to_pk().to_bytes())
    }
}

#[async_trait]
impl Signer<WalrusContext> for BlsSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<WalrusContext, Vote>, Error> {
        let signature = self.sign(&vote_bytes(&self.ctx, &vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<WalrusContext, Proposal>, Error> {
        let signature = self.sign(&proposal_bytes(&self.ctx, &proposal));
        Ok(SignedMessage::new(proposal, signature))
    }

    /// Vote extensions are disabled; nothing asks for one.
    async fn sign_vote_extension(
        &self,
        _scope: VoteExtensionScope<WalrusContext>,
        _extension: Vec<u8>,
    ) -> Result<SignedMessage<WalrusContext, Vec<u8>>, Error> {
        Err(Error::new())
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<WalrusContext>, Error> {
        let preimage = ValidatorProof::<WalrusContext>::signing_bytes(&public_key, &peer_id);
        let signature = self.sign(&consensus::peer_message(&self.ctx.chain, &preimage));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Checks BLS signatures of votes, proposals and peer bindings.
pub struct BlsVerifier {
    ctx: WalrusContext,
}

impl BlsVerifier {
    /// A verifier for `ctx`'s chain.
    pub fn new(ctx: WalrusContext) -> Self {
        Self { ctx }
    }
}

#[async_trait]
impl Verifier<WalrusContext> for BlsVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &BlsSignature,
        public_key: &BlsPublicKey,
    ) -> Result<VerificationResult, Error> {
        let valid = signature.verifies(&vote_bytes(&self.ctx, vote), public_key);
        Ok(VerificationResult::from_bool(valid))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &BlsSignature,
        public_key: &BlsPublicKey,
    ) -> Result<VerificationResult, Error> {
        let valid = signature.verifies(&proposal_bytes(&self.ctx, proposal), public_key);
        Ok(VerificationResult::from_bool(valid))
    }

    /// Vote extensions are disabled: any extension is refused.
    async fn verify_signed_vote_extension(
        &self,
        _scope: &VoteExtensionScope<WalrusContext>,
        _extension: &Vec<u8>,
        _signature: &BlsSignature,
        _public_key: &BlsPublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::Invalid)
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<WalrusContext>,
    ) -> Result<VerificationResult, Error> {
        let Ok(key) = proof.decoded_public_key() else {
            return Ok(VerificationResult::Invalid);
        };
        let message = consensus::peer_message(&self.ctx.chain, &proof.preimage());
        Ok(VerificationResult::from_bool(
            proof.signature.verifies(&message, &key),
        ))
    }
}
