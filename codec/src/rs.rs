//! The two systematic Reed-Solomon codes, through `reed-solomon-simd` 3.1.
//!
//! The canonical code works on one symbol per shard (shard size = symbol size
//! `S`), exactly as upstream Walrus calls the library. To decode many
//! codewords that share an erasure pattern in one library call, symbols are
//! laid side by side in the library's own chunk layout: the library treats
//! each 64-byte chunk as 32 low bytes then 32 high bytes of 16-bit words and
//! stores a shard's final partial chunk of `t` bytes as `t/2` low bytes at
//! offset 0 and `t/2` high bytes at offset 32. Padding every symbol to whole
//! chunks in that layout ("wide" form) gives word-for-word the same
//! arithmetic as one call per symbol.

use rayon::prelude::*;
use reed_solomon_simd::{EncoderResult, ReedSolomonDecoder, ReedSolomonEncoder};

/// A reusable encoder that expands `k` originals to `n` symbols.
#[derive(Default)]
pub(crate) struct Expander {
    encoder: Option<ReedSolomonEncoder>,
}

impl Expander {
    /// Encodes the `k` shards in `originals` (each `shard_bytes` long) and
    /// returns the library's result: recovery shard `m` is codeword symbol `k + m`.
    ///
    /// # Panics
    /// Panics on counts the library does not support or an odd `shard_bytes`;
    /// [`crate::EncodingConfig::new`] and the symbol size rule exclude both.
    pub(crate) fn encode<'a>(
        &mut self,
        originals: impl Iterator<Item = &'a [u8]>,
        k: usize,
        n_recovery: usize,
        shard_bytes: usize,
    ) -> EncoderResult<'_> {
        const SUPPORTED: &str = "the configuration checks the code sizes and symbols are even";
        let encoder = match &mut self.encoder {
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
        encoder.encode().expect(SUPPORTED)
    }
}

/// Bytes a symbol of `symbol_size` bytes takes in wide form.
fn wide_symbol_size(symbol_size: usize) -> usize {
    symbol_size.div_ceil(64) * 64
}

/// Converts `symbols` (back-to-back symbols of `symbol_size` bytes) to wide
/// form in `wide` (cleared first).
fn to_wide(symbols: &[u8], symbol_size: usize, wide: &mut Vec<u8>) {
    let wide_size = wide_symbol_size(symbol_size);
    wide.clear();
    if wide_size == symbol_size {
        wide.extend_from_slice(symbols);
        return;
    }
    let full = symbol_size / 64 * 64;
    let half_tail = (symbol_size - full) / 2;
    wide.resize(symbols.len() / symbol_size * wide_size, 0);
    for (symbol, out) in symbols
        .chunks_exact(symbol_size)
        .zip(wide.chunks_exact_mut(wide_size))
    {
        out[..full].copy_from_slice(&symbol[..full]);
        if half_tail > 0 {
            out[full..full + half_tail].copy_from_slice(&symbol[full..full + half_tail]);
            out[full + 32..full + 32 + half_tail].copy_from_slice(&symbol[full + half_tail..]);
        }
    }
}

/// Converts wide-form symbols back into `out` (back-to-back symbols).
fn from_wide(wide: &[u8], symbol_size: usize, out: &mut [u8]) {
    let wide_size = wide_symbol_size(symbol_size);
    let full = symbol_size / 64 * 64;
    let half_tail = (symbol_size - full) / 2;
    for (symbol, out) in wide
        .chunks_exact(wide_size)
        .zip(out.chunks_exact_mut(symbol_size))
    {
        out[..full].copy_from_slice(&symbol[..full]);
        if half_tail > 0 {
            out[full..full + half_tail].copy_from_slice(&symbol[full..full + half_tail]);
            out[full + half_tail..].copy_from_slice(&symbol[full + 32..full + 32 + half_tail]);
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
    let per_group = DECODE_WORK_BYTES / (n.next_power_of_two() * wide_symbol_size(symbol_size));
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
    let wide_size = wide_symbol_size(symbol_size);
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
        |(decoder, wide), (group, segments)| {
            let range =
                group * per_group * symbol_size..((group + 1) * per_group).min(width) * symbol_size;
            let wide_bytes = range.len() / symbol_size * wide_size;
            let decoder = match decoder {
                Some(decoder) => {
                    decoder
                        .reset(k, n - k, wide_bytes)
                        .map_err(|e| e.to_string())?;
                    decoder
                }
                slot @ None => slot.insert(
                    ReedSolomonDecoder::new(k, n - k, wide_bytes).map_err(|e| e.to_string())?,
                ),
            };
            for &(index, data) in &originals {
                to_wide(&data[range.clone()], symbol_size, wide);
                decoder
                    .add_original_shard(index, &*wide)
                    .map_err(|e| e.to_string())?;
            }
            for &(index, data) in &recoveries {
                to_wide(&data[range.clone()], symbol_size, wide);
                decoder
                    .add_recovery_shard(index - k, &*wide)
                    .map_err(|e| e.to_string())?;
            }
            let result = decoder.decode().map_err(|e| e.to_string())?;
            for (index, segment) in segments {
                let restored = result
                    .restored_original(index)
                    .ok_or("original not restored")?;
                from_wide(restored, symbol_size, segment);
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
    fn wide_form_round_trips() {
        for symbol_size in [2, 30, 64, 66, 126, 128, 302] {
            let symbols: Vec<u8> = (0..symbol_size * 3)
                .map(|i| u8::try_from(i * 7 % 251).expect("below 251"))
                .collect();
            let mut wide = Vec::new();
            to_wide(&symbols, symbol_size, &mut wide);
            let mut back = vec![0; symbols.len()];
            from_wide(&wide, symbol_size, &mut back);
            assert_eq!(back, symbols, "symbol size {symbol_size}");
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
