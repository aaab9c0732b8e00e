//! Recovery symbols and inconsistency proofs (SPEC.md section 4).
//!
//! A node holding sliver `a` of one type helps rebuild sliver `b` of the other
//! type: it expands its sliver to `n` symbols with the orthogonal code and
//! sends symbol `b`, optionally with the Merkle proof of leaf `b` in the tree
//! over its expanded sliver (whose root is its sliver's hash in the metadata).
//! The receiver decodes the `k` symbols it needs (`s` for a primary target,
//! `p` for a secondary target) as one codeword in which symbol `a` sits at
//! position `a`.

use serde::{Deserialize, Serialize};

use crate::{
    EncodingConfig, Sliver, SliverType, Symbols, VerifiedBlobMetadataWithId,
    error::RecoveryError,
    merkle::{MerkleProof, MerkleTree},
    rs::decode_codewords,
    sliver::ExpandedSliver,
};

/// One symbol for rebuilding another sliver, with its Merkle proof.
///
/// BCS: `{ source_index: u16, data: Vec<u8>, proof: { path: Vec<Node> } }`.
/// The target sliver and its type travel beside it (URL or proof).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverySymbol {
    /// The index of the sliver (of the target's orthogonal type) it comes from.
    pub source_index: u16,
    /// The symbol, one symbol size long.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Proof of leaf `target_index` in the tree over the expanded source sliver.
    pub proof: MerkleProof,
}

impl Sliver {
    /// Recovery symbols with proofs from this sliver for the slivers of the
    /// orthogonal type listed in `targets`. Expands and hashes once.
    ///
    /// # Errors
    /// [`RecoveryError::TargetOutOfRange`] if a target is not below `n`.
    ///
    /// # Panics
    /// Panics if this sliver's shape does not fit `config` (check it first).
    pub fn recovery_symbols(
        &self,
        config: &EncodingConfig,
        targets: &[u16],
    ) -> Result<Vec<RecoverySymbol>, RecoveryError> {
        check_targets(config, targets)?;
        let expanded = ExpandedSliver::new(config, self.sliver_type, &self.symbols);
        let data: Vec<Vec<u8>> = targets
            .iter()
            .map(|t| expanded.symbol(usize::from(*t)).to_vec())
            .collect();
        let tree = MerkleTree::from_leaf_hashes(expanded.into_leaf_hashes());
        Ok(targets
            .iter()
            .zip(data)
            .map(|(target, data)| RecoverySymbol {
                source_index: self.index,
                data,
                proof: tree
                    .proof(usize::from(*target))
                    .expect("targets are checked"),
            })
            .collect())
    }

    /// The recovery symbols for `targets` without proofs (the honest fast
    /// path), in the order of `targets`.
    ///
    /// # Errors
    /// [`RecoveryError::TargetOutOfRange`] if a target is not below `n`.
    ///
    /// # Panics
    /// Panics if this sliver's shape does not fit `config` (check it first).
    pub fn recovery_symbol_data(
        &self,
        config: &EncodingConfig,
        targets: &[u16],
    ) -> Result<Vec<Vec<u8>>, RecoveryError> {
        check_targets(config, targets)?;
        let expanded = ExpandedSliver::new(config, self.sliver_type, &self.symbols);
        Ok(targets
            .iter()
            .map(|t| expanded.symbol(usize::from(*t)).to_vec())
            .collect())
    }
}

fn check_targets(config: &EncodingConfig, targets: &[u16]) -> Result<(), RecoveryError> {
    match targets.iter().find(|t| **t >= config.n_shards()) {
        Some(index) => Err(RecoveryError::TargetOutOfRange {
            index: *index,
            n_shards: config.n_shards(),
        }),
        None => Ok(()),
    }
}

impl RecoverySymbol {
    /// Checks the symbol's size and proof for target sliver `target_index` of
    /// `target_type` against the metadata.
    ///
    /// # Errors
    /// [`RecoveryError`] naming the problem.
    pub fn verify(
        &self,
        config: &EncodingConfig,
        metadata: &VerifiedBlobMetadataWithId,
        target_type: SliverType,
        target_index: u16,
    ) -> Result<(), RecoveryError> {
        check_config(config, metadata)?;
        check_targets(config, &[target_index])?;
        let expected = metadata.symbol_size(config)?;
        check_symbol(self.source_index, &self.data, config, expected)?;
        let root = metadata
            .sliver_hash(target_type.orthogonal(), self.source_index)
            .expect("source index is checked");
        let n = usize::from(config.n_shards());
        if !self
            .proof
            .verify(&root, &self.data, usize::from(target_index), n)
        {
            return Err(RecoveryError::InvalidProof {
                source_index: self.source_index,
            });
        }
        Ok(())
    }
}

fn check_config(
    config: &EncodingConfig,
    metadata: &VerifiedBlobMetadataWithId,
) -> Result<(), RecoveryError> {
    if metadata.matches(config) {
        Ok(())
    } else {
        Err(RecoveryError::ConfigMismatch {
            metadata_shards: metadata.n_shards(),
            config_shards: config.n_shards(),
        })
    }
}

fn check_symbol(
    source_index: u16,
    data: &[u8],
    config: &EncodingConfig,
    expected: u16,
) -> Result<(), RecoveryError> {
    if source_index >= config.n_shards() {
        return Err(RecoveryError::BadSourceIndex(source_index));
    }
    if data.len() != usize::from(expected) {
        return Err(RecoveryError::SymbolSizeMismatch {
            source_index,
            expected,
            actual: data.len(),
        });
    }
    Ok(())
}

/// Rebuilds sliver `target_index` of `target_type` from recovery symbols
/// `(source_index, data)` without proofs, and checks it against the metadata.
///
/// Needs `s` distinct symbols for a primary target, `p` for a secondary one.
///
/// # Errors
/// [`RecoveryError::RecoveredHashMismatch`] when the rebuilt sliver does not match the
/// metadata (then fetch symbols with proofs and build an
/// [`InconsistencyProof`]); other [`RecoveryError`]s for unusable input.
pub fn recover_sliver(
    config: &EncodingConfig,
    metadata: &VerifiedBlobMetadataWithId,
    target_type: SliverType,
    target_index: u16,
    symbols: &[(u16, &[u8])],
) -> Result<Sliver, RecoveryError> {
    let sliver = decode_target(config, metadata, target_type, target_index, symbols)?;
    let expected = metadata
        .sliver_hash(target_type, target_index)
        .expect("target is checked");
    if sliver.hash(config) != expected {
        return Err(RecoveryError::RecoveredHashMismatch {
            sliver_type: target_type,
            index: target_index,
        });
    }
    Ok(sliver)
}

fn decode_target(
    config: &EncodingConfig,
    metadata: &VerifiedBlobMetadataWithId,
    target_type: SliverType,
    target_index: u16,
    symbols: &[(u16, &[u8])],
) -> Result<Sliver, RecoveryError> {
    check_config(config, metadata)?;
    check_targets(config, &[target_index])?;
    let symbol_size = metadata.symbol_size(config)?;
    let n = usize::from(config.n_shards());
    let k = usize::from(config.symbols_per_sliver(target_type));
    let mut seen = vec![false; n];
    let mut shards = Vec::with_capacity(k);
    for &(source_index, data) in symbols {
        check_symbol(source_index, data, config, symbol_size)?;
        if std::mem::replace(&mut seen[usize::from(source_index)], true) {
            return Err(RecoveryError::BadSourceIndex(source_index));
        }
        shards.push((usize::from(source_index), data));
    }
    if shards.len() < k {
        return Err(RecoveryError::NotEnoughSymbols {
            needed: k,
            received: shards.len(),
        });
    }
    shards.sort_by_key(|(index, _)| *index);
    shards.truncate(k);
    let data = decode_codewords(k, n, usize::from(symbol_size), 1, &shards)
        .map_err(RecoveryError::ReedSolomon)?;
    let symbols = Symbols::new(data, symbol_size).expect("decoded data is whole symbols");
    Ok(Sliver {
        sliver_type: target_type,
        symbols,
        index: target_index,
    })
}

/// Evidence that a blob's slivers are inconsistent with its metadata: exactly
/// the needed recovery symbols, each with a valid proof, that decode to a
/// sliver whose hash differs from the metadata (SPEC.md section 4).
///
/// BCS: `{ target_index: u16, symbols: Vec<RecoverySymbol> }`; the target's
/// type travels in the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InconsistencyProof {
    /// The sliver whose recovery failed.
    pub target_index: u16,
    /// Exactly `s` (primary target) or `p` (secondary target) symbols.
    pub symbols: Vec<RecoverySymbol>,
}

impl InconsistencyProof {
    /// Checks the proof for a target of `target_type`: right count, every
    /// symbol's proof valid, and the decoded sliver does not match the metadata.
    ///
    /// # Errors
    /// [`RecoveryError::NotInconsistent`] if the sliver matches, other
    /// [`RecoveryError`]s for malformed proofs.
    pub fn verify(
        &self,
        config: &EncodingConfig,
        metadata: &VerifiedBlobMetadataWithId,
        target_type: SliverType,
    ) -> Result<(), RecoveryError> {
        let expected = usize::from(config.symbols_per_sliver(target_type));
        if self.symbols.len() != expected {
            return Err(RecoveryError::WrongProofSize {
                expected,
                actual: self.symbols.len(),
            });
        }
        for symbol in &self.symbols {
            symbol.verify(config, metadata, target_type, self.target_index)?;
        }
        let pairs: Vec<(u16, &[u8])> = self
            .symbols
            .iter()
            .map(|s| (s.source_index, s.data.as_slice()))
            .collect();
        match recover_sliver(config, metadata, target_type, self.target_index, &pairs) {
            Err(RecoveryError::RecoveredHashMismatch { .. }) => Ok(()),
            Err(other) => Err(other),
            Ok(_) => Err(RecoveryError::NotInconsistent),
        }
    }
}
