//! Storage node throughput at n = 1000 with 4 nodes (250 shards each) on
//! 127.0.0.1: sliver write (one batch upload of all of node 0's slivers,
//! verified and stored durably) and read (one GET per sliver) in MB/s of
//! sliver bytes, for 1 MiB and 64 MiB blobs; then recovery of one node's
//! slivers of a 1 MiB blob: time and bytes downloaded per byte recovered.
//!
//! The cluster is the tests' (`runtime/tests/common`).
//!
//! `cargo run --release -p walrus-runtime --example bench_node`
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::Cluster;
use walrus_codec::EncodedBlob;

/// Uploads node `index`'s slivers in one batch; returns (sliver bytes, seconds).
async fn upload(cluster: &Cluster, index: usize, encoded: &EncodedBlob) -> (usize, f64) {
    let blob_id = *encoded.blob_id();
    let metadata = encoded.metadata().metadata();
    let bytes: usize = cluster.nodes[index]
        .shared
        .view()
        .shards
        .iter()
        .map(|shard| {
            let (primary, secondary) =
                encoded.sliver_pair(cluster.config.pair_for_shard(*shard, &blob_id));
            primary.symbols.data().len() + secondary.symbols.data().len()
        })
        .sum();
    let start = Instant::now();
    cluster
        .upload(index, blob_id, metadata, |pair| encoded.sliver_pair(pair))
        .await;
    (bytes, start.elapsed().as_secs_f64())
}

/// Reads every sliver of node `index` with one GET each; returns (bytes, seconds).
async fn read_all(cluster: &Cluster, index: usize, encoded: &EncodedBlob) -> (usize, f64) {
    let blob_id = encoded.blob_id();
    let start = Instant::now();
    let mut bytes = 0;
    for shard in cluster.nodes[index].shared.view().shards {
        let pair = cluster.config.pair_for_shard(shard, blob_id);
        for kind in ["primary", "secondary"] {
            let path = format!("/v1/blobs/{blob_id}/slivers/{pair}/{kind}");
            let reply = cluster.http.get(cluster.url(index, &path)).send().await;
            let reply = reply.expect("read");
            assert_eq!(reply.status(), 200, "read failed");
            bytes += reply.bytes().await.expect("body").len();
        }
    }
    (bytes, start.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let cluster = Cluster::start_with_body_limit("walrus-bench-node", 4, 1000, 1 << 30).await;
    println!("4 nodes, n = 1000 shards (250 per node); MB = 10^6 bytes of sliver data");
    for size_mib in [1u64, 64] {
        let data =
            walrus_codec::pseudo_random_bytes(usize::try_from(size_mib << 20)?, 0x1234 + size_mib);
        let encoded = cluster.config.encode(&data)?;
        cluster
            .register(*encoded.blob_id(), encoded.metadata().metadata())
            .await;
        let (written, write_s) = upload(&cluster, 0, &encoded).await;
        let (read, read_s) = read_all(&cluster, 0, &encoded).await;
        println!(
            "{size_mib:>3} MiB blob: write {:>7.1} MB/s ({:.1} MB in {:.2} s, one batch), read {:>7.1} MB/s (500 GETs in {:.2} s)",
            written as f64 / 1e6 / write_s,
            written as f64 / 1e6,
            write_s,
            read as f64 / 1e6 / read_s,
            read_s
        );
    }
    for size_mib in [1u64, 64] {
        recovery(&cluster, size_mib).await?;
    }
    Ok(())
}

/// Node 0 misses a blob that nodes 1..3 hold and certify, then recovers it.
async fn recovery(cluster: &Cluster, size_mib: u64) -> anyhow::Result<()> {
    let data = walrus_codec::pseudo_random_bytes(usize::try_from(size_mib << 20)?, 99 + size_mib);
    let encoded = cluster.config.encode(&data)?;
    let blob_id = *encoded.blob_id();
    let object = cluster
        .register(blob_id, encoded.metadata().metadata())
        .await;
    for index in 1..4 {
        upload(cluster, index, &encoded).await;
    }
    let start = Instant::now();
    cluster.certify(object, blob_id, &[1, 2, 3]).await;
    let metrics = cluster.nodes[0].shared.metrics.clone();
    let (downloaded_before, recovered_before, count_before) = (
        metrics.recovery_bytes_downloaded.get(),
        metrics.recovery_bytes_recovered.get(),
        metrics.slivers_recovered.get(),
    );
    let expected = count_before + 500;
    let deadline = Instant::now() + Duration::from_secs(600);
    while metrics.slivers_recovered.get() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let downloaded = metrics.recovery_bytes_downloaded.get() - downloaded_before;
    let recovered = metrics.recovery_bytes_recovered.get() - recovered_before;
    println!(
        "recovery of node 0's {} slivers of a {size_mib} MiB blob: {:.1} s, downloaded {:.2} MB for {:.2} MB recovered ({:.3}x)",
        metrics.slivers_recovered.get() - count_before,
        start.elapsed().as_secs_f64(),
        downloaded as f64 / 1e6,
        recovered as f64 / 1e6,
        downloaded as f64 / recovered.max(1) as f64
    );
    Ok(())
}
