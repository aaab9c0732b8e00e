//! The two systematic Reed-Solomon codes, through `reed-solomon-simd` 3.1.
//!
//! The canonical code works on one symbol per shard (shard size = symbol size
//! `S`), exactly as upstream Walrus calls the library. To encode or decode
//! many codewords of the same code in one library call, their symbols are
//! laid side by side in the library's own word layout ([`Dense`]): the same
//! arithmetic word for word, so the same bytes, but one call instead of many
//! and, for small symbols, none of the padding of every symbol to a 64-byte
//! chunk.

use rayon::prelude::*;
use reed_solomon_simd::{EncoderResult, ReedSolomonDecoder, ReedSolomonEncoder};

#[cfg(target_arch = "x86_64")]
use crate::rs_avx512::Avx512Encoder;

/// Builds the library's global tables, as its first encoder would.
pub(crate) fn warm_up() {
    drop(reed_solomon_simd::engine::DefaultEngine::new());
}

/// A reusable encoder that expands `k` originals to `n` symbols, one
/// codeword or a group of codewords side by side ([`Dense`]).
#[derive(Default)]
pub(crate) struct Expander {
    encoders: Encoders,
    /// The packed originals of a group.
    shards: Vec<u8>,
}

/// The recovery shards of one [`Expander`] call: shard `m` is codeword
/// symbol `k + m`.
pub(crate) enum Recovery<'a> {
    Library(EncoderResult<'a>),
    #[cfg(target_arch = "x86_64")]
    Avx512(&'a Avx512Encoder),
}

impl Recovery<'_> {
    /// Recovery shard `m`, or `None` past the last.
    pub(crate) fn recovery(&self, m: usize) -> Option<&[u8]> {
        match self {
            Recovery::Library(result) => result.recovery(m),
            #[cfg(target_arch = "x86_64")]
            Recovery::Avx512(encoder) => encoder.recovery(m),
        }
    }

    /// The recovery shards in order.
    pub(crate) fn recovery_iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..).map_while(|m| self.recovery(m))
    }
}

impl Expander {
    /// Encodes the `k` shards in `originals` (each `shard_bytes` long) and
    /// returns the recovery shards.
    ///
    /// # Panics
    /// Panics on counts the library does not support or an odd `shard_bytes`;
    /// [`crate::EncodingConfig::new`] and the symbol size rule exclude both.
    #[cfg(test)]
    pub(crate) fn encode<'a>(
        &mut self,
        originals: impl Iterator<Item = &'a [u8]>,
        k: usize,
        n_recovery: usize,
        shard_bytes: usize,
    ) -> Recovery<'_> {
        self.encoders.encode(originals, k, n_recovery, shard_bytes)
    }

    /// Encodes the codewords of `dense` in one call: symbol `i < k` of
    /// codeword `c` is `original(c, i)`. Read codeword `c`'s recovery symbol
    /// `m` with [`Dense::get`] from the result's recovery shard `m`.
    ///
    /// # Panics
    /// As [`Expander::encode`]; also if an original is not one symbol long.
    pub(crate) fn encode_group<'a>(
        &mut self,
        dense: Dense,
        k: usize,
        n_recovery: usize,
        original: impl Fn(usize, usize) -> &'a [u8],
    ) -> Recovery<'_> {
        if dense.is_raw() {
            let originals = (0..k).map(|i| original(0, i));
            return self
                .encoders
                .encode(originals, k, n_recovery, dense.symbol_size);
        }
        let shard_bytes = dense.shard_bytes();
        self.shards.resize(k * shard_bytes, 0);
        for (i, shard) in self.shards.chunks_exact_mut(shard_bytes).enumerate() {
            for c in 0..dense.width {
                dense.put(shard, c, original(c, i));
            }
        }
        let originals = self.shards.chunks_exact(shard_bytes);
        self.encoders.encode(originals, k, n_recovery, shard_bytes)
    }
}

/// The encoders an [`Expander`] reuses: on a CPU with AVX-512,
/// [`Avx512Encoder`] (the same bytes, computed faster), created on first
/// use; otherwise the library's.
#[derive(Default)]
struct Encoders {
    library: Option<ReedSolomonEncoder>,
    #[cfg(target_arch = "x86_64")]
    avx512: Option<Avx512Encoder>,
}

impl Encoders {
    /// See [`Expander::encode`].
    fn encode<'a>(
        &mut self,
        originals: impl Iterator<Item = &'a [u8]>,
        k: usize,
        n_recovery: usize,
        shard_bytes: usize,
    ) -> Recovery<'_> {
        const SUPPORTED: &str = "the configuration checks the code sizes and symbols are even";
        #[cfg(target_arch = "x86_64")]
        {
            if self.avx512.is_none() {
                self.avx512 = Avx512Encoder::new();
            }
            if let Some(encoder) = &mut self.avx512 {
                encoder.encode(k, n_recovery, shard_bytes, originals);
                return Recovery::Avx512(encoder);
            }
        }
        let encoder = match &mut self.library {
            Some(encoder) => {
                encoder.reset(k, n_recovery, shard_bytes).expect(SUPPORTED);
                encoder
            }
            slot @ None => {
                slot.insert(ReedSolomonEncoder::new(k, n_recovery, shard_bytes).expect(SUPPORTED))
            }
        };
        for original in originals {
            encoder.add_original_shard(original).expect(SUPPORTED);
        }
        Recovery::Library(encoder.encode().expect(SUPPORTED))
    }
}

/// Codewords are grouped `GROUP_BYTES / S` per call: a call per codeword would
/// pad each to a 64-byte chunk and pay the per-call cost for a few words.
/// For larger symbols packing costs what the wider transforms save, so
/// symbols over 128 bytes stay one per call.
const GROUP_BYTES: usize = 256;

/// How many codewords of `symbol_size`-byte symbols to put side by side in
/// one call: up to `max`, and 1 for symbols larger than 128 bytes.
pub(crate) fn group_width(symbol_size: usize, max: usize) -> usize {
    (GROUP_BYTES / symbol_size.max(1)).clamp(1, max.max(1))
}

/// `width` codewords laid side by side in the library's chunk layout, so that
/// one library call encodes or decodes all of them ("dense form").
///
/// The library works on 16-bit words: a 64-byte chunk holds the low bytes of
/// 32 words, then their high bytes, and every word position is an
/// independent codeword. A shard of `S` bytes (one symbol, `S` even) is
/// `S / 64` whole chunks followed by a tail of `t = S % 64` bytes whose word
/// `u` has its low byte at `u` and its high byte at `t/2 + u`. The dense form
/// keeps each codeword's whole chunks as they are, one codeword after the
/// other, and packs all codewords' tail words into shared chunks, word `u` of
/// codeword `c` in lane `c * t/2 + u`. Each word goes through exactly the
/// arithmetic of a call per codeword, so results are identical, while small
/// symbols (2 bytes at n = 1000 for a 1 KiB blob) no longer pad every
/// codeword to a whole chunk. With `width == 1` the form is the raw symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dense {
    symbol_size: usize,
    width: usize,
}

impl Dense {
    /// The dense form of `width` codewords of `symbol_size`-byte symbols.
    ///
    /// # Panics
    /// Panics if `width` is 0 or `symbol_size` is odd (programmer errors).
    pub(crate) fn new(symbol_size: usize, width: usize) -> Self {
        assert!(width > 0, "at least one codeword");
        assert_eq!(symbol_size % 2, 0, "symbols are whole 16-bit words");
        Self { symbol_size, width }
    }

    /// Whether shards are the symbols themselves (one codeword).
    pub(crate) fn is_raw(&self) -> bool {
        self.width == 1
    }

    /// Bytes of a symbol in whole chunks.
    fn whole(&self) -> usize {
        self.symbol_size / 64 * 64
    }

    /// Words of a symbol in its tail.
    fn tail_words(&self) -> usize {
        self.symbol_size % 64 / 2
    }

    /// Bytes of one shard: symbol `i` of all `width` codewords.
    pub(crate) fn shard_bytes(&self) -> usize {
        if self.is_raw() {
            self.symbol_size
        } else {
            self.width * self.whole() + (self.width * self.tail_words()).div_ceil(32) * 64
        }
    }

    /// The runs of tail words of codeword `c`: `(u, offset, len)` where
    /// words `u..u + len` of the symbol's tail lie in lanes starting at byte
    /// `offset` of the shard (low bytes; high bytes 32 further).
    fn tail_runs(&self, c: usize) -> impl Iterator<Item = (usize, usize, usize)> {
        let tail_words = self.tail_words();
        let tail_start = self.width * self.whole();
        let mut u = 0;
        std::iter::from_fn(move || {
            if u == tail_words {
                return None;
            }
            let lane = c * tail_words + u;
            let len = (32 - lane % 32).min(tail_words - u);
            let run = (u, tail_start + lane / 32 * 64 + lane % 32, len);
            u += len;
            Some(run)
        })
    }

    /// Writes `symbol` as codeword `c`'s symbol into `shard`.
    #[inline]
    pub(crate) fn put(&self, shard: &mut [u8], c: usize, symbol: &[u8]) {
        if self.is_raw() {
            shard.copy_from_slice(symbol);
            return;
        }
        if let [low, high] = *symbol {
            // One word (the common small case): lane `c` of the tail chunks.
            let at = c / 32 * 64 + c % 32;
            shard[at] = low;
            shard[at + 32] = high;
            return;
        }
        let (whole, half) = (self.whole(), self.tail_words());
        shard[c * whole..][..whole].copy_from_slice(&symbol[..whole]);
        for (u, at, len) in self.tail_runs(c) {
            shard[at..at + len].copy_from_slice(&symbol[whole + u..][..len]);
            shard[at + 32..at + 32 + len].copy_from_slice(&symbol[whole + half + u..][..len]);
        }
    }

    /// Reads codeword `c`'s symbol from `shard` into `symbol`.
    #[inline]
    pub(crate) fn get(&self, shard: &[u8], c: usize, symbol: &mut [u8]) {
        if self.is_raw() {
            symbol.copy_from_slice(&shard[..self.symbol_size]);
            return;
        }
        if let [low, high] = symbol {
            let at = c / 32 * 64 + c % 32;
            *low = shard[at];
            *high = shard[at + 32];
            return;
        }
        let (whole, half) = (self.whole(), self.tail_words());
        symbol[..whole].copy_from_slice(&shard[c * whole..][..whole]);
        for (u, at, len) in self.tail_runs(c) {
            symbol[whole + u..][..len].copy_from_slice(&shard[at..at + len]);
            symbol[whole + half + u..][..len].copy_from_slice(&shard[at + 32..at + 32 + len]);
        }
    }

    /// Packs `symbols` (`width` symbols back to back) into `shard`, resized
    /// to [`Dense::shard_bytes`].
    fn pack(&self, symbols: &[u8], shard: &mut Vec<u8>) {
        shard.resize(self.shard_bytes(), 0);
        for (c, symbol) in symbols.chunks_exact(self.symbol_size).enumerate() {
            self.put(shard, c, symbol);
        }
    }

    /// Unpacks `shard` into `out` (`width` symbols back to back).
    fn unpack(&self, shard: &[u8], out: &mut [u8]) {
        for (c, symbol) in out.chunks_exact_mut(self.symbol_size).enumerate() {
            self.get(shard, c, symbol);
        }
    }
}

/// Target size in bytes of the library's work buffer per decoding call: small
/// enough to stay in cache, large enough to amortize the per-call cost of
/// computing the erasure locator.
const DECODE_WORK_BYTES: usize = 4 << 20;

/// Decodes `width` codewords of a `(k, n)` code that share an erasure pattern.
///
/// Each entry of `shards` is `(codeword index, data)` where `data` holds
/// symbol `index` of each of the `width` codewords (`width * symbol_size`
/// bytes). Returns the `k` original shards back to back (`k * width *
/// symbol_size` bytes). Originals present in `shards` are copied, not decoded.
/// The codewords are decoded in cache-sized groups, in parallel.
///
/// # Errors
/// A description of the problem when there are fewer than `k` distinct
/// indices, an index is not below `n`, a shard has the wrong length, or the
/// library rejects the input.
pub(crate) fn decode_codewords(
    k: usize,
    n: usize,
    symbol_size: usize,
    width: usize,
    shards: &[(usize, &[u8])],
) -> Result<Vec<u8>, String> {
    let per_group = DECODE_WORK_BYTES / (n.next_power_of_two() * symbol_size.max(2));
    decode_in_groups(k, n, symbol_size, width, shards, per_group)
}

/// [`decode_codewords`] with `per_group` codewords per library call.
fn decode_in_groups(
    k: usize,
    n: usize,
    symbol_size: usize,
    width: usize,
    shards: &[(usize, &[u8])],
    per_group: usize,
) -> Result<Vec<u8>, String> {
    let shard_bytes = width * symbol_size;
    let mut seen = vec![false; n];
    let mut originals: Vec<(usize, &[u8])> = Vec::new();
    let mut recoveries: Vec<(usize, &[u8])> = Vec::new();
    for &(index, data) in shards {
        if index >= n || seen[index] {
            return Err(format!("codeword index {index} out of range or repeated"));
        }
        if data.len() != shard_bytes {
            return Err(format!(
                "shard {index} has {} bytes, expected {shard_bytes}",
                data.len()
            ));
        }
        seen[index] = true;
        if index < k {
            originals.push((index, data))
        } else {
            recoveries.push((index, data))
        }
    }
    if originals.len() + recoveries.len() < k {
        return Err(format!(
            "{} distinct shards, need {k}",
            originals.len() + recoveries.len()
        ));
    }
    let mut out = vec![0; k * shard_bytes];
    for &(index, data) in &originals {
        out[index * shard_bytes..][..shard_bytes].copy_from_slice(data);
    }
    if originals.len() == k {
        return Ok(out);
    }
    recoveries.truncate(k - originals.len());

    // Group the codewords; each group writes one segment of every missing original.
    let per_group = per_group.clamp(1, width);
    let n_groups = width.div_ceil(per_group);
    let mut segments: Vec<Vec<(usize, &mut [u8])>> = (0..n_groups).map(|_| Vec::new()).collect();
    for (index, shard) in out.chunks_exact_mut(shard_bytes).enumerate() {
        if !seen[index] {
            for (group, segment) in shard.chunks_mut(per_group * symbol_size).enumerate() {
                segments[group].push((index, segment));
            }
        }
    }
    segments.into_par_iter().enumerate().try_for_each_init(
        || (None::<ReedSolomonDecoder>, Vec::new()),
        |(decoder, shard), (group, segments)| {
            let range =
                group * per_group * symbol_size..((group + 1) * per_group).min(width) * symbol_size;
            let dense = Dense::new(symbol_size, range.len() / symbol_size);
            let shard_bytes = dense.shard_bytes();
            let decoder = match decoder {
                Some(decoder) => {
                    decoder
                        .reset(k, n - k, shard_bytes)
                        .map_err(|e| e.to_string())?;
                    decoder
                }
                slot @ None => slot.insert(
                    ReedSolomonDecoder::new(k, n - k, shard_bytes).map_err(|e| e.to_string())?,
                ),
            };
            for &(index, data) in &originals {
                dense.pack(&data[range.clone()], shard);
                decoder
                    .add_original_shard(index, &*shard)
                    .map_err(|e| e.to_string())?;
            }
            for &(index, data) in &recoveries {
                dense.pack(&data[range.clone()], shard);
                decoder
                    .add_recovery_shard(index - k, &*shard)
                    .map_err(|e| e.to_string())?;
            }
            let result = decoder.decode().map_err(|e| e.to_string())?;
            for (index, segment) in segments {
                let restored = result
                    .restored_original(index)
                    .ok_or("original not restored")?;
                dense.unpack(restored, segment);
            }
            Ok::<(), String>(())
        },
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_form_round_trips() {
        for symbol_size in [2, 30, 62, 64, 66, 126, 128, 302] {
            for width in [1, 2, 3, 16, 33] {
                let symbols: Vec<u8> = (0..symbol_size * width)
                    .map(|i| u8::try_from(i * 7 % 251).expect("below 251"))
                    .collect();
                let dense = Dense::new(symbol_size, width);
                let mut shard = Vec::new();
                dense.pack(&symbols, &mut shard);
                assert_eq!(shard.len(), dense.shard_bytes());
                assert_eq!(shard.len() % 64 == 0, width > 1 || symbol_size % 64 == 0);
                let mut back = vec![0; symbols.len()];
                dense.unpack(&shard, &mut back);
                assert_eq!(back, symbols, "symbol size {symbol_size}, width {width}");
            }
        }
    }

    /// Encoding codewords side by side in dense form equals encoding each alone.
    #[test]
    fn dense_encode_equals_per_codeword_encode() {
        let (k, n) = (5, 12);
        for symbol_size in [2, 46, 64, 130] {
            for width in [2, 7, 40] {
                let dense = Dense::new(symbol_size, width);
                let originals: Vec<Vec<u8>> = (0..k)
                    .map(|i| {
                        (0..width * symbol_size)
                            .map(|b| {
                                u8::try_from((b * 31 + i * 17 + b / 7) % 256).expect("below 256")
                            })
                            .collect()
                    })
                    .collect();
                let packed: Vec<Vec<u8>> = originals
                    .iter()
                    .map(|o| {
                        let mut shard = Vec::new();
                        dense.pack(o, &mut shard);
                        shard
                    })
                    .collect();
                let mut together = Expander::default();
                let result = together.encode(
                    packed.iter().map(Vec::as_slice),
                    k,
                    n - k,
                    dense.shard_bytes(),
                );
                let mut alone = Expander::default();
                for c in 0..width {
                    let single = alone.encode(
                        originals
                            .iter()
                            .map(|o| &o[c * symbol_size..][..symbol_size]),
                        k,
                        n - k,
                        symbol_size,
                    );
                    for m in 0..n - k {
                        let mut symbol = vec![0; symbol_size];
                        dense.get(result.recovery(m).expect("in range"), c, &mut symbol);
                        assert_eq!(
                            symbol,
                            single.recovery(m).expect("in range"),
                            "size {symbol_size}, width {width}, codeword {c}, symbol {m}"
                        );
                    }
                }
            }
        }
    }

    /// Decoding several codewords side by side equals decoding each alone.
    #[test]
    fn wide_decode_equals_per_codeword_encode() {
        for symbol_size in [46, 64, 130] {
            let (k, n, width) = (3, 7, 5);
            let originals: Vec<Vec<u8>> = (0..k)
                .map(|i| {
                    (0..width * symbol_size)
                        .map(|b| u8::try_from((b * 31 + i * 17) % 256).expect("below 256"))
                        .collect()
                })
                .collect();
            // Encode each codeword alone: symbol c of every shard forms codeword c.
            let mut codewords = vec![vec![0u8; width * symbol_size]; n];
            for (i, original) in originals.iter().enumerate() {
                codewords[i].copy_from_slice(original);
            }
            let mut expander = Expander::default();
            for c in 0..width {
                let symbols: Vec<&[u8]> = originals
                    .iter()
                    .map(|o| &o[c * symbol_size..][..symbol_size])
                    .collect();
                let result = expander.encode(symbols.into_iter(), k, n - k, symbol_size);
                for (m, data) in result.recovery_iter().enumerate() {
                    codewords[k + m][c * symbol_size..][..symbol_size].copy_from_slice(data);
                }
            }
            let shards: Vec<(usize, &[u8])> = [6, 1, 4]
                .iter()
                .map(|&i| (i, codewords[i].as_slice()))
                .collect();
            // One call for all codewords, and groups of 1 and 2 (the last one partial).
            for per_group in [width, 1, 2] {
                let decoded = decode_in_groups(k, n, symbol_size, width, &shards, per_group)
                    .expect("enough shards");
                assert_eq!(decoded, originals.concat(), "groups of {per_group}");
            }
        }
    }
}
