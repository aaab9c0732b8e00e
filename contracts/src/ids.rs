//! Addresses, object IDs and epochs (SPEC.md section 8).
//!
//! Addresses and object IDs are 32 bytes, as on Sui; plain newtypes suffice
//! because nothing here needs Move type tags.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An epoch number.
pub type Epoch = u32;

/// A 32-byte account address (derived from a public key by the chain runtime).
/// BCS: 32 bytes; JSON and text: `0x` and 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The address of system calls inserted by the sequencer (all zeros).
    pub const SYSTEM: Address = Address([0; 32]);
}

/// A 32-byte object ID: `blake3(tx digest || creation counter, u32 LE)`.
/// BCS: 32 bytes; JSON and text: `0x` and 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ObjectId(pub [u8; 32]);

/// Writes 32 bytes as `0x` and 64 hex digits.
///
/// # Errors
/// Whatever the formatter returns.
pub fn write_hex(bytes: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut text = [0u8; 66];
    text[..2].copy_from_slice(b"0x");
    hex::encode_to_slice(bytes, &mut text[2..]).expect("64 digits fit 32 bytes");
    f.write_str(std::str::from_utf8(&text).expect("hex digits are ASCII"))
}

/// Text that is not `0x` followed by 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 0x followed by 64 hex digits")]
pub struct HexIdError;

/// Parses `0x` (optional) and 64 hex digits.
///
/// # Errors
/// [`HexIdError`] for anything else.
pub fn parse_hex(text: &str) -> Result<[u8; 32], HexIdError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(digits, &mut bytes).map_err(|_| HexIdError)?;
    Ok(bytes)
}

/// Implements `FromStr` (hex) and serde (hex in JSON, 32 bytes in BCS) for a
/// `struct $name(pub [u8; 32])` that already implements `Display` as hex.
#[macro_export]
macro_rules! hex_id {
    ($name:ident) => {
        impl ::std::str::FromStr for $name {
            type Err = $crate::HexIdError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $crate::parse_hex(text).map($name)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.collect_str(self)
                } else {
                    self.0.serialize(serializer)
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    <String as ::serde::Deserialize>::deserialize(deserializer)?
                        .parse()
                        .map_err(<D::Error as ::serde::de::Error>::custom)
                } else {
                    <[u8; 32] as ::serde::Deserialize>::deserialize(deserializer).map($name)
                }
            }
        }
    };
}

hex_id!(Address);
hex_id!(ObjectId);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(&self.0, f)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(&self.0, f)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(&self.0, f)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(&self.0, f)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_text_round_trips_and_rejects_garbage() {
        let id = ObjectId([0xab; 32]);
        let text = id.to_string();
        assert_eq!(text.len(), 66);
        assert_eq!(text.parse::<ObjectId>(), Ok(id));
        assert_eq!("0x12".parse::<Address>(), Err(HexIdError));
        assert_eq!(
            format!("0x{}", "zz".repeat(32)).parse::<Address>(),
            Err(HexIdError)
        );
        assert_eq!(bcs::to_bytes(&id).expect("bcs").len(), 32);
        // A sign inside a digit pair is not a hex digit.
        let signed = format!("0x+1{}", "00".repeat(31));
        assert_eq!(signed.parse::<Address>(), Err(HexIdError));
    }
}
