//! The sliver store: an index in SQLite (WAL mode, `synchronous = FULL`)
//! and the slivers' bytes in plain files. A sliver or metadata write is
//! durable before the node answers.
//!
//! Tables: `blob_objects` (one row per Blob object the chain registered for a
//! blob ID, with its end epoch, deletability and certification),
//! `invalid_blobs`, `metadata` (BCS `BlobMetadata` per blob ID),
//! `sliver_spans` (where the BCS `Sliver` of each blob ID, pair and type
//! lies: byte start and length in the blob's sliver file) and `meta` (the
//! chain cursor).
//!
//! Sliver files live in the directory `<database file>-slivers/`, one per
//! blob ID, named by its text form. A file only grows: each upload appends
//! its slivers' bytes (synced) before their spans are committed, so a crash
//! leaves at most unreferenced bytes at the end. A file goes when the blob's
//! data is deleted; files without spans are removed on open.
//!
//! Why files: a sliver of a large blob is hundreds of kilobytes. As a SQLite
//! BLOB it was copied into the page cache, written to the WAL, then copied
//! again into the database at checkpoint; a file takes one write.

use std::{
    fs::{File, OpenOptions},
    io::{BufWriter, Write},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};
use walrus_codec::{BlobId, BlobMetadata, Sliver, SliverType};
use walrus_contracts::ObjectId;

/// What the chain says about a blob ID, across its Blob objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobInfo {
    /// The latest end epoch of any Blob object (exclusive).
    pub end_epoch: u32,
    /// The latest end epoch of a certified Blob object, if any.
    pub certified_end_epoch: Option<u32>,
    /// The earliest certification epoch.
    pub initial_certified_epoch: Option<u32>,
    /// Deletable Blob objects: (registered, certified).
    pub deletable_counts: (u32, u32),
    /// Whether a permanent Blob object exists.
    pub has_permanent: bool,
    /// Whether the blob ID was invalidated.
    pub invalid: bool,
}

/// A registered Blob object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobObject {
    /// The blob ID.
    pub blob_id: BlobId,
    /// End epoch (exclusive).
    pub end_epoch: u32,
    /// Deletable or permanent.
    pub deletable: bool,
    /// Certification epoch.
    pub certified_epoch: Option<u32>,
}

/// Removes a file; one that is already gone is fine.
fn remove_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(anyhow::Error::from(error).context(format!("cannot remove {}", path.display())))
        }
        _ => Ok(()),
    }
}

fn kind(sliver_type: SliverType) -> i64 {
    match sliver_type {
        SliverType::Primary => 0,
        SliverType::Secondary => 1,
    }
}

/// A connection to the sliver store.
pub struct NodeStore {
    conn: Connection,
    /// The directory of sliver files.
    dir: PathBuf,
}

/// The directory of sliver files of the database at `db_path`:
/// `slivers.db` keeps its slivers in `slivers.db-slivers/`.
fn sliver_dir(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push("-slivers");
    db_path.with_file_name(name)
}

/// Writes below this size are gathered in a buffer; larger ones go straight
/// to the file.
const WRITE_BUFFER: usize = 64 << 10;

impl NodeStore {
    /// Opens (creating if needed) the store at `path` and its sliver
    /// directory. Moves slivers that an older version kept inside the
    /// database into files, and removes sliver files nothing refers to.
    ///
    /// # Errors
    /// SQLite and file system errors.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let dir = sliver_dir(path);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let conn =
            Connection::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS blob_objects (object_id BLOB PRIMARY KEY, blob_id BLOB NOT NULL,
                 end_epoch INTEGER NOT NULL, deletable INTEGER NOT NULL, certified_epoch INTEGER);
             CREATE INDEX IF NOT EXISTS blob_objects_by_blob ON blob_objects (blob_id);
             CREATE TABLE IF NOT EXISTS invalid_blobs (blob_id BLOB PRIMARY KEY);
             CREATE TABLE IF NOT EXISTS metadata (blob_id BLOB PRIMARY KEY, data BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS sliver_spans (blob_id BLOB NOT NULL, pair INTEGER NOT NULL, kind INTEGER NOT NULL,
                 start INTEGER NOT NULL, length INTEGER NOT NULL, PRIMARY KEY (blob_id, pair, kind));",
        )?;
        let mut store = Self { conn, dir };
        store.move_inline_slivers()?;
        store.remove_unreferenced_files()?;
        Ok(store)
    }

    /// The sliver file of `blob_id`.
    fn file(&self, blob_id: &BlobId) -> PathBuf {
        self.dir.join(blob_id.to_string())
    }

    /// Appends `chunks` to the sliver file of `blob_id` and syncs it; returns
    /// each chunk's `(start, length)` in bytes. On failure the file is cut
    /// back to its old length.
    fn append<'a>(
        &self,
        blob_id: &BlobId,
        chunks: impl Iterator<Item = &'a [u8]>,
    ) -> anyhow::Result<Vec<(u64, u64)>> {
        let path = self.file(blob_id);
        let created = !path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let old_length = file.metadata()?.len();
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
                return Err(
                    anyhow::Error::from(error).context(format!("cannot write {}", path.display()))
                );
            }
        };
        if created {
            // The new file's directory entry must be durable too.
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(spans)
    }

    /// Records where slivers of `blob_id` lie: `(pair, kind, start, length)`.
    fn insert_spans(
        tx: &rusqlite::Transaction<'_>,
        blob_id: &BlobId,
        spans: impl Iterator<Item = (u16, i64, u64, u64)>,
    ) -> anyhow::Result<()> {
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
    fn move_inline_slivers(&mut self) -> anyhow::Result<()> {
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
            let blob_id = BlobId(
                blob.as_slice()
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("stored blob ID is not 32 bytes"))?,
            );
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
    fn remove_unreferenced_files(&self) -> anyhow::Result<()> {
        let mut referenced = self
            .conn
            .prepare_cached("SELECT 1 FROM sliver_spans WHERE blob_id = ?1 LIMIT 1")?;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
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

    /// The number of checkpoints whose events are applied.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn cursor(&self) -> anyhow::Result<u64> {
        let value: Option<i64> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'cursor'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(u64::try_from(value.unwrap_or(0))?)
    }

    /// Records that checkpoints below `cursor` are applied.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_cursor(&self, cursor: u64) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?1)",
            params![i64::try_from(cursor)?],
        )?;
        Ok(())
    }

    /// Records a registered Blob object.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn register(&self, object_id: &ObjectId, object: &BlobObject) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO blob_objects (object_id, blob_id, end_epoch, deletable, certified_epoch) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![object_id.0.to_vec(), object.blob_id.0.to_vec(), object.end_epoch, object.deletable, object.certified_epoch],
        )?;
        Ok(())
    }

    /// Marks a Blob object certified in `epoch`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn certify(&self, object_id: &ObjectId, epoch: u32) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE blob_objects SET certified_epoch = ?2 WHERE object_id = ?1",
            params![object_id.0.to_vec(), epoch],
        )?;
        Ok(())
    }

    /// Sets a Blob object's end epoch.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn extend(&self, object_id: &ObjectId, end_epoch: u32) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE blob_objects SET end_epoch = ?2 WHERE object_id = ?1",
            params![object_id.0.to_vec(), end_epoch],
        )?;
        Ok(())
    }

    /// Forgets a deleted Blob object; deletes the blob's data if no object is left.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn delete_object(&mut self, object_id: &ObjectId, blob_id: &BlobId) -> anyhow::Result<()> {
        self.conn.execute(
            "DELETE FROM blob_objects WHERE object_id = ?1",
            params![object_id.0.to_vec()],
        )?;
        let left: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM blob_objects WHERE blob_id = ?1",
            params![blob_id.0.to_vec()],
            |r| r.get(0),
        )?;
        if left == 0 {
            self.delete_data(blob_id)?;
        }
        Ok(())
    }

    /// Marks a blob ID invalid and deletes its data.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn invalidate(&mut self, blob_id: &BlobId) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO invalid_blobs (blob_id) VALUES (?1)",
            params![blob_id.0.to_vec()],
        )?;
        self.delete_data(blob_id)
    }

    fn delete_data(&mut self, blob_id: &BlobId) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM metadata WHERE blob_id = ?1",
            params![blob_id.0.to_vec()],
        )?;
        tx.execute(
            "DELETE FROM sliver_spans WHERE blob_id = ?1",
            params![blob_id.0.to_vec()],
        )?;
        tx.commit()?;
        remove_file(&self.file(blob_id))
    }

    /// Forgets Blob objects that end at or before `epoch`, deleting the data
    /// of blobs with no object left. Returns how many blobs lost their data.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn expire(&mut self, epoch: u32) -> anyhow::Result<usize> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM blob_objects WHERE end_epoch <= ?1",
            params![epoch],
        )?;
        let orphaned = "SELECT blob_id FROM metadata WHERE blob_id NOT IN (SELECT blob_id FROM blob_objects)
                        UNION SELECT DISTINCT blob_id FROM sliver_spans WHERE blob_id NOT IN (SELECT blob_id FROM blob_objects)";
        let blobs: Vec<Vec<u8>> = tx
            .prepare(orphaned)?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for blob in &blobs {
            tx.execute("DELETE FROM metadata WHERE blob_id = ?1", params![blob])?;
            tx.execute("DELETE FROM sliver_spans WHERE blob_id = ?1", params![blob])?;
        }
        tx.commit()?;
        for blob in &blobs {
            if let Ok(blob_id) = <[u8; 32]>::try_from(blob.as_slice()) {
                remove_file(&self.file(&BlobId(blob_id)))?;
            }
        }
        Ok(blobs.len())
    }

    /// What the chain said about `blob_id`, or `None` if it never registered it
    /// (and it is not invalid).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn blob_info(&self, blob_id: &BlobId) -> anyhow::Result<Option<BlobInfo>> {
        let key = blob_id.0.to_vec();
        let invalid = self
            .conn
            .query_row(
                "SELECT 1 FROM invalid_blobs WHERE blob_id = ?1",
                params![key],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        let mut query = self.conn.prepare_cached(
            "SELECT end_epoch, deletable, certified_epoch FROM blob_objects WHERE blob_id = ?1",
        )?;
        let rows: Vec<(u32, bool, Option<u32>)> = query
            .query_map(params![key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        if rows.is_empty() && !invalid {
            return Ok(None);
        }
        let mut info = BlobInfo {
            invalid,
            ..BlobInfo::default()
        };
        for (end_epoch, deletable, certified) in rows {
            info.end_epoch = info.end_epoch.max(end_epoch);
            if let Some(epoch) = certified {
                info.certified_end_epoch =
                    Some(info.certified_end_epoch.unwrap_or(0).max(end_epoch));
                info.initial_certified_epoch = Some(
                    info.initial_certified_epoch
                        .map_or(epoch, |e: u32| e.min(epoch)),
                );
            }
            if deletable {
                info.deletable_counts.0 += 1;
                info.deletable_counts.1 += u32::from(certified.is_some());
            } else {
                info.has_permanent = true;
            }
        }
        Ok(Some(info))
    }

    /// The Blob object `object_id`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn object(&self, object_id: &ObjectId) -> anyhow::Result<Option<BlobObject>> {
        let row = self
            .conn
            .query_row(
                "SELECT blob_id, end_epoch, deletable, certified_epoch FROM blob_objects WHERE object_id = ?1",
                params![object_id.0.to_vec()],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(blob, end_epoch, deletable, certified_epoch)| {
            let blob_id = BlobId(
                blob.try_into()
                    .map_err(|_| anyhow::anyhow!("stored blob ID is not 32 bytes"))?,
            );
            Ok(BlobObject {
                blob_id,
                end_epoch,
                deletable,
                certified_epoch,
            })
        })
        .transpose()
    }

    /// Stores metadata (durably).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_metadata(&self, blob_id: &BlobId, metadata: &BlobMetadata) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO metadata (blob_id, data) VALUES (?1, ?2)",
            params![blob_id.0.to_vec(), bcs::to_bytes(metadata)?],
        )?;
        Ok(())
    }

    /// The stored metadata of `blob_id`.
    ///
    /// # Errors
    /// SQLite or decoding errors.
    pub fn metadata(&self, blob_id: &BlobId) -> anyhow::Result<Option<BlobMetadata>> {
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM metadata WHERE blob_id = ?1",
                params![blob_id.0.to_vec()],
                |r| r.get(0),
            )
            .optional()?;
        data.map(|d| Ok(bcs::from_bytes(&d)?)).transpose()
    }

    /// Stores slivers of `blob_id` (durably, in one transaction): `(pair, sliver)`.
    ///
    /// # Errors
    /// SQLite or serialization errors.
    pub fn put_slivers(
        &mut self,
        blob_id: &BlobId,
        slivers: &[(u16, &Sliver)],
    ) -> anyhow::Result<()> {
        let encoded = slivers
            .iter()
            .map(|(pair, sliver)| Ok((*pair, sliver.sliver_type, bcs::to_bytes(sliver)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
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
    /// decoded and verified). A sliver stored again replaces the old one,
    /// whose bytes stay in the file unreferenced.
    ///
    /// # Errors
    /// SQLite and file system errors.
    pub fn put_encoded_slivers(
        &mut self,
        blob_id: &BlobId,
        slivers: &[(u16, SliverType, &[u8])],
    ) -> anyhow::Result<()> {
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
    ) -> anyhow::Result<Option<Vec<u8>>> {
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
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut data = vec![0; usize::try_from(length)?];
        file.read_exact_at(&mut data, u64::try_from(start)?)
            .with_context(|| {
                format!(
                    "cannot read {length} bytes at {start} of {}",
                    path.display()
                )
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
    ) -> anyhow::Result<Option<Sliver>> {
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
    ) -> anyhow::Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM sliver_spans WHERE blob_id = ?1 AND pair = ?2 AND kind = ?3",
            )?
            .exists(params![blob_id.0.to_vec(), pair, kind(sliver_type)])?)
    }

    /// The pairs of `blob_id` with both slivers stored.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn complete_pairs(&self, blob_id: &BlobId) -> anyhow::Result<Vec<u16>> {
        let mut query = self.conn.prepare_cached(
            "SELECT pair FROM sliver_spans WHERE blob_id = ?1 GROUP BY pair HAVING COUNT(*) = 2",
        )?;
        let pairs = query
            .query_map(params![blob_id.0.to_vec()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(pairs)
    }

    /// The number of blob IDs with stored metadata.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn stored_blob_count(&self) -> anyhow::Result<u64> {
        let count: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM metadata", [], |r| r.get(0))?;
        Ok(u64::try_from(count)?)
    }

    /// Certified blob IDs with at least one live object whose stored pairs
    /// miss some of `pairs_of` (for recovery).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn certified_blobs(&self, epoch: u32) -> anyhow::Result<Vec<BlobId>> {
        let mut query = self.conn.prepare_cached(
            "SELECT DISTINCT blob_id FROM blob_objects WHERE certified_epoch IS NOT NULL AND end_epoch > ?1
             AND blob_id NOT IN (SELECT blob_id FROM invalid_blobs)",
        )?;
        let rows: Vec<Vec<u8>> = query
            .query_map(params![epoch], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|b| {
                Ok(BlobId(
                    b.try_into().map_err(|_| anyhow::anyhow!("bad blob ID"))?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
