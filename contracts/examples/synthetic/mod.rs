//! Synthetic Blob objects for the state benchmarks
//! (`contracts/examples/bench_state_tree.rs`,
//! `runtime/examples/bench_restart.rs`).

use walrus_codec::BlobId;
use walrus_contracts::{Address, Blob, ObjectId, Storage};

/// A pseudo-random 32-byte ID, distinct per `(i, salt)`.
pub fn id(i: usize, salt: u8) -> [u8; 32] {
    let mut bytes = [salt; 32];
    bytes[..8].copy_from_slice(&u64::try_from(i).expect("fits").to_le_bytes());
    *blake3::hash(&bytes).as_bytes()
}

/// Certified permanent Blob object number `i`, stored until `end_epoch`.
pub fn blob(i: usize, end_epoch: u32) -> Blob {
    Blob {
        owner: Address(id(i % 1000, 1)),
        blob_id: BlobId(id(i, 2)),
        size: 1 << 20,
        encoding_type: 1,
        registered_epoch: 0,
        certified_epoch: Some(0),
        storage_id: ObjectId(id(i, 3)),
        storage: Storage {
            start_epoch: 0,
            end_epoch,
            size_bytes: 5 << 20,
        },
        deletable: false,
        attributes: Default::default(),
    }
}
