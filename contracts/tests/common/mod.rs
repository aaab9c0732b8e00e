//! A test network: genesis with deterministic BLS keys, accounts, and
//! helpers that sign certificates the way storage nodes will.
#![allow(dead_code)] // each test file uses a different part

use blst::min_pk::{AggregateSignature, SecretKey};
use walrus_codec::{BlobId, EncodingConfig};
use walrus_contracts::{
    Address, Call, Candidate, Event, Genesis, GenesisNode, ObjectId, ObjectRef, Registration,
    State, SystemParams, TxContext, TxError, Votes, apply,
    certificate::{self, Certificate, DST},
    money::FROST_PER_WAL,
};

pub const ALICE: Address = Address([0xa1; 32]);
pub const BOB: Address = Address([0xb0; 32]);
pub const SYSTEM: Address = Address::SYSTEM;

pub fn operator(index: usize) -> Address {
    Address([u8::try_from(0x10 + index).expect("few nodes"); 32])
}

pub struct Net {
    pub state: State,
    pub keys: Vec<SecretKey>,
    pub n_shards: u16,
    tx_counter: u64,
}

pub fn secret_key(index: usize) -> SecretKey {
    let ikm = [u8::try_from(index + 1).expect("few nodes"); 32];
    SecretKey::key_gen(&ikm, &[]).expect("32 bytes of key material")
}

pub fn candidate(index: usize, epoch: u32, operator: Address) -> Candidate {
    let key = secret_key(index);
    let public_key = key.sk_to_pk().to_bytes().to_vec();
    let message = certificate::proof_of_possession_message(epoch, &operator, &public_key);
    Candidate {
        name: format!("node-{index}"),
        network_address: format!("127.0.0.1:{}", 9000 + index),
        proof_of_possession: key.sign(&message, DST, &[]).to_bytes().to_vec(),
        public_key,
        commission_bps: 1000,
        votes: Votes {
            storage_price: 10,
            write_price: 5,
            capacity: 1 << 40,
        },
    }
}

impl Net {
    /// `n_nodes` nodes with equal stake over `n_shards`; Alice and Bob hold 1000 WAL.
    pub fn new(n_nodes: usize, n_shards: u16) -> Self {
        let genesis = Genesis {
            params: SystemParams {
                n_shards,
                epoch_duration_ms: 60_000,
                max_epochs_ahead: 53,
                faucet_max_frost: 1_000_000 * FROST_PER_WAL,
                audit_threshold_bps: 5000,
            },
            nodes: (0..n_nodes)
                .map(|i| GenesisNode {
                    operator: operator(i),
                    candidate: candidate(i, 0, operator(i)),
                    stake: 100 * FROST_PER_WAL,
                })
                .collect(),
            accounts: vec![(ALICE, 1000 * FROST_PER_WAL), (BOB, 1000 * FROST_PER_WAL)],
        };
        Self {
            state: genesis.build().expect("valid genesis"),
            keys: (0..n_nodes).map(secret_key).collect(),
            n_shards,
            tx_counter: 0,
        }
    }

    pub fn ctx(&mut self, sender: Address) -> TxContext {
        self.tx_counter += 1;
        let mut digest = [0u8; 32];
        digest[..8].copy_from_slice(&self.tx_counter.to_le_bytes());
        TxContext::new(sender, digest, self.tx_counter * 1000)
    }

    /// Applies `calls` from `sender`; returns events and the created objects.
    pub fn run(
        &mut self,
        sender: Address,
        calls: Vec<Call>,
    ) -> Result<(Vec<Event>, Vec<ObjectId>), TxError> {
        let mut ctx = self.ctx(sender);
        let events = apply(&mut self.state, &mut ctx, &calls)?;
        Ok((events, ctx.created().to_vec()))
    }

    /// The committee index of genesis node `index`.
    pub fn member(&self, index: usize) -> usize {
        self.state
            .committee
            .position(&Genesis::node_id(index))
            .expect("in committee")
    }

    /// A certificate over `message` signed by those of the genesis nodes
    /// `signers` that are in the current committee.
    pub fn certificate(&self, signers: &[usize], message: Vec<u8>) -> Certificate {
        let members: Vec<(usize, usize)> = signers
            .iter()
            .filter_map(|i| {
                self.state
                    .committee
                    .position(&Genesis::node_id(*i))
                    .map(|m| (*i, m))
            })
            .collect();
        let signatures: Vec<_> = members
            .iter()
            .map(|(i, _)| self.keys[*i].sign(&message, DST, &[]))
            .collect();
        let refs: Vec<_> = signatures.iter().collect();
        let signature = match AggregateSignature::aggregate(&refs, false) {
            Ok(aggregate) => aggregate.to_signature().to_bytes().to_vec(),
            Err(_) => vec![0; 96], // no signer at all
        };
        let indices: Vec<usize> = members.iter().map(|(_, m)| *m).collect();
        Certificate {
            signers: Certificate::bitmap(&indices),
            message,
            signature,
        }
    }

    /// Conservation: every FROST minted is burned or held somewhere.
    pub fn assert_conserved(&self) {
        assert_eq!(
            u128::from(self.state.minted),
            u128::from(self.state.burned) + self.state.total_held()
        );
    }
}

/// A real blob's ID and root hash under `n_shards`.
pub fn blob_of(n_shards: u16, data: &[u8]) -> (BlobId, [u8; 32], u64) {
    let config = EncodingConfig::new(n_shards).expect("valid n");
    let metadata = config.compute_metadata(data).expect("encodes");
    let root = metadata.metadata().root().bytes();
    (
        *metadata.blob_id(),
        root,
        u64::try_from(data.len()).expect("small"),
    )
}

/// A `RegisterBlob` call for `blob` (ID, root hash, size) paid from `storage`.
pub fn register_call(
    storage: ObjectRef,
    (blob_id, root_hash, size): (BlobId, [u8; 32], u64),
    deletable: bool,
) -> Call {
    Call::RegisterBlob(Registration {
        storage,
        blob_id,
        root_hash,
        size,
        encoding_type: 1,
        deletable,
    })
}

pub fn names(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::name).collect()
}
