//! Every message type the engine asks the codec for round-trips with
//! BLS-signed values, the layout is pinned, and arbitrary or damaged bytes
//! decode to an error, never a panic.

use std::{fmt::Debug, sync::LazyLock};

use blst::min_pk::SecretKey;
use proptest::prelude::*;

use bytes::Bytes;
use malachitebft_app_channel::app::{
    consensus::LivenessMsg,
    streaming::{StreamContent, StreamId, StreamMessage},
    types::{
        PeerId, ProposedValue, SignedConsensusMsg,
        codec::{Codec, HasEncodedLen},
        core::{
            ExtendedCommitCertificate, NilOrVal, PolkaCertificate, Round, RoundCertificate,
            RoundCertificateType, SignedExtension, SignedMessage, ValidatorProof, Validity,
            VoteType,
        },
        sync::{RawDecidedValue, Request, Response, Status},
    },
};
use malachitebft_sync::{ValueRequest, ValueResponse};
use walrus_contracts::ObjectId;

use super::{CodecError, MAX_LEN, VERSION, WalrusCodec};
use crate::consensus::{
    context::{BlockHash, Height, Proposal, ProposalPart, ValidatorAddress, Vote, WalrusContext},
    signing::{BlsSigner, proposal_bytes, vote_bytes},
};

const CTX: WalrusContext = WalrusContext { chain: [3; 32] };
const BLOCK: BlockHash = BlockHash([0xb1; 32]);

fn signer(node: u8) -> BlsSigner {
    let secret = SecretKey::key_gen(&[node; 32], &[]).expect("a 32-byte seed");
    BlsSigner::new(CTX, secret)
}

fn node(node: u8) -> ValidatorAddress {
    ValidatorAddress(ObjectId([node; 32]))
}

fn vote(
    n: u8,
    vote_type: VoteType,
    value: NilOrVal<BlockHash>,
) -> SignedMessage<WalrusContext, Vote> {
    let vote = Vote {
        vote_type,
        height: Height(7),
        round: Round::new(2),
        value,
        validator: node(n),
        extension: None,
    };
    let signature = signer(n).sign(&vote_bytes(&CTX, &vote));
    SignedMessage::new(vote, signature)
}

fn extension(node: u8) -> SignedExtension<WalrusContext> {
    SignedMessage::new(b"extension".to_vec(), signer(node).sign(b"extension"))
}

fn peer() -> PeerId {
    let mut sha256 = vec![0x12, 0x20];
    sha256.extend([5; 32]);
    PeerId::from_bytes(&sha256).expect("a sha256 multihash")
}

fn proposal() -> SignedConsensusMsg<WalrusContext> {
    let proposal = Proposal {
        height: Height(7),
        round: Round::new(2),
        value: BLOCK,
        pol_round: Round::Nil,
        proposer: node(1),
    };
    let signature = signer(1).sign(&proposal_bytes(&CTX, &proposal));
    SignedConsensusMsg::Proposal(SignedMessage::new(proposal, signature))
}

fn consensus() -> Vec<SignedConsensusMsg<WalrusContext>> {
    let mut extended = vote(2, VoteType::Precommit, NilOrVal::Val(BLOCK));
    extended.message.extension = Some(extension(2));
    vec![
        SignedConsensusMsg::Vote(vote(1, VoteType::Prevote, NilOrVal::Nil)),
        SignedConsensusMsg::Vote(extended),
        proposal(),
    ]
}

fn polka() -> PolkaCertificate<WalrusContext> {
    let votes = (1..4).map(|n| vote(n, VoteType::Prevote, NilOrVal::Val(BLOCK)));
    PolkaCertificate::new(Height(7), Round::new(2), BLOCK, votes.collect())
}

fn liveness() -> Vec<LivenessMsg<WalrusContext>> {
    let votes = vec![
        vote(1, VoteType::Prevote, NilOrVal::Nil),
        vote(2, VoteType::Precommit, NilOrVal::Val(BLOCK)),
    ];
    let skip = RoundCertificateType::Skip;
    vec![
        LivenessMsg::Vote(vote(3, VoteType::Precommit, NilOrVal::Nil)),
        LivenessMsg::PolkaCertificate(polka()),
        LivenessMsg::SkipRoundCertificate(RoundCertificate::new_from_votes(
            Height(7),
            Round::new(2),
            skip,
            votes,
        )),
    ]
}

fn parts() -> Vec<ProposalPart> {
    vec![
        ProposalPart::Init {
            height: Height(7),
            round: Round::new(2),
            pol_round: Round::new(1),
            proposer: node(1),
        },
        ProposalPart::Data(Vec::new()),
        ProposalPart::Data((0..=255).cycle().take(64 << 10).collect()),
        ProposalPart::Fin(signer(1).sign(&BLOCK.0)),
    ]
}

fn streams() -> Vec<StreamMessage<ProposalPart>> {
    let id = StreamId::new(Bytes::from_static(b"\x00\x07\x02"));
    let mut messages: Vec<_> = (parts().into_iter().zip(0..))
        .map(|(part, i)| StreamMessage::new(id.clone(), i, StreamContent::Data(part)))
        .collect();
    messages.push(StreamMessage::new(id, 4, StreamContent::Fin));
    messages
}

fn proof() -> ValidatorProof<WalrusContext> {
    let public_key = signer(1).public_key().0.to_vec();
    let peer_id = peer().to_bytes();
    let signature = signer(1).sign(&ValidatorProof::<WalrusContext>::signing_bytes(
        &public_key,
        &peer_id,
    ));
    ValidatorProof::new(public_key, peer_id, signature)
}

fn responses() -> Vec<Response<WalrusContext>> {
    let decided = |height: u64, extended: bool| {
        let mut commits: Vec<_> = (1..4)
            .map(|n| vote(n, VoteType::Precommit, NilOrVal::Val(BLOCK)))
            .collect();
        if extended {
            commits[0].message.extension = Some(extension(1));
        }
        let certificate =
            ExtendedCommitCertificate::from_votes(Height(height), Round::new(2), BLOCK, commits);
        RawDecidedValue::new(Bytes::from(vec![9; 1000]), certificate)
    };
    vec![
        Response::ValueResponse(ValueResponse::new(Height(7), Vec::new())),
        Response::ValueResponse(ValueResponse::new(
            Height(7),
            vec![decided(7, false), decided(8, true)],
        )),
    ]
}

/// Encodes, checks the length and the version byte, decodes, compares.
fn round_trip<T: PartialEq + Debug>(msg: &T) -> Bytes
where
    WalrusCodec: HasEncodedLen<T>,
{
    let bytes = Codec::<T>::encode(&WalrusCodec, msg).expect("encodes");
    assert_eq!(bytes.first(), Some(&VERSION));
    assert_eq!(WalrusCodec.encoded_len(msg).expect("a length"), bytes.len());
    let back: T = WalrusCodec.decode(bytes.clone()).expect("decodes");
    assert_eq!(&back, msg);
    bytes
}

/// Valid encodings of every type, several shapes each.
static SAMPLES: LazyLock<Vec<Bytes>> = LazyLock::new(|| {
    let mut all: Vec<Bytes> = consensus().iter().map(round_trip).collect();
    all.extend(liveness().iter().map(round_trip));
    all.extend(parts().iter().map(round_trip));
    all.extend(streams().iter().map(round_trip));
    all.extend(responses().iter().map(round_trip));
    all.push(round_trip(&proof()));
    all.push(round_trip(&polka()));
    let status = Status::<WalrusContext> {
        peer_id: peer(),
        tip_height: Height(9),
        history_min_height: Height(1),
    };
    all.push(round_trip(&status));
    let request = Request::<WalrusContext>::ValueRequest(ValueRequest::new(Height(3)..=Height(5)));
    all.push(round_trip(&request));
    for validity in [Validity::Valid, Validity::Invalid] {
        all.push(round_trip(&ProposedValue::<WalrusContext> {
            height: Height(7),
            round: Round::new(2),
            valid_round: Round::Nil,
            proposer: node(1),
            value: BLOCK,
            validity,
        }));
    }
    all
});

#[test]
fn every_type_round_trips() {
    assert_eq!(SAMPLES.len(), 23);
}

#[test]
fn layout_is_pinned() {
    let request = Request::<WalrusContext>::ValueRequest(ValueRequest::new(Height(3)..=Height(5)));
    let mut expected = vec![VERSION, 0];
    expected.extend(3u64.to_le_bytes());
    expected.extend(5u64.to_le_bytes());
    assert_eq!(WalrusCodec.encode(&request).expect("encodes"), expected);

    let signature = signer(1).sign(b"fin");
    let fin = WalrusCodec
        .encode(&ProposalPart::Fin(signature))
        .expect("encodes");
    assert_eq!(fin[..2], [VERSION, 2]);
    assert_eq!(fin[2..], signature.0);
}

#[test]
fn malformed_bytes_are_typed_errors() {
    let decode = |bytes: Vec<u8>| Codec::<ProposalPart>::decode(&WalrusCodec, bytes.into());
    assert_eq!(decode(Vec::new()), Err(CodecError::Empty));
    assert_eq!(
        decode(vec![VERSION + 1, 1, 0]),
        Err(CodecError::Version(VERSION + 1))
    );
    assert_eq!(
        decode(vec![VERSION; MAX_LEN + 1]),
        Err(CodecError::TooLarge(MAX_LEN + 1))
    );
    assert!(matches!(
        decode(vec![VERSION, 1, 0, 0]),
        Err(CodecError::Bcs(_))
    ));
    assert!(matches!(decode(vec![VERSION, 3]), Err(CodecError::Bcs(_))));
    assert_eq!(
        decode(vec![VERSION, 1, 0]),
        Ok(ProposalPart::Data(Vec::new()))
    );

    let huge = ProposalPart::Data(vec![0; MAX_LEN]);
    assert!(matches!(
        WalrusCodec.encode(&huge),
        Err(CodecError::TooLarge(_))
    ));
    assert!(matches!(
        WalrusCodec.encoded_len(&huge),
        Err(CodecError::TooLarge(_))
    ));

    // A status whose peer ID is the 3 bytes 99 01 00: no such multihash.
    let mut bytes = vec![VERSION, 3, 0x99, 1, 0];
    bytes.extend([1u64.to_le_bytes(), 1u64.to_le_bytes()].concat());
    let decoded = Codec::<Status<WalrusContext>>::decode(&WalrusCodec, bytes.into());
    assert!(matches!(decoded, Err(CodecError::PeerId(_))));
}

/// Decodes `bytes` as every type; whatever decodes re-encodes to `bytes`
/// (the format is canonical).
fn decode_all(bytes: &[u8]) {
    fn one<T>(bytes: &[u8])
    where
        WalrusCodec: Codec<T>,
    {
        if let Ok(msg) = Codec::<T>::decode(&WalrusCodec, Bytes::copy_from_slice(bytes)) {
            let again = Codec::<T>::encode(&WalrusCodec, &msg).ok();
            assert_eq!(again.as_deref(), Some(bytes));
        }
    }
    one::<ProposalPart>(bytes);
    one::<SignedConsensusMsg<WalrusContext>>(bytes);
    one::<LivenessMsg<WalrusContext>>(bytes);
    one::<StreamMessage<ProposalPart>>(bytes);
    one::<ValidatorProof<WalrusContext>>(bytes);
    one::<Status<WalrusContext>>(bytes);
    one::<Request<WalrusContext>>(bytes);
    one::<Response<WalrusContext>>(bytes);
    one::<ProposedValue<WalrusContext>>(bytes);
    one::<PolkaCertificate<WalrusContext>>(bytes);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_all(&body);
        let mut versioned = vec![VERSION];
        versioned.extend_from_slice(&body);
        decode_all(&versioned);
    }

    #[test]
    fn damaged_encodings_never_panic(
        which in any::<usize>(),
        at in any::<usize>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let mut bytes = SAMPLES[which % SAMPLES.len()].to_vec();
        let at = at % bytes.len();
        if cut {
            bytes.truncate(at);
        } else {
            bytes[at] = byte;
        }
        decode_all(&bytes);
    }
}
