//! Proposal streams: a proposer publishes a block as `Init`, `Data`
//! chunks and `Fin` (its signature), each wrapped in a numbered
//! [`StreamMessage`] and closed by a `StreamContent::Fin`. The engine
//! carries them without ordering or checking; [`Streams`] puts each
//! publisher's stream back together. Checking who proposed and whether the
//! signature and block are good is the application's (`app.rs`).
//!
//! Bounds: a stream holds at most [`MAX_PARTS`] messages and
//! [`MAX_BLOCK_BYTES`] of data; at most [`MAX_STREAMS`] streams are open,
//! the oldest dropped first.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;
use malachitebft_app_channel::app::{
    streaming::{StreamContent, StreamId, StreamMessage},
    types::{PeerId, core::Round},
};

use super::{
    context::{Height, ProposalPart, ValidatorAddress},
    signing::BlsSignature,
};

/// Size of one `Data` chunk, in bytes.
pub const CHUNK_BYTES: usize = 128 * 1024;
/// Largest block a stream may carry, in bytes.
pub const MAX_BLOCK_BYTES: usize = 16 * 1024 * 1024;
/// Most messages in one stream (Init, Data chunks, Fin part, end).
pub const MAX_PARTS: usize = MAX_BLOCK_BYTES / CHUNK_BYTES + 3;
/// Most streams assembled at once.
pub const MAX_STREAMS: usize = 64;

/// A complete stream: who proposes what, the block's bytes and the
/// proposer's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The proof-of-lock round.
    pub pol_round: Round,
    /// The claimed proposer.
    pub proposer: ValidatorAddress,
    /// The block's BCS bytes.
    pub bytes: Vec<u8>,
    /// The `Fin` signature.
    pub signature: BlsSignature,
}

#[derive(Default)]
struct Partial {
    messages: BTreeMap<u64, StreamContent<ProposalPart>>,
    end: Option<u64>,
    data_bytes: usize,
}

/// Streams being put back together, by publisher and stream ID.
#[derive(Default)]
pub struct Streams {
    open: HashMap<(PeerId, StreamId), Partial>,
    order: VecDeque<(PeerId, StreamId)>,
}

/// The stream ID of a proposal at `height` and `round`.
pub fn stream_id(height: Height, round: Round) -> StreamId {
    let mut bytes = height.0.to_le_bytes().to_vec();
    bytes.extend_from_slice(&round.as_i64().to_le_bytes());
    StreamId::new(Bytes::from(bytes))
}

/// The messages that publish `block_bytes` at `height` and `round`.
pub fn messages(
    init: ProposalPart,
    block_bytes: &[u8],
    signature: BlsSignature,
    id: &StreamId,
) -> Vec<StreamMessage<ProposalPart>> {
    let mut parts = vec![init];
    parts.extend(
        block_bytes
            .chunks(CHUNK_BYTES)
            .map(|chunk| ProposalPart::Data(chunk.to_vec())),
    );
    parts.push(ProposalPart::Fin(signature));
    parts
        .into_iter()
        .map(StreamContent::Data)
        .chain(std::iter::once(StreamContent::Fin))
        .zip(0u64..)
        .map(|(content, sequence)| StreamMessage::new(id.clone(), sequence, content))
        .collect()
}

impl Streams {
    /// Adds `message` from `publisher`; returns the stream once complete
    /// and well formed. Malformed or oversized streams are dropped.
    pub fn insert(
        &mut self,
        publisher: PeerId,
        message: StreamMessage<ProposalPart>,
    ) -> Option<Assembled> {
        let key = (publisher, message.stream_id.clone());
        if !self.open.contains_key(&key) {
            if self.order.len() >= MAX_STREAMS
                && let Some(oldest) = self.order.pop_front()
            {
                self.open.remove(&oldest);
            }
            self.order.push_back(key.clone());
        }
        let partial = self.open.entry(key.clone()).or_default();
        if let StreamContent::Data(ProposalPart::Data(chunk)) = &message.content {
            partial.data_bytes = partial.data_bytes.saturating_add(chunk.len());
        }
        if matches!(message.content, StreamContent::Fin) {
            partial.end = Some(message.sequence);
        }
        partial.messages.insert(message.sequence, message.content);
        let too_big = partial.messages.len() > MAX_PARTS || partial.data_bytes > MAX_BLOCK_BYTES;
        let complete = partial
            .end
            .and_then(|end| usize::try_from(end).ok())
            .is_some_and(|end| partial.messages.len() == end.saturating_add(1));
        if !(too_big || complete) {
            return None;
        }
        let partial = self.open.remove(&key)?;
        self.order.retain(|k| *k != key);
        if too_big {
            return None;
        }
        assemble(partial)
    }
}

fn assemble(partial: Partial) -> Option<Assembled> {
    let mut contents = partial.messages.into_values();
    let Some(StreamContent::Data(ProposalPart::Init {
        height,
        round,
        pol_round,
        proposer,
    })) = contents.next()
    else {
        return None;
    };
    let mut bytes = Vec::with_capacity(partial.data_bytes);
    let mut signature = None;
    for content in contents {
        match (content, signature) {
            (StreamContent::Data(ProposalPart::Data(chunk)), None) => {
                bytes.extend_from_slice(&chunk);
            }
            (StreamContent::Data(ProposalPart::Fin(fin)), None) => signature = Some(fin),
            (StreamContent::Fin, Some(_)) => {}
            _ => return None,
        }
    }
    Some(Assembled {
        height,
        round,
        pol_round,
        proposer,
        bytes,
        signature: signature?,
    })
}

#[cfg(test)]
mod tests {
    use malachitebft_app_channel::app::types::PeerId;
    use proptest::prelude::*;
    use walrus_contracts::ObjectId;

    use super::*;

    fn peer(byte: u8) -> PeerId {
        let mut sha256 = vec![0x12, 0x20];
        sha256.extend([byte; 32]);
        PeerId::from_bytes(&sha256).expect("a sha256 multihash")
    }

    fn init() -> ProposalPart {
        ProposalPart::Init {
            height: Height(7),
            round: Round::new(2),
            pol_round: Round::Nil,
            proposer: ValidatorAddress(ObjectId([3; 32])),
        }
    }

    proptest! {
        /// Any block size and arrival order gives back exactly the block.
        #[test]
        fn shuffled_streams_reassemble(
            len in 0..(3 * CHUNK_BYTES),
            seed in any::<u64>(),
        ) {
            let bytes: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).expect("< 251")).collect();
            let id = stream_id(Height(7), Round::new(2));
            let mut messages = messages(init(), &bytes, BlsSignature([9; 96]), &id);
            let mut state = seed | 1;
            for i in (1..messages.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let bound = u64::try_from(i + 1).expect("small");
                let j = usize::try_from(state % bound).expect("small");
                messages.swap(i, j);
            }
            let mut streams = Streams::default();
            let last = messages.len() - 1;
            for (index, message) in messages.into_iter().enumerate() {
                let done = streams.insert(peer(1), message);
                prop_assert_eq!(done.is_some(), index == last);
                if let Some(assembled) = done {
                    prop_assert_eq!(assembled.bytes, bytes.clone());
                    prop_assert_eq!(assembled.height, Height(7));
                    prop_assert_eq!(assembled.signature, BlsSignature([9; 96]));
                }
            }
        }

        /// Arbitrary messages from many publishers never panic, and the
        /// open streams stay bounded.
        #[test]
        fn arbitrary_messages_stay_bounded(
            messages in proptest::collection::vec(
                (0u8..80, 0u64..8, 0u8..4, proptest::collection::vec(any::<u8>(), 0..64)),
                0..400,
            )
        ) {
            let mut streams = Streams::default();
            for (publisher, sequence, kind, data) in messages {
                let content = match kind {
                    0 => StreamContent::Data(init()),
                    1 => StreamContent::Data(ProposalPart::Data(data)),
                    2 => StreamContent::Data(ProposalPart::Fin(BlsSignature([1; 96]))),
                    _ => StreamContent::Fin,
                };
                let id = stream_id(Height(1), Round::new(0));
                let _ = streams.insert(peer(publisher), StreamMessage::new(id, sequence, content));
                prop_assert!(streams.open.len() <= MAX_STREAMS);
            }
        }
    }

    #[test]
    fn oversized_streams_are_dropped() {
        let id = stream_id(Height(1), Round::new(0));
        let mut streams = Streams::default();
        let chunk = vec![0u8; CHUNK_BYTES];
        for sequence in 1..=u64::try_from(MAX_BLOCK_BYTES / CHUNK_BYTES + 1).expect("small") {
            let data = StreamContent::Data(ProposalPart::Data(chunk.clone()));
            assert!(
                streams
                    .insert(peer(1), StreamMessage::new(id.clone(), sequence, data))
                    .is_none()
            );
        }
        assert!(streams.open.is_empty(), "the oversized stream is dropped");
    }
}
