//! Tests of the node store: real SQLite files and sliver files in scratch directories.

use std::fs::OpenOptions;
use walrus_codec::{EncodedBlob, EncodingConfig, Sliver};

use super::*;

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("walrus-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates the scratch directory");
    dir
}

fn encoded(data: &[u8]) -> (EncodingConfig, EncodedBlob) {
    let config = EncodingConfig::new(10).expect("10 shards is a valid config");
    let encoded = config.encode(data).expect("a small blob encodes");
    (config, encoded)
}

#[test]
fn slivers_are_read_back_after_reopening_and_stored_once() {
    let dir = scratch("reopen");
    let db = dir.join("node.db");
    let (_, blob) = encoded(b"slivers in files");
    let blob_id = *blob.blob_id();
    let primary = blob.sliver(SliverType::Primary, 3);
    let secondary = blob.sliver(SliverType::Secondary, 6);
    {
        let mut store = NodeStore::open(&db).expect("opens");
        // Repeated in a batch, stored again alone or beside a new sliver:
        // each is written once (re-uploads once filled the disk).
        store
            .put_slivers(&blob_id, &[(3, &primary), (3, &primary)])
            .expect("stores");
        store
            .put_slivers(&blob_id, &[(3, &primary)])
            .expect("stores");
        store
            .put_slivers(&blob_id, &[(3, &primary), (3, &secondary), (3, &secondary)])
            .expect("stores");
        assert_eq!(store.complete_pairs(&blob_id).expect("queries"), vec![3]);
    }
    let store = NodeStore::open(&db).expect("reopens");
    assert_eq!(
        store
            .sliver(&blob_id, 3, SliverType::Primary)
            .expect("reads"),
        Some(primary.clone())
    );
    assert_eq!(
        store
            .sliver_bytes(&blob_id, 3, SliverType::Secondary)
            .expect("reads"),
        Some(bcs::to_bytes(&secondary).expect("serializes"))
    );
    assert!(
        store
            .has_sliver(&blob_id, 3, SliverType::Secondary)
            .expect("queries")
    );
    assert_eq!(
        store
            .sliver(&blob_id, 4, SliverType::Primary)
            .expect("reads"),
        None
    );
    let file_length = std::fs::metadata(store.file(&blob_id))
        .expect("file exists")
        .len();
    let bytes = |sliver: &Sliver| bcs::serialized_size(sliver).expect("serializes");
    assert_eq!(
        usize::try_from(file_length).expect("small"),
        bytes(&primary) + bytes(&secondary)
    );
}

#[test]
fn deleting_a_blob_removes_its_sliver_file() {
    let dir = scratch("delete");
    let mut store = NodeStore::open(&dir.join("node.db")).expect("opens");
    let (_, blob) = encoded(b"to be deleted");
    let blob_id = *blob.blob_id();
    let object_id = ObjectId([7; 32]);
    let object = BlobObject {
        blob_id,
        end_epoch: 3,
        deletable: true,
        certified_epoch: None,
    };
    store.register(&object_id, &object).expect("registers");
    store
        .put_slivers(&blob_id, &[(0, &blob.sliver(SliverType::Primary, 0))])
        .expect("stores");
    assert!(store.file(&blob_id).exists());
    store.delete_object(&object_id, &blob_id).expect("deletes");
    assert!(!store.file(&blob_id).exists());
    assert_eq!(
        store
            .sliver(&blob_id, 0, SliverType::Primary)
            .expect("reads"),
        None
    );
}

#[test]
fn expired_blobs_lose_their_sliver_files() {
    let dir = scratch("expire");
    let mut store = NodeStore::open(&dir.join("node.db")).expect("opens");
    let (_, blob) = encoded(b"expires in epoch 2");
    let blob_id = *blob.blob_id();
    let object = BlobObject {
        blob_id,
        end_epoch: 2,
        deletable: false,
        certified_epoch: Some(1),
    };
    store
        .register(&ObjectId([9; 32]), &object)
        .expect("registers");
    store
        .put_slivers(&blob_id, &[(1, &blob.sliver(SliverType::Secondary, 8))])
        .expect("stores");
    assert_eq!(store.expire(1).expect("expires"), 0);
    assert!(store.file(&blob_id).exists());
    assert_eq!(store.expire(2).expect("expires"), 1);
    assert!(!store.file(&blob_id).exists());
}

#[test]
fn slivers_kept_inside_an_old_database_move_to_files() {
    let dir = scratch("legacy");
    let db = dir.join("node.db");
    let (_, blob) = encoded(b"stored by an older version");
    let blob_id = *blob.blob_id();
    let sliver = blob.sliver(SliverType::Primary, 5);
    {
        let conn = Connection::open(&db).expect("opens");
        conn.execute_batch(
            "CREATE TABLE slivers (blob_id BLOB NOT NULL, pair INTEGER NOT NULL, kind INTEGER NOT NULL,
                 data BLOB NOT NULL, PRIMARY KEY (blob_id, pair, kind));",
        )
        .expect("creates the old table");
        conn.execute(
            "INSERT INTO slivers (blob_id, pair, kind, data) VALUES (?1, 5, 0, ?2)",
            params![
                blob_id.0.to_vec(),
                bcs::to_bytes(&sliver).expect("serializes")
            ],
        )
        .expect("inserts");
    }
    let store = NodeStore::open(&db).expect("opens and moves the slivers");
    assert_eq!(
        store
            .sliver(&blob_id, 5, SliverType::Primary)
            .expect("reads"),
        Some(sliver)
    );
    let old_table = store
        .conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE name = 'slivers'",
            [],
            |_| Ok(()),
        )
        .optional()
        .expect("queries");
    assert_eq!(old_table, None);
}

#[test]
fn unreferenced_sliver_files_are_removed_on_open() {
    let dir = scratch("orphans");
    let db = dir.join("node.db");
    let (_, blob) = encoded(b"crashed before the commit");
    let blob_id = *blob.blob_id();
    let files = sliver_dir(&db);
    std::fs::create_dir_all(&files).expect("creates");
    std::fs::write(files.join(blob_id.to_string()), b"partial upload").expect("writes");
    std::fs::write(files.join("README"), b"not a blob ID").expect("writes");
    let store = NodeStore::open(&db).expect("opens");
    assert!(!store.file(&blob_id).exists());
    assert!(files.join("README").exists());
}

#[test]
fn a_truncated_sliver_file_is_an_error_not_a_panic() {
    let dir = scratch("truncated");
    let mut store = NodeStore::open(&dir.join("node.db")).expect("opens");
    let (_, blob) = encoded(b"the disk lost the end of this file");
    let blob_id = *blob.blob_id();
    store
        .put_slivers(&blob_id, &[(2, &blob.sliver(SliverType::Primary, 2))])
        .expect("stores");
    let file = OpenOptions::new()
        .write(true)
        .open(store.file(&blob_id))
        .expect("opens");
    file.set_len(3).expect("truncates");
    let error = store
        .sliver(&blob_id, 2, SliverType::Primary)
        .expect_err("the span is past the end of the file");
    assert!(error.to_string().contains("cannot read"), "{error}");
}
