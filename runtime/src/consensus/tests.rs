//! Commit certificates from BLS-signed precommits: the engine's check and
//! the aggregated check a light client runs agree, both on a quorum and on
//! what is not one.

use blst::min_pk::SecretKey;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, Context as _, NilOrVal, Round, SignedMessage,
    ThresholdParams, ValidatorSet as _,
};
use malachitebft_signing::{Signer as _, Verifier as _, VerifierExt as _};
use walrus_contracts::{
    Genesis,
    ledger::{
        consensus::verify_commit,
        genesis::{GenesisConfig, GenesisSecrets, GenesisSpec},
    },
};

use super::{
    aggregate,
    context::{BlockHash, Height, ValidatorAddress, ValidatorSet, Vote, WalrusContext},
    signing::{BlsSigner, BlsVerifier},
};

struct Setup {
    secrets: GenesisSecrets,
    ctx: WalrusContext,
    state: walrus_contracts::State,
    set: ValidatorSet,
    verifier: BlsVerifier,
}

/// Four equal validators of a 100-shard genesis.
fn setup() -> Setup {
    let (genesis, secrets) = genesis();
    let ctx = WalrusContext {
        chain: genesis.digest(),
    };
    let state = genesis.genesis.build().expect("state");
    let set = ValidatorSet::of(&state.committee).expect("validators");
    Setup {
        secrets,
        ctx,
        state,
        set,
        verifier: BlsVerifier::new(ctx),
    }
}

fn genesis() -> (GenesisConfig, GenesisSecrets) {
    let spec = GenesisSpec::local(4, 100, [9; 32]);
    spec.generate().expect("genesis")
}

fn signer(ctx: WalrusContext, secrets: &GenesisSecrets, index: usize) -> BlsSigner {
    let secret = SecretKey::from_bytes(&secrets.nodes[index].0).expect("generated key");
    BlsSigner::new(ctx, secret)
}

async fn precommits(
    ctx: WalrusContext,
    secrets: &GenesisSecrets,
    signers: &[usize],
    value: BlockHash,
) -> Vec<CommitSignature<WalrusContext>> {
    let mut out = Vec::new();
    for index in signers {
        let address = ValidatorAddress(Genesis::node_id(*index));
        let vote = ctx.new_precommit(Height(5), Round::new(1), NilOrVal::Val(value), address);
        let signed: SignedMessage<WalrusContext, Vote> = signer(ctx, secrets, *index)
            .sign_vote(vote)
            .await
            .expect("signs");
        out.push(CommitSignature::new(address, signed.signature));
    }
    out
}

/// A commit of `value` at height 5, round 1, with `signatures`.
fn commit(
    value: BlockHash,
    signatures: Vec<CommitSignature<WalrusContext>>,
) -> CommitCertificate<WalrusContext> {
    CommitCertificate {
        height: Height(5),
        round: Round::new(1),
        value_id: value,
        commit_signatures: signatures,
    }
}

/// Whether the engine's own check accepts `certificate` for `set`.
async fn engine_accepts(
    verifier: &BlsVerifier,
    ctx: &WalrusContext,
    set: &ValidatorSet,
    certificate: &CommitCertificate<WalrusContext>,
) -> bool {
    verifier
        .verify_commit_certificate(ctx, certificate, set, ThresholdParams::default())
        .await
        .is_ok()
}

#[tokio::test]
async fn a_quorum_of_precommits_verifies_in_the_engine_and_aggregated() {
    let Setup {
        secrets,
        ctx,
        state,
        set,
        verifier,
    } = setup();
    let committee = &state.committee;
    let value = BlockHash([7; 32]);
    let quorum: Vec<usize> = (0..4).collect();
    let certificate = commit(value, precommits(ctx, &secrets, &quorum, value).await);
    assert!(engine_accepts(&verifier, &ctx, &set, &certificate).await);
    let aggregated = aggregate(&ctx, &certificate, committee).expect("aggregates");
    let signers = verify_commit(&aggregated, committee, 100, &ctx.chain, (5, 1, &value.0))
        .expect("a light client accepts it");
    assert_eq!(signers.len(), 4);
    // The same signatures do not certify another block, height or chain.
    let other = BlockHash([8; 32]);
    assert!(verify_commit(&aggregated, committee, 100, &ctx.chain, (5, 1, &other.0)).is_err());
    assert!(verify_commit(&aggregated, committee, 100, &ctx.chain, (6, 1, &value.0)).is_err());
    assert!(verify_commit(&aggregated, committee, 100, &[0; 32], (5, 1, &value.0)).is_err());
}

#[tokio::test]
async fn under_a_quorum_or_a_forged_precommit_is_refused_by_both() {
    let Setup {
        secrets,
        ctx,
        state,
        set,
        verifier,
    } = setup();
    let committee = &state.committee;
    let value = BlockHash([7; 32]);
    // Two of four equal members hold half the shards: no quorum.
    let half = commit(value, precommits(ctx, &secrets, &[0, 1], value).await);
    assert!(!engine_accepts(&verifier, &ctx, &set, &half).await);
    let aggregated = aggregate(&ctx, &half, committee).expect("aggregates");
    assert!(verify_commit(&aggregated, committee, 100, &ctx.chain, (5, 1, &value.0)).is_err());
    // Node 3's slot signed by node 0's key: the engine and the aggregate refuse it.
    let mut forged = precommits(ctx, &secrets, &[0, 1, 2, 0], value).await;
    forged[3].address = ValidatorAddress(Genesis::node_id(3));
    let forged = CommitCertificate {
        commit_signatures: forged,
        ..half
    };
    assert!(!engine_accepts(&verifier, &ctx, &set, &forged).await);
    let aggregated = aggregate(&ctx, &forged, committee).expect("aggregates");
    assert!(verify_commit(&aggregated, committee, 100, &ctx.chain, (5, 1, &value.0)).is_err());
    // A proposal signature checks against its proposer's key only.
    let proposal = ctx.new_proposal(
        Height(5),
        Round::new(0),
        value,
        Round::Nil,
        ValidatorAddress(Genesis::node_id(0)),
    );
    let signed = signer(ctx, &secrets, 0)
        .sign_proposal(proposal.clone())
        .await
        .expect("signs");
    let key = |index: usize| {
        let address = ValidatorAddress(Genesis::node_id(index));
        set.get_by_address(&address)
            .expect("a validator")
            .public_key
    };
    let checks = [
        verifier
            .verify_signed_proposal(&proposal, &signed.signature, &key(0))
            .await,
        verifier
            .verify_signed_proposal(&proposal, &signed.signature, &key(1))
            .await,
    ];
    let valid: Vec<bool> = checks
        .iter()
        .map(|r| r.as_ref().is_ok_and(|v| v.is_valid()))
        .collect();
    assert_eq!(valid, [true, false]);
}
