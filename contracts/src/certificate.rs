//! Signed messages and certificates (SPEC.md section 5): BLS12-381 min_pk
//! through `blst`, messages as BCS `{ intent: [type, 0, 3], epoch: u32, body }`.

use blst::{
    BLST_ERROR,
    min_pk::{AggregatePublicKey, AggregateSignature, PublicKey, Signature},
};
use serde::{Deserialize, Serialize};
use walrus_codec::BlobId;

use crate::{
    errors::TxError,
    ids::{Address, Epoch, ObjectId},
    state::Committee,
};

/// The BLS ciphersuite of every signature.
pub const DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_";

/// Application ID of Walrus in intent messages.
const APP_ID: u8 = 3;

/// Intent types of signed messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Intent {
    /// A node proves it holds the secret key of its public key.
    ProofOfPossession = 0,
    /// A node confirms it stores a blob's slivers.
    BlobCertification = 1,
    /// A node attests that a blob ID is inconsistent.
    InvalidBlobId = 2,
    /// A node asks another for a shard's slivers.
    SyncShard = 3,
}

fn message(intent: Intent, epoch: Epoch, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(7 + body.len());
    bytes.extend_from_slice(&[intent as u8, 0, APP_ID]);
    bytes.extend_from_slice(&epoch.to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// The epoch of a signed protocol message (bytes 3..7, little-endian), or
/// `None` for fewer than 7 bytes. SPEC.md section 5, message layout.
pub fn message_epoch(message: &[u8]) -> Option<Epoch> {
    let bytes: [u8; 4] = message.get(3..7)?.try_into().ok()?;
    Some(Epoch::from_le_bytes(bytes))
}

/// The storage confirmation a node signs: 40 bytes for a permanent blob, 72
/// for a deletable one (`object_id` is the Blob object).
pub fn confirmation_message(
    epoch: Epoch,
    blob_id: &BlobId,
    deletable_object: Option<ObjectId>,
) -> Vec<u8> {
    let mut body = blob_id.0.to_vec();
    match deletable_object {
        None => body.push(0),
        Some(object) => {
            body.push(1);
            body.extend_from_slice(&object.0);
        }
    }
    message(Intent::BlobCertification, epoch, &body)
}

/// The invalid-blob message a node signs after verifying an inconsistency proof.
pub fn invalid_blob_message(epoch: Epoch, blob_id: &BlobId) -> Vec<u8> {
    message(Intent::InvalidBlobId, epoch, &blob_id.0)
}

/// The proof-of-possession message: the operator's address and the public key.
pub fn proof_of_possession_message(epoch: Epoch, operator: &Address, public_key: &[u8]) -> Vec<u8> {
    let mut body = operator.0.to_vec();
    body.extend_from_slice(public_key);
    message(Intent::ProofOfPossession, epoch, &body)
}

/// A certificate: who signed (bitmap over committee order, least significant
/// bit first within each byte), what, and the aggregate signature (96 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Signer bitmap.
    pub signers: Vec<u8>,
    /// The signed message.
    pub message: Vec<u8>,
    /// Aggregate BLS signature, 96 bytes compressed.
    pub signature: Vec<u8>,
}

/// The weight a certificate needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// `3w >= 2n + 1`.
    Quorum,
    /// `3w >= n + 1`.
    Validity,
}

impl Certificate {
    /// The signer indices named by the bitmap, ascending.
    pub fn signer_indices(&self) -> Vec<usize> {
        self.signers
            .iter()
            .enumerate()
            .flat_map(|(byte, bits)| {
                (0..8)
                    .filter(move |bit| bits >> bit & 1 == 1)
                    .map(move |bit| byte * 8 + bit)
            })
            .collect()
    }

    /// Builds the bitmap for `indices`.
    pub fn bitmap(indices: &[usize]) -> Vec<u8> {
        let len = indices.iter().max().map_or(0, |max| max / 8 + 1);
        let mut bitmap = vec![0u8; len];
        for index in indices {
            bitmap[index / 8] |= 1 << (index % 8);
        }
        bitmap
    }

    /// Aggregates `signatures` of `message` by the committee members at
    /// `positions` (same order) into a certificate. Signatures are checked to
    /// be valid group elements, not against the message: [`Certificate::verify`]
    /// does that.
    ///
    /// # Errors
    /// [`TxError::InvalidBls`] when a signature is not a valid point or
    /// `signatures` is empty.
    pub fn aggregate(
        message: Vec<u8>,
        positions: &[usize],
        signatures: &[Signature],
    ) -> Result<Self, TxError> {
        let refs: Vec<&Signature> = signatures.iter().collect();
        let aggregate = AggregateSignature::aggregate(&refs, true)
            .map_err(|_| TxError::InvalidBls("signature to aggregate"))?;
        Ok(Self {
            signers: Self::bitmap(positions),
            message,
            signature: aggregate.to_signature().to_bytes().to_vec(),
        })
    }

    /// Checks the certificate against `committee`: the message equals
    /// `expected`, the signers' weight meets `threshold` and the aggregate
    /// signature verifies. Returns the signer indices.
    ///
    /// # Errors
    /// [`TxError::MessageMismatch`], [`TxError::SignerOutOfRange`],
    /// [`TxError::NotEnoughWeight`], [`TxError::InvalidBls`] or [`TxError::BadSignature`].
    pub fn verify(
        &self,
        committee: &Committee,
        n_shards: u16,
        expected: &[u8],
        threshold: Threshold,
    ) -> Result<Vec<u16>, TxError> {
        if self.message != expected {
            return Err(TxError::MessageMismatch(
                "not the expected message for this call and epoch",
            ));
        }
        let signers = self.signer_indices();
        if let Some(outside) = signers.iter().find(|i| **i >= committee.members.len()) {
            return Err(TxError::SignerOutOfRange(*outside));
        }
        let weight: u32 = signers
            .iter()
            .map(|i| u32::from(committee.weight(*i)))
            .sum();
        let n = u32::from(n_shards);
        let enough = match threshold {
            Threshold::Quorum => walrus_codec::is_quorum(weight, n),
            Threshold::Validity => walrus_codec::is_validity(weight, n),
        };
        if !enough {
            let weight = u16::try_from(weight.min(n)).expect("bounded by n");
            return Err(TxError::NotEnoughWeight { weight, n_shards });
        }
        let keys = signers
            .iter()
            .map(|i| PublicKey::from_bytes(&committee.members[*i].public_key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| TxError::InvalidBls("committee public key"))?;
        let key_refs: Vec<&PublicKey> = keys.iter().collect();
        let aggregate = AggregatePublicKey::aggregate(&key_refs, false)
            .map_err(|_| TxError::InvalidBls("public key aggregation"))?
            .to_public_key();
        let signature = Signature::from_bytes(&self.signature)
            .map_err(|_| TxError::InvalidBls("signature encoding"))?;
        match signature.verify(true, &self.message, DST, &[], &aggregate, false) {
            BLST_ERROR::BLST_SUCCESS => Ok(signers
                .iter()
                .map(|i| u16::try_from(*i).expect("committee is small"))
                .collect()),
            _ => Err(TxError::BadSignature),
        }
    }
}

/// Checks a node's BLS public key and its proof of possession.
///
/// # Errors
/// [`TxError::InvalidBls`] for a malformed key or signature, or a proof that
/// does not verify.
pub fn verify_proof_of_possession(
    epoch: Epoch,
    operator: &Address,
    public_key: &[u8],
    proof: &[u8],
) -> Result<(), TxError> {
    let key = PublicKey::key_validate(public_key).map_err(|_| TxError::InvalidBls("public key"))?;
    let signature = Signature::from_bytes(proof)
        .map_err(|_| TxError::InvalidBls("proof of possession encoding"))?;
    let message = proof_of_possession_message(epoch, operator, public_key);
    match signature.verify(true, &message, DST, &[], &key, true) {
        BLST_ERROR::BLST_SUCCESS => Ok(()),
        _ => Err(TxError::InvalidBls("proof of possession does not verify")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_messages_are_40_or_72_bytes() {
        let blob_id = BlobId([9; 32]);
        assert_eq!(confirmation_message(5, &blob_id, None).len(), 40);
        let deletable = confirmation_message(5, &blob_id, Some(ObjectId([1; 32])));
        assert_eq!(deletable.len(), 72);
        assert_eq!(&deletable[..7], &[1, 0, 3, 5, 0, 0, 0]);
        assert_eq!(message_epoch(&deletable), Some(5));
        assert_eq!(message_epoch(&deletable[..6]), None);
    }

    #[test]
    fn bitmap_round_trips_least_significant_bit_first() {
        let indices = vec![0, 3, 8, 9, 17];
        let bitmap = Certificate::bitmap(&indices);
        assert_eq!(bitmap, vec![0b0000_1001, 0b0000_0011, 0b0000_0010]);
        let cert = Certificate {
            signers: bitmap,
            message: vec![],
            signature: vec![],
        };
        assert_eq!(cert.signer_indices(), indices);
    }
}
