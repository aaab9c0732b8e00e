use std::collections::BTreeSet;

use walrus_contracts::ledger::genesis::GenesisSpec;

use super::*;

const BLOB: BlobId = BlobId([3; 32]);

fn object(end_epoch: Epoch, deletable: bool, certified: Option<Epoch>) -> ObjectFacts {
    ObjectFacts::undeleted(end_epoch, deletable, certified)
}

fn facts(objects: &[(u8, ObjectFacts)]) -> BlobFacts {
    BlobFacts {
        objects: objects
            .iter()
            .map(|(i, o)| (ObjectId([*i; 32]), *o))
            .collect(),
        invalid: false,
    }
}

#[test]
fn a_blob_is_live_only_registered_valid_and_unexpired() {
    assert_eq!(
        live(&BLOB, &BlobFacts::default(), 1),
        Err(Refusal::NotRegistered(BLOB))
    );
    let mut known = facts(&[(1, object(5, true, None))]);
    assert!(live(&BLOB, &known, 4).is_ok());
    assert_eq!(
        live(&BLOB, &known, 5),
        Err(Refusal::Expired {
            blob_id: BLOB,
            end_epoch: 5
        })
    );
    assert_eq!(
        live_certified(&BLOB, &known, 4),
        Err(Refusal::NotCertified(BLOB))
    );
    known.invalid = true;
    assert_eq!(live(&BLOB, &known, 4), Err(Refusal::Invalid(BLOB)));
}

#[test]
fn confirmations_need_the_right_live_object_and_every_pair() {
    let known = facts(&[(1, object(5, true, None)), (2, object(3, true, None))]);
    let deletable = ObjectId([1; 32]);
    let expired = ObjectId([2; 32]);
    assert_eq!(
        may_confirm(&BLOB, &known, 4, Some(&deletable), true, 0),
        Ok(())
    );
    assert_eq!(
        may_confirm(&BLOB, &known, 4, None, true, 0),
        Err(Refusal::NoPermanent(BLOB))
    );
    assert_eq!(
        may_confirm(&BLOB, &known, 4, Some(&expired), true, 0),
        Err(Refusal::NotLiveDeletable {
            object: expired,
            blob_id: BLOB
        })
    );
    assert_eq!(
        may_confirm(&BLOB, &known, 4, Some(&deletable), false, 0),
        Err(Refusal::MetadataMissing(BLOB))
    );
    assert_eq!(
        may_confirm(&BLOB, &known, 4, Some(&deletable), true, 2),
        Err(Refusal::PairsMissing(2))
    );
    let permanent = facts(&[(7, object(9, false, Some(1)))]);
    assert_eq!(may_confirm(&BLOB, &permanent, 4, None, true, 0), Ok(()));
    assert_eq!(
        Refusal::PairsMissing(1).reason(),
        walrus_types::error::ErrorReason::NotStored
    );
}

fn state() -> State {
    let spec = GenesisSpec {
        n_nodes: 4,
        n_shards: 10,
        epoch_duration_ms: 1000,
        n_accounts: 0,
        account_balance: 0,
        start_ms: 0,
        seed: [5; 32],
        network_addresses: Vec::new(),
    };
    let (config, _) = spec.generate().expect("genesis generates");
    config.genesis.build().expect("genesis builds")
}

#[test]
fn after_a_batch_expiry_follows_the_epoch_and_sync_done_is_sent_once() {
    let mut state = state();
    let member = state.committee.members[0].node_id;
    let outsider = ObjectId([0xee; 32]);
    assert_eq!(after_batch(0, &state, &member, None), AfterBatch::default());
    state.epoch = 1;
    state.epoch_state = EpochState::Syncing {
        signalled: BTreeSet::new(),
        weight: 0,
    };
    let due = after_batch(0, &state, &member, None);
    assert_eq!(due.expire_through, Some(1));
    assert_eq!(due.send_sync_done, Some(1));
    assert_eq!(
        after_batch(1, &state, &member, Some(1)).send_sync_done,
        None
    );
    assert_eq!(after_batch(1, &state, &outsider, None).send_sync_done, None);
    state.epoch_state = EpochState::Syncing {
        signalled: BTreeSet::from([member]),
        weight: 3,
    };
    assert_eq!(after_batch(1, &state, &member, None).send_sync_done, None);
}
