//! The AVX-512 kernels of [`super::Avx512Encoder`]: a chunk times a
//! constant, the FFT and IFFT butterflies, and the passes that run one, two
//! or three layers of them over groups of shards in registers. Every
//! `unsafe` block states why it is sound; the callers' bounds are asserted
//! in the encoder.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m512i, __mmask64, _mm_loadu_si128, _mm512_and_si512, _mm512_broadcast_i32x4,
    _mm512_castsi512_si256, _mm512_inserti64x4, _mm512_load_si512, _mm512_loadu_si512,
    _mm512_mask_broadcast_i32x4, _mm512_maskz_loadu_epi8, _mm512_set1_epi8, _mm512_setzero_si512,
    _mm512_shuffle_epi8, _mm512_shuffle_i64x2, _mm512_srli_epi16, _mm512_store_si512,
    _mm512_ternarylogic_epi64, _mm512_xor_si512,
};

/// One 64-byte chunk of a shard, aligned so that a load never splits a cache
/// line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Chunk(pub(super) [u8; 64]);

pub(super) const ZERO: Chunk = Chunk([0; 64]);

/// The four table registers that multiply a chunk by one constant.
#[derive(Clone, Copy)]
pub(super) struct Factor(pub(super) [__m512i; 4]);

/// Loads `low` into the lower two 128-bit lanes and `high` into the upper two.
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn lanes(low: &u128, high: &u128) -> __m512i {
    // SAFETY: both pointers come from references to 16 readable bytes.
    unsafe {
        let low = _mm_loadu_si128(core::ptr::from_ref(low).cast());
        let high = _mm_loadu_si128(core::ptr::from_ref(high).cast());
        _mm512_mask_broadcast_i32x4(_mm512_broadcast_i32x4(low), 0xFF00, high)
    }
}

/// `x + y * factor` for the 32 words of a chunk.
///
/// Lanes 0-1 of `y` hold the words' low bytes, lanes 2-3 their high bytes;
/// the nibble indices `n0`, `n1` are swapped across halves into `n2`, `n3`,
/// so each lane sees the low and high byte of its words. `factor` holds, per
/// lane, the table for the product byte that lane produces.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn mul_add(x: __m512i, y: __m512i, factor: &Factor) -> __m512i {
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

/// The FFT butterfly: `x += y * factor; y += x`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn fft_butterfly(x: &mut __m512i, y: &mut __m512i, factor: &Factor) {
    *x = mul_add(*x, *y, factor);
    *y = _mm512_xor_si512(*y, *x);
}

/// The IFFT butterfly: `y += x; x += y * factor`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn ifft_butterfly(x: &mut __m512i, y: &mut __m512i, factor: &Factor) {
    *y = _mm512_xor_si512(*y, *x);
    *x = mul_add(*x, *y, factor);
}

/// Two layers of butterflies over the shards `i, i + dist, i + 2 dist,
/// i + 3 dist` for `i` in `0..dist`: chunks are read from `from` and
/// written to `to` (the same buffer, or a copy's destination). `factors`:
/// the pairs `(s0, s1)`, `(s0 | s1, s2 | s3)` and `(s2, s3)`.
///
/// # Safety
/// `from` and `to` must each be valid for `4 * dist * len` chunks.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn pass4<const FFT: bool>(
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
                fft_butterfly(&mut v0, &mut v2, f02);
                fft_butterfly(&mut v1, &mut v3, f02);
                fft_butterfly(&mut v0, &mut v1, f01);
                fft_butterfly(&mut v2, &mut v3, f23);
            } else {
                ifft_butterfly(&mut v0, &mut v1, f01);
                ifft_butterfly(&mut v2, &mut v3, f23);
                ifft_butterfly(&mut v0, &mut v2, f02);
                ifft_butterfly(&mut v1, &mut v3, f02);
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
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn pass2<const FFT: bool>(
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
                fft_butterfly(&mut x, &mut y, factor);
            } else {
                ifft_butterfly(&mut x, &mut y, factor);
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
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn pass8<const FFT: bool, const ZEROS: u8>(
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
        butterflies8::<FFT, ZEROS>(&mut v, outer, middle, inner);
        for (k, chunk) in v.into_iter().enumerate() {
            // SAFETY: as the loads above.
            unsafe { _mm512_store_si512(to.add(at + k * step).cast(), chunk) };
        }
    }
}

/// The three layers of [`pass8`] on one chunk of each of its 8 shards;
/// `ZEROS` as in [`pass8`], over `[outer, middle.., inner..]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn butterflies8<const FFT: bool, const ZEROS: u8>(
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
            (v[k], v[k + 4]) = pair::<true>(v[k], v[k + 4], outer, outer_zero);
        }
        for k in [0, 1, 4, 5] {
            (v[k], v[k + 2]) = pair::<true>(v[k], v[k + 2], middle[k / 4], middle_zero(k));
        }
        for k in [0, 2, 4, 6] {
            (v[k], v[k + 1]) = pair::<true>(v[k], v[k + 1], inner[k / 2], inner_zero(k));
        }
    } else {
        for k in [0, 2, 4, 6] {
            (v[k], v[k + 1]) = pair::<false>(v[k], v[k + 1], inner[k / 2], inner_zero(k));
        }
        for k in [0, 1, 4, 5] {
            (v[k], v[k + 2]) = pair::<false>(v[k], v[k + 2], middle[k / 4], middle_zero(k));
        }
        for k in 0..4 {
            (v[k], v[k + 4]) = pair::<false>(v[k], v[k + 4], outer, outer_zero);
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
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn pass8_from_sources<const ZEROS: u8>(
    sources: &[&[u8]],
    shard_bytes: usize,
    to: *mut Chunk,
    len: usize,
    factors: &[Factor; 7],
) {
    let [outer, m0, m1, i0, i1, i2, i3] = factors;
    for at in 0..len {
        let mut v: [__m512i; 8] = core::array::from_fn(|k| {
            sources.get(k).map_or(_mm512_setzero_si512(), |source| {
                // SAFETY: the caller guarantees `source.len() == shard_bytes`.
                unsafe { load_chunk(source, at, shard_bytes) }
            })
        });
        butterflies8::<false, ZEROS>(&mut v, outer, [m0, m1], [i0, i1, i2, i3]);
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
/// `source.len()` must be `shard_bytes` and `at < shard_bytes.div_ceil(64)`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
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
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn pair<const FFT: bool>(
    mut x: __m512i,
    mut y: __m512i,
    factor: &Factor,
    zero: bool,
) -> (__m512i, __m512i) {
    if zero {
        y = _mm512_xor_si512(y, x);
    } else if FFT {
        fft_butterfly(&mut x, &mut y, factor);
    } else {
        ifft_butterfly(&mut x, &mut y, factor);
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
