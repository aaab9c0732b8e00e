//! Reed-Solomon encoding with AVX-512: the same codewords as
//! `reed-solomon-simd` 3.1, computed faster (figures: bench/RESULTS.md).
//!
//! Why this exists: after hashing, the Reed-Solomon transforms are the
//! largest cost of encoding. The library's fastest engine uses AVX2; behind
//! the `Engine` trait every butterfly group is a call into the library
//! (`ShardsRefMut::dist4_mut`) that spills the multiplication tables out of
//! registers. This module runs the library's own algorithm (the additive
//! FFT of Lin, Chung and Han over GF(2^16), with the library's public
//! multiplication and skew tables, see its `algorithm.md`) on its own aligned
//! work buffer:
//! - the same chunk layout: a 64-byte chunk holds the low bytes of 32 words,
//!   then their high bytes; a symbol's tail (`S % 64` bytes) puts its low
//!   bytes at 0 and its high bytes at 32, as the library's `Shards::insert`;
//! - the same high-rate and low-rate encoders, the same butterflies in the
//!   same factors (a group of a transform is processed when it starts
//!   below the truncated size, as in the library), so every needed output
//!   byte equals the library's; tests compare the two, and the library's
//!   reference engine, on many code sizes (where the CPU lacks AVX-512,
//!   only the library with its reference engine, and they say so);
//! - a chunk is one 512-bit register. Multiplying by a constant is linear
//!   over GF(2); with GFNI it takes two `vgf2p8affineqb` (one applies, per
//!   64-bit lane, the 8 × 8 bit block from the byte that lane holds, the
//!   other the remaining block to the chunk with its halves swapped), and
//!   without, four `vpshufb` nibble lookups. The kernels are generic over
//!   the two ([`kernels::Multiply`]) and inlined into one function per
//!   instruction set;
//! - a pass loads eight shards' chunks, runs three layers of butterflies in
//!   registers and stores them once (two or one layer for the rest of a
//!   transform); the low-rate encoder's copies of the transformed originals
//!   are folded into the first pass of each further chunk's FFT;
//! - every column of a blob runs the same transforms, so each transform's
//!   factors are built once per encoder and then read in order (a `Plan`);
//! - the library skips products by a zero factor. In a transform without
//!   skew delta the first group of every pass has three, and its kernel
//!   skips them too (at n = 1000, 511 of the 1,848 butterflies of a column's
//!   IFFT: about a tenth of a column's three transforms); a zero factor
//!   anywhere else is multiplied by zero.
//!
//! This module and its `kernels` (the SIMD passes) hold the codec's
//! `unsafe` besides `blake2b_x8.rs`, `huge_pages.rs` and the one call into
//! `blake2b_x8.rs` in `hash.rs`: aligned loads and
//! stores through raw pointers into the work buffer, whose bounds each
//! transform asserts once on entry, and SIMD instructions, whose CPU
//! features a token (a [`kernels::Multiply`] value, made only after
//! checking the CPU) proves.
#![allow(unsafe_code)]

mod kernels;
mod plan;

use reed_solomon_simd::engine::{
    GF_MODULUS, GfElement,
    tables::{self, Mul128, Skew},
};

use self::kernels::{
    Chunk, Factor, Gfni, Multiply, Nibbles, ZERO, pass2, pass4, pass8, pass8_from_sources, xor_into,
};
use self::plan::{FIRST_GROUP_ZEROS, Transform, passes, plan_logs};

/// A reusable systematic encoder: `k` original shards to `m` recovery
/// shards, each `shard_bytes` long, byte-identical to
/// `reed_solomon_simd::ReedSolomonEncoder`.
pub(crate) struct Avx512Encoder {
    mul128: &'static Mul128,
    skew: &'static Skew,
    /// Multiplication by nibble lookups, available on every CPU this
    /// encoder runs on.
    nibbles: Nibbles,
    /// Multiplication by affine transforms, used instead where the CPU has
    /// GFNI: 4 instructions and 2 registers per product, where nibble
    /// lookups take 11 and 4.
    gfni: Option<Gfni>,
    /// Shards of `len` chunks each, back to back.
    work: Vec<Chunk>,
    /// The factors of the transforms run so far.
    plans: Vec<Plan>,
    len: usize,
    shard_bytes: usize,
    recovery_count: usize,
}

impl Avx512Encoder {
    /// An encoder, if this CPU has AVX-512F and AVX-512BW; it multiplies
    /// with GFNI where the CPU has it.
    pub(crate) fn new() -> Option<Self> {
        Self::with_multipliers(Gfni::new())
    }

    /// An encoder that multiplies by nibble lookups even where the CPU has
    /// GFNI (to test both), if the CPU has AVX-512F and AVX-512BW.
    #[cfg(test)]
    fn without_gfni() -> Option<Self> {
        Self::with_multipliers(None)
    }

    fn with_multipliers(gfni: Option<Gfni>) -> Option<Self> {
        Nibbles::new().map(|nibbles| Self {
            mul128: tables::get_mul128(),
            skew: tables::get_skew(),
            nibbles,
            gfni,
            work: Vec::new(),
            plans: Vec::new(),
            len: 0,
            shard_bytes: 0,
            recovery_count: 0,
        })
    }

    /// Encodes the `k` shards of `originals` (each `shard_bytes` long) into
    /// `m` recovery shards, read with [`Avx512Encoder::recovery`]: recovery
    /// shard `i` is codeword symbol `k + i`.
    ///
    /// # Panics
    /// Panics if `originals` does not yield exactly `k` shards of
    /// `shard_bytes`, if `shard_bytes` is odd or 0, or on counts the library
    /// does not support (`k` or `m` of 0, more than 65,536 shards); the
    /// encoding configuration excludes all of these.
    pub(crate) fn encode<'a>(
        &mut self,
        k: usize,
        m: usize,
        shard_bytes: usize,
        originals: impl Iterator<Item = &'a [u8]>,
    ) {
        assert!(
            shard_bytes > 0 && shard_bytes.is_multiple_of(2),
            "whole 16-bit words"
        );
        assert!(k > 0 && m > 0 && k + m <= 1 << 16, "supported code size");
        let len = shard_bytes.div_ceil(64);
        // The library's choice of rate (`rate_default.rs`).
        let high_rate = match k.next_power_of_two().cmp(&m.next_power_of_two()) {
            core::cmp::Ordering::Less => false,
            core::cmp::Ordering::Greater => true,
            core::cmp::Ordering::Equal => k <= m,
        };
        let chunk = if high_rate { m } else { k }.next_power_of_two();
        let shards = if high_rate { k } else { m }.div_ceil(chunk) * chunk;
        self.len = len;
        self.shard_bytes = shard_bytes;
        self.recovery_count = m;
        if self.work.len() < shards * len {
            self.work.resize(shards * len, ZERO);
        }
        let originals: Vec<&[u8]> = originals.collect();
        assert_eq!(originals.len(), k, "exactly k originals");
        assert!(
            originals
                .iter()
                .all(|original| original.len() == shard_bytes),
            "shards of equal size"
        );
        // From 8 shards up, the first IFFT pass reads the originals where
        // they lie; smaller transforms get them copied in first.
        let fused = chunk >= 8;
        if !fused {
            for (i, original) in originals.iter().enumerate() {
                self.insert(i, original);
            }
        }
        let sources = |from: usize, count: usize| fused.then(|| &originals[from..from + count]);
        // Each transform's input past its originals must be zero; every
        // other shard is written before it is read.
        if high_rate {
            self.zero(k.min(chunk), chunk);
            self.ifft(0, chunk, k.min(chunk), chunk, sources(0, k.min(chunk)));
            let mut start = chunk;
            while start < k {
                let count = (k - start).min(chunk);
                self.zero(start + count, start + chunk);
                self.ifft(start, chunk, count, start + chunk, sources(start, count));
                let (first, rest) = self.work.split_at_mut(start * len);
                // SAFETY: `new` checked the CPU.
                unsafe { xor_into(&mut first[..chunk * len], &rest[..chunk * len]) };
                start += chunk;
            }
            self.fft(0, 0, chunk, m, 0);
        } else {
            self.zero(k, chunk);
            self.ifft(0, chunk, k, 0, sources(0, k));
            // Chunks after the first read the transformed originals in their
            // first pass, so the first chunk is transformed last.
            let mut start = chunk;
            while start < m {
                self.fft(0, start, chunk, (m - start).min(chunk), start + chunk);
                start += chunk;
            }
            self.fft(0, 0, chunk, m.min(chunk), chunk);
        }
        let tail = shard_bytes % 64;
        if tail > 0 {
            let whole = shard_bytes / 64;
            for shard in self.work.chunks_exact_mut(len).take(m) {
                shard[whole].0.copy_within(32..32 + tail / 2, tail / 2);
            }
        }
    }

    /// Recovery shard `i` of the last [`Avx512Encoder::encode`], or `None`
    /// if `i` is not below that call's `m`.
    pub(crate) fn recovery(&self, i: usize) -> Option<&[u8]> {
        if i >= self.recovery_count {
            return None;
        }
        let chunks = &self.work[i * self.len..][..self.len];
        // SAFETY: `Chunk` is `repr(C)` around `[u8; 64]`: 64 bytes, no
        // padding, so `chunks` is `64 * len` initialized bytes.
        let bytes =
            unsafe { core::slice::from_raw_parts(chunks.as_ptr().cast::<u8>(), chunks.len() * 64) };
        Some(&bytes[..self.shard_bytes])
    }

    /// Zeroes shards `from..to`.
    fn zero(&mut self, from: usize, to: usize) {
        self.work[from * self.len..to * self.len].fill(ZERO);
    }

    /// Writes `shard` as shard `index` in the library's chunk layout.
    fn insert(&mut self, index: usize, shard: &[u8]) {
        assert_eq!(shard.len(), self.shard_bytes, "shards of equal size");
        let whole = shard.len() / 64;
        let target = &mut self.work[index * self.len..][..self.len];
        for (chunk, bytes) in target.iter_mut().zip(shard.chunks_exact(64)) {
            chunk.0.copy_from_slice(bytes);
        }
        let tail = &shard[whole * 64..];
        if !tail.is_empty() {
            let (low, high) = tail.split_at(tail.len() / 2);
            target[whole].0[..low.len()].copy_from_slice(low);
            target[whole].0[32..32 + high.len()].copy_from_slice(high);
        }
    }

    /// The multiplication by the constant with logarithm `log_m`, for the
    /// multiplier in use; the library's marker of a zero factor
    /// (`GF_MODULUS`, where it skips the product) multiplies by zero.
    fn factor(&self, log_m: GfElement) -> Factor {
        let mut unit_products = [0; 16];
        if log_m != GF_MODULUS {
            // The library's nibble tables hold the products of `v << 4 i`
            // (`v < 16`) split into low and high bytes; `v = 1 << b` gives
            // the unit word `1 << (4 i + b)`.
            let tables = &self.mul128[usize::from(log_m)];
            for (k, product) in unit_products.iter_mut().enumerate() {
                let byte = |table: &[u128; 4]| table[k / 4].to_le_bytes()[1 << (k % 4)];
                *product = u16::from_le_bytes([byte(&tables.lo), byte(&tables.hi)]);
            }
        }
        match self.gfni {
            Some(gfni) => gfni.factor(&unit_products),
            None => self.nibbles.factor(&unit_products),
        }
    }

    /// The FFT of shards `pos..pos + size` with the library's semantics
    /// (`Engine::fft`): `size` a power of two, only the first
    /// `truncated_size` outputs are needed. The input is read from shards
    /// `from..from + size` (equal to `pos`, or a copy's source).
    fn fft(
        &mut self,
        from: usize,
        pos: usize,
        size: usize,
        truncated_size: usize,
        skew_delta: usize,
    ) {
        assert!(
            size.is_power_of_two() && truncated_size <= size,
            "transform shape"
        );
        let len = self.len;
        assert!(
            (pos.max(from) + size) * len <= self.work.len(),
            "transform inside the work buffer"
        );
        if size < 4 && from != pos {
            self.work
                .copy_within(from * len..(from + size) * len, pos * len);
        }
        // SAFETY: the assertion above bounds every shard the passes touch;
        // `new` checked the CPU.
        unsafe {
            self.transform_unchecked(&Job {
                kind: Transform::Fft,
                from,
                sources: None,
                pos,
                size,
                truncated_size,
                skew_delta,
            })
        }
    }

    /// [`Avx512Encoder::fft`] and [`Avx512Encoder::ifft`] without their
    /// checks: the passes of `job`, with the multiplier in use.
    ///
    /// # Safety
    /// As [`Avx512Encoder::transform_with`].
    unsafe fn transform_unchecked(&mut self, job: &Job<'_>) {
        // SAFETY: the caller's guarantees are passed on; the tokens prove
        // the CPU has each function's target features.
        unsafe {
            match self.gfni {
                Some(gfni) => self.transform_gfni(gfni, job),
                None => self.transform_nibbles(self.nibbles, job),
            }
        }
    }

    /// [`Avx512Encoder::transform_with`] compiled with GFNI, so that its
    /// multiplications are inlined.
    ///
    /// # Safety
    /// As [`Avx512Encoder::transform_with`].
    #[target_feature(enable = "avx512f,avx512bw,gfni")]
    unsafe fn transform_gfni(&mut self, gfni: Gfni, job: &Job<'_>) {
        // SAFETY: as the caller guarantees.
        unsafe { self.transform_with(gfni, job) }
    }

    /// [`Avx512Encoder::transform_with`] compiled for AVX-512BW.
    ///
    /// # Safety
    /// As [`Avx512Encoder::transform_with`].
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn transform_nibbles(&mut self, nibbles: Nibbles, job: &Job<'_>) {
        // SAFETY: as the caller guarantees.
        unsafe { self.transform_with(nibbles, job) }
    }

    /// The passes of a `kind` transform of shards `pos..pos + size`. The
    /// first pass reads shards `from..from + size` of the work buffer, or,
    /// with `sources`, the originals where they lie. Inlined into a caller
    /// with the target features of `M`'s instructions.
    ///
    /// # Safety
    /// Shards `pos..pos + size` and `from..from + size` must lie in the
    /// work buffer; when `size < 4`, `from` must equal `pos`; `sources`, if
    /// any, must hold `truncated_size` slices of `shard_bytes` and `size`
    /// must be at least 8. The CPU must have AVX-512F and AVX-512BW.
    #[inline(always)]
    unsafe fn transform_with<M: Multiply>(&mut self, m: M, job: &Job<'_>) {
        let &Job {
            kind,
            from,
            sources,
            pos,
            size,
            truncated_size,
            skew_delta,
        } = job;
        let (len, shard_bytes) = (self.len, self.shard_bytes);
        let base = self.work.as_mut_ptr();
        // SAFETY (all pointer arithmetic below): a pass's groups of `group`
        // shards start at `r < truncated_size <= size`, `r` a multiple of
        // `group`, which divides `size`: each group lies inside
        // `pos..pos + size` (and `from..from + size` in the first pass).
        let data = unsafe { base.add(pos * len) };
        let mut source = unsafe { base.add(from * len) }.cast_const();
        let mut sources = sources;
        let plan = self.plan(kind, size, truncated_size, skew_delta);
        let mut factors = self.plans[plan].factors.as_slice();
        let mut zeros = self.plans[plan].zeros.iter();
        for (take, dist, group) in passes(kind, size) {
            let mut r = 0;
            while r < truncated_size {
                let (input, output) = unsafe { (source.add(r * len), data.add(r * len)) };
                // Three-layer groups whose zero factors have a kernel that
                // skips them; others multiply by the zero tables.
                let first = take == 3
                    && zeros.next().copied().expect("a zero mask per group") == FIRST_GROUP_ZEROS;
                unsafe {
                    match (kind, take, sources) {
                        // The first IFFT pass of a transform of 8 or more
                        // shards: three layers at distance 1.
                        (Transform::Ifft, 3, Some(sources)) => {
                            let group = &sources[r..(r + 8).min(sources.len())];
                            let factors = take_array(&mut factors);
                            if first {
                                pass8_from_sources::<M, FIRST_GROUP_ZEROS>(
                                    m,
                                    group,
                                    shard_bytes,
                                    output,
                                    len,
                                    factors,
                                );
                            } else {
                                pass8_from_sources::<M, 0>(
                                    m,
                                    group,
                                    shard_bytes,
                                    output,
                                    len,
                                    factors,
                                );
                            }
                        }
                        (Transform::Fft, 3, _) => {
                            let factors = take_array(&mut factors);
                            if first {
                                pass8::<M, true, FIRST_GROUP_ZEROS>(
                                    m, input, output, len, dist, factors,
                                );
                            } else {
                                pass8::<M, true, 0>(m, input, output, len, dist, factors);
                            }
                        }
                        (Transform::Ifft, 3, None) => {
                            let factors = take_array(&mut factors);
                            if first {
                                pass8::<M, false, FIRST_GROUP_ZEROS>(
                                    m, input, output, len, dist, factors,
                                );
                            } else {
                                pass8::<M, false, 0>(m, input, output, len, dist, factors);
                            }
                        }
                        (Transform::Fft, 2, _) => {
                            pass4::<M, true>(m, input, output, len, dist, take_array(&mut factors));
                        }
                        (Transform::Ifft, 2, _) => {
                            pass4::<M, false>(
                                m,
                                input,
                                output,
                                len,
                                dist,
                                take_array(&mut factors),
                            );
                        }
                        (Transform::Fft, _, _) => {
                            pass2::<M, true>(
                                m,
                                output,
                                len,
                                dist,
                                &take_array::<1>(&mut factors)[0],
                            );
                        }
                        (Transform::Ifft, _, _) => {
                            pass2::<M, false>(
                                m,
                                output,
                                len,
                                dist,
                                &take_array::<1>(&mut factors)[0],
                            );
                        }
                    }
                }
                r += group;
            }
            source = data.cast_const();
            sources = None;
        }
    }

    /// The index in `plans` of the factors of a transform, computed on first
    /// use: every column (or row) of a blob runs the same transforms.
    fn plan(
        &mut self,
        kind: Transform,
        size: usize,
        truncated_size: usize,
        skew_delta: usize,
    ) -> usize {
        let key = (kind, size, truncated_size, skew_delta);
        if let Some(index) = self.plans.iter().position(|plan| plan.key == key) {
            return index;
        }
        let (logs, zeros) = plan_logs(self.skew, kind, size, truncated_size, skew_delta);
        let factors = logs.into_iter().map(|log_m| self.factor(log_m)).collect();
        self.plans.push(Plan {
            key,
            factors,
            zeros,
        });
        self.plans.len() - 1
    }

    /// The IFFT of shards `pos..pos + size` with the library's semantics
    /// (`Engine::ifft`), in place. With `sources` (the first
    /// `truncated_size` shards, `shard_bytes` each, for a transform of at
    /// least 8 shards), the first pass reads those shards from there, in the
    /// chunk layout, instead of from the work buffer.
    fn ifft(
        &mut self,
        pos: usize,
        size: usize,
        truncated_size: usize,
        skew_delta: usize,
        sources: Option<&[&[u8]]>,
    ) {
        assert!(
            size.is_power_of_two() && truncated_size <= size,
            "transform shape"
        );
        assert!(
            (pos + size) * self.len <= self.work.len(),
            "transform inside the work buffer"
        );
        if let Some(sources) = sources {
            assert!(
                size >= 8 && sources.len() == truncated_size,
                "a source per original"
            );
            assert!(
                sources
                    .iter()
                    .all(|source| source.len() == self.shard_bytes),
                "whole shards"
            );
        }
        // SAFETY: the assertions above bound every shard the passes touch
        // and every source read; `new` checked the CPU.
        unsafe {
            self.transform_unchecked(&Job {
                kind: Transform::Ifft,
                from: pos,
                sources,
                pos,
                size,
                truncated_size,
                skew_delta,
            })
        }
    }
}

/// One transform: a `kind` transform of shards `pos..pos + size`, with the
/// library's truncated size and skew delta. The first pass
/// reads shards `from..from + size` of the work buffer, or, with `sources`,
/// the originals where they lie.
struct Job<'s> {
    kind: Transform,
    from: usize,
    sources: Option<&'s [&'s [u8]]>,
    pos: usize,
    size: usize,
    truncated_size: usize,
    skew_delta: usize,
}

/// The factors of one transform, in the order its passes use them.
struct Plan {
    /// Direction, size, truncated size, skew delta.
    key: (Transform, usize, usize, usize),
    factors: Vec<Factor>,
    /// Per group of a three-layer pass, which of its 7 factors are zero
    /// (bit `i` for the group's factor `i`).
    zeros: Vec<u8>,
}

/// Splits the first `N` factors off `factors` (the plan has exactly as
/// many as its passes use).
fn take_array<'f, const N: usize>(factors: &mut &'f [Factor]) -> &'f [Factor; N] {
    let (head, rest) = factors
        .split_first_chunk::<N>()
        .expect("the plan has a factor per use");
    *factors = rest;
    head
}

#[cfg(test)]
mod tests;
