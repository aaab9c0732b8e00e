//! Applies reserve + register and then certify for many blobs on a
//! 1000-shard committee of 10 nodes, and prints transactions per second,
//! with the time spent verifying certificates reported separately. Used by
//! `bench/contracts.sh`.
//!
//! `cargo run --release -p walrus-contracts --example bench_blobs -- [BLOBS]`
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // a benchmark measures time
#![allow(missing_docs)]

use std::time::Instant;

use blst::min_pk::SecretKey;
use walrus_codec::{BlobId, EncodingType, Node};
use walrus_contracts::{
    Address, Call, Candidate, Genesis, GenesisNode, ObjectRef, Registration, SystemParams,
    TxContext, Votes, apply,
    certificate::{self, Certificate, DST, Threshold},
};

fn main() {
    let n_blobs: usize = std::env::args()
        .nth(1)
        .map_or(10_000, |a| a.parse().expect("BLOBS"));
    let n_nodes = 10;
    let keys: Vec<SecretKey> = (0..n_nodes)
        .map(|i| SecretKey::key_gen(&[u8::try_from(i + 1).expect("small"); 32], &[]).expect("key"))
        .collect();
    let operator = |i: usize| Address([u8::try_from(0x10 + i).expect("small"); 32]);
    let nodes = (0..n_nodes)
        .map(|i| {
            let public_key = keys[i].sk_to_pk().to_bytes().to_vec();
            let pop = keys[i].sign(
                &certificate::proof_of_possession_message(0, &operator(i), &public_key),
                DST,
                &[],
            );
            GenesisNode {
                operator: operator(i),
                candidate: Candidate {
                    name: format!("node-{i}"),
                    network_address: String::new(),
                    public_key,
                    proof_of_possession: pop.to_bytes().to_vec(),
                    commission_bps: 0,
                    votes: Votes {
                        storage_price: 1,
                        write_price: 1,
                        capacity: u64::MAX,
                    },
                },
                stake: 1_000_000_000,
            }
        })
        .collect();
    let user = Address([0xaa; 32]);
    let genesis = Genesis {
        params: SystemParams {
            n_shards: 1000,
            epoch_duration_ms: 1 << 40,
            max_epochs_ahead: 53,
            faucet_max_frost: 0,
            audit_threshold_bps: 0,
        },
        nodes,
        accounts: vec![(user, u64::MAX / 4)],
    };
    let mut state = genesis.build().expect("genesis");
    // 7 of 10 equal nodes (700 of 1000 shards) form a quorum.
    let signers: Vec<usize> = (0..7).collect();
    let positions: Vec<usize> = signers
        .iter()
        .map(|i| {
            state
                .committee
                .position(&Genesis::node_id(*i))
                .expect("member")
        })
        .collect();

    // Registration transactions (blob IDs derived from synthetic roots).
    let registrations: Vec<Registration> = (0..n_blobs)
        .map(|i| {
            let mut root = [0u8; 32];
            root[..8].copy_from_slice(&u64::try_from(i).expect("fits").to_le_bytes());
            let size = 1 << 20;
            let blob_id = BlobId::from_root(&Node::Digest(root), EncodingType::Rs2, size);
            Registration {
                storage: ObjectRef::Created(0),
                blob_id,
                root_hash: root,
                size,
                encoding_type: 1,
                deletable: false,
            }
        })
        .collect();
    let mut blob_objects = Vec::with_capacity(n_blobs);
    let start = Instant::now();
    for (i, registration) in registrations.iter().enumerate() {
        let mut digest = [1u8; 32];
        digest[..8].copy_from_slice(&u64::try_from(i).expect("fits").to_le_bytes());
        let mut ctx = TxContext::new(user, digest, 0);
        let calls = [
            Call::ReserveSpace {
                size_bytes: 100 << 20,
                epochs: 5,
            },
            Call::RegisterBlob(registration.clone()),
        ];
        apply(&mut state, &mut ctx, &calls).expect("register");
        blob_objects.push(ctx.created()[1]);
    }
    let register_s = start.elapsed().as_secs_f64();

    // Certificates are the client's work: sign them before timing.
    eprintln!("signing {} certificates ...", n_blobs);
    let certificates: Vec<Certificate> = registrations
        .iter()
        .map(|r| {
            let message = certificate::confirmation_message(0, &r.blob_id, None);
            let signatures: Vec<_> = signers
                .iter()
                .map(|i| keys[*i].sign(&message, DST, &[]))
                .collect();
            Certificate::aggregate(message, &positions, &signatures).expect("aggregate")
        })
        .collect();

    let start = Instant::now();
    for (cert, registration) in certificates.iter().zip(&registrations) {
        let expected = certificate::confirmation_message(0, &registration.blob_id, None);
        cert.verify(&state.committee, 1000, &expected, Threshold::Quorum)
            .expect("valid");
    }
    let verify_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    for (i, (cert, object)) in certificates.into_iter().zip(&blob_objects).enumerate() {
        let mut digest = [2u8; 32];
        digest[..8].copy_from_slice(&u64::try_from(i).expect("fits").to_le_bytes());
        let mut ctx = TxContext::new(user, digest, 0);
        apply(
            &mut state,
            &mut ctx,
            &[Call::CertifyBlob {
                blob: (*object).into(),
                certificate: cert,
            }],
        )
        .expect("certify");
    }
    let certify_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let digest = state.digest();
    let digest_ms = start.elapsed().as_secs_f64() * 1e3;

    let n = n_blobs as f64;
    println!("blobs: {n_blobs}, committee: 10 nodes, 1000 shards, 7 signers per certificate");
    println!(
        "register (reserve + register, 1 tx): {:>9.0} tx/s ({:.1} us/tx)",
        n / register_s,
        register_s / n * 1e6
    );
    println!(
        "certify (1 tx):                      {:>9.0} tx/s ({:.1} us/tx)",
        n / certify_s,
        certify_s / n * 1e6
    );
    println!(
        "  of which certificate verification: {:>9.0} /s   ({:.1} us each)",
        n / verify_s,
        verify_s / n * 1e6
    );
    println!(
        "  certify without verification:      {:>9.0} tx/s",
        n / (certify_s - verify_s).max(1e-9)
    );
    println!(
        "state digest over {} blobs: {digest_ms:.1} ms ({:02x}{:02x}...)",
        state.blobs.len(),
        digest[0],
        digest[1]
    );
}
