//! The chain service end to end in one process: a real SQLite file, real
//! HTTP on 127.0.0.1 port 0, a verifying follower, restart and replay, and
//! bad input.

mod common;

use std::{path::PathBuf, time::Duration};

use common::{status_for_declared_length, temp_dir};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use walrus_contracts::ledger::state_tree::StateKey;
use walrus_contracts::ledger::{
    execution::{ChainState, Outcome, TxKind},
    genesis::{GenesisConfig, GenesisSpec},
    transaction::{Transaction, address_of},
};
use walrus_contracts::{Call, Event, ObjectId, money::FROST_PER_WAL};
use walrus_runtime::chain::{
    api,
    sequencer::{Sequencer, SequencerConfig, SequencerError},
};
use walrus_types::{
    ChainClient, FollowError, Follower,
    chain::ChainObject,
    error::{ErrorBody, ErrorReason},
};

async fn error_body(response: reqwest::Response) -> ErrorBody {
    serde_json::from_slice(&response.bytes().await.expect("body")).expect("an error body")
}

fn spec(epoch_duration_ms: u64) -> GenesisSpec {
    GenesisSpec {
        n_nodes: 4,
        n_shards: 10,
        epoch_duration_ms,
        n_accounts: 3,
        account_balance: 1000 * FROST_PER_WAL,
        start_ms: 1_700_000_000_000,
        seed: [7; 32],
        network_addresses: Vec::new(),
    }
}

/// Reserves 1 MiB for 2 epochs as `key`; returns the storage resource.
async fn reserve(client: &ChainClient, key: &ed25519_dalek::SigningKey) -> ObjectId {
    let call = Call::ReserveSpace {
        size_bytes: 1 << 20,
        epochs: 2,
    };
    let response = client.execute(key, vec![call]).await.expect("reserve");
    let Outcome::Success { created, .. } = &response.outcome else {
        panic!("reserve failed: {response:?}")
    };
    created[0]
}

struct Running {
    sequencer: Sequencer,
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

async fn start(genesis: &GenesisConfig, db: PathBuf) -> Running {
    let sequencer = Sequencer::start(SequencerConfig::new(genesis.clone(), db))
        .await
        .expect("sequencer starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (address, server) = api::serve(sequencer.clone(), listener, async move {
        let _ = stopped.await;
    })
    .expect("serve");
    Running {
        sequencer,
        base: format!("http://{address}"),
        stop,
        server,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_ordered_stored_followed_and_replayed() {
    let dir = temp_dir("chain-follow");
    let (genesis, secrets) = spec(3_600_000).generate().expect("genesis");
    let running = start(&genesis, dir.join("chain.db")).await;
    let client = ChainClient::new(running.base.clone());
    let alice = &secrets.accounts[0];
    let bob = address_of(&secrets.accounts[1].verifying_key());

    let response = client
        .execute(alice, vec![Call::TransferWal { to: bob, amount: 5 }])
        .await
        .expect("transfer");
    assert!(
        matches!(response.outcome, Outcome::Success { .. }),
        "{response:?}"
    );
    let storage = reserve(&client, alice).await;
    // A failing transaction is ordered too, with its error code, and uses the nonce.
    let response = client
        .execute(
            alice,
            vec![Call::TransferWal {
                to: bob,
                amount: u64::MAX,
            }],
        )
        .await
        .expect("ordered");
    assert!(
        matches!(response.outcome, Outcome::Failure { code: 101, .. }),
        "{response:?}"
    );
    let alice_account = client.account(&address_of(&alice.verifying_key())).await;
    assert_eq!(alice_account.expect("account").next_nonce, 3);

    let object = client.object(&storage).await.expect("object");
    assert!(
        matches!(object, Some(ChainObject::Storage { .. })),
        "{object:?}"
    );
    let account = client.account(&bob).await.expect("account");
    assert_eq!(account.balance, 1000 * FROST_PER_WAL + 5);
    let system = client.system().await.expect("system");
    assert_eq!(system.committee.members.len(), 4);
    assert_eq!(
        client.committee().await.expect("committee").members.len(),
        4
    );
    assert!(
        client
            .object(&ObjectId([0xee; 32]))
            .await
            .expect("404 is None")
            .is_none()
    );

    // A verifying follower reaches the same state root.
    let mut follower = Follower::new(running.base.clone(), &genesis)
        .expect("follower")
        .uncertified();
    follower
        .catch_up_to(running.sequencer.checkpoint_count())
        .await
        .expect("follows");
    let live_root = running.sequencer.with_chain(ChainState::root);
    assert_eq!(follower.chain().root(), live_root);
    // A follower that requires certificates applies nothing of a chain
    // that serves none, and says why.
    let mut certified = Follower::new(running.base.clone(), &genesis).expect("follower");
    let refused = certified.next_batch(Duration::from_millis(10)).await;
    assert!(
        matches!(&refused, Err(FollowError::Uncertified(m)) if m.contains("single sequencer")),
        "{:?}",
        refused.map(|b| b.len())
    );
    assert_eq!(certified.chain().next_sequence, 0);

    // Restart on the same file: the stored objects give the same root.
    let count = running.sequencer.checkpoint_count();
    let _ = running.stop.send(());
    running.server.await.expect("server stops");
    let restarted = start(&genesis, dir.join("chain.db")).await;
    assert_eq!(restarted.sequencer.checkpoint_count(), count);
    assert_eq!(restarted.sequencer.with_chain(ChainState::root), live_root);
    // And keeps going from there.
    let response = ChainClient::new(restarted.base.clone())
        .execute(alice, vec![Call::TransferWal { to: bob, amount: 1 }])
        .await
        .expect("after restart");
    assert!(response.checkpoint >= count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let dir = temp_dir("chain-bad");
    let (genesis, secrets) = spec(3_600_000).generate().expect("genesis");
    let running = start(&genesis, dir.join("chain.db")).await;
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        http.post(format!("{}/v1/transactions", running.base))
            .body(body)
            .send()
    };
    let alice = &secrets.accounts[0];
    let sender = address_of(&alice.verifying_key());

    let garbage = post(vec![1, 2, 3]).await.expect("reply");
    assert_eq!(garbage.status(), 400);
    let body = error_body(garbage).await;
    assert_eq!(
        body.reason(),
        Some(ErrorReason::MalformedTransaction),
        "{body:?}"
    );

    assert_eq!(
        status_for_declared_length(&running.base, "/v1/transactions", "POST", 2 << 20).await,
        413
    );

    let mut forged = Transaction {
        sender,
        nonce: 0,
        calls: vec![Call::Faucet { amount: 1 }],
    }
    .sign(alice);
    forged.transaction.calls = vec![Call::Faucet { amount: 2 }];
    let reply = post(forged.to_bytes()).await.expect("reply");
    assert_eq!(reply.status(), 400);
    assert_eq!(
        error_body(reply).await.reason(),
        Some(ErrorReason::BadSignature)
    );

    let future_nonce = Transaction {
        sender,
        nonce: 5,
        calls: vec![Call::Faucet { amount: 1 }],
    }
    .sign(alice);
    let reply = post(future_nonce.to_bytes()).await.expect("reply");
    let detail = error_body(reply).await.error.details.remove(0);
    assert_eq!(
        (detail.reason, detail.expected_nonce),
        (ErrorReason::WrongNonce, Some(0))
    );

    let ok = Transaction {
        sender,
        nonce: 0,
        calls: vec![Call::Faucet { amount: 1 }],
    }
    .sign(alice);
    assert_eq!(post(ok.to_bytes()).await.expect("reply").status(), 200);
    // Replaying the same transaction is a stale nonce.
    let replayed = post(ok.to_bytes()).await.expect("reply");
    assert_eq!(replayed.status(), 400);
    let detail = error_body(replayed).await.error.details.remove(0);
    assert_eq!(
        (detail.reason, detail.expected_nonce),
        (ErrorReason::WrongNonce, Some(1))
    );

    let system = Transaction {
        sender,
        nonce: 1,
        calls: vec![Call::EpochChangeStart],
    }
    .sign(alice);
    assert!(
        post(system.to_bytes())
            .await
            .expect("reply")
            .text()
            .await
            .expect("text")
            .contains("system calls")
    );

    // A key that never held WAL cannot write to the chain for free
    // (issue 21, failure 4): refused before ordering.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    let unfunded = Transaction {
        sender: address_of(&stranger.verifying_key()),
        nonce: 0,
        calls: vec![Call::TransferWal {
            to: sender,
            amount: 1,
        }],
    }
    .sign(&stranger);
    let reply = post(unfunded.to_bytes()).await.expect("reply");
    assert_eq!(reply.status(), 400);
    let body = error_body(reply).await;
    assert_eq!(
        body.reason(),
        Some(ErrorReason::InsufficientFee),
        "{body:?}"
    );

    for (path, status) in [
        ("/v1/objects/nothex", 400),
        (
            "/v1/objects/0x0000000000000000000000000000000000000000000000000000000000000000",
            404,
        ),
        ("/v1/checkpoints?from=abc", 400),
        ("/v1/transactions/0x12", 400),
        ("/v1/nowhere", 404),
        // Past anything SQLite can key: nothing there yet, not a 500.
        ("/v1/checkpoints?from=18446744073709551615&wait_ms=10", 200),
        (
            "/v1/blobs/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/checkpoints?from=18446744073709551615",
            200,
        ),
    ] {
        let reply = http
            .get(format!("{}{path}", running.base))
            .send()
            .await
            .expect("reply");
        assert_eq!(reply.status(), status, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epochs_advance_with_checkpoint_time() {
    let dir = temp_dir("chain-epochs");
    // Epochs of 400 ms: voting end at 200 ms, epoch change at 400 ms.
    let now = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("fits");
    let (genesis, secrets) = GenesisSpec {
        start_ms: now,
        ..spec(400)
    }
    .generate()
    .expect("genesis");
    let running = start(&genesis, dir.join("chain.db")).await;
    let client = ChainClient::new(running.base.clone());
    let mut cursor = 0;
    let mut seen = Vec::new();
    // Bounded: at most 100 long polls of at most 1 s each.
    for _ in 0..100 {
        for checkpoint in client
            .checkpoints(cursor, Duration::from_secs(1))
            .await
            .expect("checkpoints")
        {
            cursor = checkpoint.sequence + 1;
            for tx in &checkpoint.transactions {
                if let (TxKind::System(call), Outcome::Success { events, .. }) =
                    (&tx.kind, &tx.outcome)
                {
                    seen.push((
                        format!("{call:?}"),
                        events.iter().map(Event::name).collect::<Vec<_>>(),
                    ));
                }
            }
        }
        if seen.iter().any(|(call, _)| call == "EpochChangeStart") {
            break;
        }
    }
    // The index of epoch starts names the checkpoint that started epoch 1.
    let starts = client.epoch_starts().await.expect("epoch starts");
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert_eq!(starts[0].epoch, 1);
    let first = client
        .checkpoint(starts[0].checkpoint)
        .await
        .expect("checkpoint")
        .expect("stored");
    assert_eq!(first.epoch, 1);
    assert!(
        seen.iter()
            .any(|(_, events)| events.contains(&"EpochParametersSelected")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(_, events)| events.contains(&"EpochChangeStart")),
        "{seen:?}"
    );
    // Nodes signal sync done through ordinary transactions.
    let node_ids: Vec<_> = (0..4).map(walrus_contracts::Genesis::node_id).collect();
    let epoch = running.sequencer.with_chain(|c| c.state.epoch);
    let mut done = false;
    for (index, (_, operator)) in secrets.nodes.iter().enumerate() {
        let response = client
            .execute(
                operator,
                vec![Call::EpochSyncDone {
                    node_id: node_ids[index],
                    epoch,
                }],
            )
            .await
            .expect("sync done");
        if let Outcome::Success { events, .. } = &response.outcome {
            done |= events.iter().any(|e| e.name() == "EpochChangeDone");
        }
    }
    assert!(done, "a quorum of sync-done signals ends the epoch change");
}

/// Time is an input: with a manual clock, checkpoints carry its time and the
/// epoch changes exactly when the clock passes the epoch's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sequencer_takes_time_from_its_clock() {
    let dir = temp_dir("chain-clock");
    let (genesis, secrets) = spec(60_000).generate().expect("genesis");
    let start_ms = genesis.start_ms;
    let clock = std::sync::Arc::new(walrus_types::ManualClock::new(start_ms + 1_000));
    let mut config = SequencerConfig::new(genesis.clone(), dir.join("chain.db"));
    config.clock = clock.clone();
    let sequencer = Sequencer::start(config).await.expect("starts");
    let alice = &secrets.accounts[0];
    let faucet = |nonce| {
        Transaction {
            sender: address_of(&alice.verifying_key()),
            nonce,
            calls: vec![Call::Faucet { amount: 1 }],
        }
        .sign(alice)
        .to_bytes()
    };
    let first = sequencer.submit(&faucet(0)).await.expect("ordered");
    let wait = Duration::from_secs(30);
    let stored = sequencer
        .checkpoints(first.checkpoint, 1, wait)
        .await
        .expect("read");
    assert_eq!(stored[0].timestamp_ms, start_ms + 1_000);
    assert_eq!(sequencer.with_chain(|c| c.state.epoch), 0);

    // Past the epoch's end the next checkpoint starts epoch 1, even with no
    // user transaction: the batcher's tick finds the transition due.
    clock.set(start_ms + 61_000);
    let next = sequencer.checkpoint_count();
    let stored = sequencer.checkpoints(next, 1, wait).await.expect("read");
    assert_eq!(stored.len(), 1, "a checkpoint follows within the wait");
    assert_eq!(stored[0].timestamp_ms, start_ms + 61_000);
    assert_eq!(sequencer.with_chain(|c| c.state.epoch), 1);
}

/// A client checks one object against the state root of a checkpoint it
/// fetched itself, without the rest of the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_proofs_show_one_object_against_a_checkpoint_root() {
    let dir = temp_dir("chain-proofs");
    let (genesis, secrets) = spec(3_600_000).generate().expect("genesis");
    let running = start(&genesis, dir.join("chain.db")).await;
    let client = ChainClient::new(running.base.clone());
    let alice = &secrets.accounts[0];
    let storage = StateKey::Storage(reserve(&client, alice).await);
    let info = client.state_proof(&storage).await.expect("proof");
    let sequence = info.checkpoint.expect("after a checkpoint");
    let checkpoints = client
        .checkpoints(sequence, Duration::ZERO)
        .await
        .expect("checkpoint");
    let root = checkpoints[0].state_root;
    let value = info.verify(root).expect("the proof verifies");
    let (owner, resource): (walrus_contracts::Address, walrus_contracts::Storage) =
        bcs::from_bytes(&value.expect("the resource exists")).expect("a storage resource");
    assert_eq!(owner, address_of(&alice.verifying_key()));
    assert_eq!(resource.size_bytes, 1 << 20);

    // A tampered value, another root, or a missing object claimed present fail.
    let mut tampered = info.clone();
    tampered.value = Some(BASE64.encode(bcs::to_bytes(&(owner, 2u64 << 20)).expect("bcs")));
    assert!(tampered.verify(root).is_err());
    assert!(info.verify([0; 32]).is_err());
    let absent = StateKey::Blob(ObjectId([0xab; 32]));
    let info = client.state_proof(&absent).await.expect("proof");
    assert_eq!(info.verify(root).expect("absence verifies"), None);
    let mut claimed = info.clone();
    claimed.value = Some(BASE64.encode([1u8]));
    assert!(claimed.verify(root).is_err());

    let reply = reqwest::get(format!("{}/v1/state/planet/0x00", running.base))
        .await
        .expect("request");
    assert_eq!(reply.status(), 400);
    assert_eq!(
        error_body(reply).await.reason(),
        Some(ErrorReason::InvalidStateKey)
    );

    // Several objects against the root of the checkpoint before the last.
    reserve(&client, alice).await;
    let keys = [StateKey::System, storage, absent];
    let proofs = client.state_proofs(&keys).await.expect("proofs");
    let previous = proofs.checkpoint.expect("a checkpoint before the last");
    let health = client.health().await.expect("health");
    assert_eq!(previous + 2, health.checkpoints);
    let root = client
        .checkpoint(previous)
        .await
        .expect("checkpoint")
        .expect("stored")
        .state_root;
    assert_eq!(proofs.state_root, root);
    let values: Vec<_> = proofs
        .proofs
        .iter()
        .map(|p| p.verify(root).expect("each proof verifies"))
        .collect();
    assert!(values[0].is_some() && values[1].is_some() && values[2].is_none());
    for bad in ["planet/0x00", "system,blob/xyz", ""] {
        let url = format!("{}/v1/state/proofs?keys={bad}", running.base);
        let reply = reqwest::get(url).await.expect("request");
        assert_eq!(reply.status(), 400, "{bad}");
        let reason = error_body(reply).await.reason();
        assert_eq!(reason, Some(ErrorReason::InvalidStateKey), "{bad}");
    }
    let reply = reqwest::get(format!("{}/v1/blobs/not-an-id/checkpoints", running.base))
        .await
        .expect("request");
    assert_eq!(reply.status(), 400);
    let _ = running.stop.send(());
}

/// A restart restores the state from the stored objects without
/// re-executing the log, refuses objects that do not hash to the last
/// checkpoint's state root, and re-executes when no objects are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_restores_stored_objects_checked_against_the_last_root() {
    let dir = temp_dir("chain-restore");
    let db = dir.join("chain.db");
    let (genesis, secrets) = spec(3_600_000).generate().expect("genesis");
    let running = start(&genesis, db.clone()).await;
    let client = ChainClient::new(running.base.clone());
    let bob = address_of(&secrets.accounts[1].verifying_key());
    for amount in 1..=3 {
        let call = Call::TransferWal { to: bob, amount };
        client
            .execute(&secrets.accounts[0], vec![call])
            .await
            .expect("transfer");
    }
    let live_root = running.sequencer.with_chain(ChainState::root);
    let _ = running.stop.send(());
    running.server.await.expect("server stops");
    let sql = rusqlite::Connection::open(&db).expect("open");
    let stored: i64 = sql
        .query_row("SELECT next_sequence FROM position", [], |r| r.get(0))
        .expect("objects stored with the log");
    // Both read from the file: the in-memory count may trail the last write.
    let logged: i64 = sql
        .query_row("SELECT COUNT(*) FROM checkpoints", [], |r| r.get(0))
        .expect("checkpoints");
    assert_eq!(stored, logged);
    assert!(stored >= 3, "three transfers were stored: {stored}");

    // Bob's balance, tampered in the stored objects, is caught by the root.
    let bob_key = bcs::to_bytes(&StateKey::Account(bob)).expect("bcs");
    let changed = sql
        .execute(
            "UPDATE objects SET value = ?2 WHERE key = ?1",
            rusqlite::params![bob_key, 7u64.to_le_bytes().to_vec()],
        )
        .expect("update");
    assert_eq!(changed, 1);
    let refused = Sequencer::start(SequencerConfig::new(genesis.clone(), db.clone())).await;
    let Err(SequencerError::Snapshot(error)) = refused else {
        panic!("tampered objects were accepted");
    };
    assert!(error.to_string().contains("state root"), "{error}");

    // Without stored objects, the log re-executes and stores them again.
    sql.execute("DELETE FROM position", []).expect("delete");
    let restarted = start(&genesis, db.clone()).await;
    assert_eq!(restarted.sequencer.with_chain(ChainState::root), live_root);
    let (value, _) = restarted
        .sequencer
        .with_chain(|chain| chain.prove(&StateKey::Account(bob)));
    let stored: Vec<u8> = sql
        .query_row("SELECT value FROM objects WHERE key = ?1", [bob_key], |r| {
            r.get(0)
        })
        .expect("rewritten");
    assert_eq!(Some(stored), value);
    let _ = restarted.stop.send(());
}

/// A control plane of one validator (Malachite with a committee of one):
/// transactions forwarded as one batch to `POST /v1/mempool` are ordered
/// with nobody waiting for them, a body that is not a batch is refused, and
/// the decided blocks carry certificates of that committee.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_orders_a_forwarded_batch() {
    use walrus_runtime::consensus::{
        Settings,
        validator::{self, ValidatorConfig},
    };
    let dir = temp_dir("validator-batch");
    let (genesis, secrets) = GenesisSpec::local(1, 10, [4; 32])
        .generate()
        .expect("genesis");
    let committee = ChainState::genesis(&genesis)
        .expect("state")
        .state
        .committee;
    let p2p_listen = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let validator = ValidatorConfig {
        secret: blst::min_pk::SecretKey::from_bytes(&secrets.nodes[0].0).expect("BLS key"),
        p2p_listen,
        peers: Vec::new(),
        peer_urls: Vec::new(),
        wal_path: dir.join("consensus.wal"),
        settings: Settings {
            idle_block_interval: Duration::from_millis(100),
            ..Settings::default()
        },
    };
    let config = SequencerConfig::new(genesis.clone(), dir.join("chain.db"));
    let (sequencer, _engine) = validator::start(config, validator)
        .await
        .expect("the validator starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (address, _server) =
        api::serve(sequencer, listener, std::future::pending()).expect("serve");
    let url = format!("http://{address}");
    let key = &secrets.accounts[0];
    let sender = address_of(&key.verifying_key());
    let batch: Vec<Vec<u8>> = (0..3)
        .map(|nonce| {
            let calls = vec![Call::TransferWal {
                to: walrus_contracts::Address([2; 32]),
                amount: 1,
            }];
            Transaction {
                sender,
                nonce,
                calls,
            }
            .sign(key)
            .to_bytes()
        })
        .collect();
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| http.post(format!("{url}/v1/mempool")).body(body).send();
    let response = post(bcs::to_bytes(&batch).expect("BCS"))
        .await
        .expect("post");
    assert_eq!(response.status(), 202);
    let reply: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(reply["admitted"], 3);
    let garbage = post(vec![0xff; 10]).await.expect("post");
    assert_eq!(garbage.status(), 400);

    let client = ChainClient::new(url);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while client.account(&sender).await.expect("account").next_nonce < 3 {
        assert!(std::time::Instant::now() < deadline, "batch not ordered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let headers = client.certified_headers(1, 10).await.expect("headers");
    assert!(!headers.is_empty());
    for certified in &headers {
        let signers = certified
            .verify(&committee, 10, &genesis.digest())
            .expect("a certificate of the committee of one");
        assert_eq!(signers, [0]);
    }
}
