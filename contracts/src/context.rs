//! The transaction context: everything from outside the state machine that a
//! call may depend on (SPEC.md section 8). Time enters only here, as the
//! checkpoint timestamp chosen by the sequencer.

use crate::errors::TxError;
use crate::ids::{Address, ObjectId, ObjectRef};

/// The sender, digest and timestamp of the transaction being applied, and the
/// objects it has created so far.
#[derive(Debug, Clone)]
pub struct TxContext {
    sender: Address,
    digest: [u8; 32],
    timestamp_ms: u64,
    created: Vec<ObjectId>,
}

impl TxContext {
    /// A context for a transaction by `sender` with `digest` (blake3 of its
    /// BCS bytes), applied in a checkpoint with timestamp `timestamp_ms`.
    pub fn new(sender: Address, digest: [u8; 32], timestamp_ms: u64) -> Self {
        Self {
            sender,
            digest,
            timestamp_ms,
            created: Vec::new(),
        }
    }

    /// The sender.
    pub fn sender(&self) -> Address {
        self.sender
    }

    /// The checkpoint timestamp in milliseconds.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The transaction digest.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// A new object ID: `blake3(digest || counter u32 LE)`.
    pub fn fresh_id(&mut self) -> ObjectId {
        let counter =
            u32::try_from(self.created.len()).expect("fewer than 2^32 objects per transaction");
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.digest);
        hasher.update(&counter.to_le_bytes());
        let id = ObjectId(*hasher.finalize().as_bytes());
        self.created.push(id);
        id
    }

    /// The objects created so far, in order.
    pub fn created(&self) -> &[ObjectId] {
        &self.created
    }

    /// Resolves an [`ObjectRef`] against the objects created so far.
    ///
    /// # Errors
    /// [`TxError::NoSuchCreatedObject`] if no object with that index was created.
    pub fn resolve(&self, object: ObjectRef) -> Result<ObjectId, TxError> {
        match object {
            ObjectRef::Id(id) => Ok(id),
            ObjectRef::Created(index) => self
                .created
                .get(usize::from(index))
                .copied()
                .ok_or(TxError::NoSuchCreatedObject(index)),
        }
    }

    /// Forgets the objects created by a failed transaction attempt.
    pub(crate) fn truncate_created(&mut self, len: usize) {
        self.created.truncate(len);
    }
}
