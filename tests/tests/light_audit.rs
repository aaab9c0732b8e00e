//! The light audit against a real replicated control plane: four
//! `walrus chain run` validators on 127.0.0.1. Stake moves shards (voting
//! power) at an epoch change; a blob registered and certified under the new
//! committee is then audited without re-execution, from the genesis file,
//! and agrees with the full re-execution. The same audit rejects, with the
//! reason, a checkpoint certified by non-members, one signed by under 2/3 of
//! the weight, a tampered event, a forged state proof and withheld epoch
//! starts (a source that tampers with what the real chain serves).

use std::{path::Path, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use blst::min_pk::SecretKey;
use walrus_client::{
    ClientError,
    audit::{self, AuditMode, AuditReport, AuditSource, Verdict},
};
use walrus_codec::BlobId;
use walrus_contracts::{
    Blob, Call, Committee, EpochState, Event, ObjectId,
    certificate::{self, Certificate},
    ledger::{
        block::CertifiedHeader,
        consensus::{VoteKind, vote_message},
        execution::{ChainState, Checkpoint, Outcome},
        genesis::GenesisConfig,
        state_tree::StateKey,
    },
    money::FROST_PER_WAL,
};
use walrus_tests::validators::{self, GenesisArgs, Keys, Network, bls_key, store_blob, until};
use walrus_types::{ChainClient, ChainError, chain::EpochStart, state_proof::StateProofs};

const VALIDATORS: u16 = 4;

/// Signals epoch sync done for every node while the epoch change waits for
/// it, until `done` holds for the system state.
async fn drive_epochs(
    client: &ChainClient,
    keys: &Keys,
    what: &str,
    done: impl Fn(&walrus_types::chain::SystemInfo) -> bool,
) -> walrus_types::chain::SystemInfo {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let system = client.system().await.expect("system");
        if done(&system) {
            return system;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: not in 120 s");
        if matches!(system.epoch_state, EpochState::Syncing { .. }) {
            for (position, member) in system.committee.members.iter().enumerate() {
                let bls = bls_key(keys, &system.committee, position);
                let (_, operator) = keys
                    .nodes
                    .iter()
                    .find(|(k, _)| k.to_bytes() == bls.to_bytes())
                    .expect("the node's keys");
                let call = Call::EpochSyncDone {
                    node_id: member.node_id,
                    epoch: system.epoch,
                };
                // Already signalled or already done: fine.
                let _ = client.execute(operator, vec![call]).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    NonMembers,
    UnderSigned,
    Event,
    Proof,
    FirstEpochStart,
    EveryEpochStart,
}

/// A chain source that serves what the real chain serves, except for one
/// forgery.
struct Tampered<'a> {
    chain: &'a ChainClient,
    tamper: Tamper,
    keys: &'a Keys,
    genesis: &'a GenesisConfig,
    committee: Committee,
}

impl Tampered<'_> {
    /// `header` re-certified by `signers` (position, key) over its real
    /// precommit message.
    fn recertify(
        &self,
        mut header: CertifiedHeader,
        signers: &[(usize, SecretKey)],
    ) -> CertifiedHeader {
        let hash = header.header.hash();
        let message = vote_message(
            &self.genesis.digest(),
            VoteKind::Precommit,
            header.header.height,
            Some(header.round),
            Some(&hash),
        );
        let positions: Vec<usize> = signers.iter().map(|(p, _)| *p).collect();
        let signatures: Vec<_> = signers
            .iter()
            .map(|(_, key)| key.sign(&message, certificate::DST, &[]))
            .collect();
        header.certificate =
            Certificate::aggregate(message, &positions, &signatures).expect("signatures");
        header
    }
}

impl AuditSource for Tampered<'_> {
    async fn epoch_starts(&self) -> Result<Vec<EpochStart>, ChainError> {
        let mut starts = self.chain.epoch_starts().await?;
        match self.tamper {
            Tamper::FirstEpochStart => _ = starts.remove(0),
            Tamper::EveryEpochStart => starts.clear(),
            _ => {}
        }
        Ok(starts)
    }

    async fn blob_checkpoints(&self, blob_id: &BlobId, from: u64) -> Result<Vec<u64>, ChainError> {
        self.chain.blob_checkpoints(blob_id, from).await
    }

    async fn checkpoint(&self, sequence: u64) -> Result<Option<Checkpoint>, ChainError> {
        let mut checkpoint = self.chain.checkpoint(sequence).await?;
        if self.tamper == Tamper::Event {
            for executed in checkpoint
                .iter_mut()
                .flat_map(|c| c.transactions.iter_mut())
            {
                if let Outcome::Success { events, .. } = &mut executed.outcome {
                    for event in events {
                        if let Event::BlobRegistered { end_epoch, .. } = event {
                            *end_epoch += 10;
                        }
                    }
                }
            }
        }
        Ok(checkpoint)
    }

    async fn certified_header(&self, height: u64) -> Result<Option<CertifiedHeader>, ChainError> {
        let header = AuditSource::certified_header(self.chain, height).await?;
        Ok(header.map(|header| match self.tamper {
            Tamper::NonMembers => {
                let strangers: Vec<(usize, SecretKey)> = (0..self.committee.members.len())
                    .map(|p| {
                        let ikm = [u8::try_from(p).expect("small") + 100; 32];
                        (p, SecretKey::key_gen(&ikm, &[]).expect("a key"))
                    })
                    .collect();
                self.recertify(header, &strangers)
            }
            Tamper::UnderSigned => {
                // The lightest member alone: under 2/3 of the shards.
                let lightest = (0..self.committee.members.len())
                    .min_by_key(|p| self.committee.weight(*p))
                    .expect("members");
                let key = bls_key(self.keys, &self.committee, lightest).clone();
                self.recertify(header, &[(lightest, key)])
            }
            _ => header,
        }))
    }

    async fn state_proofs(&self, keys: &[StateKey]) -> Result<StateProofs, ChainError> {
        let mut proofs = self.chain.state_proofs(keys).await?;
        if self.tamper == Tamper::Proof {
            for info in &mut proofs.proofs {
                if let (StateKey::Blob(_), Some(value)) = (info.key, &info.value) {
                    let bytes = BASE64.decode(value).expect("base64");
                    let mut blob: Blob = bcs::from_bytes(&bytes).expect("a Blob");
                    blob.storage.end_epoch += 10;
                    info.value = Some(BASE64.encode(bcs::to_bytes(&blob).expect("BCS")));
                }
            }
        }
        Ok(proofs)
    }
}

fn kinds(report: &AuditReport) -> Vec<&str> {
    report.evidence.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_light_audit_walks_epochs_and_rejects_forgeries() {
    let dir = walrus_tests::fresh_dir(Path::new(env!("CARGO_TARGET_TMPDIR")), "light-audit");
    let args = GenesisArgs {
        nodes: VALIDATORS,
        n_shards: 100,
        epoch_duration: "5s",
        account_wal: 2_000_000,
    };
    let keys = validators::genesis(&dir, &args);
    let network = Network::start(&dir, VALIDATORS);
    let client = ChainClient::new(network.url(0));
    until(Duration::from_secs(60), "validator answers", || async {
        client.health().await.is_ok_and(|h| h.checkpoints > 0)
    })
    .await;
    let genesis = walrus_types::genesis_file::load(&dir.join("genesis.json")).expect("genesis");
    let first = ChainState::genesis(&genesis)
        .expect("state")
        .state
        .committee;
    let weights = |c: &Committee| -> Vec<(ObjectId, u16)> {
        (0..c.members.len())
            .map(|p| (c.members[p].node_id, c.weight(p)))
            .collect()
    };

    // Stake with one node: its shards, and so its voting power, grow at
    // a later epoch change.
    let node = first.members[0].node_id;
    let stake = Call::Stake {
        node_id: node,
        amount: 1_000_000 * FROST_PER_WAL,
    };
    let response = client
        .execute(&keys.accounts[0], vec![stake])
        .await
        .expect("ordered");
    assert!(
        matches!(response.outcome, Outcome::Success { .. }),
        "{response:?}"
    );
    let moved = drive_epochs(&client, &keys, "stake moves shards", |s| {
        matches!(s.epoch_state, EpochState::Active { .. })
            && weights(&s.committee) != weights(&first)
    })
    .await;
    assert!(
        moved.committee.weight(0) > first.weight(0),
        "{:?}",
        weights(&moved.committee)
    );

    let (blob_id, certified_epoch) = store_blob(&client, &keys).await;
    // One more epoch, so the tip is certified by a committee learned from
    // an epoch start after the blob's.
    drive_epochs(&client, &keys, "the next epoch", |s| {
        s.epoch > certified_epoch
    })
    .await;
    // The light audit's tip lags the chain by a checkpoint: wait until the
    // new epoch's first checkpoint is certified.
    until(
        Duration::from_secs(30),
        "the epoch start is certified",
        || async {
            let starts = client.epoch_starts().await.expect("epoch starts");
            let start = starts.last().expect("an epoch start").checkpoint;
            client
                .health()
                .await
                .is_ok_and(|h| h.checkpoints > start + 2)
        },
    )
    .await;

    let light = audit::audit(&client, &genesis, &blob_id, None, AuditMode::Light)
        .await
        .expect("the light audit verifies");
    let expected = Verdict::Certified {
        end_epoch: light.evidence[0].epoch + 5,
        deletable: false,
    };
    assert_eq!(light.verdict, expected, "{light:?}");
    assert!(light.certificates_valid, "{light:?}");
    assert_eq!(kinds(&light), ["BlobRegistered", "BlobCertified"]);
    assert_eq!(light.evidence[1].epoch, certified_epoch);
    assert!(light.epochs_verified >= 3, "{light:?}");
    assert!(light.epoch > certified_epoch, "{light:?}");
    assert!(light.state_proofs_verified >= 4, "{light:?}");
    let tip = light.tip_certificate.as_ref().expect("a tip certificate");
    assert!(tip.valid && tip.signers >= 3, "{tip:?}");

    let full = audit::audit(&client, &genesis, &blob_id, None, AuditMode::Full)
        .await
        .expect("the full audit verifies");
    assert_eq!(full.verdict, light.verdict);
    assert_eq!(full.evidence, light.evidence);
    assert!(full.checkpoints_verified > light.checkpoints_verified);

    let committee = client.system().await.expect("system").committee;
    let cases = [
        (Tamper::NonMembers, "signature does not verify"),
        (Tamper::UnderSigned, "below the threshold"),
        (Tamper::Event, "tampered with"),
        (Tamper::Proof, "state proof rejected"),
        (Tamper::FirstEpochStart, "missing or out of order"),
        (Tamper::EveryEpochStart, "withheld"),
    ];
    for (tamper, reason) in cases {
        let source = Tampered {
            chain: &client,
            tamper,
            keys: &keys,
            genesis: &genesis,
            committee: committee.clone(),
        };
        match audit::audit_light_from(&source, &genesis, &blob_id).await {
            Err(ClientError::Unverified(message)) => {
                assert!(message.contains(reason), "{tamper:?}: {message}");
            }
            other => panic!("{tamper:?} was not rejected: {other:?}"),
        }
    }
    drop(network);
}

/// The certifier that gates what followers (storage nodes, the indexer)
/// apply, on a generated chain of three epochs whose stake moves shards: it
/// releases a checkpoint only under a certificate of the committee in force,
/// never passes an epoch change the old committee did not certify, and
/// refuses a tampered checkpoint or certificate without releasing anything.
#[test]
fn followers_apply_only_certified_checkpoints() {
    use walrus_contracts::ledger::certify::{Certifier, CertifyError};
    use walrus_tests::certified::Generated;

    let mut chain = Generated::generate(90, 3);
    let checkpoints = chain.workload.checkpoints.clone();
    let count = u64::try_from(checkpoints.len()).expect("small");
    for height in 1..=count + 1 {
        chain.certify(height);
    }
    let genesis = chain.workload.genesis.clone();
    let start = ChainState::genesis(&genesis).expect("genesis");
    let fresh = || {
        let mut certifier = Certifier::new(&start, genesis.digest());
        certifier.push(checkpoints.clone()).expect("a chained run");
        certifier
    };
    let headers_at = |heights: &[u64]| -> Vec<CertifiedHeader> {
        heights
            .iter()
            .filter_map(|h| chain.certified(*h).cloned())
            .collect()
    };
    let changes: Vec<u64> = chain.epoch_starts().iter().map(|s| s.checkpoint).collect();
    assert!(changes.len() >= 2, "epoch changes: {changes:?}");

    // Every wanted header: all released, and they re-execute to the chain.
    let mut certifier = fresh();
    let wanted = certifier.wanted();
    assert_eq!(wanted.len(), changes.len() + 2, "{wanted:?}");
    let released = certifier.certify(&headers_at(&wanted)).expect("certified");
    assert_eq!(released, checkpoints);
    let mut replayed = start.clone();
    for checkpoint in &released {
        replayed.replay(checkpoint).expect("re-executes");
    }
    assert_eq!(replayed.last_digest, chain.workload.chain.last_digest);
    assert_eq!(certifier.pending(), 0);

    // The first epoch change's certificate withheld: nothing past it, and
    // only what a certificate of the old committee covers.
    let first = changes[0];
    let mut certifier = fresh();
    let withheld: Vec<u64> = wanted.iter().copied().filter(|h| *h != first + 2).collect();
    assert!(
        certifier
            .certify(&headers_at(&withheld))
            .expect("no error")
            .is_empty()
    );
    let before = certifier
        .certify(&headers_at(&[first + 1]))
        .expect("certified by the old committee");
    assert_eq!(before.last().map(|c| c.sequence), Some(first - 1));
    assert_eq!(
        certifier.pending(),
        checkpoints.len() - usize::try_from(first).expect("small")
    );

    // A tampered last checkpoint: its certificate names another digest.
    let mut tampered = checkpoints.clone();
    tampered.last_mut().expect("checkpoints").timestamp_ms += 1;
    let mut certifier = Certifier::new(&start, genesis.digest());
    certifier
        .push(tampered)
        .expect("still chained: it is the last");
    let error = certifier.certify(&headers_at(&certifier.wanted()));
    assert!(
        matches!(error, Err(CertifyError::Forked { .. })),
        "{error:?}"
    );

    // A certificate on another round: the signatures do not verify.
    let mut certifier = fresh();
    let mut headers = headers_at(&certifier.wanted());
    headers.last_mut().expect("headers").round += 1;
    let error = certifier.certify(&headers);
    assert!(
        matches!(error, Err(CertifyError::Certificate { .. })),
        "{error:?}"
    );
    assert_eq!(certifier.pending(), checkpoints.len(), "nothing released");

    // A gap, and a checkpoint that does not chain, are refused at once.
    let mut certifier = Certifier::new(&start, genesis.digest());
    let error = certifier.push(checkpoints[1..].to_vec());
    assert!(
        matches!(error, Err(CertifyError::Unchained { .. })),
        "{error:?}"
    );
    let mut unchained = checkpoints[..2].to_vec();
    unchained[1].previous_digest = [9; 32];
    let error = certifier.push(unchained);
    assert!(
        matches!(error, Err(CertifyError::Unchained { .. })),
        "{error:?}"
    );
}
