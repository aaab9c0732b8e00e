//! Addresses, object IDs and epochs (SPEC.md section 8).
//!
//! Addresses and object IDs are 32 bytes, as on Sui; plain newtypes suffice
//! because nothing here needs Move type tags.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An epoch number.
pub type Epoch = u32;

fn hex(bytes: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("0x")?;
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

/// A 32-byte account address (derived from a public key by the chain runtime).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The address of system calls inserted by the sequencer (all zeros).
    pub const SYSTEM: Address = Address([0; 32]);
}

/// A 32-byte object ID: `blake3(tx digest || creation counter, u32 LE)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct ObjectId(pub [u8; 32]);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex(&self.0, f)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex(&self.0, f)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex(&self.0, f)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex(&self.0, f)
    }
}

/// A reference to an object in a call: an existing ID, or the `n`-th object
/// created by an earlier call of the same transaction (IDs depend on the
/// transaction digest, so a transaction cannot name them in advance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectRef {
    /// An object that already exists.
    Id(ObjectId),
    /// The object created `n`-th (from 0) earlier in this transaction.
    Created(u16),
}

impl From<ObjectId> for ObjectRef {
    fn from(id: ObjectId) -> Self {
        ObjectRef::Id(id)
    }
}
