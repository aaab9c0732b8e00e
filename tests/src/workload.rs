//! A seeded generator of real chains: signed transactions executed by the
//! state machine into checkpoints, exactly as the sequencer would order
//! them, with synthetic timestamps so epochs pass without waiting. Used by
//! the indexer tests (which compare every query with the final state) and
//! by `bench/indexer.sh`.
//!
//! The mix covers every indexed path: registrations (deletable and
//! permanent), certificates signed by a quorum of the committee (and some
//! with too little weight, which fail), extensions, deletions, transfers,
//! shared blobs, invalidations, stakes, withdrawals, audit reports, and the
//! sync-done signals that let epochs advance.

use std::path::Path;

use blst::min_pk::SecretKey;
use ed25519_dalek::SigningKey;
use walrus_codec::{BlobId, EncodingConfig, EncodingType, Node};
use walrus_contracts::ledger::{
    execution::{ChainState, Checkpoint},
    genesis::{GenesisConfig, GenesisSecrets, GenesisSpec},
    transaction::{SignedTransaction, Transaction, address_of},
};
use walrus_contracts::{
    Call, EpochState, Genesis, ObjectId, ObjectRef, Registration,
    certificate::{self, Certificate},
    epoch::AuditLine,
    money::FROST_PER_WAL,
};
use walrus_runtime::chain::store::Store;

/// SplitMix64: a small deterministic generator, enough for test workloads.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: usize) -> usize {
        let bound = u64::try_from(bound).expect("fits");
        usize::try_from(self.next_u64() % bound).expect("below a usize bound")
    }

    /// 32 random bytes.
    pub fn bytes(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }
}

/// A chain being generated.
pub struct Workload {
    /// The genesis.
    pub genesis: GenesisConfig,
    /// Its keys.
    pub secrets: GenesisSecrets,
    /// The state after the last checkpoint (the state machine's own view).
    pub chain: ChainState,
    /// Every checkpoint so far.
    pub checkpoints: Vec<Checkpoint>,
    encoding: EncodingConfig,
    bls: Vec<(ObjectId, SecretKey)>,
    rng: Rng,
    time_ms: u64,
    step_ms: u64,
}

impl Workload {
    /// A new chain of `n_nodes` nodes over `n_shards` shards and
    /// `n_accounts` funded accounts; each checkpoint advances the clock by
    /// `epoch_duration_ms / 8` (see [`Workload::set_checkpoints_per_epoch`]).
    ///
    /// # Panics
    /// Invalid parameters (a test's own mistake).
    pub fn new(seed: u64, n_nodes: usize, n_shards: u16, n_accounts: usize) -> Self {
        let epoch_duration_ms = 80_000;
        let start_ms = 1_800_000_000_000;
        let mut seed_bytes = [0u8; 32];
        seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let spec = GenesisSpec {
            n_nodes,
            n_shards,
            epoch_duration_ms,
            n_accounts,
            account_balance: 10_000_000 * FROST_PER_WAL,
            start_ms,
            seed: seed_bytes,
            network_addresses: Vec::new(),
        };
        let (genesis, secrets) = spec.generate().expect("valid genesis");
        let chain = ChainState::genesis(&genesis).expect("genesis state");
        let bls = secrets
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (bytes, _))| {
                (
                    Genesis::node_id(i),
                    SecretKey::from_bytes(bytes).expect("generated key"),
                )
            })
            .collect();
        Self {
            genesis,
            secrets,
            chain,
            checkpoints: Vec::new(),
            encoding: EncodingConfig::new(n_shards).expect("valid n"),
            bls,
            rng: Rng::new(seed),
            time_ms: start_ms,
            step_ms: epoch_duration_ms / 8,
        }
    }

    /// Advances the clock so that an epoch lasts about `checkpoints`
    /// checkpoints (8 by default).
    pub fn set_checkpoints_per_epoch(&mut self, checkpoints: u64) {
        self.step_ms = (self.genesis.genesis.params.epoch_duration_ms / checkpoints.max(1)).max(1);
    }

    /// The genesis nodes' BLS keys, by node ID.
    pub fn bls_keys(&self) -> &[(ObjectId, SecretKey)] {
        &self.bls
    }

    fn signed(&self, account: usize, calls: Vec<Call>) -> SignedTransaction {
        let key = &self.secrets.accounts[account];
        self.sign_with(key, calls)
    }

    fn sign_with(&self, key: &SigningKey, calls: Vec<Call>) -> SignedTransaction {
        let sender = address_of(&key.verifying_key());
        Transaction {
            sender,
            nonce: self.chain.next_nonce(&sender),
            calls,
        }
        .sign(key)
    }

    /// Seals one checkpoint of `transactions` (each signed at its sender's
    /// next nonce, so at most one per sender) and advances the clock.
    fn seal(&mut self, transactions: Vec<SignedTransaction>) {
        self.time_ms += self.step_ms;
        let (checkpoint, rejected) = self.chain.build_checkpoint(self.time_ms, transactions);
        assert!(
            rejected.is_empty(),
            "the generator signs valid transactions"
        );
        self.checkpoints.push(checkpoint);
    }

    fn certificate(&self, message: &[u8], enough: bool) -> Certificate {
        let committee = &self.chain.state.committee;
        let n = u32::from(self.chain.state.params.n_shards);
        let mut indices = Vec::new();
        let mut weight = 0u32;
        for (index, member) in committee.members.iter().enumerate() {
            let reached = 3 * weight > 2 * n;
            if reached || (!enough && 3 * (weight + u32::from(committee.weight(index))) > n) {
                break;
            }
            let _ = member;
            indices.push(index);
            weight += u32::from(committee.weight(index));
        }
        let signatures: Vec<_> = indices
            .iter()
            .map(|i| {
                let node = committee.members[*i].node_id;
                let key = &self
                    .bls
                    .iter()
                    .find(|(id, _)| *id == node)
                    .expect("a genesis node")
                    .1;
                key.sign(message, certificate::DST, &[])
            })
            .collect();
        Certificate::aggregate(message.to_vec(), &indices, &signatures).expect("signatures")
    }

    fn new_registration(&mut self, deletable: bool) -> Vec<Call> {
        let size = 1 + u64::try_from(self.rng.below(1 << 20)).expect("small");
        let root = self.rng.bytes();
        let blob_id = BlobId::from_root(&Node::Digest(root), EncodingType::Rs2, size);
        let epochs = 1 + u32::try_from(self.rng.below(6)).expect("small");
        vec![
            Call::ReserveSpace {
                size_bytes: self.encoding.encoded_length(size).expect("fits"),
                epochs,
            },
            Call::RegisterBlob(Registration {
                storage: ObjectRef::Created(0),
                blob_id,
                root_hash: root,
                size,
                encoding_type: 1,
                deletable,
            }),
        ]
    }

    /// One random call list for `account`; may fail on chain (that is part
    /// of the mix).
    #[allow(clippy::too_many_lines)] // one arm per kind of transaction
    fn random_calls(&mut self, account: usize) -> Vec<Call> {
        let state = &self.chain.state;
        let me = address_of(&self.secrets.accounts[account].verifying_key());
        let mine: Vec<(ObjectId, walrus_contracts::Blob)> = state
            .blobs
            .iter()
            .filter(|(_, b)| b.owner == me && b.storage.end_epoch > state.epoch)
            .map(|(id, b)| (*id, b.clone()))
            .collect();
        let pick = |rng: &mut Rng, list: &[(ObjectId, walrus_contracts::Blob)]| {
            (!list.is_empty()).then(|| list[rng.below(list.len())].clone())
        };
        let uncertified: Vec<_> = mine
            .iter()
            .filter(|(_, b)| b.certified_epoch.is_none())
            .cloned()
            .collect();
        let certified: Vec<_> = mine
            .iter()
            .filter(|(_, b)| b.certified_epoch.is_some())
            .cloned()
            .collect();
        let epoch = state.epoch;
        match self.rng.below(100) {
            0..=29 => {
                let deletable = self.rng.below(2) == 0;
                self.new_registration(deletable)
            }
            30..=54 => match pick(&mut self.rng, &uncertified) {
                Some((id, blob)) => {
                    let message = certificate::confirmation_message(
                        epoch,
                        &blob.blob_id,
                        blob.deletable.then_some(id),
                    );
                    let enough = self.rng.below(20) != 0;
                    vec![Call::CertifyBlob {
                        blob: ObjectRef::Id(id),
                        certificate: self.certificate(&message, enough),
                    }]
                }
                None => self.new_registration(true),
            },
            55..=62 => match pick(&mut self.rng, &certified) {
                Some((id, _)) => vec![Call::ExtendBlob {
                    blob: ObjectRef::Id(id),
                    epochs: 1 + u32::try_from(self.rng.below(3)).expect("small"),
                }],
                None => self.new_registration(false),
            },
            63..=70 => {
                let deletable: Vec<_> = mine.iter().filter(|(_, b)| b.deletable).cloned().collect();
                match pick(&mut self.rng, &deletable) {
                    Some((id, _)) => vec![Call::DeleteBlob {
                        blob: ObjectRef::Id(id),
                    }],
                    None => self.new_registration(true),
                }
            }
            71..=74 => match pick(&mut self.rng, &mine) {
                Some((id, _)) => {
                    let other = self.rng.below(self.secrets.accounts.len());
                    vec![Call::TransferObject {
                        object: ObjectRef::Id(id),
                        to: address_of(&self.secrets.accounts[other].verifying_key()),
                    }]
                }
                None => self.new_registration(true),
            },
            75..=76 => {
                let permanent: Vec<_> = certified
                    .iter()
                    .filter(|(_, b)| !b.deletable)
                    .cloned()
                    .collect();
                match pick(&mut self.rng, &permanent) {
                    Some((id, _)) => vec![
                        Call::ShareBlob {
                            blob: ObjectRef::Id(id),
                        },
                        Call::FundSharedBlob {
                            shared_blob: ObjectRef::Id(id),
                            amount: FROST_PER_WAL,
                        },
                    ],
                    None => self.new_registration(false),
                }
            }
            77 => match pick(&mut self.rng, &mine) {
                Some((_, blob)) => {
                    let message = certificate::invalid_blob_message(epoch, &blob.blob_id);
                    vec![Call::InvalidateBlobId {
                        blob_id: blob.blob_id,
                        certificate: self.certificate(&message, true),
                    }]
                }
                None => self.new_registration(true),
            },
            78..=87 => {
                let nodes: Vec<ObjectId> = state.pools.keys().copied().collect();
                let node_id = nodes[self.rng.below(nodes.len())];
                let amount =
                    (1 + u64::try_from(self.rng.below(1000)).expect("small")) * FROST_PER_WAL;
                vec![Call::Stake { node_id, amount }]
            }
            88..=93 => {
                let stakes: Vec<(ObjectId, walrus_contracts::StakedWal)> = state
                    .staked
                    .iter()
                    .filter(|(_, s)| s.owner == me)
                    .map(|(id, s)| (*id, s.clone()))
                    .collect();
                if stakes.is_empty() {
                    return self.new_registration(true);
                }
                let (id, staked) = stakes[self.rng.below(stakes.len())].clone();
                match staked.state {
                    walrus_contracts::StakeState::Staked => vec![Call::RequestWithdrawStake {
                        staked_wal: ObjectRef::Id(id),
                    }],
                    walrus_contracts::StakeState::Withdrawing { .. } => vec![Call::WithdrawStake {
                        staked_wal: ObjectRef::Id(id),
                    }],
                }
            }
            _ => {
                let size = 1 + u64::try_from(self.rng.below(1000)).expect("small");
                vec![Call::ReserveSpace {
                    size_bytes: self.encoding.encoded_length(size).expect("fits"),
                    epochs: 1,
                }]
            }
        }
    }

    /// The operators' transactions due now: sync done after an epoch
    /// change, and once per epoch an audit report (node 0 scores the last
    /// node low, so audit scores vary).
    fn operator_transactions(&mut self) -> Vec<SignedTransaction> {
        let state = &self.chain.state;
        let epoch = state.epoch;
        let mut transactions = Vec::new();
        let members: Vec<ObjectId> = state.committee.members.iter().map(|m| m.node_id).collect();
        for (index, (_, operator)) in self.secrets.nodes.iter().enumerate() {
            let node_id = Genesis::node_id(index);
            if !members.contains(&node_id) {
                continue;
            }
            let mut calls = Vec::new();
            if let EpochState::Syncing { signalled, .. } = &state.epoch_state
                && !signalled.contains(&node_id)
            {
                calls.push(Call::EpochSyncDone { node_id, epoch });
            }
            if !state.audits.reporters.contains(&node_id) && self.rng.below(4) == 0 {
                let lines = members
                    .iter()
                    .filter(|m| **m != node_id)
                    .map(|target| AuditLine {
                        target: *target,
                        passed: if Some(target) == members.last() {
                            60
                        } else {
                            100
                        },
                        total: 100,
                    })
                    .collect();
                calls.push(Call::AuditReport {
                    node_id,
                    epoch,
                    lines,
                });
            }
            if !calls.is_empty() {
                transactions.push(self.sign_with(operator, calls));
            }
        }
        transactions
    }

    /// Generates about `transactions` user transactions, `per_checkpoint`
    /// per checkpoint (at most one per account), plus the operators' own.
    pub fn run_mixed(&mut self, transactions: usize, per_checkpoint: usize) {
        let accounts = self.secrets.accounts.len();
        let per_checkpoint = per_checkpoint.clamp(1, accounts);
        let mut sent = 0;
        while sent < transactions {
            let mut batch = self.operator_transactions();
            let first = self.rng.below(accounts);
            for k in 0..per_checkpoint.min(transactions - sent) {
                let account = (first + k) % accounts;
                let calls = self.random_calls(account);
                batch.push(self.signed(account, calls));
                sent += 1;
            }
            self.seal(batch);
        }
    }

    /// Generates `events` blob events for an ingest benchmark: each
    /// transaction registers and deletes a deletable blob `pairs` times,
    /// reusing one storage resource (so the state stays small and the cost
    /// is the indexer's, not the state root's), one transaction per account
    /// per checkpoint.
    pub fn run_blob_events(&mut self, events: usize, pairs: usize) {
        let accounts = self.secrets.accounts.len();
        // One storage resource per account, big enough for every blob.
        let size_bytes = self.encoding.encoded_length(1 << 20).expect("fits");
        let reserve: Vec<_> = (0..accounts)
            .map(|a| {
                self.signed(
                    a,
                    vec![Call::ReserveSpace {
                        size_bytes,
                        epochs: 50,
                    }],
                )
            })
            .collect();
        self.seal(reserve);
        let storages: Vec<ObjectId> = (0..accounts)
            .map(|a| {
                let me = address_of(&self.secrets.accounts[a].verifying_key());
                *self
                    .chain
                    .state
                    .storages
                    .iter()
                    .find(|(_, (owner, _))| *owner == me)
                    .expect("just reserved")
                    .0
            })
            .collect();
        let mut made = 0;
        while made < events {
            let mut batch = Vec::new();
            for (account, storage) in storages.iter().enumerate() {
                if made >= events {
                    break;
                }
                let mut calls = Vec::with_capacity(2 * pairs);
                for pair in 0..pairs {
                    let size = 1 + u64::try_from(self.rng.below(1 << 20)).expect("small");
                    let root = self.rng.bytes();
                    calls.push(Call::RegisterBlob(Registration {
                        storage: ObjectRef::Id(*storage),
                        blob_id: BlobId::from_root(&Node::Digest(root), EncodingType::Rs2, size),
                        root_hash: root,
                        size,
                        encoding_type: 1,
                        deletable: true,
                    }));
                    let created = u16::try_from(pair).expect("small");
                    calls.push(Call::DeleteBlob {
                        blob: ObjectRef::Created(created),
                    });
                }
                batch.push(self.signed(account, calls));
                made += 2 * pairs;
            }
            self.seal(batch);
        }
    }

    /// Writes every checkpoint into a chain log at `path`, and the objects of
    /// the state after them, which `Sequencer::start` then serves.
    ///
    /// # Panics
    /// The file cannot be written.
    pub fn write_log(&self, path: &Path) {
        let mut store = Store::open(path, self.genesis.digest()).expect("chain log");
        for checkpoint in &self.checkpoints {
            store.append(checkpoint, &[]).expect("append");
        }
        store.write_snapshot(&self.chain).expect("objects");
    }
}
