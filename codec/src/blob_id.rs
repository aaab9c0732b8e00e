//! The blob ID: `H(encoding_type || unencoded_length LE || blob root)` and its
//! text form, URL-safe base64 without padding (SPEC.md section 3).

use std::{fmt, str::FromStr};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::{
    error::BlobIdParseError,
    hash::{Node, blake2b256},
    metadata::EncodingType,
};

/// A 32-byte blob ID.
///
/// BCS: 32 raw bytes. JSON and other human-readable formats: the 43-character
/// text form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// Derives the blob ID from a blob's root hash, encoding type and length.
    pub fn from_root(root: &Node, encoding_type: EncodingType, unencoded_length: u64) -> Self {
        Self(blake2b256(&[
            &[encoding_type.as_u8()],
            &unencoded_length.to_le_bytes(),
            &root.bytes(),
        ]))
    }

    /// The blob ID read as a 256-bit big-endian integer, modulo `n_shards`.
    ///
    /// # Panics
    /// Panics if `n_shards == 0` (a programmer error).
    pub fn rotation(&self, n_shards: u16) -> u16 {
        assert!(n_shards > 0, "n_shards must be positive");
        let n = u32::from(n_shards);
        let rest = self
            .0
            .iter()
            .fold(0u32, |acc, byte| (acc * 256 + u32::from(*byte)) % n);
        u16::try_from(rest).expect("a value mod n fits in u16")
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

impl FromStr for BlobId {
    type Err = BlobIdParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| BlobIdParseError::InvalidBase64)?;
        let len = bytes.len();
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| BlobIdParseError::InvalidLength(len))
    }
}

impl Serialize for BlobId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for BlobId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(D::Error::custom)
        } else {
            <[u8; 32]>::deserialize(deserializer).map(Self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_rejects_garbage() {
        let id = BlobId([0xfb; 32]);
        let text = id.to_string();
        assert_eq!(text.len(), 43);
        assert_eq!(text.parse::<BlobId>(), Ok(id));
        assert_eq!(
            "abc".parse::<BlobId>(),
            Err(BlobIdParseError::InvalidLength(2))
        );
        assert_eq!(
            "a+b=".parse::<BlobId>(),
            Err(BlobIdParseError::InvalidBase64)
        );
    }

    #[test]
    fn rotation_reads_big_endian() {
        let mut bytes = [0u8; 32];
        bytes[30] = 1; // 256
        bytes[31] = 7; // + 7
        assert_eq!(BlobId(bytes).rotation(1000), 263);
        assert_eq!(BlobId(bytes).rotation(10), 3);
    }
}
