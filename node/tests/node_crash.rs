//! SIGKILL a storage node process in the middle of uploads, restart it on the
//! same files, and check that every acknowledged sliver is served and still
//! verifies against its metadata.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Stdio},
};

use ed25519_dalek::SigningKey;
use walrus_codec::{EncodingConfig, Sliver, SliverType};
use walrus_contracts::ledger::execution::Outcome;
use walrus_contracts::{Call, ObjectRef, Registration, parse_hex};
use walrus_types::ChainClient;

mod common;

use common::{chain_genesis, scratch_dir, walrus};

/// Spawns `walrus` with `args` and returns it with the URL of its first stdout line.
fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = walrus()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    (
        child,
        line.trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_owned(),
    )
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().expect("UTF-8 path").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_uploads_loses_no_acknowledged_sliver() {
    let dir = scratch_dir("node-crash");
    chain_genesis(&dir, 1, 2);
    let (mut chain, chain_url) = spawn(&[
        "chain",
        "run",
        "--listen",
        "127.0.0.1:0",
        "--genesis",
        &path(&dir, "genesis.json"),
        "--db",
        &path(&dir, "chain.db"),
    ]);
    let config = walrus()
        .args([
            "node",
            "config",
            "--index",
            "0",
            "--listen",
            "127.0.0.1:0",
            "--chain-url",
            &chain_url,
            "--uncertified-chain",
        ])
        .args([
            "--keys",
            &path(&dir, "keys.json"),
            "--genesis",
            &path(&dir, "genesis.json"),
            "--data-dir",
            &path(&dir, "node0"),
            "--out",
            &path(&dir, "node0.toml"),
        ])
        .stdout(Stdio::null())
        .status()
        .expect("node config");
    assert!(config.success());
    let node_args = ["node", "run", "--config", &path(&dir, "node0.toml")];
    let (mut node, node_url) = spawn(&node_args);

    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("keys.json")).expect("keys"))
            .expect("json");
    let account = SigningKey::from_bytes(
        &parse_hex(keys["accounts"][0]["secret"].as_str().expect("secret")).expect("hex"),
    );
    let client = ChainClient::new(chain_url.clone());
    let http = reqwest::Client::new();
    let encoding = EncodingConfig::new(10).expect("n");
    let health: serde_json::Value = http
        .get(format!("{node_url}/v1/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    let shards: Vec<u16> = health["success"]["data"]["shardSummary"]["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .map(|s| u16::try_from(s.as_u64().expect("shard")).expect("small"))
        .collect();
    assert!(!shards.is_empty());

    // Register 12 blobs, then upload them one sliver at a time until the kill.
    let mut blobs = Vec::new();
    for i in 0..12u32 {
        let data: Vec<u8> = (0..8_000u32)
            .map(|j| u8::try_from((i * 31 + j) % 256).expect("byte"))
            .collect();
        let encoded = encoding.encode(&data).expect("encodes");
        let registration = Registration {
            storage: ObjectRef::Created(0),
            blob_id: *encoded.blob_id(),
            root_hash: encoded.metadata().metadata().root().bytes(),
            size: 8_000,
            encoding_type: 1,
            deletable: false,
        };
        let reserve = Call::ReserveSpace {
            size_bytes: encoding.encoded_length(8_000).expect("fits"),
            epochs: 2,
        };
        let response = client
            .execute(&account, vec![reserve, Call::RegisterBlob(registration)])
            .await
            .expect("register");
        assert!(
            matches!(response.outcome, Outcome::Success { .. }),
            "{response:?}"
        );
        blobs.push(encoded);
    }
    let mut acknowledged: Vec<(usize, u16, SliverType)> = Vec::new();
    let kill_after = 25;
    'upload: for (index, encoded) in blobs.iter().enumerate() {
        let blob_id = encoded.blob_id();
        let reply = http
            .put(format!("{node_url}/v1/blobs/{blob_id}/metadata"))
            .body(bcs::to_bytes(encoded.metadata().metadata()).expect("bcs"))
            .send()
            .await
            .expect("metadata");
        assert_eq!(reply.status(), 201);
        for shard in &shards {
            let pair = encoding.pair_for_shard(*shard, blob_id);
            let (primary, secondary) = encoded.sliver_pair(pair);
            for sliver in [primary, secondary] {
                let kind = sliver.sliver_type;
                let reply = http
                    .put(format!(
                        "{node_url}/v1/blobs/{blob_id}/slivers/{pair}/{kind}"
                    ))
                    .body(bcs::to_bytes(&sliver).expect("bcs"))
                    .send()
                    .await
                    .expect("sliver");
                assert_eq!(reply.status(), 201);
                acknowledged.push((index, pair, kind));
                if acknowledged.len() == kill_after {
                    node.kill().expect("SIGKILL");
                    node.wait().expect("reaped");
                    break 'upload;
                }
            }
        }
    }
    assert_eq!(acknowledged.len(), kill_after);

    let (mut node, node_url) = spawn(&node_args);
    for (index, pair, kind) in &acknowledged {
        let encoded = &blobs[*index];
        let blob_id = encoded.blob_id();
        let reply = http
            .get(format!(
                "{node_url}/v1/blobs/{blob_id}/slivers/{pair}/{kind}"
            ))
            .send()
            .await
            .expect("get");
        assert_eq!(
            reply.status(),
            200,
            "acknowledged {kind} sliver of pair {pair} of blob {index} lost"
        );
        let sliver: Sliver = bcs::from_bytes(&reply.bytes().await.expect("body")).expect("bcs");
        sliver
            .verify(&encoding, encoded.metadata())
            .expect("stored sliver intact");
    }
    // The restarted node keeps accepting uploads.
    let next = &blobs[acknowledged.last().expect("some").0];
    let status = http
        .get(format!("{node_url}/v1/blobs/{}/status", next.blob_id()))
        .send()
        .await
        .expect("status")
        .status();
    assert_eq!(status, 200);
    node.kill().expect("stop node");
    node.wait().expect("reaped");
    chain.kill().expect("stop chain");
    chain.wait().expect("reaped");
}
