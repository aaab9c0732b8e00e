//! Blake2b-256 of 8 equal-length inputs at once with AVX-512F.
//!
//! Why this exists: leaf and inner-node hashing is the floor of encoding
//! (about `n^2` leaves of one symbol each and `2n^2` inner nodes per blob).
//! `blake2b_simd` runs 4 lanes with AVX2 and emulates 64-bit rotations;
//! AVX-512F gives 8 lanes and native rotations (`vprorq`). Each 64-bit lane of
//! a vector carries one input's Blake2b state word. The hashed message is
//! `prefix || input` (the Merkle domain byte), but the input is read where it
//! lies: each 64-byte half block is one byte-masked load at offset -1 (the
//! mask zero-pads the last block without reading past the input); only the
//! first half block is shifted by one byte in registers to make room for the
//! prefix. The 8 lanes' blocks are then transposed in registers. The algorithm is Blake2b as in RFC 7693 with
//! digest length 32, no key, salt or personalization.
//!
//! This module holds `unsafe` (as do `rs_avx512`, its `kernels`,
//! `huge_pages.rs` and the one call into [`hash8_prefixed`] in `hash.rs`):
//! masked loads and stores take raw pointers, and calling a `target_feature`
//! function needs proof that the CPU has the feature. Every block states why
//! it is sound. Tests compare it and `blake2b_simd` with a scalar reference
//! (itself checked against known answers) on every length from 0 to 400
//! bytes and several prefixes; on a CPU without AVX-512 they check only
//! `blake2b_simd`, and say so on stderr.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m512i, __mmask64, _mm512_add_epi64, _mm512_alignr_epi8, _mm512_mask_mov_epi8,
    _mm512_maskz_loadu_epi8, _mm512_maskz_permutexvar_epi64, _mm512_permutex2var_epi64,
    _mm512_ror_epi64, _mm512_set1_epi8, _mm512_set1_epi64, _mm512_setr_epi64, _mm512_setzero_si512,
    _mm512_shuffle_i64x2, _mm512_storeu_si512, _mm512_unpackhi_epi64, _mm512_unpacklo_epi64,
    _mm512_xor_si512,
};

use crate::hash::Digest;

/// Lanes per call.
pub(crate) const LANES: usize = 8;
const BLOCK: usize = 128;

const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

const SIGMA: [[usize; 16]; 12] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

/// Whether this CPU can run [`hash8`].
pub(crate) fn available() -> bool {
    std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw")
}

#[inline]
#[target_feature(enable = "avx512f")]
fn splat(word: u64) -> __m512i {
    _mm512_set1_epi64(i64::from_ne_bytes(word.to_ne_bytes()))
}

/// The G mixing function on 8 lanes (RFC 7693, section 3.1).
macro_rules! g {
    ($v:ident, $a:literal, $b:literal, $c:literal, $d:literal, $x:expr, $y:expr) => {
        $v[$a] = _mm512_add_epi64(_mm512_add_epi64($v[$a], $v[$b]), $x);
        $v[$d] = _mm512_ror_epi64::<32>(_mm512_xor_si512($v[$d], $v[$a]));
        $v[$c] = _mm512_add_epi64($v[$c], $v[$d]);
        $v[$b] = _mm512_ror_epi64::<24>(_mm512_xor_si512($v[$b], $v[$c]));
        $v[$a] = _mm512_add_epi64(_mm512_add_epi64($v[$a], $v[$b]), $y);
        $v[$d] = _mm512_ror_epi64::<16>(_mm512_xor_si512($v[$d], $v[$a]));
        $v[$c] = _mm512_add_epi64($v[$c], $v[$d]);
        $v[$b] = _mm512_ror_epi64::<63>(_mm512_xor_si512($v[$b], $v[$c]));
    };
}

/// One round with message schedule `SIGMA[$r]`; `$r` is a literal so that every
/// index is a constant and the state stays in registers.
macro_rules! round {
    ($v:ident, $m:ident, $r:literal) => {
        g!($v, 0, 4, 8, 12, $m[SIGMA[$r][0]], $m[SIGMA[$r][1]]);
        g!($v, 1, 5, 9, 13, $m[SIGMA[$r][2]], $m[SIGMA[$r][3]]);
        g!($v, 2, 6, 10, 14, $m[SIGMA[$r][4]], $m[SIGMA[$r][5]]);
        g!($v, 3, 7, 11, 15, $m[SIGMA[$r][6]], $m[SIGMA[$r][7]]);
        g!($v, 0, 5, 10, 15, $m[SIGMA[$r][8]], $m[SIGMA[$r][9]]);
        g!($v, 1, 6, 11, 12, $m[SIGMA[$r][10]], $m[SIGMA[$r][11]]);
        g!($v, 2, 7, 8, 13, $m[SIGMA[$r][12]], $m[SIGMA[$r][13]]);
        g!($v, 3, 4, 9, 14, $m[SIGMA[$r][14]], $m[SIGMA[$r][15]]);
    };
}

/// The compression function on 8 lanes; `counter` is the same for all lanes.
#[inline]
#[target_feature(enable = "avx512f")]
fn compress(h: &mut [__m512i; 8], m: &[__m512i; 16], counter: u128, last: bool) {
    let counter_low = u64::try_from(counter & u128::from(u64::MAX)).expect("masked to 64 bits");
    let counter_high = u64::try_from(counter >> 64).expect("shifted to 64 bits");
    let mut v = [
        h[0],
        h[1],
        h[2],
        h[3],
        h[4],
        h[5],
        h[6],
        h[7],
        splat(IV[0]),
        splat(IV[1]),
        splat(IV[2]),
        splat(IV[3]),
        splat(IV[4] ^ counter_low),
        splat(IV[5] ^ counter_high),
        splat(if last { !IV[6] } else { IV[6] }),
        splat(IV[7]),
    ];
    round!(v, m, 0);
    round!(v, m, 1);
    round!(v, m, 2);
    round!(v, m, 3);
    round!(v, m, 4);
    round!(v, m, 5);
    round!(v, m, 6);
    round!(v, m, 7);
    round!(v, m, 8);
    round!(v, m, 9);
    round!(v, m, 10);
    round!(v, m, 11);
    for i in 0..8 {
        h[i] = _mm512_xor_si512(_mm512_xor_si512(h[i], v[i]), v[i + 8]);
    }
}

/// A byte mask selecting the first `count` bytes of a 64-byte vector.
fn byte_mask(count: usize) -> __mmask64 {
    if count >= 64 {
        u64::MAX
    } else {
        (1u64 << count) - 1
    }
}

/// Where message half `half` (0 or 1) of block `block` of `prefix || input`
/// lies in an input of `input_len` bytes: `(offset, mask)` for a masked
/// load at input byte `offset` (message byte `m` is input byte `m - 1`).
/// The first half of block 0 starts at the prefix: its load starts at input
/// byte 0 and is shifted by one byte in registers ([`first_half`]).
#[inline]
fn half_at(input_len: usize, block: usize, half: usize) -> (usize, __mmask64) {
    let start = block * BLOCK + half * 64;
    if start == 0 {
        return (0, byte_mask(input_len.min(63)));
    }
    let offset = start - 1;
    (offset, byte_mask(input_len.saturating_sub(offset).min(64)))
}

/// Loads the bytes of `input` that `mask` selects, starting at `offset`;
/// the rest of the vector is zero.
///
/// # Safety
/// `mask` must select only bytes `offset..offset + k` with
/// `offset + k <= input.len()` (as [`half_at`] computes for this input's
/// length).
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn load_masked(input: &[u8], offset: usize, mask: __mmask64) -> __m512i {
    if mask == 0 {
        return _mm512_setzero_si512();
    }
    // SAFETY: the caller guarantees that the selected bytes lie inside
    // `input`, so `offset <= input.len()` and `add` stays in bounds. A masked
    // load does not access masked-out bytes: Intel documents fault
    // suppression for them and LLVM's masked-load intrinsic reads only
    // enabled lanes; no byte outside `input` is read.
    unsafe { _mm512_maskz_loadu_epi8(mask, input.as_ptr().add(offset).cast::<i8>()) }
}

/// The first 64 message bytes from `x` (input bytes 0..63): the prefix,
/// then the input shifted up by one byte.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn first_half(prefix: u8, x: __m512i) -> __m512i {
    // Move every 128-bit lane up by one lane (lane 0 becomes zero), then take
    // the last byte of the lane below in front of each lane's first 15 bytes.
    let lanes_up =
        _mm512_maskz_permutexvar_epi64(0b1111_1100, _mm512_setr_epi64(0, 0, 0, 1, 2, 3, 4, 5), x);
    let shifted = _mm512_alignr_epi8::<15>(x, lanes_up);
    _mm512_mask_mov_epi8(shifted, 1, _mm512_set1_epi8(i8::from_ne_bytes([prefix])))
}

/// Transposes an 8 x 8 matrix of 64-bit words held as 8 row vectors.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose(rows: &[__m512i; 8]) -> [__m512i; 8] {
    // Pairs of rows interleaved: words (0, 2, 4, 6) and (1, 3, 5, 7).
    let t: [__m512i; 8] = core::array::from_fn(|i| {
        let (a, b) = (rows[i / 2 * 2], rows[i / 2 * 2 + 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_epi64(a, b)
        } else {
            _mm512_unpackhi_epi64(a, b)
        }
    });
    // Four rows per vector: 128-bit lanes (0, 2) and (1, 3) of two interleavings.
    let even = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    let odd = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    let u = [
        _mm512_permutex2var_epi64(t[0], even, t[2]), // words 0, 4 of rows 0..4
        _mm512_permutex2var_epi64(t[0], odd, t[2]),  // words 2, 6
        _mm512_permutex2var_epi64(t[1], even, t[3]), // words 1, 5
        _mm512_permutex2var_epi64(t[1], odd, t[3]),  // words 3, 7
        _mm512_permutex2var_epi64(t[4], even, t[6]), // the same for rows 4..8
        _mm512_permutex2var_epi64(t[4], odd, t[6]),
        _mm512_permutex2var_epi64(t[5], even, t[7]),
        _mm512_permutex2var_epi64(t[5], odd, t[7]),
    ];
    // Low halves give words 0..4, high halves words 4..8.
    [
        _mm512_shuffle_i64x2::<0x44>(u[0], u[4]),
        _mm512_shuffle_i64x2::<0x44>(u[2], u[6]),
        _mm512_shuffle_i64x2::<0x44>(u[1], u[5]),
        _mm512_shuffle_i64x2::<0x44>(u[3], u[7]),
        _mm512_shuffle_i64x2::<0xEE>(u[0], u[4]),
        _mm512_shuffle_i64x2::<0xEE>(u[2], u[6]),
        _mm512_shuffle_i64x2::<0xEE>(u[1], u[5]),
        _mm512_shuffle_i64x2::<0xEE>(u[3], u[7]),
    ]
}

/// Hashes `prefix || input` for 8 inputs of equal length into `out`.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512BW ([`available`] returned true).
///
/// # Panics
/// Panics if there are not exactly 8 inputs and 8 outputs, or the inputs'
/// lengths differ.
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) unsafe fn hash8_prefixed(prefix: u8, inputs: &[&[u8]], out: &mut [Digest]) {
    assert_eq!(inputs.len(), LANES, "8 inputs");
    assert_eq!(out.len(), LANES, "8 digests");
    let input_len = inputs[0].len();
    assert!(
        inputs.iter().all(|input| input.len() == input_len),
        "inputs of equal length"
    );
    let message_len = input_len + 1;
    let mut h: [__m512i; 8] = core::array::from_fn(|i| splat(IV[i]));
    // Parameter block: digest length 32, no key, fanout 1, depth 1.
    h[0] = _mm512_xor_si512(h[0], splat(0x0101_0020));

    // All blocks but the last are full; the last holds 1..=128 bytes.
    let last_block = (message_len - 1) / BLOCK;
    for block in 0..=last_block {
        // The same offsets and masks for all 8 inputs (equal lengths).
        let (low_at, low_mask) = half_at(input_len, block, 0);
        let (high_at, high_mask) = half_at(input_len, block, 1);
        // SAFETY: `half_at` computed the masks for this length, which every
        // input has (asserted above).
        let low: [__m512i; LANES] = core::array::from_fn(|lane| {
            let x = unsafe { load_masked(inputs[lane], low_at, low_mask) };
            if block == 0 { first_half(prefix, x) } else { x }
        });
        let high: [__m512i; LANES] =
            core::array::from_fn(|lane| unsafe { load_masked(inputs[lane], high_at, high_mask) });
        let (low, high) = (transpose(&low), transpose(&high));
        let m: [__m512i; 16] = core::array::from_fn(|i| if i < 8 { low[i] } else { high[i - 8] });
        let counter =
            u128::try_from(message_len.min((block + 1) * BLOCK)).expect("usize fits in u128");
        compress(&mut h, &m, counter, block == last_block);
    }

    // The digest is the first 4 state words, little-endian.
    let mut words = [[0u64; LANES]; 4];
    for (i, lane_words) in words.iter_mut().enumerate() {
        // SAFETY: `lane_words` is 64 writable bytes; the store is unaligned.
        unsafe { _mm512_storeu_si512(lane_words.as_mut_ptr().cast(), h[i]) };
    }
    for (lane, digest) in out.iter_mut().enumerate() {
        for (i, lane_words) in words.iter().enumerate() {
            digest[8 * i..8 * i + 8].copy_from_slice(&lane_words[lane].to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{blake2b256, hash_prefixed};

    /// RFC 7693 Blake2b, unkeyed, with an `out_len`-byte digest: a plain
    /// scalar reference, independent of `blake2b_simd` and of [`hash8_prefixed`]
    /// but for the RFC's constants.
    fn reference(out_len: usize, message: &[u8]) -> Vec<u8> {
        let mut h = IV;
        h[0] ^= 0x0101_0000 ^ u64::try_from(out_len).expect("small");
        let blocks = message.len().div_ceil(BLOCK).max(1);
        for block in 0..blocks {
            let part = &message[block * BLOCK..message.len().min((block + 1) * BLOCK)];
            let mut bytes = [0u8; BLOCK];
            bytes[..part.len()].copy_from_slice(part);
            let m: [u64; 16] = core::array::from_fn(|i| {
                u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"))
            });
            let counter = u64::try_from(block * BLOCK + part.len()).expect("small");
            reference_compress(&mut h, &m, counter, block + 1 == blocks);
        }
        h.iter()
            .flat_map(|word| word.to_le_bytes())
            .take(out_len)
            .collect()
    }

    /// The compression function F of RFC 7693, section 3.2, for messages
    /// shorter than 2^64 bytes.
    fn reference_compress(h: &mut [u64; 8], m: &[u64; 16], counter: u64, last: bool) {
        let mut v = [0u64; 16];
        v[..8].copy_from_slice(h);
        v[8..].copy_from_slice(&IV);
        v[12] ^= counter;
        if last {
            v[14] = !v[14];
        }
        const COLUMNS_THEN_DIAGONALS: [[usize; 4]; 8] = [
            [0, 4, 8, 12],
            [1, 5, 9, 13],
            [2, 6, 10, 14],
            [3, 7, 11, 15],
            [0, 5, 10, 15],
            [1, 6, 11, 12],
            [2, 7, 8, 13],
            [3, 4, 9, 14],
        ];
        for s in &SIGMA {
            for (i, [a, b, c, d]) in COLUMNS_THEN_DIAGONALS.into_iter().enumerate() {
                let (x, y) = (m[s[2 * i]], m[s[2 * i + 1]]);
                v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
                v[d] = (v[d] ^ v[a]).rotate_right(32);
                v[c] = v[c].wrapping_add(v[d]);
                v[b] = (v[b] ^ v[c]).rotate_right(24);
                v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
                v[d] = (v[d] ^ v[a]).rotate_right(16);
                v[c] = v[c].wrapping_add(v[d]);
                v[b] = (v[b] ^ v[c]).rotate_right(63);
            }
        }
        for i in 0..8 {
            h[i] ^= v[i] ^ v[i + 8];
        }
    }

    /// The reference's Blake2b-256 of `prefix || input`.
    fn reference_digest(prefix: u8, input: &[u8]) -> Digest {
        reference(32, &[&[prefix], input].concat())
            .try_into()
            .expect("32 bytes")
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// `(digest length, message, digest)` computed by another
    /// implementation (Python's `hashlib`); the first is RFC 7693's
    /// Appendix A. The last two are one block exactly and three blocks.
    fn known_answers() -> [(usize, Vec<u8>, &'static str); 5] {
        let block: Vec<u8> = (0..127usize)
            .map(|i| u8::try_from(i * 7 % 256).expect("mod 256"))
            .collect();
        [
            (
                64,
                b"abc".to_vec(),
                "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
                 7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
            ),
            (
                32,
                Vec::new(),
                "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
            ),
            (
                32,
                b"abc".to_vec(),
                "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
            ),
            (
                32,
                [&[0u8][..], &block[..]].concat(),
                "d44bccbdce6369ed1ecd2fa24545f787be4005561a4bd8ac3a8602466218c6d2",
            ),
            (
                32,
                [1u8].into_iter().chain(0..=255).collect(),
                "3f7a2f8ad0dc2e81a98699fc324226cd113df3466de8a37b320f509a1ad21208",
            ),
        ]
    }

    #[test]
    fn the_reference_and_every_path_give_the_known_answers() {
        if !available() {
            crate::warn_untested("`hash8_prefixed`", "`blake2b_simd`");
        }
        for (out_len, message, expected) in known_answers() {
            assert_eq!(hex(&reference(out_len, &message)), expected, "reference");
            if out_len != 32 {
                continue;
            }
            assert_eq!(hex(&blake2b256(&[&message])), expected, "blake2b_simd");
            let Some((&prefix, input)) = message.split_first() else {
                continue;
            };
            // 8 inputs take the AVX-512 lanes where the CPU has them, 7 the
            // fallback (`blake2b_simd::many`) on every CPU.
            let inputs = [input; LANES];
            for lanes in [LANES, LANES - 1] {
                let mut out = [[0u8; 32]; LANES];
                hash_prefixed(prefix, &inputs[..lanes], &mut out[..lanes]);
                for digest in &out[..lanes] {
                    assert_eq!(hex(digest), expected, "hash_prefixed on {lanes} inputs");
                }
            }
            if available() {
                let mut out = [[0u8; 32]; LANES];
                // SAFETY: `available()` returned true.
                unsafe { hash8_prefixed(prefix, &inputs, &mut out) };
                assert!(out.iter().all(|digest| hex(digest) == expected), "hash8");
            }
        }
    }

    #[test]
    fn equals_blake2b_simd_for_every_length_and_prefix() {
        let simd = available();
        if !simd {
            crate::warn_untested(
                "`hash8_prefixed`",
                "`blake2b_simd` (`hash_prefixed`'s fallback) and a scalar reference",
            );
        }
        for input_len in 0..=400usize {
            let bytes: Vec<u8> = (0..LANES * input_len + 3)
                .map(|i| u8::try_from((i * 131 + input_len) % 256).expect("mod 256"))
                .collect();
            // Inputs at odd offsets and out of order, as slices into one buffer.
            let inputs: Vec<&[u8]> = (0..LANES)
                .rev()
                .map(|lane| &bytes[3 + lane * input_len..][..input_len])
                .collect();
            for prefix in [0u8, 1, 0xff] {
                let expected: Vec<Digest> = inputs
                    .iter()
                    .map(|input| reference_digest(prefix, input))
                    .collect();
                let at = format!("length {input_len} prefix {prefix}");
                for (input, digest) in inputs.iter().zip(&expected) {
                    assert_eq!(
                        blake2b256(&[&[prefix], input]),
                        *digest,
                        "blake2b_simd, {at}"
                    );
                }
                // The production dispatch: 8 inputs take the AVX-512 lanes
                // where the CPU has them, 7 the fallback on every CPU.
                for lanes in [LANES, LANES - 1] {
                    let mut out = vec![[0u8; 32]; lanes];
                    hash_prefixed(prefix, &inputs[..lanes], &mut out);
                    assert_eq!(out, expected[..lanes], "hash_prefixed on {lanes}, {at}");
                }
                if simd {
                    let mut out = [[0u8; 32]; LANES];
                    // SAFETY: `available()` returned true above.
                    unsafe { hash8_prefixed(prefix, &inputs, &mut out) };
                    assert_eq!(out.as_slice(), expected, "hash8_prefixed, {at}");
                }
            }
        }
    }
}
