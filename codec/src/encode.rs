//! The RS2 encoder: slivers and metadata of a blob (SPEC.md sections 2 and 3).
//!
//! The `n x n` symbol matrix is produced column by column and never held
//! whole:
//! 1. Row stage: each of the `p` source rows is expanded with the secondary
//!    code (`s -> n`); only the `f` new symbols per row are kept ("row
//!    recovery", about half the blob's size). With slivers they are written
//!    straight into the secondary slivers `s..n`, whose upper symbols they
//!    are; without, into a buffer.
//! 2. Column stage, in blocks of 16 columns: each column is expanded with
//!    the primary code (`p -> n`) and its `n` symbols are hashed where they
//!    lie (no copies), once, in SIMD batches. The block's leaf hashes then
//!    give its 16 column trees (the secondary sliver hashes) and, per row,
//!    the row tree's node over the block's 16 columns (height 4): many
//!    trees per batched hash call (`merkle::raise_many`).
//! 3. Row trees: the primary sliver hashes, from each row's block nodes up.
//!
//! Rows and blocks of columns run in parallel on the ambient rayon pool. When
//! slivers are wanted, each lower primary sliver is split up front into one
//! segment per block of columns, so every block writes its symbols straight
//! into its own disjoint segments: no locks, no second copy. The code is
//! systematic, so two kinds of sliver hold only the blob's own symbols and
//! are not copied: [`EncodingConfig::encode_owned`] keeps the blob, serves
//! the primary slivers `0..p` (its rows) from it, and gathers a secondary
//! sliver `j < s` (column `j` of its rows) from it when that sliver is
//! read. The metadata-only path skips every sliver copy.

use rayon::prelude::*;

use crate::{
    EncodedBlob, EncodingConfig, VerifiedBlobMetadataWithId,
    error::DataTooLargeError,
    hash::{Digest, Node, SmallLeafTable, leaf_hashes},
    huge_pages,
    merkle::{UniformTree, raise_many, roots_many, tree_depth},
    metadata::{BlobMetadata, BlobMetadataV1, EncodingType, SliverPairMetadata},
    rs::{Dense, Expander, group_width},
};

/// Columns per parallel task in the column stage.
const COLUMN_BLOCK: usize = 16;
/// The height of a row tree's node over one block of columns.
const BLOCK_HEIGHT: usize = 4;
const _: () = assert!(
    COLUMN_BLOCK == 1 << BLOCK_HEIGHT,
    "blocks are whole subtrees"
);
/// Rows per parallel task when the row trees are hashed.
const ROW_BLOCK: usize = 16;
/// At most this many rows per library call in the row stage.
const MAX_GROUP: usize = 16;

impl EncodingConfig {
    /// Encodes `blob` into `n` sliver pairs and its metadata.
    ///
    /// Memory: about 4.5 times the blob at n = 1000 (a copy of the blob, and
    /// about 2.5 times the blob of slivers that are not source symbols).
    /// When the caller has the blob in a `Vec` it no longer needs,
    /// [`EncodingConfig::encode_owned`] saves the copy.
    ///
    /// # Errors
    /// [`DataTooLargeError`] if the blob exceeds [`EncodingConfig::max_blob_size`].
    pub fn encode(&self, blob: &[u8]) -> Result<EncodedBlob, DataTooLargeError> {
        // The slivers of source symbols are served from a copy of the blob,
        // as the owned encoder serves them from the blob.
        self.encode_owned(blob.to_vec())
    }

    /// Encodes `blob` like [`EncodingConfig::encode`], keeping `blob` inside
    /// the result. The code is systematic: the primary slivers `0..p` are
    /// the blob's rows and the secondary slivers `0..s` their columns, so
    /// they are served from the blob instead of copies (a row where it
    /// lies, a column gathered when it is read; see
    /// [`EncodedBlob::sliver_bytes`]). The client encodes this way.
    ///
    /// Memory: about 3.5 times the blob at n = 1000, including the blob.
    ///
    /// # Errors
    /// [`DataTooLargeError`] if the blob exceeds [`EncodingConfig::max_blob_size`].
    pub fn encode_owned(&self, blob: Vec<u8>) -> Result<EncodedBlob, DataTooLargeError> {
        let layout = Layout::new(self, &blob)?;
        let copied_rows = layout.n - layout.full_rows;
        let mut slivers = Slivers {
            primary: vec![0; copied_rows * layout.s * layout.symbol_size],
            secondary: vec![0; layout.f * layout.p * layout.symbol_size],
        };
        huge_pages::advise(&mut slivers.primary);
        huge_pages::advise(&mut slivers.secondary);
        let metadata = layout.run(Some(&mut slivers));
        let (symbol_size, p, s, source_rows) =
            (layout.symbol_size, layout.p, layout.s, layout.full_rows);
        let symbol_size_u16 = layout.symbol_size_u16;
        drop(layout);
        Ok(EncodedBlob {
            metadata,
            symbol_size: symbol_size_u16,
            n_shards: self.n_shards(),
            source_slivers: p,
            source_columns: s,
            primary_len: s * symbol_size,
            secondary_len: p * symbol_size,
            source: blob,
            source_rows,
            primary: slivers.primary,
            secondary: slivers.secondary,
        })
    }

    /// Computes the metadata and blob ID of `blob` without keeping slivers.
    ///
    /// Memory beyond the blob: about half the blob for the row stage, plus
    /// `32 n^2 / 16` bytes of row-tree nodes (2 MB at n = 1000) and each
    /// thread's work buffers.
    ///
    /// # Errors
    /// [`DataTooLargeError`] if the blob exceeds [`EncodingConfig::max_blob_size`].
    pub fn compute_metadata(
        &self,
        blob: &[u8],
    ) -> Result<VerifiedBlobMetadataWithId, DataTooLargeError> {
        Ok(Layout::new(self, blob)?.run(None))
    }
}

/// The slivers the encoder writes.
struct Slivers {
    /// Primary slivers `full_rows..n` (the rows before are the blob's own).
    primary: Vec<u8>,
    /// Secondary slivers `s..n` (those before hold only source symbols).
    secondary: Vec<u8>,
}

/// The blob seen as the `p x s` source matrix.
struct Layout<'a> {
    blob: &'a [u8],
    n: usize,
    p: usize,
    s: usize,
    f: usize,
    symbol_size: usize,
    symbol_size_u16: u16,
    /// Rows `0..full_rows` lie wholly inside the blob.
    full_rows: usize,
    /// Rows `full_rows..p`, zero-padded.
    padded_rows: Vec<u8>,
    /// Leaf hashes of 2-byte symbols, when that pays.
    table: Option<&'static SmallLeafTable>,
    /// Subtrees of zero symbols (padding).
    zero: UniformTree,
}

impl<'a> Layout<'a> {
    fn new(config: &EncodingConfig, blob: &'a [u8]) -> Result<Self, DataTooLargeError> {
        let blob_size = u64::try_from(blob.len()).expect("a slice length fits in u64");
        let symbol_size_u16 = config.symbol_size(blob_size)?;
        let symbol_size = usize::from(symbol_size_u16);
        let n = usize::from(config.n_shards());
        let p = usize::from(config.n_primary_source_symbols());
        let s = usize::from(config.n_secondary_source_symbols());
        let row_bytes = s * symbol_size;
        let full_rows = blob.len() / row_bytes;
        let mut padded_rows = vec![0; (p - full_rows) * row_bytes];
        let rest = &blob[full_rows * row_bytes..];
        padded_rows[..rest.len()].copy_from_slice(rest);
        let table = SmallLeafTable::for_leaves(symbol_size, n * n);
        Ok(Self {
            table,
            zero: UniformTree::new(&vec![0; symbol_size], n),
            blob,
            n,
            p,
            s,
            f: n - s,
            symbol_size,
            symbol_size_u16,
            full_rows,
            padded_rows,
        })
    }

    /// Source row `r` (`s` symbols).
    fn row(&self, r: usize) -> &[u8] {
        let row_bytes = self.s * self.symbol_size;
        if r < self.full_rows {
            &self.blob[r * row_bytes..][..row_bytes]
        } else {
            &self.padded_rows[(r - self.full_rows) * row_bytes..][..row_bytes]
        }
    }

    /// Stage 1 without slivers: the `f` new symbols of every source row,
    /// row-major.
    fn row_recovery(&self) -> Vec<u8> {
        let row_recovery_bytes = self.f * self.symbol_size;
        let width = group_width(self.symbol_size, MAX_GROUP);
        let mut recovery = vec![0; self.p * row_recovery_bytes];
        huge_pages::advise(&mut recovery);
        let outs = recovery
            .chunks_mut(width * row_recovery_bytes)
            .map(RowOut::Rows);
        self.row_stage(outs.collect());
        recovery
    }

    /// Stage 1 with slivers: the `f` new symbols of source row `r` are
    /// symbol `r` of the secondary slivers `s..n` (`secondary`), written
    /// there directly.
    fn row_recovery_into(&self, secondary: &mut [u8]) {
        let (p, size) = (self.p, self.symbol_size);
        let width = group_width(size, MAX_GROUP);
        let mut outs: Vec<Vec<&mut [u8]>> = (0..p.div_ceil(width))
            .map(|_| Vec::with_capacity(width * self.f))
            .collect();
        for sliver in secondary.chunks_exact_mut(p * size) {
            for (r, symbol) in sliver.chunks_exact_mut(size).enumerate() {
                outs[r / width].push(symbol);
            }
        }
        self.row_stage(outs.into_iter().map(RowOut::Symbols).collect());
    }

    /// Expands the source rows in groups side by side (see
    /// [`group_width`]), group `g` into `outs[g]`.
    fn row_stage(&self, outs: Vec<RowOut<'_>>) {
        let (s, f, size) = (self.s, self.f, self.symbol_size);
        let width = group_width(size, MAX_GROUP);
        outs.into_par_iter().enumerate().for_each_init(
            Expander::default,
            |expander, (group, mut out)| {
                let first = group * width;
                let rows = width.min(self.p - first);
                let dense = Dense::new(size, rows);
                let result = expander
                    .encode_group(dense, s, f, |c, j| &self.row(first + c)[j * size..][..size]);
                for (m, shard) in result.recovery_iter().enumerate() {
                    for c in 0..rows {
                        dense.get(shard, c, out.target(rows, c, m, f * size, size));
                    }
                }
            },
        );
    }

    /// Symbol `(r, j)` of the upper `p` rows of the expanded matrix: from
    /// the blob for `j < s`, else from the row stage's output.
    fn upper_symbol<'b>(&'b self, upper: Upper<'b>, r: usize, j: usize) -> &'b [u8] {
        let size = self.symbol_size;
        if j < self.s {
            return &self.row(r)[j * size..][..size];
        }
        let m = j - self.s;
        match upper {
            Upper::Slivers(slivers) => &slivers[(m * self.p + r) * size..][..size],
            Upper::Rows(rows) => &rows[(r * self.f + m) * size..][..size],
        }
    }

    fn run(&self, slivers: Option<&mut Slivers>) -> VerifiedBlobMetadataWithId {
        let (n, p, s, size) = (self.n, self.p, self.s, self.symbol_size);
        let mut slivers = slivers;
        let row_recovery = match slivers.as_deref_mut() {
            Some(slivers) => {
                self.row_recovery_into(&mut slivers.secondary);
                Vec::new()
            }
            None => self.row_recovery(),
        };
        // Each block of columns leaves, per row, the node of the row's tree
        // over the block's columns (height `block_height`), block-major.
        let block_height = tree_depth(n).min(BLOCK_HEIGHT);
        let mut block_nodes: Vec<Digest> = vec![[0; 32]; n.div_ceil(COLUMN_BLOCK) * n];
        let mut secondary_hashes = vec![Node::Empty; n];
        let n_blocks = n.div_ceil(COLUMN_BLOCK);
        // Where each block of columns writes, when slivers are kept: its
        // segment of every lower primary sliver (rows p..n, columns 0..s).
        // The secondary slivers `s..n` are only read from here on.
        let mut lower_blocks: Vec<Vec<&mut [u8]>> = (0..n_blocks).map(|_| Vec::new()).collect();
        let upper = match slivers {
            Some(slivers) => {
                // Rows before `full_rows` are the blob's own; the padded source
                // rows are copied.
                let padded = (p - self.full_rows) * s * size;
                let (upper_rows, lower_rows) = slivers.primary.split_at_mut(padded);
                upper_rows.copy_from_slice(&self.padded_rows);
                for row in lower_rows.chunks_exact_mut(s * size) {
                    for (segments, segment) in lower_blocks
                        .iter_mut()
                        .zip(row.chunks_mut(COLUMN_BLOCK * size))
                    {
                        segments.push(segment);
                    }
                }
                Upper::Slivers(&slivers.secondary)
            }
            None => Upper::Rows(&row_recovery),
        };
        let keep_slivers = matches!(upper, Upper::Slivers(_));
        block_nodes
            .par_chunks_mut(n)
            .zip(secondary_hashes.par_chunks_mut(COLUMN_BLOCK))
            .zip(lower_blocks)
            .enumerate()
            .for_each_init(
                ColumnWorker::default,
                |worker, (block, ((nodes, roots), mut lower))| {
                    // The block's leaf hashes, column-major.
                    let mut leaves = std::mem::take(&mut worker.leaves);
                    leaves.resize(roots.len() * n, [0; 32]);
                    // Groups of columns side by side, each group one library call.
                    let width = group_width(size, COLUMN_BLOCK);
                    for (group, leaves) in leaves.chunks_mut(width * n).enumerate() {
                        let first = group * width;
                        let lower = keep_slivers.then_some(LowerOut {
                            segments: &mut lower,
                            offset: first * size,
                        });
                        let j = block * COLUMN_BLOCK + first;
                        worker.columns(self, upper, j, leaves, lower);
                    }
                    // The block's column trees, all at once.
                    roots.copy_from_slice(&roots_many(&leaves, n, &self.zero));
                    // Each row's subtree over the block's columns.
                    let columns = roots.len();
                    worker.rows.resize(n * columns, [0; 32]);
                    for (c, column) in leaves.chunks_exact(n).enumerate() {
                        for (r, leaf) in column.iter().enumerate() {
                            worker.rows[r * columns + c] = *leaf;
                        }
                    }
                    let (row_nodes, one) =
                        raise_many(&worker.rows, columns, 0, Some(block_height), &self.zero);
                    debug_assert_eq!(one, 1, "a block's subtree has one node per row");
                    nodes.copy_from_slice(&row_nodes);
                    worker.leaves = leaves;
                },
            );
        // Row trees: from each row's block nodes up, many rows at once.
        let n_blocks = n.div_ceil(COLUMN_BLOCK);
        let mut primary_hashes = vec![Node::Empty; n];
        primary_hashes
            .par_chunks_mut(ROW_BLOCK)
            .enumerate()
            .for_each(|(block, roots)| {
                let first = block * ROW_BLOCK;
                let mut rows = vec![[0; 32]; roots.len() * n_blocks];
                for (b, nodes) in block_nodes.chunks_exact(n).enumerate() {
                    for (r, node) in nodes[first..][..roots.len()].iter().enumerate() {
                        rows[r * n_blocks + b] = *node;
                    }
                }
                let (row_roots, _) = raise_many(&rows, n_blocks, block_height, None, &self.zero);
                for (root, digest) in roots.iter_mut().zip(row_roots) {
                    *root = Node::Digest(digest);
                }
            });
        let hashes = (0..n)
            .map(|i| SliverPairMetadata {
                primary_hash: primary_hashes[i],
                secondary_hash: secondary_hashes[n - 1 - i],
            })
            .collect();
        VerifiedBlobMetadataWithId::from_encoder(BlobMetadata::V1(BlobMetadataV1 {
            encoding_type: EncodingType::Rs2,
            unencoded_length: u64::try_from(self.blob.len()).expect("a slice length fits in u64"),
            hashes,
        }))
    }
}

/// Where the column stage reads the row stage's new symbols (the upper
/// symbols of columns `s..n`).
#[derive(Clone, Copy)]
enum Upper<'a> {
    /// The secondary slivers `s..n`, back to back.
    Slivers(&'a [u8]),
    /// Row-major: each source row's `f` new symbols.
    Rows(&'a [u8]),
}

/// Where the row stage writes a group of rows' new symbols.
enum RowOut<'a> {
    /// The group's rows of `f` symbols, back to back.
    Rows(&'a mut [u8]),
    /// One slice per symbol: row `c`'s symbol `m` at `m * rows + c`.
    Symbols(Vec<&'a mut [u8]>),
}

impl RowOut<'_> {
    /// Where symbol `m` of the group's row `c` goes (`rows` rows in the
    /// group, `row_bytes` bytes of new symbols per row).
    fn target(
        &mut self,
        rows: usize,
        c: usize,
        m: usize,
        row_bytes: usize,
        size: usize,
    ) -> &mut [u8] {
        match self {
            RowOut::Rows(rows_out) => &mut rows_out[c * row_bytes + m * size..][..size],
            RowOut::Symbols(symbols) => symbols[m * rows + c],
        }
    }
}

/// Where the column stage copies a group of columns' lower symbols when
/// slivers are kept.
struct LowerOut<'a, 'b> {
    /// The block's segment of each lower primary sliver (rows `p..n`); empty
    /// or short past the source columns.
    segments: &'a mut [&'b mut [u8]],
    /// Byte offset of the group's first column inside each segment.
    offset: usize,
}

impl LowerOut<'_, '_> {
    /// Where lower symbol `m` (row `p + m`) of the group's column `c` goes,
    /// if that column is a source column.
    fn lower_mut(&mut self, m: usize, c: usize, size: usize) -> Option<&mut [u8]> {
        let at = self.offset + c * size;
        self.segments.get_mut(m)?.get_mut(at..at + size)
    }

    /// Lower symbol `m` of column `c`, once written by the column stage.
    fn lower(&self, m: usize, c: usize, size: usize) -> Option<&[u8]> {
        let at = self.offset + c * size;
        self.segments.get(m)?.get(at..at + size)
    }
}

/// Per-thread state of the column stage.
#[derive(Default)]
struct ColumnWorker {
    expander: Expander,
    /// The leaf hashes of a block's columns, column-major.
    leaves: Vec<Digest>,
    /// The same, row-major.
    rows: Vec<Digest>,
    /// Lower symbols of a group that have no sliver to go to, column-major.
    lower: Vec<u8>,
}

impl ColumnWorker {
    /// Expands the columns `j..j + leaves.len() / n` in one library call and
    /// writes their leaf hashes to `leaves` (`n` per column). Symbols are
    /// hashed where they lie: the blob, the row stage's output (`upper`),
    /// the primary slivers, or (one column alone) the library's output;
    /// only lower symbols of grouped columns without a sliver are unpacked
    /// into scratch first. With slivers (`lower`), each source column's
    /// lower `n - p` symbols are copied into the primary slivers.
    fn columns(
        &mut self,
        layout: &Layout<'_>,
        upper: Upper<'_>,
        j: usize,
        leaves: &mut [Digest],
        mut lower: Option<LowerOut<'_, '_>>,
    ) {
        let (n, p, s, size) = (layout.n, layout.p, layout.s, layout.symbol_size);
        let (width, lower_count) = (leaves.len() / n, n - p);
        let dense = Dense::new(size, width);
        let symbol = |c: usize, r: usize| layout.upper_symbol(upper, r, j + c);
        let result = self.expander.encode_group(dense, p, lower_count, symbol);
        if !dense.is_raw() {
            self.lower.resize(width * lower_count * size, 0);
        }
        for (m, shard) in result.recovery_iter().enumerate() {
            for c in 0..width {
                match lower.as_mut().and_then(|out| out.lower_mut(m, c, size)) {
                    Some(target) => dense.get(shard, c, target),
                    None if dense.is_raw() => {}
                    None => dense.get(
                        shard,
                        c,
                        &mut self.lower[(c * lower_count + m) * size..][..size],
                    ),
                }
            }
        }
        let mut symbols: Vec<&[u8]> = Vec::with_capacity(n);
        for (c, leaves) in leaves.chunks_exact_mut(n).enumerate() {
            symbols.clear();
            symbols.extend((0..p).map(|r| symbol(c, r)));
            // The lower symbols: the library's output as it lies (one column
            // alone), else unpacked: in its primary slivers (a source column,
            // with slivers) or in scratch.
            match lower.as_ref().filter(|_| j + c < s) {
                _ if dense.is_raw() => symbols.extend(result.recovery_iter()),
                Some(out) => symbols.extend((0..lower_count).map(|m| {
                    out.lower(m, c, size)
                        .expect("a source column has a segment in every lower row")
                })),
                None => symbols.extend(
                    self.lower[c * lower_count * size..][..lower_count * size].chunks_exact(size),
                ),
            }
            leaf_hashes(&symbols, leaves, layout.table);
        }
    }
}
