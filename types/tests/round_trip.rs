//! Every JSON shape parses back into itself, and the publisher's replies use
//! upstream's field names.

use walrus_codec::BlobId;
use walrus_contracts::ObjectId;
use walrus_types::{
    error::{ErrorBody, ErrorReason},
    node::{BlobStatus, DeletableCounts, SignedReply, StoredStatus, SuccessBody},
    publisher::{BlobObject, ResourceOperation, StorageObject, StoreResult},
};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    value: &T,
) -> serde_json::Value {
    let json = serde_json::to_value(value).expect("serializes");
    let back: T = serde_json::from_value(json.clone()).expect("parses back");
    assert_eq!(&back, value);
    json
}

#[test]
fn publisher_replies_have_upstream_field_names() {
    let blob_id = BlobId([7; 32]);
    let newly = StoreResult::NewlyCreated {
        blob_object: BlobObject {
            id: ObjectId([1; 32]),
            registered_epoch: 3,
            blob_id,
            size: 10,
            encoding_type: 1,
            certified_epoch: Some(3),
            storage: StorageObject {
                id: ObjectId([2; 32]),
                start_epoch: 3,
                end_epoch: 5,
                storage_size: 1 << 20,
            },
            deletable: true,
        },
        resource_operation: ResourceOperation::RegisterFromScratch {
            encoded_length: 1 << 20,
            epochs_ahead: 2,
        },
        cost: 42,
    };
    let json = round_trip(&newly);
    assert_eq!(
        json["newlyCreated"]["blobObject"]["blobId"],
        blob_id.to_string()
    );
    assert_eq!(json["newlyCreated"]["blobObject"]["registeredEpoch"], 3);
    assert_eq!(json["newlyCreated"]["blobObject"]["storage"]["endEpoch"], 5);
    assert_eq!(
        json["newlyCreated"]["resourceOperation"]["registerFromScratch"]["epochsAhead"],
        2
    );
    let already = StoreResult::AlreadyCertified {
        blob_id,
        end_epoch: 9,
    };
    let json = round_trip(&already);
    assert_eq!(json["alreadyCertified"]["blobId"], blob_id.to_string());
    assert_eq!(json["alreadyCertified"]["endEpoch"], 9);
}

#[test]
fn blob_statuses_have_upstream_shapes() {
    assert_eq!(round_trip(&BlobStatus::Nonexistent), "nonexistent");
    assert_eq!(
        round_trip(&BlobStatus::Invalid {}),
        serde_json::json!({"invalid": {}})
    );
    let permanent = BlobStatus::Permanent {
        end_epoch: 4,
        is_certified: true,
        initial_certified_epoch: Some(1),
        deletable_counts: DeletableCounts {
            count_deletable_total: 2,
            count_deletable_certified: 1,
        },
    };
    let json = round_trip(&permanent);
    assert_eq!(
        json["permanent"]["deletableCounts"]["countDeletableTotal"],
        2
    );
    assert_eq!(json["permanent"]["initialCertifiedEpoch"], 1);
    assert!(permanent.is_certified());
    assert_eq!(permanent.end_epoch(), Some(4));
    let body = round_trip(&SuccessBody::new(200, StoredStatus::Stored));
    assert_eq!(body["success"]["data"], "stored");
}

#[test]
fn signed_messages_are_base64() {
    let reply = SuccessBody::new(
        200,
        SignedReply {
            signed: walrus_types::node::SignedMessage {
                serialized_message: vec![1, 2, 3],
                signature: vec![0xff; 4],
            },
        },
    );
    let json = round_trip(&reply);
    assert_eq!(
        json["success"]["data"]["signed"]["serializedMessage"],
        "AQID"
    );
    assert_eq!(json["success"]["data"]["signed"]["signature"], "/////w==");
}

#[test]
fn error_reasons_are_typed_and_unknown_ones_still_parse() {
    let body = ErrorBody::new(404, ErrorReason::SliverNotFound, "no such sliver");
    let json = round_trip(&body);
    assert_eq!(json["error"]["status"], "Not Found");
    assert_eq!(json["error"]["details"][0]["reason"], "SLIVER_NOT_FOUND");
    let future: ErrorBody = serde_json::from_value(serde_json::json!({
        "error": {"code": 400, "status": "Bad Request", "message": "m",
                  "details": [{"reason": "SOMETHING_NEW"}]}
    }))
    .expect("an unknown reason parses");
    assert_eq!(future.reason(), Some(ErrorReason::Unknown));
}

#[test]
fn every_state_key_has_a_path_that_parses_back() {
    use walrus_contracts::ledger::state_tree::StateKey;
    use walrus_types::state_proof::{parse_state_key, state_path};
    let id = walrus_contracts::ObjectId([7; 32]);
    let address = walrus_contracts::Address([8; 32]);
    let keys = [
        StateKey::Account(address),
        StateKey::Nonce(address),
        StateKey::Storage(id),
        StateKey::Blob(id),
        StateKey::SharedBlob(id),
        StateKey::InvalidBlobId(walrus_codec::BlobId([9; 32])),
        StateKey::Pool(id),
        StateKey::StakedWal(id),
        StateKey::Income(12),
    ];
    for key in keys {
        let path = state_path(&key);
        let segments: Vec<&str> = path.rsplitn(3, '/').collect();
        assert_eq!(
            parse_state_key(segments[1], segments[0]),
            Some(key),
            "{path}"
        );
    }
    assert_eq!(state_path(&StateKey::System), "/v1/state/system");
    assert_eq!(parse_state_key("blob", "0x12"), None);
    assert_eq!(parse_state_key("planet", &id.to_string()), None);
}
