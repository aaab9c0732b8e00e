//! Criterion benches of the codec at n = 1000 on an 8 MiB random blob:
//! full encode, metadata only, decode from systematic and from recovery
//! primary slivers, and verification of one sliver. `bench/codec.sh` prints
//! the 64 MiB figures the issue asks for.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use walrus_codec::{EncodingConfig, Sliver, SliverType};

fn random_blob(len: usize) -> Vec<u8> {
    walrus_codec::pseudo_random_bytes(len, 0x2545_f491_4f6c_dd1d)
}

fn codec(c: &mut Criterion) {
    let config = EncodingConfig::new(1000).expect("valid shard count");
    let blob = random_blob(8 << 20);
    let blob_size = u64::try_from(blob.len()).expect("fits");
    let encoded = config.encode(&blob).expect("encodes");
    let p = config.n_primary_source_symbols();
    let systematic: Vec<Sliver> = (0..p)
        .map(|i| encoded.sliver(SliverType::Primary, i))
        .collect();
    let recovery: Vec<Sliver> = (1000 - p..1000)
        .map(|i| encoded.sliver(SliverType::Primary, i))
        .collect();

    let mut group = c.benchmark_group("rs2_n1000_8MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(blob_size));
    group.bench_function("encode", |b| {
        b.iter(|| config.encode(&blob).expect("encodes"))
    });
    group.bench_function("metadata_only", |b| {
        b.iter(|| config.compute_metadata(&blob).expect("encodes"))
    });
    group.bench_function("decode_systematic", |b| {
        b.iter(|| {
            config
                .decode(blob_size, SliverType::Primary, &systematic)
                .expect("decodes")
        })
    });
    group.bench_function("decode_from_recovery_slivers", |b| {
        b.iter(|| {
            config
                .decode(blob_size, SliverType::Primary, &recovery)
                .expect("decodes")
        })
    });
    group.finish();

    let sliver = encoded.sliver(SliverType::Primary, 500);
    c.bench_function("verify_primary_sliver_n1000_8MiB", |b| {
        b.iter(|| {
            sliver
                .verify(&config, encoded.metadata())
                .expect("verifies")
        })
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
