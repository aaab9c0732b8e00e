//! Decoding a blob from `p` primary or `s` secondary slivers (SPEC.md section 2).
//!
//! All codewords along the decoding axis share one erasure pattern, so the
//! whole blob is decoded in one Reed-Solomon call (see [`crate::rs`]). When
//! the primary slivers `0..p` are all present, the blob is copied out with no
//! decoding work.

use crate::{
    EncodingConfig, Sliver, SliverType, VerifiedBlobMetadataWithId, error::DecodeError,
    rs::decode_codewords,
};

impl EncodingConfig {
    /// Decodes a blob of `blob_size` bytes from slivers of `sliver_type`.
    ///
    /// Needs `p` distinct primary or `s` distinct secondary slivers; extra and
    /// repeated slivers are ignored. Slivers are not checked against the
    /// metadata here (see [`Sliver::verify`] and
    /// [`EncodingConfig::decode_and_verify`]).
    ///
    /// # Errors
    /// [`DecodeError`] on a sliver of the other type or of the wrong shape, too
    /// few distinct slivers, or a blob size too large for this configuration.
    pub fn decode<'a>(
        &self,
        blob_size: u64,
        sliver_type: SliverType,
        slivers: impl IntoIterator<Item = &'a Sliver>,
    ) -> Result<Vec<u8>, DecodeError> {
        let symbol_size = self.symbol_size(blob_size)?;
        let n = usize::from(self.n_shards());
        let needed = usize::from(self.slivers_needed_to_decode(sliver_type));
        let mut seen = vec![false; n];
        let mut shards: Vec<(usize, &[u8])> = Vec::with_capacity(needed);
        for sliver in slivers {
            if sliver.sliver_type != sliver_type {
                return Err(DecodeError::WrongSliverType {
                    expected: sliver_type,
                    actual: sliver.sliver_type,
                });
            }
            sliver.check_shape(self, symbol_size)?;
            let index = usize::from(sliver.index);
            if !std::mem::replace(&mut seen[index], true) {
                shards.push((index, sliver.symbols.data()));
            }
        }
        if shards.len() < needed {
            return Err(DecodeError::NotEnoughSlivers {
                sliver_type,
                needed,
                received: shards.len(),
            });
        }
        // Prefer systematic slivers: they need no decoding.
        shards.sort_by_key(|(index, _)| *index);
        shards.truncate(needed);

        let size = usize::from(symbol_size);
        let width = usize::from(self.symbols_per_sliver(sliver_type));
        let decoded =
            decode_codewords(needed, n, size, width, &shards).map_err(DecodeError::ReedSolomon)?;
        let blob_len = usize::try_from(blob_size).expect("bounded by the maximum blob size");
        let mut blob = match sliver_type {
            // `p` rows of `s` symbols: the blob, row-major.
            SliverType::Primary => decoded,
            // `s` columns of `p` symbols: transpose to row-major.
            SliverType::Secondary => {
                let (p, s) = (width, needed);
                let mut blob = vec![0; p * s * size];
                for (c, column) in decoded.chunks_exact(p * size).enumerate() {
                    for (r, symbol) in column.chunks_exact(size).enumerate() {
                        blob[(r * s + c) * size..][..size].copy_from_slice(symbol);
                    }
                }
                blob
            }
        };
        blob.truncate(blob_len);
        Ok(blob)
    }

    /// Decodes and then re-encodes the blob to check that it derives the
    /// blob ID of `metadata` (the "strict" consistency check, SPEC.md section 4).
    ///
    /// # Errors
    /// [`DecodeError`] as [`EncodingConfig::decode`], and
    /// [`DecodeError::Inconsistent`] when the decoded blob derives another ID.
    pub fn decode_and_verify<'a>(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        sliver_type: SliverType,
        slivers: impl IntoIterator<Item = &'a Sliver>,
    ) -> Result<Vec<u8>, DecodeError> {
        let blob = self.decode(metadata.metadata().unencoded_length(), sliver_type, slivers)?;
        let recomputed = self.compute_metadata(&blob)?;
        if recomputed.blob_id() != metadata.blob_id() {
            return Err(DecodeError::Inconsistent);
        }
        Ok(blob)
    }
}
