//! The authenticated state on a generated chain (blobs, storage, staking,
//! epoch changes): the incrementally updated root always equals a tree
//! built from scratch over the same objects, and proofs show each object's
//! value, or its absence, against the checkpoint's state root, and nothing
//! else; the state before the last checkpoint stays provable against its
//! root.

use walrus_contracts::{
    ObjectId,
    ledger::state_tree::{StateKey, StateTree},
};
use walrus_tests::workload::Workload;

/// Keys worth proving after a checkpoint: the system object, some of each
/// kind present, and keys that never existed.
fn sample_keys(workload: &Workload) -> Vec<StateKey> {
    let state = &workload.chain.state;
    let mut keys = vec![StateKey::System, StateKey::Blob(ObjectId([0xee; 32]))];
    keys.extend(state.accounts.keys().take(2).map(|a| StateKey::Account(*a)));
    keys.extend(
        workload
            .chain
            .nonces
            .keys()
            .take(2)
            .map(|a| StateKey::Nonce(*a)),
    );
    keys.extend(state.blobs.keys().take(3).map(|id| StateKey::Blob(*id)));
    keys.extend(
        state
            .storages
            .keys()
            .take(2)
            .map(|id| StateKey::Storage(*id)),
    );
    keys.extend(state.pools.keys().take(2).map(|id| StateKey::Pool(*id)));
    keys.extend(
        state
            .staked
            .keys()
            .take(2)
            .map(|id| StateKey::StakedWal(*id)),
    );
    keys.extend(state.income.keys().take(1).map(|e| StateKey::Income(*e)));
    keys
}

#[test]
fn the_incremental_root_equals_a_rebuild_and_proofs_verify_against_it() {
    let mut workload = Workload::new(21, 4, 20, 8);
    let mut deleted_blob = None;
    let mut epochs_seen = std::collections::BTreeSet::new();
    for _ in 0..60 {
        let before: Vec<ObjectId> = workload.chain.state.blobs.keys().copied().collect();
        let previous_root = workload.chain.root();
        let previous: Vec<_> = sample_keys(&workload)
            .into_iter()
            .map(|key| (key, workload.chain.prove(&key).0))
            .collect();
        workload.run_mixed(8, 8);
        let chain = &workload.chain;
        let root = chain.root();
        // The state before this checkpoint stays provable (what the chain
        // API serves against the newest certified checkpoint).
        assert_eq!(chain.previous_root(), Some(previous_root));
        for (key, value) in &previous {
            let (kept, proof) = chain
                .prove_previous(key)
                .expect("the previous version is kept");
            assert_eq!(&kept, value, "{key:?}");
            proof
                .verify(previous_root, key, kept.as_deref())
                .unwrap_or_else(|e| panic!("previous {key:?}: {e}"));
        }
        let checkpoint = workload
            .checkpoints
            .last()
            .expect("one checkpoint per round");
        assert_eq!(checkpoint.state_root, root);
        let rebuilt = StateTree::build(chain.objects().all());
        assert_eq!(rebuilt.root(), root, "checkpoint {}", checkpoint.sequence);
        epochs_seen.insert(chain.state.epoch);
        if let Some(gone) = before.iter().find(|id| !chain.state.blobs.contains_key(id)) {
            deleted_blob = Some(*gone);
        }
        for key in sample_keys(&workload) {
            let (value, proof) = chain.prove(&key);
            proof
                .verify(root, &key, value.as_deref())
                .unwrap_or_else(|e| panic!("{key:?}: {e}"));
            match &value {
                Some(bytes) => {
                    let mut tampered = bytes.clone();
                    tampered[0] ^= 1;
                    assert!(proof.verify(root, &key, Some(&tampered)).is_err());
                    assert!(proof.verify(root, &key, None).is_err(), "{key:?}");
                }
                None => assert!(proof.verify(root, &key, Some(&[1])).is_err()),
            }
        }
    }
    assert!(
        epochs_seen.len() >= 3,
        "the chain crossed epochs: {epochs_seen:?}"
    );
    let deleted = deleted_blob.expect("the workload deletes or expires some Blob object");
    let key = StateKey::Blob(deleted);
    let (value, proof) = workload.chain.prove(&key);
    assert_eq!(value, None);
    proof
        .verify(workload.chain.root(), &key, None)
        .expect("absence of a deleted Blob object is provable");
}

#[test]
fn a_proof_does_not_verify_against_another_checkpoints_root() {
    let mut workload = Workload::new(22, 4, 20, 4);
    workload.run_mixed(4, 4);
    let old_root = workload.chain.root();
    let key = StateKey::System;
    workload.run_mixed(4, 4);
    let (value, proof) = workload.chain.prove(&key);
    assert_ne!(old_root, workload.chain.root(), "nonces changed");
    assert!(proof.verify(old_root, &key, value.as_deref()).is_err());
    let bytes = bcs::to_bytes(&proof).expect("proofs serialize");
    let parsed: walrus_contracts::ledger::state_tree::StateProof =
        bcs::from_bytes(&bytes).expect("and parse");
    parsed
        .verify(workload.chain.root(), &key, value.as_deref())
        .expect("the parsed proof verifies");
}
