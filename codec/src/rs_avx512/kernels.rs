//! The AVX-512 kernels of [`super::Avx512Encoder`]: a chunk times a
//! constant, the FFT and IFFT butterflies, and the passes that run one, two
//! or three layers of them over groups of shards in registers. Every
//! `unsafe` block states why it is sound; the callers' bounds are asserted
//! in the encoder.
//!
//! The kernels are generic over a [`Multiply`] token and carry no target
//! features: they are `#[inline(always)]`, so each lands inside the
//! encoder's `transform_gfni` or `transform_nibbles`, whose target features
//! let the SIMD instructions inline too. (A kernel with only AVX-512
//! features, compiled apart, would call each GFNI instruction.)
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m512i, __mmask64, _mm512_and_si512, _mm512_castsi512_si256, _mm512_gf2p8affine_epi64_epi8,
    _mm512_inserti64x4, _mm512_load_si512, _mm512_loadu_si512, _mm512_maskz_loadu_epi8,
    _mm512_set_epi64, _mm512_set1_epi8, _mm512_setzero_si512, _mm512_shuffle_epi8,
    _mm512_shuffle_i64x2, _mm512_srli_epi16, _mm512_store_si512, _mm512_ternarylogic_epi64,
    _mm512_xor_si512,
};

/// One 64-byte chunk of a shard, aligned so that a load never splits a cache
/// line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Chunk(pub(super) [u8; 64]);

pub(super) const ZERO: Chunk = Chunk([0; 64]);

/// The registers that multiply a chunk by one constant, as a [`Multiply`]
/// builds and uses them.
#[derive(Clone, Copy)]
pub(super) struct Factor(pub(super) [__m512i; 4]);

/// How the kernels multiply a chunk by a constant. A value of an
/// implementing type is a token that proves the CPU has the instructions
/// the kernels use.
///
/// # Safety
/// A value may exist only on a CPU with AVX-512F, AVX-512BW and the
/// instructions of the type's [`Multiply::mul_add`].
pub(super) unsafe trait Multiply: Copy {
    /// `x + y * factor` for the 32 words of a chunk, `factor` as
    /// [`Multiply::factor`] built it.
    fn mul_add(self, x: __m512i, y: __m512i, factor: &Factor) -> __m512i;

    /// The registers that multiply by the constant whose products of the
    /// 16 unit words `1 << k` are `unit_products[k]`.
    fn factor(self, unit_products: &[u16; 16]) -> Factor;

    /// `a + b`.
    #[inline(always)]
    fn xor(self, a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: the token proves AVX-512F.
        unsafe { _mm512_xor_si512(a, b) }
    }
}

/// Multiplication by four `vpshufb` nibble lookups (AVX-512BW).
///
/// Lanes 0-1 of a chunk hold its words' low bytes, lanes 2-3 their high
/// bytes; the nibble indices `n0`, `n1` are swapped across halves into
/// `n2`, `n3`, so each lane sees the low and high byte of its words. A
/// [`Factor`] holds, per lane, the table for the product byte that lane
/// produces.
#[derive(Clone, Copy)]
pub(super) struct Nibbles(());

impl Nibbles {
    /// The token, if this CPU has AVX-512F and AVX-512BW.
    pub(super) fn new() -> Option<Self> {
        (std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw"))
            .then_some(Self(()))
    }
}

// SAFETY: `Nibbles::new` checks for AVX-512F and BW, all `mul_add` uses.
unsafe impl Multiply for Nibbles {
    #[inline(always)]
    fn mul_add(self, x: __m512i, y: __m512i, factor: &Factor) -> __m512i {
        // SAFETY: the token exists only where `new` found AVX-512F and BW.
        unsafe {
            let mask = _mm512_set1_epi8(0x0f);
            let n0 = _mm512_and_si512(y, mask);
            let n1 = _mm512_and_si512(_mm512_srli_epi16::<4>(y), mask);
            let n2 = _mm512_shuffle_i64x2::<0x4E>(n0, n0);
            let n3 = _mm512_shuffle_i64x2::<0x4E>(n1, n1);
            let partial = _mm512_ternarylogic_epi64::<0x96>(
                _mm512_shuffle_epi8(factor.0[0], n0),
                _mm512_shuffle_epi8(factor.0[1], n1),
                _mm512_shuffle_epi8(factor.0[2], n2),
            );
            _mm512_ternarylogic_epi64::<0x96>(x, partial, _mm512_shuffle_epi8(factor.0[3], n3))
        }
    }

    fn factor(self, unit_products: &[u16; 16]) -> Factor {
        // `table(nibble, high)[v]`: the low (or high) byte of the product
        // of `v << 4 nibble`, by linearity the XOR of unit products.
        let table = |nibble: usize, high: bool| -> [u8; 16] {
            core::array::from_fn(|v| {
                let product = (0..4)
                    .filter(|bit| v >> bit & 1 == 1)
                    .fold(0, |sum, bit| sum ^ unit_products[4 * nibble + bit]);
                product.to_le_bytes()[usize::from(high)]
            })
        };
        // Lanes 0-1 make the product's low byte from nibbles 0 and 1 (the
        // low byte's, in `n0`, `n1`) and 2 and 3 (in `n2`, `n3`); lanes
        // 2-3 make its high byte from nibbles 2, 3, 0, 1 in the same order.
        let lanes = |low: [u8; 16], high: [u8; 16]| {
            let mut bytes = [0; 64];
            for (lane, table) in bytes.chunks_exact_mut(16).zip([low, low, high, high]) {
                lane.copy_from_slice(&table);
            }
            // SAFETY: an unaligned load of 64 readable bytes; the token
            // proves AVX-512F.
            unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
        };
        Factor([
            lanes(table(0, false), table(2, true)),
            lanes(table(1, false), table(3, true)),
            lanes(table(2, false), table(0, true)),
            lanes(table(3, false), table(1, true)),
        ])
    }
}

/// Multiplication by two GF(2) affine transforms (`vgf2p8affineqb`, GFNI).
///
/// Multiplying by a constant is linear over GF(2): a 16 × 16 bit matrix,
/// four 8 × 8 blocks (low or high product byte from low or high word byte).
/// One transform applies, per 64-bit lane, the block from the byte the lane
/// holds; a second applies the other block to the chunk with its halves
/// swapped; their XOR is the product. A [`Factor`] holds the two matrix
/// registers, then two unused ones.
#[derive(Clone, Copy)]
pub(super) struct Gfni(());

impl Gfni {
    /// The token, if this CPU has AVX-512F, AVX-512BW and GFNI.
    pub(super) fn new() -> Option<Self> {
        (Nibbles::new().is_some() && std::is_x86_feature_detected!("gfni")).then_some(Self(()))
    }
}

// SAFETY: `Gfni::new` checks for AVX-512F, BW and GFNI.
unsafe impl Multiply for Gfni {
    #[inline(always)]
    fn mul_add(self, x: __m512i, y: __m512i, factor: &Factor) -> __m512i {
        // SAFETY: the token exists only where `new` found AVX-512F, BW and
        // GFNI.
        unsafe {
            let swapped = _mm512_shuffle_i64x2::<0x4E>(y, y);
            _mm512_ternarylogic_epi64::<0x96>(
                x,
                _mm512_gf2p8affine_epi64_epi8::<0>(y, factor.0[0]),
                _mm512_gf2p8affine_epi64_epi8::<0>(swapped, factor.0[1]),
            )
        }
    }

    fn factor(self, unit_products: &[u16; 16]) -> Factor {
        // The block from input bits `from..from + 8` to output bits
        // `to..to + 8`: byte `7 - i` of the matrix holds the input mask
        // of output bit `i`.
        let block = |from: usize, to: usize| -> i64 {
            let mut matrix = 0_u64;
            for i in 0..8 {
                let row = (0..8)
                    .filter(|k| unit_products[from + k] >> (to + i) & 1 == 1)
                    .fold(0_u64, |row, k| row | 1 << k);
                matrix |= row << (8 * (7 - i));
            }
            i64::from_ne_bytes(matrix.to_ne_bytes())
        };
        let (low_low, high_low) = (block(0, 0), block(8, 0));
        let (low_high, high_high) = (block(0, 8), block(8, 8));
        // SAFETY: the token proves AVX-512F.
        unsafe {
            Factor([
                // Lanes of low bytes make the low product byte's share from
                // them; lanes of high bytes the high byte's share from them.
                _mm512_set_epi64(
                    high_high, high_high, high_high, high_high, low_low, low_low, low_low, low_low,
                ),
                // The swapped chunk: the other share of each product byte.
                _mm512_set_epi64(
                    low_high, low_high, low_high, low_high, high_low, high_low, high_low, high_low,
                ),
                _mm512_setzero_si512(),
                _mm512_setzero_si512(),
            ])
        }
    }
}

/// The FFT butterfly: `x += y * factor; y += x`.
#[inline(always)]
pub(super) fn fft_butterfly<M: Multiply>(m: M, x: &mut __m512i, y: &mut __m512i, factor: &Factor) {
    *x = m.mul_add(*x, *y, factor);
    *y = m.xor(*y, *x);
}

/// The IFFT butterfly: `y += x; x += y * factor`.
#[inline(always)]
pub(super) fn ifft_butterfly<M: Multiply>(m: M, x: &mut __m512i, y: &mut __m512i, factor: &Factor) {
    *y = m.xor(*y, *x);
    *x = m.mul_add(*x, *y, factor);
}

/// Two layers of butterflies over the shards `i, i + dist, i + 2 dist,
/// i + 3 dist` for `i` in `0..dist`: chunks are read from `from` and
/// written to `to` (the same buffer, or a copy's destination). `factors`:
/// the pairs `(s0, s1)`, `(s0 | s1, s2 | s3)` and `(s2, s3)`.
///
/// # Safety
/// `from` and `to` must each be valid for `4 * dist * len` chunks.
#[inline(always)]
pub(super) unsafe fn pass4<M: Multiply, const FFT: bool>(
    m: M,
    from: *const Chunk,
    to: *mut Chunk,
    len: usize,
    dist: usize,
    factors: &[Factor; 3],
) {
    let [f01, f02, f23] = factors;
    for at in 0..dist * len {
        let step = dist * len;
        // SAFETY: `at + 3 * step < 4 * dist * len`, which the caller
        // guarantees valid; chunks are 64-byte aligned.
        unsafe {
            let mut v0 = _mm512_load_si512(from.add(at).cast());
            let mut v1 = _mm512_load_si512(from.add(at + step).cast());
            let mut v2 = _mm512_load_si512(from.add(at + 2 * step).cast());
            let mut v3 = _mm512_load_si512(from.add(at + 3 * step).cast());
            if FFT {
                fft_butterfly(m, &mut v0, &mut v2, f02);
                fft_butterfly(m, &mut v1, &mut v3, f02);
                fft_butterfly(m, &mut v0, &mut v1, f01);
                fft_butterfly(m, &mut v2, &mut v3, f23);
            } else {
                ifft_butterfly(m, &mut v0, &mut v1, f01);
                ifft_butterfly(m, &mut v2, &mut v3, f23);
                ifft_butterfly(m, &mut v0, &mut v2, f02);
                ifft_butterfly(m, &mut v1, &mut v3, f02);
            }
            _mm512_store_si512(to.add(at).cast(), v0);
            _mm512_store_si512(to.add(at + step).cast(), v1);
            _mm512_store_si512(to.add(at + 2 * step).cast(), v2);
            _mm512_store_si512(to.add(at + 3 * step).cast(), v3);
        }
    }
}

/// One layer of butterflies over the shards `i, i + dist` for `i` in
/// `0..dist`, in place.
///
/// # Safety
/// `data` must be valid for `2 * dist * len` chunks.
#[inline(always)]
pub(super) unsafe fn pass2<M: Multiply, const FFT: bool>(
    m: M,
    data: *mut Chunk,
    len: usize,
    dist: usize,
    factor: &Factor,
) {
    let step = dist * len;
    for at in 0..step {
        // SAFETY: `at + step < 2 * dist * len`, which the caller guarantees
        // valid; chunks are 64-byte aligned.
        unsafe {
            let mut x = _mm512_load_si512(data.add(at).cast());
            let mut y = _mm512_load_si512(data.add(at + step).cast());
            if FFT {
                fft_butterfly(m, &mut x, &mut y, factor);
            } else {
                ifft_butterfly(m, &mut x, &mut y, factor);
            }
            _mm512_store_si512(data.add(at).cast(), x);
            _mm512_store_si512(data.add(at + step).cast(), y);
        }
    }
}

/// Three layers of butterflies over the shards `i + k dist` (`k` in
/// `0..8`) for `i` in `0..dist`: chunks are read from `from` and written to
/// `to` (the same buffer, or a copy's destination). The FFT runs the layers
/// from the outer (`4 dist`) in, the IFFT from the inner (`dist`) out.
/// `factors`: the layer at `4 dist` (one pair of halves), the two at
/// `2 dist`, the four at `dist`. `ZEROS` marks factors that are zero
/// (bit `i` for `factors[i]`), whose products are skipped.
///
/// # Safety
/// `from` and `to` must each be valid for `8 * dist * len` chunks.
#[inline(always)]
pub(super) unsafe fn pass8<M: Multiply, const FFT: bool, const ZEROS: u8>(
    m: M,
    from: *const Chunk,
    to: *mut Chunk,
    len: usize,
    dist: usize,
    factors: &[Factor; 7],
) {
    let [outer, m0, m1, i0, i1, i2, i3] = factors;
    let (middle, inner) = ([m0, m1], [i0, i1, i2, i3]);
    let step = dist * len;
    for at in 0..step {
        // SAFETY: `at + 7 * step < 8 * dist * len`, which the caller
        // guarantees valid; chunks are 64-byte aligned.
        let mut v: [__m512i; 8] =
            core::array::from_fn(|k| unsafe { _mm512_load_si512(from.add(at + k * step).cast()) });
        butterflies8::<M, FFT, ZEROS>(m, &mut v, outer, middle, inner);
        for (k, chunk) in v.into_iter().enumerate() {
            // SAFETY: as the loads above.
            unsafe { _mm512_store_si512(to.add(at + k * step).cast(), chunk) };
        }
    }
}

/// The three layers of [`pass8`] on one chunk of each of its 8 shards;
/// `ZEROS` as in [`pass8`], over `[outer, middle.., inner..]`.
#[inline(always)]
pub(super) fn butterflies8<M: Multiply, const FFT: bool, const ZEROS: u8>(
    m: M,
    v: &mut [__m512i; 8],
    outer: &Factor,
    middle: [&Factor; 2],
    inner: [&Factor; 4],
) {
    // Whether factor `i` is marked zero; `i` is a constant after unrolling.
    let zero = |i: usize| ZEROS >> i & 1 == 1;
    let outer_zero = zero(0);
    let middle_zero = |k: usize| zero(1 + k / 4);
    let inner_zero = |k: usize| zero(3 + k / 2);
    if FFT {
        for k in 0..4 {
            (v[k], v[k + 4]) = pair::<M, true>(m, v[k], v[k + 4], outer, outer_zero);
        }
        for k in [0, 1, 4, 5] {
            (v[k], v[k + 2]) = pair::<M, true>(m, v[k], v[k + 2], middle[k / 4], middle_zero(k));
        }
        for k in [0, 2, 4, 6] {
            (v[k], v[k + 1]) = pair::<M, true>(m, v[k], v[k + 1], inner[k / 2], inner_zero(k));
        }
    } else {
        for k in [0, 2, 4, 6] {
            (v[k], v[k + 1]) = pair::<M, false>(m, v[k], v[k + 1], inner[k / 2], inner_zero(k));
        }
        for k in [0, 1, 4, 5] {
            (v[k], v[k + 2]) = pair::<M, false>(m, v[k], v[k + 2], middle[k / 4], middle_zero(k));
        }
        for k in 0..4 {
            (v[k], v[k + 4]) = pair::<M, false>(m, v[k], v[k + 4], outer, outer_zero);
        }
    }
}

/// The first pass of an IFFT (three layers at distance 1) over the 8
/// shards at `to`, reading their input from `sources` (up to 8 shards of
/// `shard_bytes` in the natural layout; missing ones are zero) instead of
/// the work buffer: the copy of the originals into the work buffer and this
/// pass's load of them are one step.
///
/// `factors` and `ZEROS` as in [`pass8`].
///
/// # Safety
/// `to` must be valid for `8 * len` chunks, `len = shard_bytes.div_ceil(64)`,
/// and every source must be `shard_bytes` long.
#[inline(always)]
pub(super) unsafe fn pass8_from_sources<M: Multiply, const ZEROS: u8>(
    m: M,
    sources: &[&[u8]],
    shard_bytes: usize,
    to: *mut Chunk,
    len: usize,
    factors: &[Factor; 7],
) {
    let [outer, m0, m1, i0, i1, i2, i3] = factors;
    for at in 0..len {
        let mut v: [__m512i; 8] = core::array::from_fn(|k| {
            // SAFETY: the caller guarantees `source.len() == shard_bytes`;
            // the token proves AVX-512F and BW.
            unsafe {
                sources.get(k).map_or(_mm512_setzero_si512(), |source| {
                    load_chunk(source, at, shard_bytes)
                })
            }
        });
        butterflies8::<M, false, ZEROS>(m, &mut v, outer, [m0, m1], [i0, i1, i2, i3]);
        for (k, chunk) in v.into_iter().enumerate() {
            // SAFETY: `at + k * len < 8 * len`, which the caller guarantees
            // valid; chunks are 64-byte aligned.
            unsafe { _mm512_store_si512(to.add(at + k * len).cast(), chunk) };
        }
    }
}

/// Chunk `at` of a shard given in its natural layout, as the library's
/// `Shards::insert` lays it out: a whole chunk as it is; the tail (`t =
/// shard_bytes % 64` bytes) with its first `t / 2` bytes (the words' low
/// bytes) at 0 and the rest at 32, zero elsewhere.
///
/// # Safety
/// `source.len()` must be `shard_bytes` and `at < shard_bytes.div_ceil(64)`;
/// the CPU must have AVX-512F and AVX-512BW.
#[inline(always)]
pub(super) unsafe fn load_chunk(source: &[u8], at: usize, shard_bytes: usize) -> __m512i {
    let start = source.as_ptr();
    if (at + 1) * 64 <= shard_bytes {
        // SAFETY: bytes `64 at .. 64 at + 64` lie inside `source`.
        return unsafe { _mm512_loadu_si512(start.add(at * 64).cast()) };
    }
    let half = shard_bytes % 64 / 2;
    let mask: __mmask64 = (1 << half) - 1;
    // SAFETY: the masks select bytes `64 at .. 64 at + 2 half`, the tail,
    // which lies inside `source`; masked-out bytes are not read.
    unsafe {
        let low = _mm512_maskz_loadu_epi8(mask, start.add(at * 64).cast());
        let high = _mm512_maskz_loadu_epi8(mask, start.add(at * 64 + half).cast());
        _mm512_inserti64x4::<1>(low, _mm512_castsi512_si256(high))
    }
}

/// [`fft_butterfly`] (`FFT`) or [`ifft_butterfly`] by value; with `zero`
/// (a zero factor) the product is skipped, leaving `y += x` in both.
#[inline(always)]
pub(super) fn pair<M: Multiply, const FFT: bool>(
    m: M,
    mut x: __m512i,
    mut y: __m512i,
    factor: &Factor,
    zero: bool,
) -> (__m512i, __m512i) {
    if zero {
        y = m.xor(y, x);
    } else if FFT {
        fft_butterfly(m, &mut x, &mut y, factor);
    } else {
        ifft_butterfly(m, &mut x, &mut y, factor);
    }
    (x, y)
}

/// `x ^= y`, chunk by chunk.
#[target_feature(enable = "avx512f")]
pub(super) fn xor_into(x: &mut [Chunk], y: &[Chunk]) {
    for (x, y) in x.iter_mut().zip(y) {
        for (a, b) in x.0.iter_mut().zip(&y.0) {
            *a ^= b;
        }
    }
}
