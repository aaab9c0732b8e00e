//! The indexer's benchmark (run by `bench/indexer.sh`): indexes a generated
//! chain of blob events served by a real sequencer over HTTP, then drives
//! `GET /v1/blobs/{id}` with `wrk` and prints its latency figures.
//!
//! `cargo run --release -p walrus-tests --example indexer_bench -- [EVENTS]`

use std::{
    io::Write,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use walrus_contracts::Event;
use walrus_contracts::ledger::execution::Outcome;
use walrus_runtime::chain::{
    api,
    sequencer::{Sequencer, SequencerConfig},
};
use walrus_tests::workload::Workload;

#[tokio::main]
async fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().expect("EVENTS is a number"));
    let dir = std::env::temp_dir().join(format!("walrus-indexer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    let started = Instant::now();
    let mut workload = Workload::new(1, 7, 100, 40);
    workload.run_blob_events(events, 25);
    let checkpoints = workload.checkpoints.len();
    let total_events: usize = workload
        .checkpoints
        .iter()
        .flat_map(|c| &c.transactions)
        .map(|t| match &t.outcome {
            Outcome::Success { events, .. } => events.len(),
            Outcome::Failure { code, message } => panic!("failed transaction {code}: {message}"),
        })
        .sum();
    let transactions: usize = workload
        .checkpoints
        .iter()
        .map(|c| c.transactions.len())
        .sum();
    println!(
        "generated {total_events} events in {transactions} transactions, {checkpoints} checkpoints ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let blob_ids: Vec<String> = workload
        .checkpoints
        .iter()
        .flat_map(|c| &c.transactions)
        .filter_map(|t| match &t.outcome {
            Outcome::Success { events, .. } => Some(events),
            Outcome::Failure { .. } => None,
        })
        .flatten()
        .filter_map(|e| match e {
            Event::BlobRegistered { blob_id, .. } => Some(blob_id.to_string()),
            _ => None,
        })
        .step_by(997)
        .collect();

    let started = Instant::now();
    workload.write_log(&dir.join("chain.db"));
    let sequencer = Sequencer::start(SequencerConfig::new(
        workload.genesis.clone(),
        dir.join("chain.db"),
    ))
    .await
    .expect("sequencer");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (chain, _) = api::serve(sequencer, listener, std::future::pending()).expect("serve");
    println!(
        "chain log written and served ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let db = dir.join("index.db");
    let writer = walrus_indexer::Writer::open(&db, &workload.genesis).expect("index");
    let reader = walrus_indexer::Reader::new(&db);
    let chain_url = format!("http://{chain}");
    let started = Instant::now();
    tokio::spawn(async move {
        walrus_indexer::follow(writer, &chain_url, false, std::future::pending())
            .await
            .expect("follow");
    });
    let target = u64::try_from(checkpoints).expect("fits");
    let mut last_report = Instant::now();
    loop {
        let indexed = reader.health().expect("health").checkpoints;
        if indexed >= target {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!(
                "  {indexed} of {target} checkpoints after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // a figure to print
    let rate = total_events as f64 / seconds;
    println!(
        "ingest: {total_events} events in {seconds:.2} s = {rate:.0} events/s \
         (HTTP fetch, re-execution with signature checks and state roots, SQLite)"
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (address, _) =
        walrus_indexer::api::serve(reader, listener, std::future::pending()).expect("serve");
    let mut ids = String::from("local ids = {");
    for id in &blob_ids {
        ids.push_str(&format!("\"{id}\","));
    }
    ids.push_str(
        "}\nlocal i = 0\nrequest = function()\n  i = i % #ids + 1\n  \
         return wrk.format(\"GET\", \"/v1/blobs/\" .. ids[i])\nend\n",
    );
    // Saturation, then about 2,000 requests/s: 9 connections, each pausing
    // 4 ms between requests (wrk's `delay` hook), about 4.5 ms a round.
    for (name, extra, connections, label) in [
        ("saturated.lua", "", "8", "as fast as wrk can"),
        (
            "paced.lua",
            "delay = function()\n  return 4\nend\n",
            "9",
            "about 2,000 requests/s",
        ),
    ] {
        let script = dir.join(name);
        std::fs::File::create(&script)
            .and_then(|mut f| f.write_all(format!("{ids}{extra}").as_bytes()))
            .expect("script");
        println!(
            "blob status, {label}: wrk -t1 -c{connections} -d10s --latency over {} blob IDs \
             (wrk shares the 2 cores)",
            blob_ids.len()
        );
        let output = Command::new("wrk")
            .args([
                "-t1",
                &format!("-c{connections}"),
                "-d10s",
                "--latency",
                "-s",
            ])
            .arg(&script)
            .arg(format!("http://{address}"))
            .output();
        match output {
            Ok(output) => print!("{}", String::from_utf8_lossy(&output.stdout)),
            Err(err) => println!("wrk could not run ({err}): apt-get install wrk"),
        }
    }
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}
