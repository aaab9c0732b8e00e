//! Red Stuff (RS2) for Walrus: encoding, decoding, recovery, blob IDs and
//! Merkle proofs, byte-compatible with upstream Walrus (`../shared/SPEC.md`
//! sections 1 to 4).
//!
//! This crate is pure: no IO, no clock, and no global state other than a
//! constant table built on first use (the leaf hashes of all 2-byte symbols).
//! Work is spread over the ambient rayon thread pool; run inside
//! `ThreadPool::install` to bound it.
//!
//! Entry points: [`EncodingConfig`] (sizes, [`EncodingConfig::encode`],
//! [`EncodingConfig::compute_metadata`], [`EncodingConfig::decode`]),
//! [`Sliver::verify`], [`UnverifiedBlobMetadataWithId::verify`],
//! [`Sliver::recovery_symbols`], [`recover_sliver`], [`InconsistencyProof`].

#[cfg(target_arch = "x86_64")]
mod blake2b_x8;
mod blob_id;
mod config;
mod decode;
mod encode;
mod encoded;
pub mod error;
pub mod hash;
mod huge_pages;
pub mod merkle;
mod metadata;
mod recovery;
mod rs;
#[cfg(target_arch = "x86_64")]
mod rs_avx512;
mod sliver;
mod test_data;

pub use blob_id::BlobId;
pub use test_data::pseudo_random_bytes;

/// Says loudly that this CPU lacks AVX-512, so that a test checks only
/// `instead` and not `simd`: a green run here has not run that path. Written
/// to stderr directly, past libtest's output capture (which takes
/// `eprintln!`), so that it shows in the log of every test run.
#[cfg(all(test, target_arch = "x86_64"))]
fn warn_untested(simd: &str, instead: &str) {
    use std::io::Write;
    // A failed write to stderr is no reason to fail the test.
    let _ = writeln!(
        std::io::stderr(),
        "WARNING: this CPU lacks AVX-512: {simd} is NOT tested here; \
         checking {instead} against the same expectations"
    );
}

/// Builds the process-wide tables that encoding and sliver verification use:
/// the Reed-Solomon library's multiplication tables and the leaf hashes of
/// 2-byte symbols (`hash::SmallLeafTable`). Optional: the first encode builds
/// them otherwise. A short-lived process (one `walrus store`) calls this on a
/// spare thread at start, so the tables are built while it starts up instead
/// of delaying its first encode (figures: bench/RESULTS.md).
pub fn warm_up() {
    rs::warm_up();
    hash::SmallLeafTable::get();
}
pub use config::{BYTES_PER_UNIT, EncodingConfig, MAX_SYMBOL_SIZE, is_quorum, is_validity};
pub use encoded::EncodedBlob;
pub use hash::Node;
pub use metadata::{
    BlobMetadata, BlobMetadataV1, EncodingType, SliverPairMetadata, UnverifiedBlobMetadataWithId,
    VerifiedBlobMetadataWithId,
};
pub use recovery::{InconsistencyProof, RecoverySymbol, recover_sliver};
pub use sliver::{
    InvalidSymbolsError, Sliver, SliverRef, SliverType, SliverTypeParseError, Symbols, SymbolsRef,
};
