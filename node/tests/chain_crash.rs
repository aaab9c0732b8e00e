//! Kill the sequencer process with SIGKILL while clients submit, restart it
//! on the same log, and check that every acknowledged transaction is still
//! there in the checkpoint that acknowledged it, and that the log re-executes
//! from genesis with an unbroken digest chain.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use ed25519_dalek::SigningKey;
use walrus_contracts::ledger::{
    execution::Outcome,
    transaction::{Transaction, TxDigest, address_of},
};
use walrus_contracts::{Address, Call};
use walrus_types::{ChainClient, Follower, genesis_file};

mod common;

use common::{chain_genesis, scratch_dir, walrus};

/// Starts `walrus chain run` on port 0 and returns it with its base URL.
fn start(dir: &Path) -> (Child, String) {
    let mut child = walrus()
        .args([
            "chain",
            "run",
            "--listen",
            "127.0.0.1:0",
            "--batch-interval",
            "5ms",
        ])
        .arg("--genesis")
        .arg(dir.join("genesis.json"))
        .arg("--db")
        .arg(dir.join("chain.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn walrus chain run");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    (child, base)
}

fn keys(dir: &Path) -> Vec<SigningKey> {
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("keys.json")).expect("keys"))
            .expect("json");
    keys["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| {
            SigningKey::from_bytes(
                &walrus_contracts::parse_hex(a["secret"].as_str().expect("secret")).expect("hex"),
            )
        })
        .collect()
}

/// Acknowledged transactions, and a signal on each new one.
#[derive(Clone, Default)]
struct Acked {
    list: Arc<Mutex<Vec<(TxDigest, u64)>>>,
    added: Arc<tokio::sync::Notify>,
}

impl Acked {
    fn len(&self) -> usize {
        self.list.lock().expect("lock").len()
    }
}

/// Submits transfers from `key` until the sequencer goes away.
async fn submit_until_error(base: String, key: SigningKey, to: Address, acked: Acked) {
    let client = ChainClient::new(base);
    let sender = address_of(&key.verifying_key());
    let Ok(mut nonce) = client.account(&sender).await.map(|a| a.next_nonce) else {
        return;
    };
    // Bounded: at most 10,000 transactions per client per run.
    for _ in 0..10_000 {
        let signed = Transaction {
            sender,
            nonce,
            calls: vec![Call::TransferWal { to, amount: 1 }],
        }
        .sign(&key);
        let digest = signed.transaction.digest();
        match client.submit_bytes(signed.to_bytes()).await {
            Ok(response) => {
                assert!(matches!(response.outcome, Outcome::Success { .. }));
                acked
                    .list
                    .lock()
                    .expect("lock")
                    .push((digest, response.checkpoint));
                acked.added.notify_waiters();
                nonce += 1;
            }
            Err(_) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_transaction() {
    let dir = scratch_dir("chain-crash");
    chain_genesis(&dir, 4, 1);
    let keys = keys(&dir);
    let sink = Address([0x55; 32]);
    let acked = Acked::default();

    // Three runs, each killed after a different number of acknowledgements.
    for (round, kill_after) in [15usize, 40, 70].into_iter().enumerate() {
        let (mut child, base) = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || start(&dir)
        })
        .await
        .expect("start");
        let tasks: Vec<_> = keys
            .iter()
            .map(|k| {
                tokio::spawn(submit_until_error(
                    base.clone(),
                    k.clone(),
                    sink,
                    acked.clone(),
                ))
            })
            .collect();
        // Wait for acknowledgements, bounded to 30 s in all.
        let target = acked.len() + kill_after;
        let enough = async {
            loop {
                let added = acked.added.notified();
                if acked.len() >= target {
                    break;
                }
                added.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), enough)
            .await
            .unwrap_or_else(|_| panic!("round {round}: too few acknowledgements"));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        for task in tasks {
            task.await.expect("client task");
        }
    }

    let (mut child, base) = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || start(&dir)
    })
    .await
    .expect("restart");
    let http = reqwest::Client::new();
    let acked = acked.list.lock().expect("lock").clone();
    assert!(acked.len() >= 125);
    for (digest, checkpoint) in &acked {
        let reply = http
            .get(format!("{base}/v1/transactions/{digest}"))
            .send()
            .await
            .expect("reply");
        assert_eq!(reply.status(), 200, "acknowledged {digest} lost");
        let body: serde_json::Value =
            serde_json::from_slice(&reply.bytes().await.expect("body")).expect("json");
        assert_eq!(
            body["checkpoint"].as_u64(),
            Some(*checkpoint),
            "{digest} moved to another checkpoint"
        );
    }
    // The whole log re-executes from genesis: one checkpoint per sequence number, chained by digest.
    let genesis = genesis_file::load(&dir.join("genesis.json")).expect("genesis");
    let mut follower = Follower::new(base.clone(), &genesis)
        .expect("follower")
        .uncertified();
    let system = ChainClient::new(base).system().await.expect("system");
    let count = system.checkpoints;
    follower.catch_up_to(count).await.expect("log verifies");
    child.kill().expect("stop");
    child.wait().expect("reaped");
}
