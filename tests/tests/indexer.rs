//! The indexer against generated chains of thousands of real transactions:
//! every query compared with the state machine's own view, bad parameters,
//! and a `walrus indexer run` process killed mid-stream and restarted.
//!
//! The chain is served by a real sequencer (re-executing the generated log
//! on start) over HTTP on 127.0.0.1; the indexer follows it over HTTP.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use walrus_codec::BlobId;
use walrus_contracts::ledger::{execution::Outcome, transaction::address_of};
use walrus_contracts::{Address, Event, ObjectId};
use walrus_runtime::chain::{
    api,
    sequencer::{Sequencer, SequencerConfig},
};
use walrus_tests::{walrus_binary, workload::Workload};

fn temp_dir(name: &str) -> PathBuf {
    walrus_tests::fresh_dir(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), name)
}

/// Serves `workload`'s chain from a real sequencer on 127.0.0.1; returns its URL.
async fn serve_chain(workload: &Workload, dir: &std::path::Path) -> String {
    let db = dir.join("chain.db");
    workload.write_log(&db);
    let sequencer = Sequencer::start(SequencerConfig::new(workload.genesis.clone(), db))
        .await
        .expect("the sequencer re-executes the generated log");
    assert_eq!(
        sequencer.checkpoint_count(),
        u64::try_from(workload.checkpoints.len()).expect("fits")
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (address, _) = api::serve(sequencer, listener, std::future::pending()).expect("serve");
    format!("http://{address}")
}

/// Starts an in-process indexer of `chain_url`; returns its URL.
async fn start_indexer(chain_url: &str, dir: &std::path::Path, workload: &Workload) -> String {
    let db = dir.join("index.db");
    let writer = walrus_indexer::Writer::open(&db, &workload.genesis).expect("open index");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (address, _) = walrus_indexer::api::serve(
        walrus_indexer::Reader::new(&db),
        listener,
        std::future::pending(),
    )
    .expect("serve");
    let chain_url = chain_url.to_owned();
    tokio::spawn(async move {
        walrus_indexer::follow(writer, &chain_url, false, std::future::pending())
            .await
            .expect("following never fails on a valid chain");
    });
    format!("http://{address}")
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http.get(url).send().await.expect("request");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Polls `/v1/health` until `checkpoints` are indexed (at most 120 s).
async fn wait_indexed(http: &reqwest::Client, indexer: &str, checkpoints: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, health) = get(http, &format!("{indexer}/v1/health")).await;
        if health["checkpoints"].as_u64() == Some(u64::try_from(checkpoints).expect("fits")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "indexer stuck at {health} of {checkpoints}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the state machine says a Blob object's status is.
fn expected_status(workload: &Workload, id: &ObjectId) -> (&'static str, Option<Value>) {
    let state = &workload.chain.state;
    let blob = state
        .blobs
        .get(id)
        .map(|b| (b, false))
        .or_else(|| state.shared_blobs.get(id).map(|s| (&s.blob, true)));
    match blob {
        None => ("deleted", None),
        Some((blob, shared)) => {
            let status = if state.invalid_blob_ids.contains(&blob.blob_id) {
                "invalid"
            } else if blob.storage.end_epoch <= state.epoch {
                "expired"
            } else if blob.certified_epoch.is_some() {
                "certified"
            } else {
                "registered"
            };
            let fields = serde_json::json!({
                "owner": blob.owner,
                "endEpoch": blob.storage.end_epoch,
                "certifiedEpoch": blob.certified_epoch,
                "deletable": blob.deletable,
                "shared": shared,
                "size": blob.size,
            });
            (status, Some(fields))
        }
    }
}

/// Every page of `url` (which has a query), following `nextCursor`.
async fn all_pages(http: &reqwest::Client, url: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let page_url = match &cursor {
            Some(c) => format!("{url}&cursor={c}"),
            None => url.to_owned(),
        };
        let (status, page) = get(http, &page_url).await;
        assert_eq!(status, 200, "{page_url}: {page}");
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("more than 10,000 pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one comparison after the other
async fn every_query_matches_the_state_machine() {
    let dir = temp_dir("indexer-compare");
    let mut workload = Workload::new(7, 7, 100, 40);
    workload.run_mixed(3000, 30);
    let chain_url = serve_chain(&workload, &dir).await;
    let indexer = start_indexer(&chain_url, &dir, &workload).await;
    let http = reqwest::Client::new();
    wait_indexed(&http, &indexer, workload.checkpoints.len()).await;
    let state = &workload.chain.state;
    assert!(
        state.epoch >= 5,
        "the workload spans epochs: {}",
        state.epoch
    );

    // Every event of the chain, by blob ID, as (checkpoint, tx digest, kind).
    let mut chain_events: BTreeMap<BlobId, Vec<(u64, String, String)>> = BTreeMap::new();
    let mut registered = BTreeSet::new();
    let mut rewards = 0usize;
    let mut payouts: BTreeMap<(String, u32), (u64, u64)> = BTreeMap::new();
    for checkpoint in &workload.checkpoints {
        for tx in &checkpoint.transactions {
            let Outcome::Success { events, .. } = &tx.outcome else {
                continue;
            };
            for event in events {
                let blob_id = match event {
                    Event::BlobRegistered {
                        blob_id, object_id, ..
                    } => {
                        registered.insert(*object_id);
                        Some(blob_id)
                    }
                    Event::BlobCertified { blob_id, .. }
                    | Event::BlobExtended { blob_id, .. }
                    | Event::BlobDeleted { blob_id, .. }
                    | Event::InvalidBlobId { blob_id, .. } => Some(blob_id),
                    Event::RewardsDistributed {
                        epoch,
                        rewards: paid,
                        ..
                    } => {
                        rewards += 1;
                        for (node, pool, commission) in paid {
                            payouts.insert((node.to_string(), *epoch), (*pool, *commission));
                        }
                        None
                    }
                    _ => None,
                };
                if let Some(blob_id) = blob_id {
                    chain_events.entry(*blob_id).or_default().push((
                        checkpoint.sequence,
                        tx.digest.to_string(),
                        event.name().to_owned(),
                    ));
                }
            }
        }
    }
    assert!(registered.len() > 500, "{} blobs", registered.len());
    assert!(rewards >= 4);

    // Every Blob object ever registered, through paging, against the state.
    let objects = all_pages(&http, &format!("{indexer}/v1/blobs?limit=97")).await;
    assert_eq!(objects.len(), registered.len());
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for object in &objects {
        let id: ObjectId = object["objectId"]
            .as_str()
            .expect("id")
            .parse()
            .expect("id");
        let (status, fields) = expected_status(&workload, &id);
        assert_eq!(object["status"], status, "{object}");
        *counts.entry(status).or_default() += 1;
        if let Some(Value::Object(fields)) = fields {
            for (key, value) in fields {
                assert_eq!(&object[&key], &value, "{key} of {object}");
            }
        }
    }
    for status in ["registered", "certified", "expired", "deleted", "invalid"] {
        assert!(
            counts.get(status).copied().unwrap_or(0) > 0,
            "no {status} blob: {counts:?}"
        );
    }

    // Per status, and per owner with status, with small pages.
    for (status, count) in &counts {
        let listed = all_pages(
            &http,
            &format!("{indexer}/v1/blobs?status={status}&limit=50"),
        )
        .await;
        assert_eq!(listed.len(), *count, "{status}");
    }
    for key in &workload.secrets.accounts {
        let owner: Address = address_of(&key.verifying_key());
        let listed = all_pages(
            &http,
            &format!("{indexer}/v1/blobs?owner={owner}&status=certified&limit=7"),
        )
        .await;
        let listed: BTreeSet<String> = listed
            .iter()
            .map(|o| o["objectId"].as_str().expect("id").to_owned())
            .collect();
        let expected: BTreeSet<String> = state
            .blobs
            .iter()
            .filter(|(id, b)| b.owner == owner && expected_status(&workload, id).0 == "certified")
            .map(|(id, _)| id.to_string())
            .collect();
        assert_eq!(listed, expected, "certified blobs of {owner}");
    }
    // An expiry window.
    let (low, high) = (state.epoch + 1, state.epoch + 3);
    let window = all_pages(
        &http,
        &format!("{indexer}/v1/blobs?minEndEpoch={low}&maxEndEpoch={high}&limit=1000"),
    )
    .await;
    assert!(!window.is_empty());
    for object in &window {
        let end = object["endEpoch"].as_u64().expect("end epoch");
        assert!(
            (u64::from(low)..=u64::from(high)).contains(&end),
            "{object}"
        );
    }

    // Status and history of every blob ID.
    for (blob_id, events) in &chain_events {
        let (status, view) = get(&http, &format!("{indexer}/v1/blobs/{blob_id}")).await;
        assert_eq!(status, 200);
        let statuses: Vec<&str> = view["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| o["status"].as_str().expect("status"))
            .collect();
        let expected = if state.invalid_blob_ids.contains(blob_id) {
            "invalid"
        } else {
            ["certified", "registered", "expired", "deleted"]
                .into_iter()
                .find(|s| statuses.contains(s))
                .expect("some object")
        };
        assert_eq!(view["status"], expected, "{view}");
        let (status, history) = get(&http, &format!("{indexer}/v1/blobs/{blob_id}/history")).await;
        assert_eq!(status, 200);
        let indexed: Vec<(u64, String, String)> = history["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| {
                (
                    e["checkpoint"].as_u64().expect("checkpoint"),
                    e["txDigest"].as_str().expect("digest").to_owned(),
                    e["kind"].as_str().expect("kind").to_owned(),
                )
            })
            .collect();
        assert_eq!(&indexed, events, "history of {blob_id}");
        for entry in history["events"].as_array().expect("events") {
            if entry["kind"] == "BlobCertified" {
                let certification = &entry["certification"];
                let signers = certification["signers"].as_array().expect("signers");
                assert_eq!(
                    signers.len(),
                    entry["event"]["BlobCertified"]["signers"]
                        .as_array()
                        .expect("indices")
                        .len()
                );
                let shards = certification["signerShards"].as_u64().expect("shards");
                assert!(3 * shards > 200, "a quorum signed: {certification}");
            }
        }
    }

    // Pools against the state; per-epoch rewards against the events.
    let (_, pools) = get(&http, &format!("{indexer}/v1/pools")).await;
    let pools = pools.as_array().expect("pools");
    assert_eq!(pools.len(), state.pools.len());
    for pool in pools {
        let id: ObjectId = pool["nodeId"].as_str().expect("id").parse().expect("id");
        let expected = &state.pools[&id];
        assert_eq!(pool["stake"], expected.active_wal);
        assert_eq!(pool["uncollectedCommission"], expected.commission);
        assert_eq!(pool["commissionBps"], expected.commission_bps);
        let shards = state
            .committee
            .position(&id)
            .map_or(0, |i| state.committee.weight(i));
        assert_eq!(pool["shards"], shards);
        let epochs = pool["epochs"].as_array().expect("epochs");
        assert_eq!(epochs.len(), rewards, "one record per paid epoch");
        for record in epochs {
            let epoch = u32::try_from(record["epoch"].as_u64().expect("epoch")).expect("small");
            let (pool_reward, commission) = payouts[&(id.to_string(), epoch)];
            assert_eq!(record["poolReward"], pool_reward, "{record}");
            assert_eq!(record["commission"], commission, "{record}");
            if epoch == 0 {
                // Genesis stake: 1,000,000 WAL per node (GenesisSpec).
                assert_eq!(record["stake"], 1_000_000 * 1_000_000_000u64, "{record}");
            }
        }
        assert!(
            epochs.iter().any(|e| e["auditScore"] != 10_000)
                || id != state.committee.members.last().expect("members").node_id
        );
    }

    // Stakes of every account, with their value now.
    for key in &workload.secrets.accounts {
        let owner = address_of(&key.verifying_key());
        let (_, stakes) = get(&http, &format!("{indexer}/v1/addresses/{owner}/staked")).await;
        let live: BTreeMap<String, u64> = stakes["staked"]
            .as_array()
            .expect("staked")
            .iter()
            .filter(|s| s["state"] != "withdrawn")
            .map(|s| {
                (
                    s["objectId"].as_str().expect("id").to_owned(),
                    s["value"].as_u64().expect("value"),
                )
            })
            .collect();
        let expected: BTreeMap<String, u64> = state
            .staked
            .iter()
            .filter(|(_, s)| s.owner == owner)
            .map(|(id, s)| {
                (
                    id.to_string(),
                    s.value(&state.pools[&s.node_id], state.epoch),
                )
            })
            .collect();
        assert_eq!(live, expected, "stakes of {owner}");
    }

    // Epochs with committees and prices.
    let epochs = all_pages(&http, &format!("{indexer}/v1/epochs?limit=4")).await;
    assert_eq!(
        epochs.len(),
        usize::try_from(state.epoch).expect("small") + 1
    );
    let last = epochs.last().expect("an epoch");
    assert_eq!(last["storagePrice"], state.storage_price);
    let members: Vec<String> = last["committee"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["nodeId"].as_str().expect("id").to_owned())
        .collect();
    let expected: Vec<String> = state
        .committee
        .members
        .iter()
        .map(|m| m.node_id.to_string())
        .collect();
    assert_eq!(members, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_get_400_with_a_reason() {
    let dir = temp_dir("indexer-400");
    let mut workload = Workload::new(3, 4, 20, 4);
    workload.run_mixed(40, 4);
    let chain_url = serve_chain(&workload, &dir).await;
    let indexer = start_indexer(&chain_url, &dir, &workload).await;
    let http = reqwest::Client::new();
    wait_indexed(&http, &indexer, workload.checkpoints.len()).await;
    for (path, reason) in [
        ("/v1/blobs?status=gone", "status \"gone\" is not one of"),
        ("/v1/blobs?limit=0", "limit must be 1 to 1000"),
        ("/v1/blobs?limit=5000", "limit must be 1 to 1000"),
        ("/v1/blobs?limit=ten", "limit \"ten\" is not a number"),
        (
            "/v1/blobs?owner=0x12",
            "owner \"0x12\" is not 0x and 64 hex digits",
        ),
        ("/v1/blobs?cursor=zz", "cursor \"zz\" is not an object ID"),
        (
            "/v1/blobs?minEndEpoch=5&maxEndEpoch=2",
            "minEndEpoch 5 is above maxEndEpoch 2",
        ),
        (
            "/v1/blobs?minEndEpoch=-1",
            "minEndEpoch \"-1\" is not an epoch number",
        ),
        ("/v1/blobs?colour=red", "unknown query parameter \"colour\""),
        (
            "/v1/blobs/not-a-blob-id",
            "blob ID \"not-a-blob-id\" is not a blob ID",
        ),
        (
            "/v1/blobs/short/history",
            "blob ID \"short\" is not a blob ID",
        ),
        (
            "/v1/pools/0xzz",
            "node ID \"0xzz\" is not 0x and 64 hex digits",
        ),
        (
            "/v1/addresses/me/staked",
            "address \"me\" is not 0x and 64 hex digits",
        ),
        ("/v1/epochs/last", "epoch \"last\" is not an epoch number"),
        ("/v1/epochs?from=x", "from \"x\" is not an epoch number"),
    ] {
        let (status, body) = get(&http, &format!("{indexer}{path}")).await;
        assert_eq!(status, 400, "{path}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(reason), "{path}: {message}");
    }
    let unknown = BlobId([7; 32]);
    let (status, body) = get(&http, &format!("{indexer}/v1/blobs/{unknown}")).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = get(&http, &format!("{indexer}/v1/epochs/999")).await;
    assert_eq!(status, 404);
    let (status, body) = get(&http, &format!("{indexer}/v1/api")).await;
    assert_eq!(status, 200);
    assert!(
        body["paths"]["/v1/blobs/{blob_id}"].is_object(),
        "OpenAPI document"
    );
    let page = http.get(&indexer).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("<form id=\"search\"")
    );
}

fn start_indexer_process(dir: &std::path::Path, chain_url: &str) -> (Child, String) {
    let mut child = Command::new(walrus_binary())
        .args(["indexer", "run", "--genesis"])
        .arg(dir.join("genesis.json"))
        .args(["--chain-url", chain_url, "--db"])
        .arg(dir.join("index.db"))
        .args(["--listen", "127.0.0.1:0", "--uncertified-chain"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("walrus indexer run");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

/// Events of successful transactions in `checkpoints`.
fn event_count(checkpoints: &[walrus_contracts::ledger::execution::Checkpoint]) -> usize {
    checkpoints
        .iter()
        .flat_map(|c| &c.transactions)
        .map(|t| match &t.outcome {
            Outcome::Success { events, .. } => events.len(),
            Outcome::Failure { .. } => 0,
        })
        .sum()
}

fn count(db: &rusqlite::Connection, sql: &str) -> usize {
    let n: i64 = db.query_row(sql, [], |row| row.get(0)).expect(sql);
    usize::try_from(n).expect("count")
}

/// Checks that `index.db` holds exactly `checkpoints`, each once.
fn assert_indexed_once(
    db: &std::path::Path,
    checkpoints: &[walrus_contracts::ledger::execution::Checkpoint],
) {
    let db = rusqlite::Connection::open(db).expect("index");
    let events = event_count(checkpoints);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM checkpoints"),
        checkpoints.len()
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events"), events);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM (SELECT DISTINCT sequence, tx_position, event_index FROM events)"
        ),
        events
    );
    let transactions: usize = checkpoints.iter().map(|c| c.transactions.len()).sum();
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM transactions"),
        transactions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_stream_resumes_from_the_cursor() {
    let dir = temp_dir("indexer-resume");
    let mut workload = Workload::new(5, 4, 20, 10);
    workload.run_mixed(600, 10);
    let checkpoints = workload.checkpoints.clone();
    let db = dir.join("index.db");
    let half = checkpoints.len() / 2;
    {
        let mut writer = walrus_indexer::Writer::open(&db, &workload.genesis).expect("open");
        assert_eq!(writer.index(&checkpoints[..half]).expect("index"), half);
        // A batch that fails half way (a forged state root: the chain
        // diverges) leaves nothing of itself behind.
        let mut forged = checkpoints[half..half + 6].to_vec();
        forged[4].state_root = [0xee; 32];
        assert!(writer.index(&forged).is_err(), "divergence is fatal");
    }
    assert_indexed_once(&db, &checkpoints[..half]);

    // Reopened: the cursor says where to go on; the first half is re-executed
    // (to rebuild the state) but not written again.
    let writer = walrus_indexer::Writer::open(&db, &workload.genesis).expect("reopen");
    assert_eq!(writer.indexed(), u64::try_from(half).expect("fits"));
    let chain_url = serve_chain(&workload, &dir).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(async move {
        walrus_indexer::follow(writer, &chain_url, false, async move {
            let _ = stopped.await;
        })
        .await
    });
    let reader = walrus_indexer::Reader::new(&db);
    let deadline = Instant::now() + Duration::from_secs(120);
    while reader.health().expect("health").checkpoints
        < u64::try_from(checkpoints.len()).expect("fits")
    {
        assert!(Instant::now() < deadline, "the indexer did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).expect("follower running");
    follower
        .await
        .expect("joined")
        .expect("followed without error");
    assert_indexed_once(&db, &checkpoints);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_indexer_resumes_without_indexing_twice() {
    let dir = temp_dir("indexer-restart");
    let mut workload = Workload::new(11, 4, 20, 40);
    workload.run_blob_events(200_000, 25);
    walrus_types::genesis_file::save(&workload.genesis, &dir.join("genesis.json"))
        .expect("genesis");
    let chain_url = serve_chain(&workload, &dir).await;
    let http = reqwest::Client::new();
    let total = workload.checkpoints.len();

    let (mut first, url) = start_indexer_process(&dir, &chain_url);
    let deadline = Instant::now() + Duration::from_secs(120);
    let reached = loop {
        let (_, health) = get(&http, &format!("{url}/v1/health")).await;
        let indexed = health["checkpoints"].as_u64().unwrap_or(0);
        if indexed > 0 {
            break indexed;
        }
        assert!(Instant::now() < deadline, "the indexer made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    // Where the kill landed: the cursor the first process committed. The
    // test is about resuming, so the kill must land before the end.
    let killed_at: i64 = rusqlite::Connection::open(dir.join("index.db"))
        .expect("the index opens")
        .query_row(
            "SELECT value FROM meta WHERE key = 'next_sequence'",
            [],
            |row| row.get(0),
        )
        .expect("a cursor");
    let killed_at = u64::try_from(killed_at).expect("a cursor is not negative");
    assert!(
        reached <= killed_at && killed_at < u64::try_from(total).expect("fits"),
        "the kill must land mid-indexing: cursor {killed_at}, {total} checkpoints"
    );

    let (mut second, url) = start_indexer_process(&dir, &chain_url);
    wait_indexed(&http, &url, total).await;
    second.kill().expect("SIGKILL");
    second.wait().expect("reaped");

    // Wherever the kill landed (even mid-batch), every checkpoint is
    // indexed exactly once.
    eprintln!("killed at checkpoint {killed_at} of {total}");
    assert_indexed_once(&dir.join("index.db"), &workload.checkpoints);
}
