//! The sliver files of the store: appending slivers' BCS bytes (synced
//! before their spans are committed), reading them back, and the
//! housekeeping on open (see the parent module for the layout).

use std::{
    fs::{File, OpenOptions},
    io::{BufWriter, Write},
    os::unix::fs::FileExt,
    path::PathBuf,
};

use rusqlite::{OptionalExtension, params};
use walrus_codec::{BlobId, Sliver, SliverType};

use super::{
    NodeStore, StoreError, StoreResult, WRITE_BUFFER, blob_id_of, io_error, kind, remove_file,
};

impl NodeStore {
    /// The sliver file of `blob_id`.
    pub(super) fn file(&self, blob_id: &BlobId) -> PathBuf {
        self.dir.join(blob_id.to_string())
    }

    /// Appends `chunks` to the sliver file of `blob_id` and syncs it; returns
    /// each chunk's `(start, length)` in bytes. On failure the file is cut
    /// back to its old length.
    fn append<'a>(
        &self,
        blob_id: &BlobId,
        chunks: impl Iterator<Item = &'a [u8]>,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let path = self.file(blob_id);
        let created = !path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let old_length = file.metadata().map_err(io_error(&path))?.len();
        let written = (|| -> std::io::Result<Vec<(u64, u64)>> {
            let mut writer = BufWriter::with_capacity(WRITE_BUFFER, &file);
            let mut spans = Vec::new();
            let mut end = old_length;
            for chunk in chunks {
                writer.write_all(chunk)?;
                let length = u64::try_from(chunk.len()).expect("a slice fits in u64");
                spans.push((end, length));
                end += length;
            }
            writer.flush()?;
            file.sync_data()?;
            Ok(spans)
        })();
        let spans = match written {
            Ok(spans) => spans,
            Err(error) => {
                let _ = file.set_len(old_length);
                return Err(io_error(&path)(error));
            }
        };
        if created {
            // The new file's directory entry must be durable too.
            File::open(&self.dir)
                .and_then(|dir| dir.sync_all())
                .map_err(io_error(&self.dir))?;
        }
        Ok(spans)
    }

    /// Records where slivers of `blob_id` lie: `(pair, kind, start, length)`.
    fn insert_spans(
        tx: &rusqlite::Transaction<'_>,
        blob_id: &BlobId,
        spans: impl Iterator<Item = (u16, i64, u64, u64)>,
    ) -> StoreResult<()> {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO sliver_spans (blob_id, pair, kind, start, length) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (pair, kind, start, length) in spans {
            insert.execute(params![
                blob_id.0.to_vec(),
                pair,
                kind,
                i64::try_from(start)?,
                i64::try_from(length)?
            ])?;
        }
        Ok(())
    }

    /// Moves slivers that older versions stored as BLOBs in the table
    /// `slivers` into sliver files, one blob at a time, then drops the table.
    pub(super) fn move_inline_slivers(&mut self) -> StoreResult<()> {
        let legacy = self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'slivers'",
                [],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !legacy {
            return Ok(());
        }
        let blobs: Vec<Vec<u8>> = self
            .conn
            .prepare("SELECT DISTINCT blob_id FROM slivers")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for blob in blobs {
            let blob_id = blob_id_of(&blob)?;
            let rows: Vec<(u16, i64, Vec<u8>)> = self
                .conn
                .prepare("SELECT pair, kind, data FROM slivers WHERE blob_id = ?1")?
                .query_map(params![blob], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let spans = self.append(&blob_id, rows.iter().map(|row| row.2.as_slice()))?;
            let tx = self.conn.transaction()?;
            Self::insert_spans(
                &tx,
                &blob_id,
                rows.iter()
                    .zip(spans)
                    .map(|((pair, kind, _), (start, length))| (*pair, *kind, start, length)),
            )?;
            tx.execute("DELETE FROM slivers WHERE blob_id = ?1", params![blob])?;
            tx.commit()?;
        }
        self.conn.execute_batch("DROP TABLE slivers")?;
        Ok(())
    }

    /// Removes sliver files of blob IDs without spans (left by a crash
    /// between a deletion's commit and the file's removal, or before an
    /// upload's commit). Files whose name is not a blob ID are left alone.
    pub(super) fn remove_unreferenced_files(&self) -> StoreResult<()> {
        let mut referenced = self
            .conn
            .prepare_cached("SELECT 1 FROM sliver_spans WHERE blob_id = ?1 LIMIT 1")?;
        for entry in std::fs::read_dir(&self.dir).map_err(io_error(&self.dir))? {
            let entry = entry.map_err(io_error(&self.dir))?;
            let Some(blob_id) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<BlobId>().ok())
            else {
                continue;
            };
            if !referenced.exists(params![blob_id.0.to_vec()])? {
                remove_file(&entry.path())?;
            }
        }
        Ok(())
    }

    /// Stores slivers of `blob_id` (durably, in one transaction): `(pair, sliver)`.
    ///
    /// # Errors
    /// SQLite or serialization errors.
    pub fn put_slivers(&mut self, blob_id: &BlobId, slivers: &[(u16, &Sliver)]) -> StoreResult<()> {
        let encoded = slivers
            .iter()
            .map(|(pair, sliver)| Ok((*pair, sliver.sliver_type, bcs::to_bytes(sliver)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        let encoded: Vec<(u16, SliverType, &[u8])> = encoded
            .iter()
            .map(|(pair, sliver_type, bytes)| (*pair, *sliver_type, bytes.as_slice()))
            .collect();
        self.put_encoded_slivers(blob_id, &encoded)
    }

    /// Stores slivers of `blob_id` given as their BCS bytes (durably: the
    /// bytes are appended to the blob's sliver file and synced, then their
    /// spans committed in one transaction): `(pair, sliver type, bytes)`.
    /// The caller vouches that the bytes are the BCS of a verified sliver of
    /// that pair and type (the node API passes the spans of an upload it
    /// decoded and verified). A sliver already stored, or repeated in
    /// `slivers`, is skipped: a verified sliver of a pair and type is unique,
    /// and re-uploads must not grow the file (issue 21, failure 3).
    ///
    /// # Errors
    /// SQLite and file system errors.
    pub fn put_encoded_slivers(
        &mut self,
        blob_id: &BlobId,
        slivers: &[(u16, SliverType, &[u8])],
    ) -> StoreResult<()> {
        let mut seen = std::collections::BTreeSet::new();
        let mut fresh = Vec::with_capacity(slivers.len());
        for sliver in slivers {
            let (pair, sliver_type, _) = *sliver;
            if seen.insert((pair, kind(sliver_type)))
                && !self.has_sliver(blob_id, pair, sliver_type)?
            {
                fresh.push(*sliver);
            }
        }
        let slivers = fresh.as_slice();
        if slivers.is_empty() {
            return Ok(());
        }
        let spans = self.append(blob_id, slivers.iter().map(|(_, _, bytes)| *bytes))?;
        let tx = self.conn.transaction()?;
        Self::insert_spans(
            &tx,
            blob_id,
            slivers
                .iter()
                .zip(spans)
                .map(|((pair, sliver_type, _), (start, length))| {
                    (*pair, kind(*sliver_type), start, length)
                }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The stored sliver of `blob_id` in `pair` of `sliver_type`, as its BCS
    /// bytes.
    ///
    /// # Errors
    /// SQLite errors; file system errors, including a sliver file shorter
    /// than the span the index records.
    pub fn sliver_bytes(
        &self,
        blob_id: &BlobId,
        pair: u16,
        sliver_type: SliverType,
    ) -> StoreResult<Option<Vec<u8>>> {
        let span: Option<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT start, length FROM sliver_spans WHERE blob_id = ?1 AND pair = ?2 AND kind = ?3",
            )?
            .query_row(params![blob_id.0.to_vec(), pair, kind(sliver_type)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((start, length)) = span else {
            return Ok(None);
        };
        let path = self.file(blob_id);
        let file = File::open(&path).map_err(io_error(&path))?;
        let (start, length) = (u64::try_from(start)?, u64::try_from(length)?);
        let mut data = vec![0; usize::try_from(length)?];
        file.read_exact_at(&mut data, start).map_err(|error| {
            if error.kind() == std::io::ErrorKind::UnexpectedEof {
                StoreError::Truncated {
                    path: path.clone(),
                    start,
                    length,
                }
            } else {
                io_error(&path)(error)
            }
        })?;
        Ok(Some(data))
    }

    /// The stored sliver of `blob_id` in `pair` of `sliver_type`.
    ///
    /// # Errors
    /// As [`NodeStore::sliver_bytes`], and decoding errors.
    pub fn sliver(
        &self,
        blob_id: &BlobId,
        pair: u16,
        sliver_type: SliverType,
    ) -> StoreResult<Option<Sliver>> {
        self.sliver_bytes(blob_id, pair, sliver_type)?
            .map(|data| Ok(bcs::from_bytes(&data)?))
            .transpose()
    }

    /// Whether the sliver is stored.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn has_sliver(
        &self,
        blob_id: &BlobId,
        pair: u16,
        sliver_type: SliverType,
    ) -> StoreResult<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM sliver_spans WHERE blob_id = ?1 AND pair = ?2 AND kind = ?3",
            )?
            .exists(params![blob_id.0.to_vec(), pair, kind(sliver_type)])?)
    }

    /// Drops the index entry of a sliver found unreadable or corrupt, so
    /// that recovery rebuilds it (its bytes stay in the file as dead
    /// space until the blob's data is deleted).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn forget_sliver(
        &self,
        blob_id: &BlobId,
        pair: u16,
        sliver_type: SliverType,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "DELETE FROM sliver_spans WHERE blob_id = ?1 AND pair = ?2 AND kind = ?3",
            )?
            .execute(params![blob_id.0.to_vec(), pair, kind(sliver_type)])?;
        Ok(())
    }

    /// The pairs of `blob_id` with both slivers stored.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn complete_pairs(&self, blob_id: &BlobId) -> StoreResult<Vec<u16>> {
        let mut query = self.conn.prepare_cached(
            "SELECT pair FROM sliver_spans WHERE blob_id = ?1 GROUP BY pair HAVING COUNT(*) = 2",
        )?;
        let pairs = query
            .query_map(params![blob_id.0.to_vec()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(pairs)
    }
}
