//! The control plane's types for Malachite BFT (`arc-malachitebft-*`
//! =0.8.2): heights are checkpoint sequence numbers plus one, a value is
//! the hash of a proposed block (its body travels as proposal parts),
//! validators are the storage committee with voting power = shard count,
//! and signatures are the members' BLS12-381 keys (`signing.rs`).

use std::fmt;

use malachitebft_app_channel::app::types::core::{
    self as mc, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};
use walrus_contracts::{Committee, ObjectId};

use super::signing::{Bls, BlsPublicKey};

/// A consensus height: checkpoint `h - 1` is decided at height `h`
/// (Malachite's first height is 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Self(0);
    const INITIAL: Self = Self(1);

    fn increment_by(&self, n: u64) -> Self {
        Self(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Self)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator: the storage node's ID (its staking pool object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorAddress(pub ObjectId);

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Address for ValidatorAddress {}

/// A proposed block, named by the blake3 hash of its BCS bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHash(pub [u8; 32]);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        walrus_contracts::write_hex(&self.0, f)
    }
}

impl mc::Value for BlockHash {
    type Id = BlockHash;

    fn id(&self) -> Self::Id {
        *self
    }
}

/// A committee member as a validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    /// The node ID.
    pub address: ValidatorAddress,
    /// Its BLS public key (the one registered on chain).
    pub public_key: BlsPublicKey,
    /// Its shard count.
    pub voting_power: VotingPower,
}

impl mc::Validator<WalrusContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &BlsPublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The validators of one epoch, in committee order (node ID ascending), so
/// a validator's index is its position in certificate signer bitmaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSet {
    /// The validators.
    pub validators: Vec<Validator>,
}

/// A committee that cannot be a validator set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// A member's key is not a BLS12-381 public key.
    #[error("committee member {0} has no valid BLS public key")]
    BadKey(ObjectId),
    /// No member holds a shard.
    #[error("the committee holds no shard: no validator")]
    Empty,
}

impl ValidatorSet {
    /// The validator set of `committee`: members with at least one shard.
    ///
    /// # Errors
    /// [`ValidatorSetError`] when a member's key does not parse or no
    /// member holds a shard.
    pub fn of(committee: &Committee) -> Result<Self, ValidatorSetError> {
        let validators = committee
            .members
            .iter()
            .filter(|m| !m.shards.is_empty())
            .map(|m| {
                let public_key = BlsPublicKey::from_bytes(&m.public_key)
                    .ok_or(ValidatorSetError::BadKey(m.node_id))?;
                let voting_power = u64::try_from(m.shards.len()).unwrap_or(u64::MAX);
                Ok(Validator {
                    address: ValidatorAddress(m.node_id),
                    public_key,
                    voting_power,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        Ok(Self { validators })
    }
}

impl mc::ValidatorSet<WalrusContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.validators.iter().map(|v| v.voting_power).sum()
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators.iter().find(|v| v.address == *address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// A signed-over proposal of block `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Its height.
    pub height: Height,
    /// Its round.
    pub round: Round,
    /// The block's hash.
    pub value: BlockHash,
    /// The proof-of-lock round (`Nil` for a fresh value).
    pub pol_round: Round,
    /// The proposer.
    pub proposer: ValidatorAddress,
}

impl mc::Proposal<WalrusContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockHash {
        &self.value
    }

    fn take_value(self) -> BlockHash {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// A prevote or precommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Its height.
    pub height: Height,
    /// Its round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// The voter.
    pub validator: ValidatorAddress,
    /// A vote extension (unused: the policy is disabled).
    pub extension: Option<SignedExtension<WalrusContext>>,
}

impl mc::Vote<WalrusContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<WalrusContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<WalrusContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<WalrusContext>) -> Self {
        Self {
            extension: Some(extension),
            ..self
        }
    }
}

/// One piece of a streamed proposal: `Init`, the block's bytes in `Data`
/// chunks, then `Fin` with the proposer's signature over the block hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalPart {
    /// Who proposes what, where.
    Init {
        /// The height.
        height: Height,
        /// The round.
        round: Round,
        /// The proof-of-lock round.
        pol_round: Round,
        /// The proposer.
        proposer: ValidatorAddress,
    },
    /// A chunk of the block's BCS bytes.
    Data(Vec<u8>),
    /// The proposer's signature (proposal message over the block hash).
    Fin(super::signing::BlsSignature),
}

impl mc::ProposalPart<WalrusContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, Self::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, Self::Fin(_))
    }
}

/// The control plane's Malachite context; `chain` is the genesis digest
/// that every signed message starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalrusContext {
    /// The genesis digest.
    pub chain: [u8; 32],
}

impl mc::Context for WalrusContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockHash;
    type Vote = Vote;
    type Extension = Vec<u8>;
    type SigningScheme = Bls;

    /// Round robin over the validators, starting at `height + round`; a
    /// deterministic function every validator computes alike.
    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let count = u64::try_from(validator_set.validators.len().max(1)).unwrap_or(1);
        let round = u64::from(round.as_u32().unwrap_or(0));
        let index = height.0.wrapping_add(round) % count;
        let index = usize::try_from(index).expect("below the validator count");
        validator_set
            .validators
            .get(index)
            .expect("a validator set is never empty (ValidatorSet::of)")
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockHash,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        vote(VoteType::Prevote, height, round, value_id, address)
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        vote(VoteType::Precommit, height, round, value_id, address)
    }
}

fn vote(
    vote_type: VoteType,
    height: Height,
    round: Round,
    value: NilOrVal<BlockHash>,
    validator: ValidatorAddress,
) -> Vote {
    Vote {
        vote_type,
        height,
        round,
        value,
        validator,
        extension: None,
    }
}
