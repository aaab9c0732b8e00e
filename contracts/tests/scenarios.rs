//! Scenario tables that read like a ledger: one line per transaction (sender,
//! calls, then the expected event names or error code). Lines may use
//! `objs`, every object created by earlier lines, in order.

mod common;

use common::*;
use walrus_codec::EncodingConfig;
use walrus_contracts::{
    Call, Genesis, ObjectRef, Registration, TxError, certificate, epoch::AuditLine,
    money::FROST_PER_WAL,
};

enum Expect {
    Events(&'static [&'static str]),
    Code(u16),
}
use Expect::{Code, Events};

/// Runs ledger lines in order, checking each against its expectation.
macro_rules! ledger {
    ($net:ident, $objs:ident; $($sender:expr => [$($call:expr),* $(,)?] => $expect:expr;)*) => {
        #[allow(unused_mut)]
        let mut $objs: Vec<walrus_contracts::ObjectId> = Vec::new();
        $(
            let calls = vec![$($call),*];
            let line = format!("{:?}", calls);
            let before = $net.state.digest();
            match ($net.run($sender, calls), $expect) {
                (Ok((events, created)), Events(expected)) => {
                    assert_eq!(names(&events), expected.to_vec(), "{line}");
                    $objs.extend(created);
                }
                (Err(error), Code(code)) => {
                    assert_eq!(error.code(), code, "{line}: {error}");
                    assert_eq!($net.state.digest(), before, "{line}: an error changed the state");
                }
                (Ok((events, _)), Code(code)) => panic!("{line}: expected error {code}, got {:?}", names(&events)),
                (Err(error), Events(expected)) => panic!("{line}: expected {expected:?}, got error {}: {error}", error.code()),
            }
            $net.assert_conserved();
        )*
    };
}

fn register(storage: ObjectRef, data: &[u8], deletable: bool) -> Call {
    register_call(storage, blob_of(10, data), deletable)
}

fn encoded(data: &[u8]) -> u64 {
    EncodingConfig::new(10)
        .expect("n")
        .encoded_length(data.len() as u64)
        .expect("fits")
}

#[test]
fn a_deletable_blob_from_registration_to_deletion() {
    let mut net = Net::new(4, 10);
    let data = b"hello walrus".to_vec();
    let (blob_id, root_hash, size) = blob_of(10, &data);
    let size_needed = encoded(&data);
    let quorum = [0, 1, 2];
    ledger! { net, objs;
        // Reserve and register in one transaction; the blob uses the storage just created.
        ALICE => [Call::ReserveSpace { size_bytes: size_needed, epochs: 3 }, register(ObjectRef::Created(0), &data, true)] => Events(&["BlobRegistered"]);
        ALICE => [Call::CertifyBlob { blob: objs[1].into(), certificate: net.certificate(&[0], certificate::confirmation_message(0, &blob_id, Some(objs[1]))) }] => Code(401);
        ALICE => [Call::CertifyBlob { blob: objs[1].into(), certificate: net.certificate(&quorum, certificate::confirmation_message(0, &blob_id, None)) }] => Code(403);
        BOB   => [Call::CertifyBlob { blob: objs[1].into(), certificate: net.certificate(&quorum, certificate::confirmation_message(0, &blob_id, Some(objs[1]))) }] => Code(103);
        ALICE => [Call::CertifyBlob { blob: objs[1].into(), certificate: net.certificate(&quorum, certificate::confirmation_message(0, &blob_id, Some(objs[1]))) }] => Events(&["BlobCertified"]);
        ALICE => [Call::CertifyBlob { blob: objs[1].into(), certificate: net.certificate(&quorum, certificate::confirmation_message(0, &blob_id, Some(objs[1]))) }] => Code(304);
        ALICE => [Call::ExtendBlob { blob: objs[1].into(), epochs: 2 }] => Events(&["BlobExtended"]);
        ALICE => [Call::ExtendBlob { blob: objs[1].into(), epochs: 60 }] => Code(201);
        ALICE => [Call::SetAttribute { blob: objs[1].into(), key: "type".into(), value: "text/plain".into() }] => Events(&[]);
        ALICE => [Call::RemoveAttribute { blob: objs[1].into(), key: "missing".into() }] => Code(308);
        ALICE => [Call::DeleteBlob { blob: objs[1].into() }] => Events(&["BlobDeleted"]);
        ALICE => [Call::DeleteBlob { blob: objs[1].into() }] => Code(102);
        // The storage came back and registers the blob again.
        ALICE => [register(objs[0].into(), &data, true)] => Events(&["BlobRegistered"]);
    }
    assert_eq!(
        net.state
            .blobs
            .get(&objs[2])
            .expect("registered again")
            .blob_id,
        blob_id
    );
    assert_eq!((root_hash.len(), size), (32, 12));
}

#[test]
fn registration_checks_size_id_and_funds() {
    let mut net = Net::new(4, 10);
    let data = vec![7u8; 5000];
    let (blob_id, root_hash, size) = blob_of(10, &data);
    ledger! { net, objs;
        ALICE => [Call::ReserveSpace { size_bytes: encoded(&data) - 1, epochs: 1 }] => Events(&[]);
        ALICE => [register(objs[0].into(), &data, false)] => Code(300);
        ALICE => [Call::ReserveSpace { size_bytes: encoded(&data), epochs: 1 }] => Events(&[]);
        ALICE => [Call::RegisterBlob(Registration { storage: objs[1].into(), blob_id, root_hash, size: size + 1, encoding_type: 1, deletable: false })] => Code(302);
        ALICE => [Call::RegisterBlob(Registration { storage: objs[1].into(), blob_id, root_hash, size, encoding_type: 0, deletable: false })] => Code(303);
        BOB   => [register(objs[1].into(), &data, false)] => Code(103);
        ALICE => [Call::ReserveSpace { size_bytes: 1, epochs: 54 }] => Code(201);
        ALICE => [Call::ReserveSpace { size_bytes: 0, epochs: 1 }] => Code(200);
        // 2^44 units for 53 epochs fits in 64 bits but not in Alice's balance.
        ALICE => [Call::ReserveSpace { size_bytes: u64::MAX, epochs: 53 }] => Code(101);
        // A failing second call undoes the first: no storage is bought.
        ALICE => [Call::ReserveSpace { size_bytes: 1000, epochs: 1 }, register(ObjectRef::Created(0), &data, false)] => Code(300);
        ALICE => [register(ObjectRef::Created(0), &data, false)] => Code(104);
        ALICE => [Call::TransferWal { to: BOB, amount: u64::MAX }] => Code(101);
        ALICE => [Call::Faucet { amount: 10 * FROST_PER_WAL }] => Events(&[]);
        // One faucet call per transaction: many calls cannot mint many limits.
        ALICE => [Call::Faucet { amount: 1 }, Call::Faucet { amount: 1 }] => Code(105);
        ALICE => [Call::EpochChangeStart] => Code(106);
        ALICE => [] => Code(107);
    }
}

#[test]
fn a_permanent_blob_and_an_invalidated_blob_id() {
    let mut net = Net::new(4, 10);
    let data = b"permanent".to_vec();
    let (blob_id, _, _) = blob_of(10, &data);
    ledger! { net, objs;
        ALICE => [Call::ReserveSpace { size_bytes: encoded(&data), epochs: 2 }, register(ObjectRef::Created(0), &data, false)] => Events(&["BlobRegistered"]);
        ALICE => [Call::CertifyBlob { blob: objs[1].into(), certificate: net.certificate(&[1, 2, 3], certificate::confirmation_message(0, &blob_id, None)) }] => Events(&["BlobCertified"]);
        ALICE => [Call::DeleteBlob { blob: objs[1].into() }] => Code(306);
        // One node of weight 3 is not f+1 of 10 shards; two nodes are.
        ALICE => [Call::InvalidateBlobId { blob_id, certificate: net.certificate(&[0], certificate::invalid_blob_message(0, &blob_id)) }] => Code(401);
        ALICE => [Call::InvalidateBlobId { blob_id, certificate: net.certificate(&[0, 1], certificate::invalid_blob_message(1, &blob_id)) }] => Code(403);
        ALICE => [Call::InvalidateBlobId { blob_id, certificate: net.certificate(&[0, 1], certificate::invalid_blob_message(0, &blob_id)) }] => Events(&["InvalidBlobId"]);
        ALICE => [Call::InvalidateBlobId { blob_id, certificate: net.certificate(&[0, 1], certificate::invalid_blob_message(0, &blob_id)) }] => Code(603);
        ALICE => [Call::ReserveSpace { size_bytes: encoded(&data), epochs: 2 }, register(ObjectRef::Created(0), &data, false)] => Code(307);
        ALICE => [Call::ExtendBlob { blob: objs[1].into(), epochs: 1 }] => Code(307);
    }
}

#[test]
fn a_forged_signature_is_rejected() {
    let mut net = Net::new(4, 10);
    let data = b"forged".to_vec();
    let (blob_id, _, _) = blob_of(10, &data);
    ledger! { net, objs;
        ALICE => [Call::ReserveSpace { size_bytes: encoded(&data), epochs: 2 }, register(ObjectRef::Created(0), &data, false)] => Events(&["BlobRegistered"]);
    }
    // Signed by nodes 0, 1, 2 but claiming 1, 2, 3.
    let mut forged = net.certificate(
        &[0, 1, 2],
        certificate::confirmation_message(0, &blob_id, None),
    );
    forged.signers = walrus_contracts::certificate::Certificate::bitmap(&[
        net.member(1),
        net.member(2),
        net.member(3),
    ]);
    let error = net
        .run(
            ALICE,
            vec![Call::CertifyBlob {
                blob: objs[1].into(),
                certificate: forged,
            }],
        )
        .expect_err("forged");
    assert_eq!(error, TxError::BadSignature);
    let mut garbage = net.certificate(
        &[0, 1, 2],
        certificate::confirmation_message(0, &blob_id, None),
    );
    garbage.signature = vec![0xff; 96];
    let error = net
        .run(
            ALICE,
            vec![Call::CertifyBlob {
                blob: objs[1].into(),
                certificate: garbage,
            }],
        )
        .expect_err("garbage");
    assert_eq!(error.code(), 404);
}

#[test]
fn staking_epochs_rewards_and_withdrawal() {
    let mut net = Net::new(4, 10);
    let node0 = Genesis::node_id(0);
    ledger! { net, objs;
        BOB => [Call::Stake { node_id: node0, amount: 50 * FROST_PER_WAL }] => Events(&["StakeDeposited"]);
        // Not active yet: withdrawing returns the principal at once.
        BOB => [Call::RequestWithdrawStake { staked_wal: objs[0].into() }] => Events(&["StakeWithdrawn"]);
        BOB => [Call::Stake { node_id: node0, amount: 0 }] => Code(503);
        BOB => [Call::Stake { node_id: node0, amount: 50 * FROST_PER_WAL }] => Events(&["StakeDeposited"]);
        // Income for epoch 0: 10 FROST per unit per epoch.
        ALICE => [Call::ReserveSpace { size_bytes: 100 << 20, epochs: 2 }] => Events(&[]);
        ALICE => [Call::VotingEnd] => Code(106);
        SYSTEM => [Call::VotingEnd] => Events(&["EpochParametersSelected"]);
        SYSTEM => [Call::VotingEnd] => Code(600);
        SYSTEM => [Call::EpochChangeStart] => Events(&["RewardsDistributed", "EpochChangeStart"]);
        SYSTEM => [Call::EpochChangeStart] => Code(600);
        operator(0) => [Call::EpochSyncDone { node_id: node0, epoch: 0 }] => Code(601);
        operator(1) => [Call::EpochSyncDone { node_id: node0, epoch: 1 }] => Code(505);
        operator(0) => [Call::EpochSyncDone { node_id: node0, epoch: 1 }] => Events(&["ShardsReceived"]);
        operator(0) => [Call::EpochSyncDone { node_id: node0, epoch: 1 }] => Code(603);
        operator(1) => [Call::EpochSyncDone { node_id: Genesis::node_id(1), epoch: 1 }] => Events(&["ShardsReceived"]);
        operator(2) => [Call::EpochSyncDone { node_id: Genesis::node_id(2), epoch: 1 }] => Events(&["ShardsReceived", "EpochChangeDone"]);
        BOB => [Call::RequestWithdrawStake { staked_wal: objs[1].into() }] => Events(&["WithdrawRequested"]);
        BOB => [Call::RequestWithdrawStake { staked_wal: objs[1].into() }] => Code(504);
        BOB => [Call::WithdrawStake { staked_wal: objs[1].into() }] => Code(504);
        SYSTEM => [Call::EpochChangeStart] => Events(&["EpochParametersSelected", "RewardsDistributed", "EpochChangeStart"]);
        BOB => [Call::WithdrawStake { staked_wal: objs[1].into() }] => Events(&["StakeWithdrawn"]);
        operator(0) => [Call::CollectCommission { node_id: node0 }] => Events(&["CommissionCollected"]);
        BOB => [Call::CollectCommission { node_id: node0 }] => Code(505);
    }
    // Bob staked in epoch 0 (active from 1) and left at 2: he earned epoch 1's
    // rewards, so he gets back at least his principal.
    assert!(net.state.balance(&BOB) >= 1000 * FROST_PER_WAL - 1);
}

#[test]
fn a_node_whose_stake_leaves_drops_out_of_the_next_committee() {
    let mut net = Net::new(4, 10);
    let node3 = Genesis::node_id(3);
    ledger! { net, objs;
        operator(3) => [Call::RequestWithdrawStake { staked_wal: Genesis::stake_id(3).into() }] => Events(&["WithdrawRequested"]);
        SYSTEM => [Call::EpochChangeStart] => Events(&["EpochParametersSelected", "RewardsDistributed", "EpochChangeStart"]);
    }
    let _ = objs;
    assert!(
        net.state.committee.position(&node3).is_none(),
        "node 3 kept shards without stake"
    );
    let shards: usize = net
        .state
        .committee
        .members
        .iter()
        .map(|m| m.shards.len())
        .sum();
    assert_eq!(shards, 10);
}

#[test]
fn rewards_burn_three_percent_and_split_by_shards() {
    let mut net = Net::new(4, 10);
    net.run(
        ALICE,
        vec![Call::ReserveSpace {
            size_bytes: 100 << 20,
            epochs: 1,
        }],
    )
    .expect("reserve");
    let income = net
        .state
        .income
        .get(&0)
        .copied()
        .expect("income for epoch 0");
    assert_eq!(income, 10 * 100);
    let (events, _) = net
        .run(SYSTEM, vec![Call::EpochChangeStart])
        .expect("epoch change");
    let rewards = events.iter().find_map(|e| match e {
        walrus_contracts::Event::RewardsDistributed {
            burned,
            rewards,
            carried,
            ..
        } => Some((*burned, rewards.clone(), *carried)),
        _ => None,
    });
    let (burned, rewards, carried) = rewards.expect("rewards event");
    assert_eq!(burned, 30); // 3% of 1000
    let total: u64 = rewards
        .iter()
        .map(|(_, pool, commission)| pool + commission)
        .sum();
    assert_eq!(total + carried, 970);
    // Shards 3, 3, 2, 2 of 10: 291, 291, 194, 194 FROST; 10% commission each.
    let mut paid: Vec<u64> = rewards
        .iter()
        .map(|(_, pool, commission)| pool + commission)
        .collect();
    paid.sort_unstable();
    assert_eq!(paid, vec![194, 194, 291, 291]);
    assert_eq!(
        rewards
            .iter()
            .map(|r| r.2)
            .collect::<Vec<_>>()
            .iter()
            .sum::<u64>(),
        19 + 19 + 29 + 29
    );
    net.assert_conserved();
}

#[test]
fn audits_and_slashing() {
    let mut net = Net::new(4, 10);
    let target = Genesis::node_id(3);
    let failing = |reporter: usize| Call::AuditReport {
        node_id: Genesis::node_id(reporter),
        epoch: 0,
        lines: vec![AuditLine {
            target,
            passed: 1,
            total: 10,
        }],
    };
    ledger! { net, objs;
        operator(0) => [Call::AuditReport { node_id: Genesis::node_id(0), epoch: 0, lines: vec![AuditLine { target, passed: 11, total: 10 }] }] => Code(604);
        operator(0) => [failing(0)] => Events(&[]);
        operator(0) => [failing(0)] => Code(603);
        operator(1) => [failing(1)] => Events(&[]);
        // Weight 3 + 3 + 2 = 8 of 10 is a quorum: the node is slashed.
        operator(2) => [Call::SlashVote { voter: Genesis::node_id(2), target, epoch: 0 }] => Events(&["NodeSlashed"]);
        ALICE => [Call::ReserveSpace { size_bytes: 100 << 20, epochs: 1 }] => Events(&[]);
        SYSTEM => [Call::EpochChangeStart] => Events(&["EpochParametersSelected", "RewardsDistributed", "EpochChangeStart"]);
    }
    let _ = objs;
    // The slashed node earned nothing this epoch.
    assert_eq!(net.state.pools.get(&target).expect("pool").commission, 0);
}
