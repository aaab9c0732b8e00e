//! Encoding parameters and size arithmetic (SPEC.md section 1).
//!
//! Everything here is a pure function of the number of shards `n` and the
//! blob length. All arithmetic is checked: sizes are `u64`, counts are `u16`.

use reed_solomon_simd::ReedSolomonEncoder;

use crate::{BlobId, SliverType, error::ConfigError, error::DataTooLargeError};

/// The largest symbol size in bytes that RS2 allows (SPEC.md section 1).
pub const MAX_SYMBOL_SIZE: u16 = 65534;

/// Storage is accounted in units of 1 MiB (SPEC.md section 1).
pub const BYTES_PER_UNIT: u64 = 1 << 20;

/// The parameters of the RS2 encoding for a system of `n` shards.
///
/// `f = floor((n-1)/3)`, `p = n - 2f` primary source symbols and
/// `s = n - f` secondary source symbols (SPEC.md section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingConfig {
    n_shards: u16,
    max_faulty: u16,
}

/// Quorum test: `3w >= 2n + 1` for a weight `w` out of `n` (SPEC.md section
/// 1): more than two thirds, so any two quorums share a correct member. The
/// one definition every quorum check of the project uses (certificates,
/// epoch sync, slashing, stores).
pub fn is_quorum(weight: u32, n: u32) -> bool {
    3 * u64::from(weight) > 2 * u64::from(n)
}

/// Validity test: `3w >= n + 1` for a weight `w` out of `n` (SPEC.md section
/// 1): more than a third, so at least one correct member. The one definition
/// every validity check uses (invalid-blob certificates, already-certified
/// checks).
pub fn is_validity(weight: u32, n: u32) -> bool {
    3 * u64::from(weight) > u64::from(n)
}

impl EncodingConfig {
    /// Creates the configuration for `n_shards` shards.
    ///
    /// # Errors
    /// [`ConfigError::TooFewShards`] when `n_shards < 4` (then `f = 0` and the
    /// code has no redundancy), and [`ConfigError::UnsupportedShardCount`]
    /// when the Reed-Solomon library cannot build one of the two codes.
    pub fn new(n_shards: u16) -> Result<Self, ConfigError> {
        if n_shards < 4 {
            return Err(ConfigError::TooFewShards { n_shards });
        }
        let max_faulty = (n_shards - 1) / 3;
        let config = Self {
            n_shards,
            max_faulty,
        };
        let n = usize::from(n_shards);
        let p = usize::from(config.n_primary_source_symbols());
        let s = usize::from(config.n_secondary_source_symbols());
        if !ReedSolomonEncoder::supports(p, n - p) || !ReedSolomonEncoder::supports(s, n - s) {
            return Err(ConfigError::UnsupportedShardCount { n_shards });
        }
        Ok(config)
    }

    /// The number of shards `n`.
    pub fn n_shards(&self) -> u16 {
        self.n_shards
    }

    /// The maximum number of faulty shards `f = floor((n-1)/3)`.
    pub fn max_faulty(&self) -> u16 {
        self.max_faulty
    }

    /// `p = n - 2f`: source symbols of the primary code, the number of primary
    /// slivers needed to decode, and the number of symbols in a secondary sliver.
    pub fn n_primary_source_symbols(&self) -> u16 {
        self.n_shards - 2 * self.max_faulty
    }

    /// `s = n - f`: source symbols of the secondary code, the number of
    /// secondary slivers needed to decode, and the symbols in a primary sliver.
    pub fn n_secondary_source_symbols(&self) -> u16 {
        self.n_shards - self.max_faulty
    }

    /// The number of source symbols of the code along which a sliver of
    /// `sliver_type` lies: `s` for primary slivers (rows), `p` for secondary
    /// slivers (columns). This is both the number of symbols in such a sliver
    /// and the number of recovery symbols needed to rebuild one.
    pub fn symbols_per_sliver(&self, sliver_type: SliverType) -> u16 {
        match sliver_type {
            SliverType::Primary => self.n_secondary_source_symbols(),
            SliverType::Secondary => self.n_primary_source_symbols(),
        }
    }

    /// The number of distinct slivers of `sliver_type` needed to decode a blob:
    /// `p` primary or `s` secondary slivers.
    pub fn slivers_needed_to_decode(&self, sliver_type: SliverType) -> u16 {
        self.symbols_per_sliver(sliver_type.orthogonal())
    }

    /// Quorum test for a shard weight: [`is_quorum`] of `n`.
    pub fn is_quorum(&self, weight: u16) -> bool {
        is_quorum(u32::from(weight), u32::from(self.n_shards))
    }

    /// Validity test for a shard weight: [`is_validity`] of `n`.
    pub fn is_validity(&self, weight: u16) -> bool {
        is_validity(u32::from(weight), u32::from(self.n_shards))
    }

    /// Number of source symbols of a blob, `p * s`.
    fn source_symbols(&self) -> u64 {
        u64::from(self.n_primary_source_symbols()) * u64::from(self.n_secondary_source_symbols())
    }

    /// The largest blob this configuration can encode, in bytes: `p * s * 65534`.
    pub fn max_blob_size(&self) -> u64 {
        self.source_symbols() * u64::from(MAX_SYMBOL_SIZE)
    }

    /// The symbol size in bytes for a blob of `blob_size` bytes:
    /// `ceil(max(len,1) / (p*s))`, rounded up to an even number.
    ///
    /// # Errors
    /// [`DataTooLargeError`] when the blob is larger than [`Self::max_blob_size`].
    pub fn symbol_size(&self, blob_size: u64) -> Result<u16, DataTooLargeError> {
        let size = blob_size.max(1).div_ceil(self.source_symbols());
        let even = size + (size & 1);
        u16::try_from(even)
            .ok()
            .filter(|s| *s <= MAX_SYMBOL_SIZE)
            .ok_or(DataTooLargeError {
                blob_size,
                max_blob_size: self.max_blob_size(),
            })
    }

    /// The metadata length used in the storage cost, `64n + 32` bytes.
    pub fn metadata_length(&self) -> u64 {
        64 * u64::from(self.n_shards) + 32
    }

    /// The encoded length charged for a blob: `n * ((p+s)*S + 64n + 32)` bytes.
    ///
    /// # Errors
    /// [`DataTooLargeError`] when the blob is larger than [`Self::max_blob_size`].
    pub fn encoded_length(&self, blob_size: u64) -> Result<u64, DataTooLargeError> {
        let symbol_size = u64::from(self.symbol_size(blob_size)?);
        let per_pair = (u64::from(self.n_primary_source_symbols())
            + u64::from(self.n_secondary_source_symbols()))
            * symbol_size;
        Ok(u64::from(self.n_shards) * (per_pair + self.metadata_length()))
    }

    /// Storage units (1 MiB each) charged for a blob: `ceil(encoded_length / 2^20)`.
    ///
    /// # Errors
    /// [`DataTooLargeError`] when the blob is larger than [`Self::max_blob_size`].
    pub fn storage_units(&self, blob_size: u64) -> Result<u64, DataTooLargeError> {
        Ok(self.encoded_length(blob_size)?.div_ceil(BYTES_PER_UNIT))
    }

    /// The shard that stores sliver pair `pair_index` of `blob_id`:
    /// `(pair + rotation) mod n` with `rotation = blob_id mod n` (SPEC.md section 2).
    ///
    /// # Panics
    /// Panics if `pair_index >= n` (a programmer error).
    pub fn shard_for_pair(&self, pair_index: u16, blob_id: &BlobId) -> u16 {
        assert!(pair_index < self.n_shards, "pair index out of range");
        let n = u32::from(self.n_shards);
        let shard = (u32::from(pair_index) + u32::from(blob_id.rotation(self.n_shards))) % n;
        u16::try_from(shard).expect("a value mod n fits in u16")
    }

    /// The sliver pair stored by shard `shard_index` for `blob_id`:
    /// `(n + shard - rotation) mod n` (SPEC.md section 2).
    ///
    /// # Panics
    /// Panics if `shard_index >= n` (a programmer error).
    pub fn pair_for_shard(&self, shard_index: u16, blob_id: &BlobId) -> u16 {
        assert!(shard_index < self.n_shards, "shard index out of range");
        let n = u32::from(self.n_shards);
        let pair = (n + u32::from(shard_index) - u32::from(blob_id.rotation(self.n_shards))) % n;
        u16::try_from(pair).expect("a value mod n fits in u16")
    }

    /// The index of the secondary sliver in pair `pair_index`: `n - 1 - pair`.
    /// The same map takes a secondary sliver index back to its pair.
    ///
    /// # Panics
    /// Panics if `pair_index >= n` (a programmer error).
    pub fn secondary_sliver_of_pair(&self, pair_index: u16) -> u16 {
        assert!(pair_index < self.n_shards, "pair index out of range");
        self.n_shards - 1 - pair_index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_symbol_counts_match_spec() {
        for (n, p, s) in [
            (4, 2, 3),
            (7, 3, 5),
            (10, 4, 7),
            (100, 34, 67),
            (1000, 334, 667),
        ] {
            let config = EncodingConfig::new(n).expect("valid n");
            assert_eq!(config.n_primary_source_symbols(), p, "p for n={n}");
            assert_eq!(config.n_secondary_source_symbols(), s, "s for n={n}");
        }
    }

    #[test]
    fn max_blob_sizes_match_spec() {
        // SPEC.md section 1 prints 149,284,452 for n = 100, but its formula
        // p*s*65534 = 34*67*65534 gives 149,286,452 (docs/ARCHITECTURE.md notes this).
        for (n, max) in [
            (1000, 14_599_533_452),
            (100, 149_286_452),
            (10, 1_834_952),
            (4, 393_204),
        ] {
            let config = EncodingConfig::new(n).expect("valid n");
            assert_eq!(config.max_blob_size(), max);
            assert!(config.symbol_size(max).is_ok());
            let err = config.symbol_size(max + 1).expect_err("one byte too many");
            assert_eq!(err.max_blob_size, max);
        }
    }

    #[test]
    fn too_few_shards_is_an_error() {
        assert_eq!(
            EncodingConfig::new(3),
            Err(ConfigError::TooFewShards { n_shards: 3 })
        );
    }

    #[test]
    fn quorum_and_validity_thresholds() {
        let config = EncodingConfig::new(10).expect("valid n");
        assert!(!config.is_quorum(6) && config.is_quorum(7));
        assert!(!config.is_validity(3) && config.is_validity(4));
    }

    #[test]
    fn encoded_length_and_units() {
        let config = EncodingConfig::new(1000).expect("valid n");
        // 64 MiB: S = ceil(2^26 / 222778) = 302.
        assert_eq!(config.symbol_size(1 << 26), Ok(302));
        let encoded = 1000 * ((334 + 667) * 302 + 64_032);
        assert_eq!(config.encoded_length(1 << 26), Ok(encoded));
        assert_eq!(config.storage_units(1 << 26), Ok(encoded.div_ceil(1 << 20)));
    }
}
