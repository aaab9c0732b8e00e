//! Blake2b-256 and the Merkle node type (SPEC.md section 3).
//!
//! Hashing is the floor of the encoder's cost (one leaf hash per symbol of the
//! `n x n` matrix), so the batch functions here hash many equal-length inputs
//! at once with `blake2b_simd::many`, which runs several Blake2b instances in
//! parallel SIMD lanes (4 with AVX2).

use blake2b_simd::{
    Params,
    many::{HashManyJob, hash_many},
};
use serde::{Deserialize, Serialize};

/// A 32-byte Blake2b-256 digest.
pub type Digest = [u8; 32];

/// Domain-separation prefix of a Merkle leaf: `H(0x00 || data)`.
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an inner Merkle node: `H(0x01 || left || right)`.
pub const INNER_PREFIX: u8 = 0x01;

/// A Merkle tree node as it appears in metadata and proofs.
///
/// BCS: enum tag `0` for `Empty`, `1` followed by 32 bytes for `Digest`
/// (SPEC.md section 3). `Empty` stands for 32 zero bytes wherever it is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Node {
    /// The padding node of a level with an odd count; hashed as 32 zero bytes.
    Empty,
    /// A Blake2b-256 digest.
    Digest(Digest),
}

impl Node {
    /// The 32 bytes this node stands for when it is hashed.
    pub fn bytes(&self) -> Digest {
        match self {
            Node::Empty => [0; 32],
            Node::Digest(digest) => *digest,
        }
    }
}

fn params() -> Params {
    let mut params = Params::new();
    params.hash_length(32);
    params
}

fn to_digest(hash: blake2b_simd::Hash) -> Digest {
    hash.as_bytes()
        .try_into()
        .expect("the hash length is set to 32 bytes")
}

/// Blake2b-256 of the concatenation of `parts`.
pub fn blake2b256(parts: &[&[u8]]) -> Digest {
    let mut state = params().to_state();
    for part in parts {
        state.update(part);
    }
    to_digest(state.finalize())
}

/// The Merkle leaf hash `H(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Digest {
    blake2b256(&[&[LEAF_PREFIX], data])
}

/// The inner-node hash `H(0x01 || left || right)`.
pub fn inner_hash(left: &Digest, right: &Digest) -> Digest {
    blake2b256(&[&[INNER_PREFIX], left, right])
}

/// Hashes `prefix || input` for every input (all of one length) into `out`,
/// reading each input where it lies. Uses 8 AVX-512 lanes when the CPU has
/// them, else 4 AVX2 lanes through `blake2b_simd` (after copying the inputs
/// behind their prefix).
///
/// # Panics
/// Panics if `inputs.len() != out.len()` or the lengths differ (programmer errors).
pub(crate) fn hash_prefixed(prefix: u8, inputs: &[&[u8]], out: &mut [Digest]) {
    assert_eq!(inputs.len(), out.len(), "one digest per input");
    #[cfg(target_arch = "x86_64")]
    let (inputs, out) = {
        use crate::blake2b_x8::{LANES, available, hash8_prefixed};
        let whole = if available() {
            inputs.len() / LANES * LANES
        } else {
            0
        };
        let (head_in, tail_in) = inputs.split_at(whole);
        let (head_out, tail_out) = out.split_at_mut(whole);
        for (group, digests) in head_in
            .chunks_exact(LANES)
            .zip(head_out.chunks_exact_mut(LANES))
        {
            // SAFETY: `available()` checked that the CPU supports AVX-512F and BW.
            #[allow(unsafe_code)]
            unsafe {
                hash8_prefixed(prefix, group, digests)
            };
        }
        (tail_in, tail_out)
    };
    let Some(first) = inputs.first() else { return };
    let input_len = first.len() + 1;
    let mut buffer = Vec::with_capacity(inputs.len() * input_len);
    for input in inputs {
        assert_eq!(input.len() + 1, input_len, "inputs of equal length");
        buffer.push(prefix);
        buffer.extend_from_slice(input);
    }
    hash_many_equal(&buffer, input_len, out);
}

/// The leaf hash of every possible 2-byte symbol, indexed by the symbol read
/// as a little-endian `u16`: 65,536 hashes (2 MiB).
///
/// Blobs up to about `p * s * 2` bytes (445 KB at n = 1000) have 2-byte
/// symbols, and their `n^2` leaves repeat these 65,536 values, so building
/// the table and looking leaves up costs a fraction of hashing every leaf
/// (15 times fewer hashes at n = 1000). [`SmallLeafTable::for_leaves`] says when.
pub(crate) struct SmallLeafTable {
    hashes: Vec<Digest>,
}

impl SmallLeafTable {
    /// The symbol size the table serves.
    pub(crate) const SYMBOL_SIZE: usize = 2;
    /// Leaves of one encoding or verification from which building the table pays.
    const WORTH_IT: usize = 1 << 17;

    /// The table, when `leaves` leaf hashes of `symbol_size`-byte symbols
    /// are about to be computed and looking them up pays; else `None`.
    pub(crate) fn for_leaves(symbol_size: usize, leaves: usize) -> Option<&'static Self> {
        (symbol_size == Self::SYMBOL_SIZE && leaves >= Self::WORTH_IT).then(Self::get)
    }

    /// The table, built on first use (in parallel on the ambient rayon pool)
    /// and kept for the life of the process: it is a constant, and a
    /// storage node verifies such slivers for every small blob.
    pub(crate) fn get() -> &'static Self {
        static TABLE: std::sync::OnceLock<SmallLeafTable> = std::sync::OnceLock::new();
        TABLE.get_or_init(Self::new)
    }

    /// Hashes all 65,536 symbols.
    fn new() -> Self {
        use rayon::prelude::*;
        let symbols: Vec<u8> = (0..=u16::MAX).flat_map(u16::to_le_bytes).collect();
        let mut hashes = vec![[0; 32]; 1 << 16];
        const PER_TASK: usize = 4096;
        hashes
            .par_chunks_mut(PER_TASK)
            .zip(symbols.par_chunks(PER_TASK * Self::SYMBOL_SIZE))
            .for_each(|(out, symbols)| {
                let inputs: Vec<&[u8]> = symbols.chunks_exact(Self::SYMBOL_SIZE).collect();
                hash_prefixed(LEAF_PREFIX, &inputs, out);
            });
        Self { hashes }
    }

    /// The leaf hash of a 2-byte symbol.
    ///
    /// # Panics
    /// Panics if `symbol` is not 2 bytes long (programmer error).
    pub(crate) fn leaf_hash(&self, symbol: &[u8]) -> Digest {
        let symbol: [u8; 2] = symbol.try_into().expect("a 2-byte symbol");
        self.hashes[usize::from(u16::from_le_bytes(symbol))]
    }
}

/// The leaf hashes `H(0x00 || symbol)` of `symbols` (all of one length) into
/// `out`: looked up in `table` when given and the symbols are 2 bytes,
/// otherwise hashed in SIMD batches.
///
/// # Panics
/// Panics if `symbols.len() != out.len()` or the lengths differ.
pub(crate) fn leaf_hashes(symbols: &[&[u8]], out: &mut [Digest], table: Option<&SmallLeafTable>) {
    match table {
        Some(table)
            if symbols
                .first()
                .is_some_and(|s| s.len() == SmallLeafTable::SYMBOL_SIZE) =>
        {
            assert_eq!(symbols.len(), out.len(), "one digest per input");
            for (symbol, digest) in symbols.iter().zip(out) {
                *digest = table.leaf_hash(symbol);
            }
        }
        _ => hash_prefixed(LEAF_PREFIX, symbols, out),
    }
}

/// Hashes equal-length inputs laid back to back in `inputs`, each
/// `input_len` bytes, into `out`, in 4 AVX2 lanes (`blake2b_simd::many`).
fn hash_many_equal(inputs: &[u8], input_len: usize, out: &mut [Digest]) {
    assert_eq!(
        inputs.len(),
        out.len() * input_len,
        "inputs must fill out exactly"
    );
    let params = params();
    // Bounded batches keep the job list small.
    const BATCH: usize = 64;
    for (inputs, out) in inputs.chunks(BATCH * input_len).zip(out.chunks_mut(BATCH)) {
        let mut jobs: Vec<HashManyJob<'_>> = inputs
            .chunks_exact(input_len)
            .map(|input| HashManyJob::new(&params, input))
            .collect();
        hash_many(jobs.iter_mut());
        for (job, digest) in jobs.iter().zip(out.iter_mut()) {
            *digest = to_digest(job.to_hash());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_hashes_equal_single_hashes() {
        let inputs: Vec<u8> = (0..=255u8).cycle().take(65 * 131).collect();
        let mut out = vec![[0u8; 32]; 131];
        hash_many_equal(&inputs, 65, &mut out);
        for (input, digest) in inputs.chunks(65).zip(&out) {
            assert_eq!(*digest, blake2b256(&[input]));
        }
        let slices: Vec<&[u8]> = inputs.chunks(65).collect();
        hash_prefixed(LEAF_PREFIX, &slices, &mut out);
        for (input, digest) in slices.iter().zip(&out) {
            assert_eq!(*digest, leaf_hash(input));
        }
    }

    #[test]
    fn the_small_leaf_table_holds_every_2_byte_leaf_hash() {
        let table = SmallLeafTable::get();
        for value in [0u16, 1, 255, 256, 0x1234, 0xfffe, u16::MAX] {
            let symbol = value.to_le_bytes();
            assert_eq!(table.leaf_hash(&symbol), leaf_hash(&symbol));
        }
        let symbols: Vec<[u8; 2]> = (0..300u16).map(|v| (v * 217).to_le_bytes()).collect();
        let refs: Vec<&[u8]> = symbols.iter().map(|s| s.as_slice()).collect();
        let mut looked_up = vec![[0; 32]; refs.len()];
        leaf_hashes(&refs, &mut looked_up, Some(table));
        let mut hashed = vec![[0; 32]; refs.len()];
        leaf_hashes(&refs, &mut hashed, None);
        assert_eq!(looked_up, hashed);
    }

    #[test]
    fn empty_node_hashes_as_zeros() {
        assert_eq!(Node::Empty.bytes(), [0; 32]);
        assert_eq!(bcs::to_bytes(&Node::Empty).expect("serializes"), vec![0]);
        let digest = bcs::to_bytes(&Node::Digest([7; 32])).expect("serializes");
        assert_eq!(digest.len(), 33);
        assert_eq!(digest[0], 1);
    }
}
