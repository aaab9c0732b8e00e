// The body of every fuzz target: bytes as they arrive from the network,
// parsed and checked as the servers do. Shared by the cargo-fuzz targets
// (`fuzz/fuzz_targets/*.rs`) and the stable regression test that replays
// the corpora (`tests/tests/fuzz_corpus.rs`), both through `include!`.
// Every function must return (never panic) whatever the bytes.

use std::sync::OnceLock;

use walrus_codec::{
    BlobMetadata, EncodingConfig, InconsistencyProof, RecoverySymbol, Sliver, SliverRef,
    SliverType, UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId,
};
use walrus_contracts::{
    State, TxContext,
    certificate::{Certificate, Threshold},
    ledger::{
        execution::{ChainState, Checkpoint},
        genesis::GenesisSpec,
        transaction::SignedTransaction,
    },
};

/// A real blob's verified metadata at n = 10 and a genesis state.
struct Fixture {
    config: EncodingConfig,
    metadata: VerifiedBlobMetadataWithId,
    chain: ChainState,
}

/// The fixture's genesis: 4 nodes, 10 shards, one funded account.
pub fn fixture_genesis() -> GenesisSpec {
    GenesisSpec {
        n_nodes: 4,
        n_shards: 10,
        epoch_duration_ms: 60_000,
        n_accounts: 1,
        account_balance: 1_000_000_000_000,
        start_ms: 0,
        seed: [1; 32],
        network_addresses: Vec::new(),
    }
}

/// The fixture's blob: 3000 pseudo-random bytes.
pub fn fixture_blob() -> Vec<u8> {
    walrus_codec::pseudo_random_bytes(3000, 1)
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let config = EncodingConfig::new(10).expect("10 shards");
        let metadata = config.compute_metadata(&fixture_blob()).expect("metadata");
        let (genesis, _) = fixture_genesis().generate().expect("genesis");
        let chain = ChainState::genesis(&genesis).expect("state");
        Fixture {
            config,
            metadata,
            chain,
        }
    })
}

/// A sliver upload: one BCS sliver, or a BCS vector of slivers.
pub fn sliver(data: &[u8]) {
    let f = fixture();
    if let Ok(sliver) = bcs::from_bytes::<Sliver>(data) {
        let _ = sliver.verify(&f.config, &f.metadata);
    }
    if let Ok(slivers) = bcs::from_bytes::<Vec<SliverRef<'_>>>(data) {
        let _ = SliverRef::verify_many(&slivers, &f.config, &f.metadata);
    }
}

/// A metadata upload, checked against the fixture's blob ID.
pub fn metadata(data: &[u8]) {
    let f = fixture();
    if let Ok(metadata) = bcs::from_bytes::<BlobMetadata>(data) {
        let _ =
            UnverifiedBlobMetadataWithId::new(*f.metadata.blob_id(), metadata).verify(&f.config);
    }
}

/// A reply of recovery symbols, each checked for primary sliver 0.
pub fn recovery_symbols(data: &[u8]) {
    let f = fixture();
    if let Ok(symbols) = bcs::from_bytes::<Vec<RecoverySymbol>>(data) {
        for symbol in symbols {
            let _ = symbol.verify(&f.config, &f.metadata, SliverType::Primary, 0);
        }
    }
}

/// An inconsistency proof, of either sliver type.
pub fn inconsistency_proof(data: &[u8]) {
    let f = fixture();
    if let Ok(proof) = bcs::from_bytes::<InconsistencyProof>(data) {
        let _ = proof.verify(&f.config, &f.metadata, SliverType::Primary);
        let _ = proof.verify(&f.config, &f.metadata, SliverType::Secondary);
    }
}

/// A submitted transaction: parsed, verified, its fee checked, and its
/// calls applied to a copy of the genesis state.
pub fn transaction(data: &[u8]) {
    let f = fixture();
    let Ok(signed) = SignedTransaction::from_bytes(data, 1 << 20) else {
        return;
    };
    let _ = signed.verify();
    let _ = f.chain.check_fee(&signed);
    let mut state: State = f.chain.state.clone();
    let mut ctx = TxContext::new(signed.transaction.sender, [0; 32], 1);
    let _ = walrus_contracts::apply(&mut state, &mut ctx, &signed.transaction.calls);
}

/// A page of checkpoints as a follower receives it.
pub fn checkpoints(data: &[u8]) {
    if let Ok(checkpoints) = bcs::from_bytes::<Vec<Checkpoint>>(data) {
        for checkpoint in &checkpoints {
            let _ = checkpoint.digest();
            let _ = checkpoint.events().count();
        }
    }
}

/// A certificate, verified against the genesis committee.
pub fn certificate(data: &[u8]) {
    let f = fixture();
    if let Ok(certificate) = bcs::from_bytes::<Certificate>(data) {
        let state = &f.chain.state;
        let n = state.params.n_shards;
        let _ = certificate.verify(&state.committee, n, &certificate.message, Threshold::Quorum);
        let _ = certificate.signer_indices();
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name, for the regression test and `bench/fuzz.sh`.
pub const TARGETS: [(&str, Target); 7] = [
    ("sliver", sliver),
    ("metadata", metadata),
    ("recovery_symbols", recovery_symbols),
    ("inconsistency_proof", inconsistency_proof),
    ("transaction", transaction),
    ("checkpoints", checkpoints),
    ("certificate", certificate),
];
