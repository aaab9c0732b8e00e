//! [`EncodedBlob`]: a blob's slivers as the encoder leaves them, served
//! without copies where the code is systematic (SPEC.md section 2).

use std::borrow::Cow;

use crate::{BlobId, Sliver, SliverType, Symbols, VerifiedBlobMetadataWithId};

/// A blob encoded into all of its slivers, with its verified metadata.
#[derive(Debug, Clone)]
pub struct EncodedBlob {
    pub(crate) metadata: VerifiedBlobMetadataWithId,
    pub(crate) symbol_size: u16,
    pub(crate) n_shards: u16,
    /// `p`, the primary slivers that are source rows.
    pub(crate) source_slivers: usize,
    /// `s`, the secondary slivers that are source columns.
    pub(crate) source_columns: usize,
    pub(crate) primary_len: usize,
    pub(crate) secondary_len: usize,
    /// The blob: its first `source_rows` rows are primary slivers
    /// `0..source_rows`, used in place.
    pub(crate) source: Vec<u8>,
    pub(crate) source_rows: usize,
    /// Primary slivers `source_rows..n` back to back, `s * S` bytes each
    /// (first the zero-padded source rows, then the rows `p..n`).
    pub(crate) primary: Vec<u8>,
    /// Secondary slivers `s..n` back to back, `p * S` bytes each.
    pub(crate) secondary: Vec<u8>,
}

impl EncodedBlob {
    /// The verified metadata (and blob ID).
    pub fn metadata(&self) -> &VerifiedBlobMetadataWithId {
        &self.metadata
    }

    /// The blob ID.
    pub fn blob_id(&self) -> &BlobId {
        self.metadata.blob_id()
    }

    /// The symbol size in bytes.
    pub fn symbol_size(&self) -> u16 {
        self.symbol_size
    }

    /// The length in bytes of every sliver of `sliver_type`: `s * S` for a
    /// primary sliver, `p * S` for a secondary one.
    pub fn sliver_len(&self, sliver_type: SliverType) -> usize {
        match sliver_type {
            SliverType::Primary => self.primary_len,
            SliverType::Secondary => self.secondary_len,
        }
    }

    /// Source row `r < p` (primary sliver `r`).
    fn source_row(&self, r: usize) -> &[u8] {
        if r < self.source_rows {
            &self.source[r * self.primary_len..][..self.primary_len]
        } else {
            &self.primary[(r - self.source_rows) * self.primary_len..][..self.primary_len]
        }
    }

    /// The bytes of sliver `index` of `sliver_type` (`sliver_len` bytes):
    /// borrowed where the sliver lies whole, which is every sliver but the
    /// secondary slivers `0..s`; those hold column `index` of the source
    /// rows and are gathered from the blob into a new buffer.
    ///
    /// # Panics
    /// Panics if `index >= n`.
    pub fn sliver_bytes(&self, sliver_type: SliverType, index: u16) -> Cow<'_, [u8]> {
        assert!(index < self.n_shards, "sliver index out of range");
        let index = usize::from(index);
        match sliver_type {
            SliverType::Primary if index < self.source_slivers => {
                Cow::Borrowed(self.source_row(index))
            }
            SliverType::Primary => Cow::Borrowed(
                &self.primary[(index - self.source_rows) * self.primary_len..][..self.primary_len],
            ),
            SliverType::Secondary if index < self.source_columns => {
                let size = usize::from(self.symbol_size);
                let mut column = Vec::with_capacity(self.secondary_len);
                for r in 0..self.source_slivers {
                    column.extend_from_slice(&self.source_row(r)[index * size..][..size]);
                }
                Cow::Owned(column)
            }
            SliverType::Secondary => Cow::Borrowed(
                &self.secondary[(index - self.source_columns) * self.secondary_len..]
                    [..self.secondary_len],
            ),
        }
    }

    /// An owned copy of sliver `index` of `sliver_type`.
    ///
    /// # Panics
    /// Panics if `index >= n`.
    pub fn sliver(&self, sliver_type: SliverType, index: u16) -> Sliver {
        let symbols = Symbols::new(
            self.sliver_bytes(sliver_type, index).into_owned(),
            self.symbol_size,
        )
        .expect("the encoder writes whole symbols of an even size");
        Sliver {
            sliver_type,
            symbols,
            index,
        }
    }

    /// Sliver pair `pair_index`: primary sliver `i` and secondary sliver `n-1-i`.
    ///
    /// # Panics
    /// Panics if `pair_index >= n`.
    pub fn sliver_pair(&self, pair_index: u16) -> (Sliver, Sliver) {
        assert!(pair_index < self.n_shards, "pair index out of range");
        let secondary = self.n_shards - 1 - pair_index;
        (
            self.sliver(SliverType::Primary, pair_index),
            self.sliver(SliverType::Secondary, secondary),
        )
    }
}
