//! Slivers: rows (primary) and columns (secondary) of the blob's `n x n`
//! symbol matrix, restricted to the source part (SPEC.md section 2).
//!
//! BCS of a [`Sliver`]: enum tag (`0` primary, `1` secondary), then
//! `symbols: { data: Vec<u8>, symbol_size: u16 }`, then `index: u16` (the
//! sliver index, not the pair index). These are the bytes of upstream's
//! `Sliver` enum; the node API sends the same fields.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{
    EncodingConfig, VerifiedBlobMetadataWithId,
    error::SliverVerificationError,
    hash::{Digest, Node, SmallLeafTable, leaf_hashes},
    merkle::{self, UniformTree},
    rs::{Dense, Expander, group_width},
};

/// Primary (row) or secondary (column) sliver. JSON and URLs: `primary` / `secondary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SliverType {
    /// Row `i` of the matrix, `s` symbols.
    Primary,
    /// Column `j` of the matrix, `p` symbols.
    Secondary,
}

impl SliverType {
    /// The other type.
    pub fn orthogonal(self) -> Self {
        match self {
            SliverType::Primary => SliverType::Secondary,
            SliverType::Secondary => SliverType::Primary,
        }
    }

    /// `"primary"` or `"secondary"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SliverType::Primary => "primary",
            SliverType::Secondary => "secondary",
        }
    }
}

impl fmt::Display for SliverType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was neither `primary` nor `secondary`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sliver type must be `primary` or `secondary`, got `{0}`")]
pub struct SliverTypeParseError(pub String);

impl FromStr for SliverType {
    type Err = SliverTypeParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "primary" => Ok(SliverType::Primary),
            "secondary" => Ok(SliverType::Secondary),
            other => Err(SliverTypeParseError(other.to_owned())),
        }
    }
}

/// Symbols of equal size stored back to back.
///
/// Invariant (checked on construction and on deserialization): the symbol
/// size is even and non-zero and the data is a whole number of symbols.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SymbolsWire")]
pub struct Symbols {
    // BCS writes a byte vector the same way either way; `serde_bytes` just
    // copies it in one piece instead of byte by byte.
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
    symbol_size: u16,
}

#[derive(Deserialize)]
struct SymbolsWire {
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
    symbol_size: u16,
}

/// The bytes do not form whole symbols of a valid size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{data_len} bytes are not whole symbols of {symbol_size} bytes (size must be even, non-zero)"
)]
pub struct InvalidSymbolsError {
    /// The data length in bytes.
    pub data_len: usize,
    /// The symbol size in bytes.
    pub symbol_size: u16,
}

impl TryFrom<SymbolsWire> for Symbols {
    type Error = InvalidSymbolsError;

    fn try_from(wire: SymbolsWire) -> Result<Self, Self::Error> {
        Symbols::new(wire.data, wire.symbol_size)
    }
}

impl Symbols {
    /// Wraps `data` as symbols of `symbol_size` bytes.
    ///
    /// # Errors
    /// [`InvalidSymbolsError`] if `symbol_size` is zero or odd, or `data` is
    /// not a whole number of symbols.
    pub fn new(data: Vec<u8>, symbol_size: u16) -> Result<Self, InvalidSymbolsError> {
        check_symbols(data.len(), symbol_size)?;
        Ok(Self { data, symbol_size })
    }

    /// The symbol size in bytes.
    pub fn symbol_size(&self) -> u16 {
        self.symbol_size
    }

    /// The number of symbols.
    pub fn len(&self) -> usize {
        self.data.len() / usize::from(self.symbol_size)
    }

    /// Whether there are no symbols.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// All symbols back to back.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Symbol `index`, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let size = usize::from(self.symbol_size);
        let start = index.checked_mul(size)?;
        self.data.get(start..start.checked_add(size)?)
    }

    /// Gives back the bytes.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

/// One sliver of a blob: primary sliver `index` is row `index` of the matrix
/// (`s` symbols), secondary sliver `index` is column `index` (`p` symbols).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sliver {
    /// Row or column.
    pub sliver_type: SliverType,
    /// The symbols.
    pub symbols: Symbols,
    /// The sliver index (row or column number), not the pair index.
    pub index: u16,
}

/// Checks that `data_len` bytes are whole symbols of a valid `symbol_size`
/// (even, non-zero).
fn check_symbols(data_len: usize, symbol_size: u16) -> Result<(), InvalidSymbolsError> {
    if symbol_size == 0
        || !symbol_size.is_multiple_of(2)
        || !data_len.is_multiple_of(usize::from(symbol_size))
    {
        return Err(InvalidSymbolsError {
            data_len,
            symbol_size,
        });
    }
    Ok(())
}

/// A borrowed sliver that serializes to exactly the bytes of the owned
/// [`Sliver`] with the same contents (BCS and JSON), so that senders can
/// serialize slivers where they lie (from [`crate::EncodedBlob::sliver_bytes`],
/// or [`Sliver::to_ref`]). It also deserializes from BCS borrowing the
/// symbols from the input (a node verifies an upload where it lies), with
/// the same checks as [`Symbols`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliverRef<'a> {
    /// Row or column.
    pub sliver_type: SliverType,
    /// The symbols.
    #[serde(borrow)]
    pub symbols: SymbolsRef<'a>,
    /// The sliver index (row or column number), not the pair index.
    pub index: u16,
}

/// Borrowed [`Symbols`], serialized like them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SymbolsRef<'a> {
    #[serde(with = "serde_bytes")]
    data: &'a [u8],
    symbol_size: u16,
}

impl<'de: 'a, 'a> Deserialize<'de> for SymbolsRef<'a> {
    /// Borrows the symbols from the input, which must be able to lend them
    /// (BCS from a byte slice can; self-describing formats may not).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire<'b> {
            #[serde(borrow)]
            data: &'b [u8],
            symbol_size: u16,
        }
        let wire = Wire::deserialize(deserializer)?;
        SymbolsRef::new(wire.data, wire.symbol_size).map_err(serde::de::Error::custom)
    }
}

impl<'a> SymbolsRef<'a> {
    /// Borrows `data` as symbols of `symbol_size` bytes.
    ///
    /// # Errors
    /// As [`Symbols::new`].
    pub fn new(data: &'a [u8], symbol_size: u16) -> Result<Self, InvalidSymbolsError> {
        check_symbols(data.len(), symbol_size)?;
        Ok(Self { data, symbol_size })
    }

    /// The data length in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are no symbols.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The symbol size in bytes.
    pub fn symbol_size(&self) -> u16 {
        self.symbol_size
    }

    /// The number of symbols.
    pub fn count(&self) -> usize {
        self.data.len() / usize::from(self.symbol_size)
    }

    /// All symbols back to back.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

impl Symbols {
    /// Borrows these symbols.
    pub fn to_ref(&self) -> SymbolsRef<'_> {
        SymbolsRef {
            data: &self.data,
            symbol_size: self.symbol_size,
        }
    }
}

impl<'a> SliverRef<'a> {
    /// Sliver `index` of `sliver_type` over `data`, symbols of
    /// `symbol_size` bytes back to back, borrowed (as
    /// [`crate::EncodedBlob::sliver_bytes`] gives them).
    ///
    /// # Errors
    /// [`InvalidSymbolsError`] if `symbol_size` is zero or odd, or `data` is
    /// not a whole number of symbols.
    pub fn new(
        sliver_type: SliverType,
        index: u16,
        data: &'a [u8],
        symbol_size: u16,
    ) -> Result<Self, InvalidSymbolsError> {
        Ok(Self {
            sliver_type,
            symbols: SymbolsRef::new(data, symbol_size)?,
            index,
        })
    }

    /// The sliver pair this sliver belongs to: `index` for primary,
    /// `n - 1 - index` for secondary slivers.
    ///
    /// # Panics
    /// Panics if `index >= n` (call [`SliverRef::check_shape`] first on input).
    pub fn pair_index(&self, config: &EncodingConfig) -> u16 {
        assert!(self.index < config.n_shards(), "sliver index out of range");
        match self.sliver_type {
            SliverType::Primary => self.index,
            SliverType::Secondary => config.secondary_sliver_of_pair(self.index),
        }
    }

    /// Checks index, symbol size and symbol count against the blob's
    /// `symbol_size`, without hashing.
    ///
    /// # Errors
    /// [`SliverVerificationError`] naming the first mismatch.
    pub fn check_shape(
        &self,
        config: &EncodingConfig,
        symbol_size: u16,
    ) -> Result<(), SliverVerificationError> {
        if self.index >= config.n_shards() {
            return Err(SliverVerificationError::IndexOutOfRange {
                index: self.index,
                n_shards: config.n_shards(),
            });
        }
        if self.symbols.symbol_size() != symbol_size {
            return Err(SliverVerificationError::SymbolSizeMismatch {
                expected: symbol_size,
                actual: self.symbols.symbol_size(),
            });
        }
        let expected = usize::from(config.symbols_per_sliver(self.sliver_type));
        if self.symbols.count() != expected {
            return Err(SliverVerificationError::SymbolCountMismatch {
                expected,
                actual: self.symbols.count(),
            });
        }
        Ok(())
    }

    /// Checks many slivers of one blob against its metadata, as
    /// [`Sliver::verify`] does each, and returns one result per sliver in
    /// order. Slivers of small symbols are expanded many per Reed-Solomon
    /// call, which makes this several times cheaper than verifying them one
    /// by one (a node checks every sliver of an upload this way).
    pub fn verify_many(
        slivers: &[SliverRef<'_>],
        config: &EncodingConfig,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Vec<Result<(), SliverVerificationError>> {
        let mut results: Vec<Result<(), SliverVerificationError>> = slivers
            .iter()
            .map(|sliver| {
                if !metadata.matches(config) {
                    return Err(SliverVerificationError::ConfigMismatch {
                        metadata_shards: metadata.n_shards(),
                        config_shards: config.n_shards(),
                    });
                }
                sliver.check_shape(config, metadata.symbol_size(config)?)
            })
            .collect();
        for sliver_type in [SliverType::Primary, SliverType::Secondary] {
            let (positions, symbols): (Vec<usize>, Vec<SymbolsRef<'_>>) = slivers
                .iter()
                .enumerate()
                .filter(|(i, sliver)| results[*i].is_ok() && sliver.sliver_type == sliver_type)
                .map(|(i, sliver)| (i, sliver.symbols))
                .unzip();
            let roots = roots_many(config, sliver_type, &symbols);
            for (i, root) in positions.into_iter().zip(roots) {
                let sliver = &slivers[i];
                let expected = metadata
                    .sliver_hash(sliver_type, sliver.index)
                    .expect("check_shape bounds the index by n, which the metadata matches");
                if root != expected {
                    results[i] = Err(SliverVerificationError::HashMismatch {
                        sliver_type,
                        index: sliver.index,
                    });
                }
            }
        }
        results
    }
}

impl Sliver {
    /// Borrows this sliver.
    pub fn to_ref(&self) -> SliverRef<'_> {
        SliverRef {
            sliver_type: self.sliver_type,
            symbols: self.symbols.to_ref(),
            index: self.index,
        }
    }

    /// The sliver pair this sliver belongs to: `index` for primary,
    /// `n - 1 - index` for secondary slivers.
    ///
    /// # Panics
    /// Panics if `index >= n` (call [`Sliver::check_shape`] first on input).
    pub fn pair_index(&self, config: &EncodingConfig) -> u16 {
        self.to_ref().pair_index(config)
    }

    /// Checks index, symbol size and symbol count against the blob's
    /// `symbol_size`, without hashing.
    ///
    /// # Errors
    /// [`SliverVerificationError`] naming the first mismatch.
    pub fn check_shape(
        &self,
        config: &EncodingConfig,
        symbol_size: u16,
    ) -> Result<(), SliverVerificationError> {
        self.to_ref().check_shape(config, symbol_size)
    }

    /// Checks this sliver against the blob's metadata: shape, then the Merkle
    /// root of the expanded sliver against the hash in the metadata.
    ///
    /// # Errors
    /// [`SliverVerificationError`] naming the first mismatch.
    pub fn verify(
        &self,
        config: &EncodingConfig,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<(), SliverVerificationError> {
        SliverRef::verify_many(&[self.to_ref()], config, metadata)
            .pop()
            .expect("one result per sliver")
    }

    /// Checks many slivers of one blob against its metadata, as
    /// [`SliverRef::verify_many`] does.
    pub fn verify_many(
        slivers: &[&Sliver],
        config: &EncodingConfig,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Vec<Result<(), SliverVerificationError>> {
        let refs: Vec<SliverRef<'_>> = slivers.iter().map(|sliver| sliver.to_ref()).collect();
        SliverRef::verify_many(&refs, config, metadata)
    }

    /// The hash the metadata holds for this sliver: the Merkle root of the
    /// sliver expanded to `n` symbols with the orthogonal code.
    ///
    /// # Panics
    /// Panics if the sliver's shape does not fit `config` (check it first).
    pub fn hash(&self, config: &EncodingConfig) -> Node {
        ExpandedSliver::new(config, self.sliver_type, &self.symbols).root()
    }
}

/// A sliver expanded to all `n` symbols of its row or column, with the leaf
/// hash of every symbol.
pub(crate) struct ExpandedSliver {
    /// `n` symbols back to back.
    symbols: Vec<u8>,
    symbol_size: usize,
    leaf_hashes: Vec<Digest>,
    root: Node,
}

impl ExpandedSliver {
    /// Expands `symbols` (a sliver of `sliver_type`) and hashes every symbol.
    ///
    /// # Panics
    /// Panics if the number of symbols differs from
    /// [`EncodingConfig::symbols_per_sliver`] (check the shape first).
    pub(crate) fn new(config: &EncodingConfig, sliver_type: SliverType, symbols: &Symbols) -> Self {
        let symbol_size = usize::from(symbols.symbol_size());
        let mut expanded = None;
        expand_each(
            config,
            sliver_type,
            &[symbols.to_ref()],
            |all, leaf_hashes, zero| {
                expanded = Some(Self {
                    symbols: all.concat(),
                    symbol_size,
                    leaf_hashes: leaf_hashes.to_vec(),
                    root: merkle::roots_many(leaf_hashes, leaf_hashes.len(), zero)[0],
                });
            },
        );
        expanded.expect("one expansion per sliver")
    }

    /// Symbol `index` (in `0..n`) of the expanded sliver.
    pub(crate) fn symbol(&self, index: usize) -> &[u8] {
        &self.symbols[index * self.symbol_size..][..self.symbol_size]
    }

    /// The Merkle root over the `n` symbols.
    pub(crate) fn root(&self) -> Node {
        self.root
    }

    /// The leaf hashes, to build a tree for proofs.
    pub(crate) fn into_leaf_hashes(self) -> Vec<Digest> {
        self.leaf_hashes
    }
}

/// The hash of each of `slivers` (of `sliver_type`): the Merkle root of the
/// sliver expanded to `n` symbols, as [`ExpandedSliver::root`] but without
/// keeping the expansion. The trees are raised up to `BATCH` at a time, so
/// their narrow top levels share batched hash calls.
///
/// # Panics
/// As [`expand_each`].
fn roots_many(
    config: &EncodingConfig,
    sliver_type: SliverType,
    slivers: &[SymbolsRef<'_>],
) -> Vec<Node> {
    /// Trees per raise: 2 MB of leaf hashes at n = 1000.
    const BATCH: usize = 64;
    let n = usize::from(config.n_shards());
    let mut out = Vec::with_capacity(slivers.len());
    let mut leaves: Vec<Digest> = Vec::with_capacity(BATCH.min(slivers.len()) * n);
    expand_each(config, sliver_type, slivers, |_, leaf_hashes, zero| {
        leaves.extend_from_slice(leaf_hashes);
        let pending = leaves.len() / n;
        if pending == BATCH || out.len() + pending == slivers.len() {
            out.extend(merkle::roots_many(&leaves, n, zero));
            leaves.clear();
        }
    });
    out
}

/// Expands each of `slivers` (of `sliver_type`) to its `n` symbols and
/// hashes them, then calls `each` with the symbols, their leaf hashes and the
/// tree of an all-zero sliver, in order. Symbols are read where they lie: the
/// sliver's own, then the Reed-Solomon library's output (one sliver per
/// call) or a scratch copy (small symbols, many slivers per call).
///
/// # Panics
/// Panics if a sliver's symbol count differs from
/// [`EncodingConfig::symbols_per_sliver`] or the symbol sizes differ
/// (check the shapes first).
fn expand_each(
    config: &EncodingConfig,
    sliver_type: SliverType,
    slivers: &[SymbolsRef<'_>],
    mut each: impl FnMut(&[&[u8]], &[Digest], &UniformTree),
) {
    /// At most this many slivers per library call.
    const MAX_GROUP: usize = 64;
    let n = usize::from(config.n_shards());
    let k = usize::from(config.symbols_per_sliver(sliver_type));
    let Some(first) = slivers.first() else {
        return;
    };
    let size = usize::from(first.symbol_size());
    for symbols in slivers {
        assert_eq!(
            symbols.count(),
            k,
            "sliver shape must be checked before expansion"
        );
        assert_eq!(usize::from(symbols.symbol_size()), size, "one symbol size");
    }
    let table = SmallLeafTable::for_leaves(size, slivers.len() * n);
    let zero = UniformTree::new(&vec![0; size], n);
    let mut expander = Expander::default();
    let mut recovered = Vec::new();
    let mut hashes = vec![[0; 32]; n];
    for group in slivers.chunks(group_width(size, MAX_GROUP)) {
        let dense = Dense::new(size, group.len());
        let result =
            expander.encode_group(dense, k, n - k, |c, i| &group[c].data()[i * size..][..size]);
        if !dense.is_raw() {
            recovered.resize(group.len() * (n - k) * size, 0);
            for (m, shard) in result.recovery_iter().enumerate() {
                for c in 0..group.len() {
                    dense.get(shard, c, &mut recovered[(c * (n - k) + m) * size..][..size]);
                }
            }
        }
        let mut refs: Vec<&[u8]> = Vec::with_capacity(n);
        for (c, symbols) in group.iter().enumerate() {
            refs.clear();
            refs.extend(symbols.data().chunks_exact(size));
            if dense.is_raw() {
                refs.extend(result.recovery_iter());
            } else {
                refs.extend(recovered[c * (n - k) * size..][..(n - k) * size].chunks_exact(size));
            }
            leaf_hashes(&refs, &mut hashes, table);
            each(&refs, &hashes, &zero);
        }
    }
}
