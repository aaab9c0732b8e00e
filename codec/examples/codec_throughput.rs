//! Prints codec throughput for one mode, used by `bench/codec.sh`.
//!
//! `cargo run --release -p walrus-codec --example codec_throughput -- MODE SIZE_MIB|SIZE_KIBk N_SHARDS THREADS ROUNDS`
//! MODE: `encode` (`encode_owned`, as the client encodes), `metadata`, `decode-systematic` (primary slivers 0..p),
//! `decode-recovery` (the last p primary slivers: full decoding work) or
//! `decode-secondary` (the last s secondary slivers), or `verify-node` (one
//! node's share of a 7-node devnet verified, both slivers of n / 7 pairs,
//! after computing the metadata).
//! Prints one JSON line: median MB/s over the rounds, the fastest and slowest
//! round in seconds (the spread shows how noisy the machine was), and the
//! process's peak resident memory (VmHWM) in MiB.

use std::time::Instant;

use walrus_codec::{EncodingConfig, Sliver, SliverType};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    let mode = arg(1, "encode");
    // SIZE_MIB, or a size in KiB with a `k` suffix (e.g. `1k`).
    let size = arg(2, "64");
    let size_bytes: usize = match size.strip_suffix('k') {
        Some(kib) => kib.parse::<usize>().expect("SIZE in KiB") << 10,
        None => size.parse::<usize>().expect("SIZE_MIB") << 20,
    };
    let n_shards: u16 = arg(3, "1000").parse().expect("N_SHARDS");
    let threads: usize = arg(4, "1").parse().expect("THREADS");
    let rounds: usize = arg(5, "3").parse().expect("ROUNDS");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let config = EncodingConfig::new(n_shards).expect("valid shard count");
    let blob = walrus_codec::pseudo_random_bytes(size_bytes, 0x9e37_79b9_7f4a_7c15);
    let blob_size = u64::try_from(blob.len()).expect("fits");

    let slivers: Vec<Sliver> = if mode.starts_with("decode") {
        let encoded = config.encode(&blob).expect("encodes");
        let n = config.n_shards();
        let (sliver_type, range) = match mode.as_str() {
            "decode-systematic" => (SliverType::Primary, 0..config.n_primary_source_symbols()),
            "decode-recovery" => (
                SliverType::Primary,
                n - config.n_primary_source_symbols()..n,
            ),
            "decode-secondary" => (
                SliverType::Secondary,
                n - config.n_secondary_source_symbols()..n,
            ),
            other => panic!("unknown mode {other}"),
        };
        range.map(|i| encoded.sliver(sliver_type, i)).collect()
    } else if mode == "verify-node" {
        // One node's share of a 7-node devnet: both slivers of n / 7 pairs.
        let encoded = config.encode(&blob).expect("encodes");
        (0..config.n_shards() / 7)
            .flat_map(|i| {
                let (primary, secondary) = encoded.sliver_pair(i * 7);
                [primary, secondary]
            })
            .collect()
    } else {
        Vec::new()
    };

    let mut seconds: Vec<f64> = Vec::new();
    for _ in 0..rounds {
        // `encode` takes the blob as the client does (`encode_owned`: it
        // becomes primary slivers 0..p); its copy is made before the clock
        // starts. Results are dropped after the clock stops.
        let owned = (mode == "encode").then(|| blob.clone());
        let start = Instant::now();
        let result = pool.install(|| match mode.as_str() {
            "encode" => {
                let owned = owned.expect("made for encode");
                Some(config.encode_owned(owned).expect("encodes"))
            }
            "metadata" => {
                drop(config.compute_metadata(&blob).expect("encodes"));
                None
            }
            "verify-node" => {
                let metadata = config.compute_metadata(&blob).expect("encodes");
                let refs: Vec<&Sliver> = slivers.iter().collect();
                let results = Sliver::verify_many(&refs, &config, &metadata);
                assert!(results.iter().all(Result::is_ok), "slivers verify");
                None
            }
            _ => {
                let sliver_type = slivers[0].sliver_type;
                let decoded = config
                    .decode(blob_size, sliver_type, &slivers)
                    .expect("decodes");
                assert!(decoded == blob, "decoded blob differs");
                None
            }
        });
        seconds.push(start.elapsed().as_secs_f64());
        drop(result);
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let mb = blob.len() as f64 / 1e6;
    println!(
        "{{\"mode\":\"{mode}\",\"size_bytes\":{size_bytes},\"n_shards\":{n_shards},\"threads\":{threads},\"median_s\":{median:.4},\"min_s\":{:.4},\"max_s\":{:.4},\"mb_per_s\":{:.1},\"peak_rss_mib\":{:.0}}}",
        seconds[0],
        seconds[seconds.len() - 1],
        mb / median,
        peak_rss_mib()
    );
}
