#!/usr/bin/env bash
# Prints codec throughput for a 64 MiB random blob at n = 1000 (issue: codec
# performance): full encode, metadata only and decode, each on 1 thread and on
# all threads, with the peak resident memory of each run. Medians of ROUNDS.
#   bash bench/codec.sh [SIZE_MIB] [N_SHARDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-64}
n_shards=${2:-1000}
rounds=${3:-5}
threads_all=$(nproc)
cargo build --quiet --release -p walrus-codec --example codec_throughput
bin=target/release/examples/codec_throughput
printf '%-20s %8s %10s %10s %14s\n' mode threads median_s MB/s peak_rss_MiB
for mode in encode metadata decode-systematic decode-recovery decode-secondary; do
  for threads in 1 "$threads_all"; do
    "$bin" "$mode" "$size_mib" "$n_shards" "$threads" "$rounds" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print(f"{r[\"mode\"]:<20} {r[\"threads\"]:>8} {r[\"median_s\"]:>10.3f} {r[\"mb_per_s\"]:>10.1f} {r[\"peak_rss_mib\"]:>14.0f}")'
  done
done
echo "(MB = 10^6 bytes of unencoded blob; decode-systematic uses primary slivers 0..p, decode-recovery the last p primary slivers, decode-secondary the last s secondary slivers)"
