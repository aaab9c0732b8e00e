//! Error codes are part of the interface: this pins every one of them.

use walrus_codec::BlobId;
use walrus_contracts::{Address, ObjectId, TxError};

#[test]
fn error_codes_never_change() {
    let id = ObjectId([0; 32]);
    let blob = BlobId([0; 32]);
    let pinned: Vec<(TxError, u16)> = vec![
        (TxError::Overflow, 100),
        (
            TxError::InsufficientBalance {
                needed: 0,
                available: 0,
            },
            101,
        ),
        (TxError::ObjectNotFound(id), 102),
        (TxError::NotOwner(id), 103),
        (TxError::NoSuchCreatedObject(0), 104),
        (TxError::FaucetRefused(""), 105),
        (TxError::Unauthorized(Address::SYSTEM), 106),
        (TxError::EmptyTransaction, 107),
        (TxError::InvalidStorage(""), 200),
        (
            TxError::TooManyEpochsAhead {
                end_epoch: 0,
                max: 0,
            },
            201,
        ),
        (TxError::SplitOutOfRange, 202),
        (TxError::NotFusable, 203),
        (
            TxError::StorageTooSmall {
                needed: 0,
                available: 0,
            },
            300,
        ),
        (TxError::StorageNotCurrent, 301),
        (TxError::BlobIdMismatch(blob), 302),
        (TxError::InvalidBlob(String::new()), 303),
        (TxError::AlreadyCertified, 304),
        (TxError::BlobExpired(0), 305),
        (TxError::NotDeletable, 306),
        (TxError::BlobIdInvalid(blob), 307),
        (TxError::AttributeNotFound(String::new()), 308),
        (TxError::AttributeTooLong, 309),
        (TxError::NotCertified, 310),
        (TxError::ExtensionMismatch, 311),
        (TxError::SignerOutOfRange(0), 400),
        (
            TxError::NotEnoughWeight {
                weight: 0,
                n_shards: 0,
            },
            401,
        ),
        (TxError::BadSignature, 402),
        (TxError::MessageMismatch(""), 403),
        (TxError::InvalidBls(""), 404),
        (TxError::NodeNotFound(id), 500),
        (TxError::NodeAlreadyRegistered, 501),
        (TxError::CommissionTooHigh(0), 502),
        (TxError::ZeroStake, 503),
        (TxError::NotWithdrawable(""), 504),
        (TxError::NotOperator(id), 505),
        (TxError::WrongEpochState(""), 600),
        (
            TxError::WrongEpoch {
                given: 0,
                current: 0,
            },
            601,
        ),
        (TxError::NotInCommittee(id), 602),
        (TxError::Duplicate, 603),
        (TxError::InvalidAuditReport(""), 604),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (error, code) in &pinned {
        assert_eq!(error.code(), *code, "{error:?}");
        assert!(seen.insert(code), "code {code} used twice");
    }
}
