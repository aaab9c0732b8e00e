//! Property tests over random call sequences: WAL is conserved (minted =
//! burned + held), an error never changes the state digest, the same
//! sequence always gives the same digest, and nothing panics. Amounts are
//! biased to 0, 1 and u64::MAX.

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use walrus_codec::BlobId;
use walrus_contracts::{
    Address, Call, Genesis, ObjectId, ObjectRef, State, TxContext, apply, certificate,
    epoch::AuditLine,
};

/// An amount biased to the edges.
fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        1..500_000_000_000u64,
        0..5_000_000_000_000u64,
        any::<u64>()
    ]
}

/// Signer subsets, mostly quorums (3 or 4 of the 4 nodes).
fn signer_bits() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0b0111u8), Just(0b1111), Just(0b1110), any::<u8>()]
}

fn small_epochs() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(1), Just(53), Just(u32::MAX), 0..60u32]
}

/// A call with its objects chosen by index among those that exist when it runs.
#[derive(Debug, Clone)]
enum Template {
    Faucet(u64),
    Transfer(usize, u64),
    Reserve(u64, u32),
    ReserveAndRegister(usize, bool, u32),
    Register(usize, usize, bool),
    Certify(usize, u8, bool),
    Extend(usize, u32),
    Delete(usize),
    SplitEpoch(usize, u32),
    SplitSize(usize, u64),
    Fuse(usize, usize),
    Stake(usize, u64),
    RequestWithdraw(usize),
    Withdraw(usize),
    TransferObject(usize, usize),
    Attribute(usize, String),
    Invalidate(usize, u8),
    VotingEnd,
    EpochChangeStart,
    SyncDone(usize),
    Audit(usize, usize, u32, u32),
    Slash(usize, usize),
    Collect(usize),
}

fn template() -> impl Strategy<Value = (usize, Template)> {
    let t = prop_oneof![
        1 => amount().prop_map(Template::Faucet),
        1 => (0..4usize, amount()).prop_map(|(a, x)| Template::Transfer(a, x)),
        1 => (amount(), small_epochs()).prop_map(|(s, e)| Template::Reserve(s, e)),
        3 => (0..3usize, any::<bool>(), 1..4u32).prop_map(|(b, d, e)| Template::ReserveAndRegister(b, d, e)),
        1 => (any::<usize>(), 0..3usize, any::<bool>()).prop_map(|(s, b, d)| Template::Register(s, b, d)),
        3 => (any::<usize>(), signer_bits(), prop::bool::weighted(0.8)).prop_map(|(b, s, r)| Template::Certify(b, s, r)),
        1 => (any::<usize>(), small_epochs()).prop_map(|(b, e)| Template::Extend(b, e)),
        1 => any::<usize>().prop_map(Template::Delete),
        1 => (any::<usize>(), small_epochs()).prop_map(|(s, e)| Template::SplitEpoch(s, e)),
        1 => (any::<usize>(), amount()).prop_map(|(s, x)| Template::SplitSize(s, x)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Template::Fuse(a, b)),
        2 => (0..4usize, amount()).prop_map(|(n, x)| Template::Stake(n, x)),
        1 => any::<usize>().prop_map(Template::RequestWithdraw),
        2 => any::<usize>().prop_map(Template::Withdraw),
        1 => (any::<usize>(), 0..4usize).prop_map(|(o, a)| Template::TransferObject(o, a)),
        1 => (any::<usize>(), "[a-z]{0,3}").prop_map(|(b, k)| Template::Attribute(b, k)),
        1 => (0..3usize, signer_bits()).prop_map(|(b, s)| Template::Invalidate(b, s)),
        1 => Just(Template::VotingEnd),
        2 => Just(Template::EpochChangeStart),
        3 => (0..4usize).prop_map(Template::SyncDone),
        1 => (0..4usize, 0..4usize, 0..12u32, 0..12u32).prop_map(|(r, t, p, n)| Template::Audit(r, t, p, n)),
        1 => (0..4usize, 0..4usize).prop_map(|(v, t)| Template::Slash(v, t)),
        1 => (0..4usize).prop_map(Template::Collect),
    ];
    (0..4usize, t)
}

fn blobs() -> &'static Vec<(BlobId, [u8; 32], u64)> {
    static BLOBS: OnceLock<Vec<(BlobId, [u8; 32], u64)>> = OnceLock::new();
    BLOBS.get_or_init(|| {
        [&b""[..], b"a", &[9u8; 3000]]
            .iter()
            .map(|d| blob_of(10, d))
            .collect()
    })
}

fn pick<T: Copy>(items: impl Iterator<Item = T>, index: usize) -> Option<T> {
    let items: Vec<T> = items.collect();
    (!items.is_empty()).then(|| items[index % items.len()])
}

const ACTORS: [Address; 4] = [ALICE, BOB, Address([0x10; 32]), Address([0x11; 32])];

fn registration(storage: ObjectRef, blob: usize, deletable: bool) -> Call {
    register_call(storage, blobs()[blob], deletable)
}

/// Turns a template into a concrete call against the current state.
fn concretize(net: &Net, template: &Template) -> Vec<Call> {
    let state = &net.state;
    let missing = ObjectId([0xee; 32]);
    let storage = |i| pick(state.storages.keys().copied(), i).unwrap_or(missing);
    let blob = |i| pick(state.blobs.keys().copied(), i).unwrap_or(missing);
    let staked = |i| pick(state.staked.keys().copied(), i).unwrap_or(missing);
    let node = |i: usize| Genesis::node_id(i);
    let signers = |bits: u8| -> Vec<usize> { (0..4).filter(|i| bits >> i & 1 == 1).collect() };
    match template {
        Template::Faucet(x) => vec![Call::Faucet { amount: *x }],
        Template::Transfer(a, x) => vec![Call::TransferWal {
            to: ACTORS[*a],
            amount: *x,
        }],
        Template::Reserve(s, e) => vec![Call::ReserveSpace {
            size_bytes: *s,
            epochs: *e,
        }],
        Template::ReserveAndRegister(b, d, e) => vec![
            Call::ReserveSpace {
                size_bytes: 1 << 20,
                epochs: *e,
            },
            registration(ObjectRef::Created(0), *b, *d),
        ],
        Template::Register(s, b, d) => vec![registration(storage(*s).into(), *b, *d)],
        Template::Certify(b, bits, right) => {
            let id = blob(*b);
            let Some(object) = state.blobs.get(&id) else {
                return vec![Call::CertifyBlob {
                    blob: id.into(),
                    certificate: net.certificate(&[0], vec![]),
                }];
            };
            let deletable = (object.deletable == *right).then_some(id);
            let message =
                certificate::confirmation_message(state.epoch, &object.blob_id, deletable);
            vec![Call::CertifyBlob {
                blob: id.into(),
                certificate: net.certificate(&signers(*bits), message),
            }]
        }
        Template::Extend(b, e) => vec![Call::ExtendBlob {
            blob: blob(*b).into(),
            epochs: *e,
        }],
        Template::Delete(b) => vec![Call::DeleteBlob {
            blob: blob(*b).into(),
        }],
        Template::SplitEpoch(s, e) => vec![Call::SplitStorageByEpoch {
            storage: storage(*s).into(),
            split_epoch: *e,
        }],
        Template::SplitSize(s, x) => vec![Call::SplitStorageBySize {
            storage: storage(*s).into(),
            size_bytes: *x,
        }],
        Template::Fuse(a, b) => vec![Call::FuseStorage {
            first: storage(*a).into(),
            second: storage(*b).into(),
        }],
        Template::Stake(n, x) => vec![Call::Stake {
            node_id: node(*n),
            amount: *x,
        }],
        Template::RequestWithdraw(s) => vec![Call::RequestWithdrawStake {
            staked_wal: staked(*s).into(),
        }],
        Template::Withdraw(s) => vec![Call::WithdrawStake {
            staked_wal: staked(*s).into(),
        }],
        Template::TransferObject(o, a) => {
            let all = state
                .storages
                .keys()
                .chain(state.blobs.keys())
                .chain(state.staked.keys())
                .copied();
            vec![Call::TransferObject {
                object: pick(all, *o).unwrap_or(missing).into(),
                to: ACTORS[*a],
            }]
        }
        Template::Attribute(b, key) => vec![Call::SetAttribute {
            blob: blob(*b).into(),
            key: key.clone(),
            value: "v".into(),
        }],
        Template::Invalidate(b, bits) => {
            let blob_id = blobs()[*b].0;
            let message = certificate::invalid_blob_message(state.epoch, &blob_id);
            vec![Call::InvalidateBlobId {
                blob_id,
                certificate: net.certificate(&signers(*bits), message),
            }]
        }
        Template::VotingEnd => vec![Call::VotingEnd],
        Template::EpochChangeStart => vec![Call::EpochChangeStart],
        Template::SyncDone(n) => vec![Call::EpochSyncDone {
            node_id: node(*n),
            epoch: state.epoch,
        }],
        Template::Audit(r, t, passed, total) => vec![Call::AuditReport {
            node_id: node(*r),
            epoch: state.epoch,
            lines: vec![AuditLine {
                target: node(*t),
                passed: *passed,
                total: *total,
            }],
        }],
        Template::Slash(v, t) => vec![Call::SlashVote {
            voter: node(*v),
            target: node(*t),
            epoch: state.epoch,
        }],
        Template::Collect(n) => vec![Call::CollectCommission { node_id: node(*n) }],
    }
}

fn sender(actor: usize, template: &Template) -> Address {
    match template {
        Template::VotingEnd | Template::EpochChangeStart => Address::SYSTEM,
        Template::SyncDone(n)
        | Template::Collect(n)
        | Template::Audit(n, ..)
        | Template::Slash(n, _) => operator(*n),
        _ => ACTORS[actor],
    }
}

/// Applies a recorded sequence of transactions to a fresh genesis.
fn replay(transactions: &[(Address, [u8; 32], Vec<Call>)]) -> State {
    let mut state = Net::new(4, 10).state;
    for (sender, digest, calls) in transactions {
        let _ = apply(&mut state, &mut TxContext::new(*sender, *digest, 0), calls);
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_conserve_wal_and_errors_change_nothing(steps in prop::collection::vec(template(), 1..60)) {
        let mut net = Net::new(4, 10);
        let mut recorded = Vec::new();
        for (actor, template) in &steps {
            let calls = concretize(&net, template);
            let sender = sender(*actor, template);
            let before = net.state.digest();
            let mut ctx = net.ctx(sender);
            let digest = ctx.digest();
            let result = apply(&mut net.state, &mut ctx, &calls);
            if result.is_err() {
                prop_assert_eq!(net.state.digest(), before, "an error changed the state: {:?}", result);
            }
            prop_assert_eq!(
                u128::from(net.state.minted),
                u128::from(net.state.burned) + net.state.total_held(),
                "WAL not conserved after {:?}", calls
            );
            recorded.push((sender, digest, calls));
        }
        // Replaying the same transactions gives the same state.
        prop_assert_eq!(replay(&recorded).digest(), net.state.digest());
    }
}
