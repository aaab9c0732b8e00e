//! The serde mirrors of the engine's types (their fields as read in the
//! 0.8.2 crates: `core-types` certificates, signed messages and validator
//! proofs, `core-consensus` messages, `sync` types, `engine` streaming) and
//! the conversions both ways. Field and variant order is the format.

use std::borrow::Cow;

use malachitebft_app_channel::app::{
    consensus::LivenessMsg,
    streaming::{StreamContent, StreamId, StreamMessage},
    types::{
        PeerId, ProposedValue, SignedConsensusMsg,
        core::{
            ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, PolkaSignature,
            RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof,
            Validity, VoteType,
        },
        sync::{RawDecidedValue, Request, Response, Status},
    },
};
use malachitebft_sync::{ValueRequest, ValueResponse};
use serde::{Deserialize, Serialize};

use super::{
    CodecError, Hash, OnWire, Sig, address, sig, unaddress, unround, unsig, unvalue, value,
};
use crate::consensus::context::{BlockHash, Height, Proposal, ProposalPart, Vote, WalrusContext};

/// A fieldless mirror of a fieldless engine enum, with `From` both ways.
macro_rules! unit_enum {
    ($wire:ident <=> $engine:ident { $($variant:ident),* }) => {
        #[derive(Serialize, Deserialize)]
        pub(super) enum $wire { $($variant),* }

        impl From<&$engine> for $wire {
            fn from(engine: &$engine) -> Self {
                match engine { $($engine::$variant => Self::$variant),* }
            }
        }

        impl From<$wire> for $engine {
            fn from(wire: $wire) -> Self {
                match wire { $($wire::$variant => Self::$variant),* }
            }
        }
    };
}

unit_enum!(KindW <=> VoteType { Prevote, Precommit });
unit_enum!(CertKindW <=> RoundCertificateType { Skip, Precommit });

/// Vote extensions (`Ctx::Extension = Vec<u8>`).
impl OnWire for Vec<u8> {
    type Wire<'a> = Cow<'a, [u8]>;
    type Owned = Cow<'static, [u8]>;
    fn to_wire(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
    fn from_wire(wire: Cow<'static, [u8]>) -> Result<Self, CodecError> {
        Ok(wire.into_owned())
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct SignedW<W> {
    message: W,
    signature: Sig,
}

impl<M: OnWire> OnWire for SignedMessage<WalrusContext, M> {
    type Wire<'a>
        = SignedW<M::Wire<'a>>
    where
        Self: 'a;
    type Owned = SignedW<M::Owned>;
    fn to_wire(&self) -> Self::Wire<'_> {
        let (message, signature) = (self.message.to_wire(), sig(&self.signature));
        SignedW { message, signature }
    }
    fn from_wire(w: Self::Owned) -> Result<Self, CodecError> {
        Ok(Self::new(M::from_wire(w.message)?, unsig(w.signature)))
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct VoteW<'a> {
    kind: KindW,
    height: u64,
    round: Option<u32>,
    value: Option<Hash>,
    validator: Hash,
    extension: Option<SignedW<Cow<'a, [u8]>>>,
}

impl OnWire for Vote {
    type Wire<'a> = VoteW<'a>;
    type Owned = VoteW<'static>;
    fn to_wire(&self) -> VoteW<'_> {
        VoteW {
            kind: (&self.vote_type).into(),
            height: self.height.0,
            round: self.round.as_u32(),
            value: value(&self.value),
            validator: address(&self.validator),
            extension: self.extension.as_ref().map(OnWire::to_wire),
        }
    }
    fn from_wire(w: VoteW<'static>) -> Result<Self, CodecError> {
        Ok(Self {
            vote_type: w.kind.into(),
            height: Height(w.height),
            round: unround(w.round),
            value: unvalue(w.value),
            validator: unaddress(w.validator),
            extension: w.extension.map(OnWire::from_wire).transpose()?,
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct ProposalW {
    height: u64,
    round: Option<u32>,
    value: Hash,
    pol_round: Option<u32>,
    proposer: Hash,
}

impl OnWire for Proposal {
    type Wire<'a> = ProposalW;
    type Owned = ProposalW;
    fn to_wire(&self) -> ProposalW {
        ProposalW {
            height: self.height.0,
            round: self.round.as_u32(),
            value: self.value.0,
            pol_round: self.pol_round.as_u32(),
            proposer: address(&self.proposer),
        }
    }
    fn from_wire(w: ProposalW) -> Result<Self, CodecError> {
        Ok(Self {
            height: Height(w.height),
            round: unround(w.round),
            value: BlockHash(w.value),
            pol_round: unround(w.pol_round),
            proposer: unaddress(w.proposer),
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) enum ConsensusW<'a> {
    Vote(SignedW<VoteW<'a>>),
    Proposal(SignedW<ProposalW>),
}

impl OnWire for SignedConsensusMsg<WalrusContext> {
    type Wire<'a> = ConsensusW<'a>;
    type Owned = ConsensusW<'static>;
    fn to_wire(&self) -> ConsensusW<'_> {
        match self {
            Self::Vote(vote) => ConsensusW::Vote(vote.to_wire()),
            Self::Proposal(proposal) => ConsensusW::Proposal(proposal.to_wire()),
        }
    }
    fn from_wire(w: ConsensusW<'static>) -> Result<Self, CodecError> {
        Ok(match w {
            ConsensusW::Vote(w) => Self::Vote(OnWire::from_wire(w)?),
            ConsensusW::Proposal(w) => Self::Proposal(OnWire::from_wire(w)?),
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct PolkaW {
    height: u64,
    round: Option<u32>,
    value_id: Hash,
    signatures: Vec<(Hash, Sig)>,
}

impl OnWire for PolkaCertificate<WalrusContext> {
    type Wire<'a> = PolkaW;
    type Owned = PolkaW;
    fn to_wire(&self) -> PolkaW {
        PolkaW {
            height: self.height.0,
            round: self.round.as_u32(),
            value_id: self.value_id.0,
            signatures: (self.polka_signatures.iter())
                .map(|s| (address(&s.address), sig(&s.signature)))
                .collect(),
        }
    }
    fn from_wire(w: PolkaW) -> Result<Self, CodecError> {
        Ok(Self {
            height: Height(w.height),
            round: unround(w.round),
            value_id: BlockHash(w.value_id),
            polka_signatures: (w.signatures.into_iter())
                .map(|(a, s)| PolkaSignature::new(unaddress(a), unsig(s)))
                .collect(),
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct RoundSigW {
    kind: KindW,
    value_id: Option<Hash>,
    address: Hash,
    signature: Sig,
}

#[derive(Serialize, Deserialize)]
pub(super) struct RoundCertW {
    height: u64,
    round: Option<u32>,
    cert_type: CertKindW,
    signatures: Vec<RoundSigW>,
}

impl OnWire for RoundCertificate<WalrusContext> {
    type Wire<'a> = RoundCertW;
    type Owned = RoundCertW;
    fn to_wire(&self) -> RoundCertW {
        RoundCertW {
            height: self.height.0,
            round: self.round.as_u32(),
            cert_type: (&self.cert_type).into(),
            signatures: (self.round_signatures.iter())
                .map(|s| RoundSigW {
                    kind: (&s.vote_type).into(),
                    value_id: value(&s.value_id),
                    address: address(&s.address),
                    signature: sig(&s.signature),
                })
                .collect(),
        }
    }
    fn from_wire(w: RoundCertW) -> Result<Self, CodecError> {
        Ok(Self {
            height: Height(w.height),
            round: unround(w.round),
            cert_type: w.cert_type.into(),
            round_signatures: (w.signatures.into_iter())
                .map(|s| {
                    let (value, address) = (unvalue(s.value_id), unaddress(s.address));
                    RoundSignature::new(s.kind.into(), value, address, unsig(s.signature))
                })
                .collect(),
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) enum LivenessW<'a> {
    Vote(Box<SignedW<VoteW<'a>>>),
    Polka(PolkaW),
    SkipRound(RoundCertW),
}

impl OnWire for LivenessMsg<WalrusContext> {
    type Wire<'a> = LivenessW<'a>;
    type Owned = LivenessW<'static>;
    fn to_wire(&self) -> LivenessW<'_> {
        match self {
            Self::Vote(vote) => LivenessW::Vote(Box::new(vote.to_wire())),
            Self::PolkaCertificate(cert) => LivenessW::Polka(cert.to_wire()),
            Self::SkipRoundCertificate(cert) => LivenessW::SkipRound(cert.to_wire()),
        }
    }
    fn from_wire(w: LivenessW<'static>) -> Result<Self, CodecError> {
        Ok(match w {
            LivenessW::Vote(w) => Self::Vote(OnWire::from_wire(*w)?),
            LivenessW::Polka(w) => Self::PolkaCertificate(OnWire::from_wire(w)?),
            LivenessW::SkipRound(w) => Self::SkipRoundCertificate(OnWire::from_wire(w)?),
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) enum PartW<'a> {
    Init {
        height: u64,
        round: Option<u32>,
        pol_round: Option<u32>,
        proposer: Hash,
    },
    Data(Cow<'a, [u8]>),
    Fin(Sig),
}

impl OnWire for ProposalPart {
    type Wire<'a> = PartW<'a>;
    type Owned = PartW<'static>;
    fn to_wire(&self) -> PartW<'_> {
        match self {
            Self::Init {
                height,
                round,
                pol_round,
                proposer,
            } => PartW::Init {
                height: height.0,
                round: round.as_u32(),
                pol_round: pol_round.as_u32(),
                proposer: address(proposer),
            },
            Self::Data(data) => PartW::Data(Cow::Borrowed(data)),
            Self::Fin(signature) => PartW::Fin(sig(signature)),
        }
    }
    fn from_wire(w: PartW<'static>) -> Result<Self, CodecError> {
        Ok(match w {
            PartW::Init {
                height,
                round,
                pol_round,
                proposer,
            } => Self::Init {
                height: Height(height),
                round: unround(round),
                pol_round: unround(pol_round),
                proposer: unaddress(proposer),
            },
            PartW::Data(data) => Self::Data(data.into_owned()),
            PartW::Fin(signature) => Self::Fin(unsig(signature)),
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(super) enum ContentW<'a> {
    Data(PartW<'a>),
    Fin,
}

#[derive(Serialize, Deserialize)]
pub(super) struct StreamW<'a> {
    stream_id: Vec<u8>,
    sequence: u64,
    content: ContentW<'a>,
}

impl OnWire for StreamMessage<ProposalPart> {
    type Wire<'a> = StreamW<'a>;
    type Owned = StreamW<'static>;
    fn to_wire(&self) -> StreamW<'_> {
        StreamW {
            // `StreamId`'s bytes are `pub(crate)`; `to_bytes` clones them.
            stream_id: self.stream_id.to_bytes().to_vec(),
            sequence: self.sequence,
            content: match &self.content {
                StreamContent::Data(part) => ContentW::Data(part.to_wire()),
                StreamContent::Fin => ContentW::Fin,
            },
        }
    }
    fn from_wire(w: StreamW<'static>) -> Result<Self, CodecError> {
        let content = match w.content {
            ContentW::Data(part) => StreamContent::Data(OnWire::from_wire(part)?),
            ContentW::Fin => StreamContent::Fin,
        };
        let id = StreamId::new(w.stream_id.into());
        Ok(Self::new(id, w.sequence, content))
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct ProofW<'a> {
    public_key: Cow<'a, [u8]>,
    peer_id: Cow<'a, [u8]>,
    signature: Sig,
}

impl OnWire for ValidatorProof<WalrusContext> {
    type Wire<'a> = ProofW<'a>;
    type Owned = ProofW<'static>;
    fn to_wire(&self) -> ProofW<'_> {
        ProofW {
            public_key: Cow::Borrowed(&self.public_key),
            peer_id: Cow::Borrowed(&self.peer_id),
            signature: sig(&self.signature),
        }
    }
    fn from_wire(w: ProofW<'static>) -> Result<Self, CodecError> {
        let (public_key, peer_id) = (w.public_key.into_owned(), w.peer_id.into_owned());
        Ok(Self::new(public_key, peer_id, unsig(w.signature)))
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct StatusW {
    peer_id: Vec<u8>,
    tip_height: u64,
    history_min_height: u64,
}

impl OnWire for Status<WalrusContext> {
    type Wire<'a> = StatusW;
    type Owned = StatusW;
    fn to_wire(&self) -> StatusW {
        StatusW {
            peer_id: self.peer_id.to_bytes(),
            tip_height: self.tip_height.0,
            history_min_height: self.history_min_height.0,
        }
    }
    fn from_wire(w: StatusW) -> Result<Self, CodecError> {
        let peer_id =
            PeerId::from_bytes(&w.peer_id).map_err(|e| CodecError::PeerId(e.to_string()))?;
        Ok(Self {
            peer_id,
            tip_height: Height(w.tip_height),
            history_min_height: Height(w.history_min_height),
        })
    }
}

/// A value request's inclusive height range.
#[derive(Serialize, Deserialize)]
pub(super) enum RequestW {
    Values { start: u64, end: u64 },
}

impl OnWire for Request<WalrusContext> {
    type Wire<'a> = RequestW;
    type Owned = RequestW;
    fn to_wire(&self) -> RequestW {
        let Self::ValueRequest(request) = self;
        let (start, end) = (request.range.start().0, request.range.end().0);
        RequestW::Values { start, end }
    }
    fn from_wire(w: RequestW) -> Result<Self, CodecError> {
        let RequestW::Values { start, end } = w;
        let range = Height(start)..=Height(end);
        Ok(Self::ValueRequest(ValueRequest::new(range)))
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct ExtSigW<'a> {
    address: Hash,
    signature: Sig,
    extension: Option<SignedW<Cow<'a, [u8]>>>,
}

/// A decided value with its flattened `ExtendedCommitCertificate`.
#[derive(Serialize, Deserialize)]
pub(super) struct DecidedW<'a> {
    value_bytes: Cow<'a, [u8]>,
    height: u64,
    round: Option<u32>,
    value_id: Hash,
    signatures: Vec<ExtSigW<'a>>,
}

impl OnWire for RawDecidedValue<WalrusContext> {
    type Wire<'a> = DecidedW<'a>;
    type Owned = DecidedW<'static>;
    fn to_wire(&self) -> DecidedW<'_> {
        let certificate = &self.certificate;
        DecidedW {
            value_bytes: Cow::Borrowed(&self.value_bytes),
            height: certificate.height.0,
            round: certificate.round.as_u32(),
            value_id: certificate.value_id.0,
            signatures: (certificate.commit_signatures.iter())
                .map(|s| ExtSigW {
                    address: address(&s.address),
                    signature: sig(&s.signature),
                    extension: s.extension.as_ref().map(OnWire::to_wire),
                })
                .collect(),
        }
    }
    fn from_wire(w: DecidedW<'static>) -> Result<Self, CodecError> {
        let commit_signatures = (w.signatures.into_iter())
            .map(|s| {
                let extension = s.extension.map(OnWire::from_wire).transpose()?;
                let (address, signature) = (unaddress(s.address), unsig(s.signature));
                Ok(ExtendedCommitSignature::new(address, signature, extension))
            })
            .collect::<Result<_, CodecError>>()?;
        let certificate = ExtendedCommitCertificate {
            height: Height(w.height),
            round: unround(w.round),
            value_id: BlockHash(w.value_id),
            commit_signatures,
        };
        Ok(Self::new(w.value_bytes.into_owned().into(), certificate))
    }
}

/// A value response: its first height and the decided values from there.
#[derive(Serialize, Deserialize)]
pub(super) enum ResponseW<'a> {
    Values {
        start_height: u64,
        values: Vec<DecidedW<'a>>,
    },
}

impl OnWire for Response<WalrusContext> {
    type Wire<'a> = ResponseW<'a>;
    type Owned = ResponseW<'static>;
    fn to_wire(&self) -> ResponseW<'_> {
        let Self::ValueResponse(response) = self;
        ResponseW::Values {
            start_height: response.start_height.0,
            values: response.values.iter().map(OnWire::to_wire).collect(),
        }
    }
    fn from_wire(w: ResponseW<'static>) -> Result<Self, CodecError> {
        let ResponseW::Values {
            start_height,
            values,
        } = w;
        let values = values.into_iter().map(OnWire::from_wire);
        let values = values.collect::<Result<_, _>>()?;
        let response = ValueResponse::new(Height(start_height), values);
        Ok(Self::ValueResponse(response))
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct ProposedW {
    height: u64,
    round: Option<u32>,
    valid_round: Option<u32>,
    proposer: Hash,
    value: Hash,
    valid: bool,
}

impl OnWire for ProposedValue<WalrusContext> {
    type Wire<'a> = ProposedW;
    type Owned = ProposedW;
    fn to_wire(&self) -> ProposedW {
        ProposedW {
            height: self.height.0,
            round: self.round.as_u32(),
            valid_round: self.valid_round.as_u32(),
            proposer: address(&self.proposer),
            value: self.value.0,
            valid: self.validity.is_valid(),
        }
    }
    fn from_wire(w: ProposedW) -> Result<Self, CodecError> {
        Ok(Self {
            height: Height(w.height),
            round: unround(w.round),
            valid_round: unround(w.valid_round),
            proposer: unaddress(w.proposer),
            value: BlockHash(w.value),
            validity: Validity::from_bool(w.valid),
        })
    }
}
