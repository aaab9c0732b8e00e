//! The byte format of everything Malachite BFT (`arc-malachitebft-*`
//! =0.8.2) sends to peers or writes to its WAL for [`WalrusContext`]:
//! consensus gossip, liveness messages, proposal-part streams, validator
//! proofs, ValueSync status/request/response, and WAL entries.
//!
//! Every message is one [`VERSION`] byte followed by the BCS encoding of a
//! private mirror of the engine's type (`codec/wire.rs`; the engine's
//! types have no serde impls). Mirrors use fixed-size arrays for hashes,
//! addresses and signatures, `Option<u32>` for a round (`None` = nil), and
//! enums whose variant order is part of the format: new variants go last.
//! BCS is canonical (minimal lengths, no trailing bytes, strict booleans),
//! so a message has one encoding. Decoding never panics and reads at most
//! [`MAX_LEN`] bytes.

mod wire;

use bytes::Bytes;
use malachitebft_app_channel::app::{
    consensus::LivenessMsg,
    streaming::StreamMessage,
    types::{
        ProposedValue, SignedConsensusMsg,
        codec::{Codec, ConsensusCodec, HasEncodedLen, SyncCodec, WalCodec},
        core::{NilOrVal, PolkaCertificate, Round, ValidatorProof},
        sync::{Request, Response, Status},
    },
};

use serde::{Serialize, de::DeserializeOwned};
use walrus_contracts::ObjectId;

use super::{
    context::{BlockHash, ProposalPart, ValidatorAddress, WalrusContext},
    signing::BlsSignature,
};

/// The format version: the first byte of every encoding.
pub const VERSION: u8 = 1;

/// The largest encoding, in bytes, that [`WalrusCodec`] writes or reads
/// (16 MiB; the engine's default limits are 10 MiB for RPCs and 4 MiB for
/// gossip).
pub const MAX_LEN: usize = 16 << 20;

/// The codec for [`WalrusContext`], so the engine's `ConsensusCodec`,
/// `SyncCodec` and `WalCodec` bundles: `Codec` and `HasEncodedLen` (the
/// length `encode` returns) for [`ProposalPart`], [`SignedConsensusMsg`],
/// [`LivenessMsg`], [`StreamMessage`] of proposal parts,
/// [`ValidatorProof`], sync [`Status`], [`Request`] and [`Response`],
/// [`ProposedValue`] and [`PolkaCertificate`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalrusCodec;

/// Bytes that are not a message of the expected type, or a message too
/// large to encode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The encoding is longer than [`MAX_LEN`].
    #[error("a {0}-byte message exceeds the codec's {MAX_LEN}-byte limit")]
    TooLarge(usize),
    /// No bytes at all (not even the version).
    #[error("an empty message")]
    Empty,
    /// The first byte is not [`VERSION`].
    #[error("unknown codec version {0}")]
    Version(u8),
    /// The body is not the BCS of the expected shape.
    #[error("malformed message: {0}")]
    Bcs(#[from] bcs::Error),
    /// A sync status names a malformed libp2p peer ID.
    #[error("malformed peer ID: {0}")]
    PeerId(String),
}

/// A type with a wire mirror: `Wire` borrows for encoding, `Owned` is what
/// decoding produces.
trait OnWire: Sized {
    type Wire<'a>: Serialize
    where
        Self: 'a;
    type Owned: DeserializeOwned;
    fn to_wire(&self) -> Self::Wire<'_>;
    fn from_wire(wire: Self::Owned) -> Result<Self, CodecError>;
}

/// A BLS signature as three 32-byte arrays (serde's arrays stop at 32);
/// BCS writes the 96 bytes as they are.
type Sig = [[u8; 32]; 3];
type Hash = [u8; 32];

fn sig(signature: &BlsSignature) -> Sig {
    let mut out = [[0; 32]; 3];
    for (dst, src) in out.iter_mut().zip(signature.0.chunks_exact(32)) {
        dst.copy_from_slice(src);
    }
    out
}

fn unsig(wire: Sig) -> BlsSignature {
    let mut out = [0; 96];
    for (dst, src) in out.chunks_exact_mut(32).zip(wire) {
        dst.copy_from_slice(&src);
    }
    BlsSignature(out)
}

fn address(address: &ValidatorAddress) -> Hash {
    address.0.0
}

fn unaddress(wire: Hash) -> ValidatorAddress {
    ValidatorAddress(ObjectId(wire))
}

fn unround(wire: Option<u32>) -> Round {
    wire.map_or(Round::Nil, Round::new)
}

fn value(value: &NilOrVal<BlockHash>) -> Option<Hash> {
    match value {
        NilOrVal::Nil => None,
        NilOrVal::Val(hash) => Some(hash.0),
    }
}

fn unvalue(wire: Option<Hash>) -> NilOrVal<BlockHash> {
    wire.map_or(NilOrVal::Nil, |hash| NilOrVal::Val(BlockHash(hash)))
}

fn decode<T: OnWire>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() > MAX_LEN {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != VERSION {
        return Err(CodecError::Version(version));
    }
    T::from_wire(bcs::from_bytes(body)?)
}

fn encode<T: OnWire>(msg: &T) -> Result<Bytes, CodecError> {
    let mut out = vec![VERSION];
    bcs::serialize_into(&mut out, &msg.to_wire())?;
    if out.len() > MAX_LEN {
        return Err(CodecError::TooLarge(out.len()));
    }
    Ok(out.into())
}

fn encoded_len<T: OnWire>(msg: &T) -> Result<usize, CodecError> {
    let len = bcs::serialized_size(&msg.to_wire())?.saturating_add(1);
    if len > MAX_LEN {
        return Err(CodecError::TooLarge(len));
    }
    Ok(len)
}

macro_rules! codecs {
    ($($msg:ty),* $(,)?) => {$(
        impl Codec<$msg> for WalrusCodec {
            type Error = CodecError;

            fn decode(&self, bytes: Bytes) -> Result<$msg, CodecError> {
                decode(&bytes)
            }

            fn encode(&self, msg: &$msg) -> Result<Bytes, CodecError> {
                encode(msg)
            }
        }

        impl HasEncodedLen<$msg> for WalrusCodec {
            fn encoded_len(&self, msg: &$msg) -> Result<usize, CodecError> {
                encoded_len(msg)
            }
        }
    )*};
}

codecs!(
    ProposalPart,
    SignedConsensusMsg<WalrusContext>,
    LivenessMsg<WalrusContext>,
    StreamMessage<ProposalPart>,
    ValidatorProof<WalrusContext>,
    Status<WalrusContext>,
    Request<WalrusContext>,
    Response<WalrusContext>,
    ProposedValue<WalrusContext>,
    PolkaCertificate<WalrusContext>,
);

/// Fails to compile if a bundle the engine needs lacks an impl.
fn _bundles()
where
    WalrusCodec: ConsensusCodec<WalrusContext> + SyncCodec<WalrusContext> + WalCodec<WalrusContext>,
{
}

#[cfg(test)]
mod tests;
