//! Signed transactions (SPEC.md section 11): BCS `{ sender, nonce, calls }`
//! signed with ed25519. The address is `blake3(0x00 || public key)`; the
//! digest is blake3 of the transaction's BCS bytes, which is also what is
//! signed.

use std::fmt;

use crate::{Address, Call};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// A 32-byte transaction digest. BCS: 32 bytes; JSON: `0x` and 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TxDigest(pub [u8; 32]);

crate::hex_id!(TxDigest);

impl fmt::Display for TxDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::write_hex(&self.0, f)
    }
}

impl fmt::Debug for TxDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::write_hex(&self.0, f)
    }
}

/// The address of an ed25519 public key: `blake3(0x00 || public key)`
/// (the leading byte names the signature scheme).
pub fn address_of(public_key: &VerifyingKey) -> Address {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[0]);
    hasher.update(public_key.as_bytes());
    Address(*hasher.finalize().as_bytes())
}

/// A transaction before signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The sender, derived from the signing key.
    pub sender: Address,
    /// The sender's transaction count so far: 0, 1, 2, ...
    pub nonce: u64,
    /// The calls, applied atomically in order.
    pub calls: Vec<Call>,
}

impl Transaction {
    /// The BCS bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("transactions serialize")
    }

    /// blake3 of the BCS bytes.
    pub fn digest(&self) -> TxDigest {
        TxDigest(*blake3::hash(&self.to_bytes()).as_bytes())
    }

    /// Signs with `key`.
    pub fn sign(self, key: &SigningKey) -> SignedTransaction {
        let signature = key.sign(&self.to_bytes());
        SignedTransaction {
            transaction: self,
            public_key: key.verifying_key().to_bytes(),
            signature: signature.to_bytes().to_vec(),
        }
    }
}

/// A transaction with its sender's public key and signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// What is signed.
    pub transaction: Transaction,
    /// ed25519 public key, 32 bytes.
    pub public_key: [u8; 32],
    /// ed25519 signature over the transaction's BCS bytes, 64 bytes.
    pub signature: Vec<u8>,
}

/// Why a transaction was not accepted for ordering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The body is not a BCS `SignedTransaction`.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// The body is larger than the limit.
    #[error("transaction body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Body size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The public key or signature does not verify.
    #[error("bad signature: {0}")]
    BadSignature(&'static str),
    /// The sender is not the address of the public key.
    #[error("sender does not match the public key")]
    SenderMismatch,
    /// The nonce is not the sender's next one.
    #[error("nonce {got} is not the next nonce {expected} of the sender")]
    WrongNonce {
        /// The next nonce.
        expected: u64,
        /// The nonce in the transaction.
        got: u64,
    },
    /// System calls cannot be submitted.
    #[error("system calls cannot be submitted")]
    SystemCall,
    /// More calls than [`crate::fees::MAX_CALLS`].
    #[error("{calls} calls in one transaction; at most {limit} are allowed")]
    TooManyCalls {
        /// Calls in the transaction.
        calls: usize,
        /// The limit.
        limit: usize,
    },
    /// The sender cannot pay the transaction's fee
    /// ([`crate::fees`]); fund the account (`walrus get-wal` on a devnet).
    #[error("the fee is {fee} FROST but the sender holds {balance} FROST")]
    InsufficientFee {
        /// The fee in FROST.
        fee: u64,
        /// The sender's balance in FROST.
        balance: u64,
    },
    /// The sequencer is shutting down or overloaded.
    #[error("sequencer unavailable: {0}")]
    Unavailable(&'static str),
}

impl SignedTransaction {
    /// Parses BCS bytes of at most `limit` bytes.
    ///
    /// # Errors
    /// [`Rejection::TooLarge`] or [`Rejection::Malformed`].
    pub fn from_bytes(bytes: &[u8], limit: usize) -> Result<Self, Rejection> {
        if bytes.len() > limit {
            return Err(Rejection::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        bcs::from_bytes(bytes).map_err(|e| Rejection::Malformed(e.to_string()))
    }

    /// The BCS bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("transactions serialize")
    }

    /// Checks the signature, the sender and that no system call is made;
    /// returns the digest.
    ///
    /// # Errors
    /// [`Rejection::BadSignature`], [`Rejection::SenderMismatch`] or
    /// [`Rejection::SystemCall`].
    pub fn verify(&self) -> Result<TxDigest, Rejection> {
        let key = VerifyingKey::from_bytes(&self.public_key)
            .map_err(|_| Rejection::BadSignature("invalid public key"))?;
        if address_of(&key) != self.transaction.sender {
            return Err(Rejection::SenderMismatch);
        }
        if self.transaction.calls.iter().any(Call::is_system) {
            return Err(Rejection::SystemCall);
        }
        if self.transaction.calls.len() > crate::fees::MAX_CALLS {
            return Err(Rejection::TooManyCalls {
                calls: self.transaction.calls.len(),
                limit: crate::fees::MAX_CALLS,
            });
        }
        let signature = Signature::from_slice(&self.signature)
            .map_err(|_| Rejection::BadSignature("signature is not 64 bytes"))?;
        let bytes = self.transaction.to_bytes();
        key.verify_strict(&bytes, &signature)
            .map_err(|_| Rejection::BadSignature("signature does not verify"))?;
        Ok(TxDigest(*blake3::hash(&bytes).as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn signed_transactions_verify_and_tampering_is_caught() {
        let key = key(1);
        let tx = Transaction {
            sender: address_of(&key.verifying_key()),
            nonce: 0,
            calls: vec![Call::Faucet { amount: 5 }],
        };
        let digest = tx.digest();
        let signed = tx.sign(&key);
        assert_eq!(signed.verify(), Ok(digest));
        let parsed = SignedTransaction::from_bytes(&signed.to_bytes(), 1 << 20).expect("parses");
        assert_eq!(parsed, signed);

        let mut tampered = signed.clone();
        tampered.transaction.nonce = 1;
        assert_eq!(
            tampered.verify(),
            Err(Rejection::BadSignature("signature does not verify"))
        );
        let mut other_sender = signed.clone();
        other_sender.transaction.sender = Address([9; 32]);
        assert_eq!(other_sender.verify(), Err(Rejection::SenderMismatch));
        let mut short = signed.clone();
        short.signature.pop();
        assert!(matches!(short.verify(), Err(Rejection::BadSignature(_))));
        assert!(matches!(
            SignedTransaction::from_bytes(&[1, 2, 3], 1 << 20),
            Err(Rejection::Malformed(_))
        ));
        assert!(matches!(
            SignedTransaction::from_bytes(&[0; 100], 10),
            Err(Rejection::TooLarge { .. })
        ));
    }

    #[test]
    fn system_calls_are_refused() {
        let key = key(2);
        let tx = Transaction {
            sender: address_of(&key.verifying_key()),
            nonce: 0,
            calls: vec![Call::VotingEnd],
        };
        assert_eq!(tx.sign(&key).verify(), Err(Rejection::SystemCall));
    }
}
