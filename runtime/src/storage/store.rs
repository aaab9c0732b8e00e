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

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use walrus_codec::{BlobId, BlobMetadata, SliverType};
use walrus_contracts::{ObjectId, blob_status::ObjectFacts};

use super::rules::{BlobFacts, StoreUpdate};

/// Why the sliver store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A SQLite error (busy, IO, constraint).
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A sliver file or directory cannot be created, read, written or removed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A sliver file is shorter than the span the index records.
    #[error("{path} is truncated: cannot read {length} bytes at {start}")]
    Truncated {
        /// The sliver file.
        path: PathBuf,
        /// Start of the span in bytes.
        start: u64,
        /// Length of the span in bytes.
        length: u64,
    },
    /// Stored metadata or a sliver does not decode.
    #[error("stored BCS: {0}")]
    Bcs(#[from] bcs::Error),
    /// A stored value has the wrong shape (a blob ID not 32 bytes).
    #[error("corrupt store: {0}")]
    Corrupt(&'static str),
    /// A stored number is out of range.
    #[error("stored value out of range: {0}")]
    Range(#[from] std::num::TryFromIntError),
}

type StoreResult<T> = Result<T, StoreError>;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn blob_id_of(bytes: &[u8]) -> StoreResult<BlobId> {
    bytes
        .try_into()
        .map(BlobId)
        .map_err(|_| StoreError::Corrupt("stored blob ID is not 32 bytes"))
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
fn remove_file(path: &Path) -> StoreResult<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io_error(path)(error)),
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
    pub fn open(path: &Path) -> StoreResult<Self> {
        let dir = sliver_dir(path);
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let conn = Connection::open(path)?;
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

    /// The number of checkpoints whose events are applied.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn cursor(&self) -> StoreResult<u64> {
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
    pub fn set_cursor(&self, cursor: u64) -> StoreResult<()> {
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
    pub fn register(&self, object_id: &ObjectId, object: &BlobObject) -> StoreResult<()> {
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
    pub fn certify(&self, object_id: &ObjectId, epoch: u32) -> StoreResult<()> {
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
    pub fn extend(&self, object_id: &ObjectId, end_epoch: u32) -> StoreResult<()> {
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
    pub fn delete_object(&mut self, object_id: &ObjectId, blob_id: &BlobId) -> StoreResult<()> {
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
    pub fn invalidate(&mut self, blob_id: &BlobId) -> StoreResult<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO invalid_blobs (blob_id) VALUES (?1)",
            params![blob_id.0.to_vec()],
        )?;
        self.delete_data(blob_id)
    }

    fn delete_data(&mut self, blob_id: &BlobId) -> StoreResult<()> {
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
    pub fn expire(&mut self, epoch: u32) -> StoreResult<usize> {
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

    /// What the chain said about `blob_id`: its Blob objects and whether it
    /// is invalid (empty and valid if it never registered it).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn blob_facts(&self, blob_id: &BlobId) -> StoreResult<BlobFacts> {
        let key = blob_id.0.to_vec();
        let invalid = self
            .conn
            .prepare_cached("SELECT 1 FROM invalid_blobs WHERE blob_id = ?1")?
            .exists(params![key])?;
        let mut query = self.conn.prepare_cached(
            "SELECT object_id, end_epoch, deletable, certified_epoch FROM blob_objects WHERE blob_id = ?1",
        )?;
        let rows: Vec<(Vec<u8>, u32, bool, Option<u32>)> = query
            .query_map(params![key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        let objects = rows
            .into_iter()
            .map(|(id, end_epoch, deletable, certified_epoch)| {
                let id = <[u8; 32]>::try_from(id.as_slice())
                    .map_err(|_| StoreError::Corrupt("stored object ID is not 32 bytes"))?;
                let facts = ObjectFacts {
                    end_epoch,
                    deletable,
                    certified_epoch,
                    deleted: false,
                };
                Ok((ObjectId(id), facts))
            })
            .collect::<StoreResult<_>>()?;
        Ok(BlobFacts { objects, invalid })
    }

    /// Applies one update from the chain's events.
    ///
    /// # Errors
    /// SQLite and file system errors.
    pub fn apply(&mut self, update: &StoreUpdate) -> StoreResult<()> {
        match update {
            StoreUpdate::Register {
                object_id,
                blob_id,
                end_epoch,
                deletable,
            } => self.register(
                object_id,
                &BlobObject {
                    blob_id: *blob_id,
                    end_epoch: *end_epoch,
                    deletable: *deletable,
                    certified_epoch: None,
                },
            ),
            StoreUpdate::Certify { object_id, epoch } => self.certify(object_id, *epoch),
            StoreUpdate::Extend {
                object_id,
                end_epoch,
            } => self.extend(object_id, *end_epoch),
            StoreUpdate::Delete { object_id, blob_id } => self.delete_object(object_id, blob_id),
            StoreUpdate::Invalidate(blob_id) => self.invalidate(blob_id),
        }
    }

    /// The Blob object `object_id`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn object(&self, object_id: &ObjectId) -> StoreResult<Option<BlobObject>> {
        let row = self
            .conn
            .query_row(
                "SELECT blob_id, end_epoch, deletable, certified_epoch FROM blob_objects WHERE object_id = ?1",
                params![object_id.0.to_vec()],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(blob, end_epoch, deletable, certified_epoch)| {
            let blob_id = blob_id_of(&blob)?;
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
    pub fn put_metadata(&self, blob_id: &BlobId, metadata: &BlobMetadata) -> StoreResult<()> {
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
    pub fn metadata(&self, blob_id: &BlobId) -> StoreResult<Option<BlobMetadata>> {
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

    /// The number of blob IDs with stored metadata.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn stored_blob_count(&self) -> StoreResult<u64> {
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
    pub fn certified_blobs(&self, epoch: u32) -> StoreResult<Vec<BlobId>> {
        let mut query = self.conn.prepare_cached(
            "SELECT DISTINCT blob_id FROM blob_objects WHERE certified_epoch IS NOT NULL AND end_epoch > ?1
             AND blob_id NOT IN (SELECT blob_id FROM invalid_blobs)",
        )?;
        let rows: Vec<Vec<u8>> = query
            .query_map(params![epoch], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        rows.into_iter().map(|b| blob_id_of(&b)).collect()
    }
}

mod files;

#[cfg(test)]
mod tests;
